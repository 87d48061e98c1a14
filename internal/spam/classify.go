package spam

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Params are the filter's tunables. The zero value of a field means its
// default (see [DefaultParams]); [Params.WithDefaults] fills them in.
type Params struct {
	// WordsUsed is the fewest of a message's words that decide its rating
	// (the "words used" setting), a floor, not a cap: every telling word
	// (one whose probability is at least MinDeviation from 0.5) is used,
	// and when a message has fewer telling words than this, the most
	// telling of its other words fill up to it. 0 means 21. Capping at 21
	// words made the filter 1.8 to 2.2 times worse on the SpamAssassin
	// corpus (docs/benchmarks.md): with chi-square combining a message
	// decided by its 21 strongest words is decided by a handful of
	// correlated ones (a mailing list's name in six fields), and every
	// further telling word improves the rating, as bogofilter, which caps
	// nothing, shows.
	WordsUsed int
	// MinCount is how many times (spam and ham together) a word must have
	// been seen to fill up to WordsUsed (the "minimum word count"
	// setting). 0 means 5. A telling word is used however seldom it was
	// seen: Robinson's Strength already draws a rare word's probability
	// towards Assumed, and leaving out telling words seen fewer than 5
	// times doubled 1-AUC on the corpus.
	MinCount int
	// Strength is Robinson's s: how many sightings the assumed probability
	// of a word is worth against what was learned. 0 means 0.1.
	Strength float64
	// Assumed is Robinson's x: the probability taken for a word seen too
	// little. 0 means 0.45: a word seen only a few times is drawn a little
	// towards ham rather than spam, since marking a ham as spam costs more
	// than missing a spam (chosen with bulk training on error on the
	// corpus's seeds 4-9, docs/benchmarks.md; bogofilter uses 0.52).
	Assumed float64
	// MinDeviation leaves out words whose probability is within this of
	// 0.5 (Robinson's minimum deviation): they say little either way. 0
	// means 0.25; negative means none left out. Chosen with bulk training
	// on error on the corpus's seeds 4-9 (docs/benchmarks.md): 0.25 let
	// 1.5-2 times fewer spam through than bogofilter's 0.375 there, while
	// with every message trained once it was worse than 0.375.
	MinDeviation float64
}

// DefaultParams are the defaults of the product's settings ("words used"
// 21, "minimum word count" 5) and of the tunables that have no setting,
// chosen by the evaluation in docs/benchmarks.md.
var DefaultParams = Params{WordsUsed: 21, MinCount: 5, Strength: 0.1, Assumed: 0.45, MinDeviation: 0.25}

// DefaultThreshold is the rating (as a probability) from which the
// evaluation counts a message as spam, and the value a rule "spam
// probability greater than 70%" would use: the lowest at which at most
// one ham in 1,000 was marked spam on each of the corpus's splits with
// seeds 4-9, counts learned by bulk training on error at the default
// settings (60% marked 0.19% on one of them), so that seeds 1-3 test it
// honestly. See docs/benchmarks.md.
const DefaultThreshold = 0.7

// WithDefaults returns p with its zero fields set to the defaults.
func (p Params) WithDefaults() Params {
	d := DefaultParams
	if p.WordsUsed <= 0 {
		p.WordsUsed = d.WordsUsed
	}
	if p.MinCount <= 0 {
		p.MinCount = d.MinCount
	}
	if p.Strength <= 0 {
		p.Strength = d.Strength
	}
	if p.Assumed <= 0 || p.Assumed >= 1 {
		p.Assumed = d.Assumed
	}
	if p.MinDeviation == 0 {
		p.MinDeviation = d.MinDeviation
	}
	if p.MinDeviation < 0 {
		p.MinDeviation = 0
	}
	return p
}

// Count is how many trained messages held a word, or the number of
// trained messages themselves, per class.
type Count struct {
	Spam int64
	Ham  int64
}

// Counts is what the classifier reads: the learned counts. The store's
// spam tables back it in Pochta ([Store]); [Memory] in tests and offline
// evaluation.
type Counts interface {
	// Totals gives the number of messages trained as spam and as ham.
	Totals(ctx context.Context) (Count, error)
	// Words gives the counts of those of words that were ever learned;
	// words absent from the map were never seen.
	Words(ctx context.Context, words []string) (map[string]Count, error)
}

// WordScore is one word behind a rating.
type WordScore struct {
	Word        string
	Probability float64 // that a message with this word is spam, 0..1
	Spam, Ham   int64   // trained messages of each class that held it
}

// String says the word as the message view shows it:
// "word = p% (spam N, ham M)".
func (w WordScore) String() string {
	return string(w.appendTo(make([]byte, 0, len(w.Word)+32)))
}

// appendTo appends String's text to b, without fmt (which took as long as
// the tokenizer when the rating on receipt said its 30 words for every
// message's row).
func (w WordScore) appendTo(b []byte) []byte {
	b = append(b, w.Word...)
	b = append(b, " = "...)
	b = appendPercent(b, w.Probability)
	b = append(b, "% (spam "...)
	b = strconv.AppendInt(b, w.Spam, 10)
	b = append(b, ", ham "...)
	b = strconv.AppendInt(b, w.Ham, 10)
	return append(b, ')')
}

// Result is a message's rating and what it came from.
type Result struct {
	// Probability that the message is spam, 0..1.
	Probability float64
	// Words are the words that decided it, the most telling first.
	Words []WordScore
	// Tokens is how many tokens the message gave.
	Tokens int
}

// Rating is the probability as a whole percentage, 0..100.
func (r Result) Rating() int { return int(math.Round(r.Probability * 100)) }

// ExplainedWords is how many of the words behind a rating [Result.String]
// names: with every telling word used a rating may rest on hundreds, and
// the explanation is stored on every rated message's row.
const ExplainedWords = 30

// String says the words behind the rating, one a line, the most telling
// [ExplainedWords] of them, then "… (+N)" for the rest.
func (r Result) String() string {
	// About 40 bytes a word named: one array, not a growing one.
	b := make([]byte, 0, 48*min(len(r.Words), ExplainedWords)+16)
	for i, w := range r.Words {
		if i == ExplainedWords {
			b = append(b, "\n… (+"...)
			b = strconv.AppendInt(b, int64(len(r.Words)-i), 10)
			b = append(b, ')')
			break
		}
		if i > 0 {
			b = append(b, '\n')
		}
		b = w.appendTo(b)
	}
	return string(b)
}

func percent(p float64) string { return string(appendPercent(nil, p)) }

// appendPercent appends p as a percentage: what fmt's "%.2g" below 1%,
// "%.3g" of the tenth below between 99% and 100%, and "%.0f" otherwise give
// (TestPercentAsFmt).
func appendPercent(b []byte, p float64) []byte {
	v := p * 100
	switch {
	case v > 0 && v < 1:
		return strconv.AppendFloat(b, v, 'g', 2, 64)
	case v > 99 && v < 100:
		return strconv.AppendFloat(b, math.Floor(v*10)/10, 'g', 3, 64)
	case v >= 0 && v < 1e15:
		// A whole percentage, as 'f' with no decimals rounds the exact
		// value (ties to even), without the float formatter (a fifth of
		// the row's text). Not below zero: 'f' says "-0" there.
		return strconv.AppendInt(b, int64(math.RoundToEven(v)), 10)
	}
	return strconv.AppendFloat(b, v, 'f', 0, 64)
}

// Classifier rates token sets from learned counts.
type Classifier struct {
	Params Params
	Counts Counts
}

// NewClassifier returns a classifier reading counts, with params' zero
// fields defaulted.
func NewClassifier(params Params, counts Counts) *Classifier {
	return &Classifier{Params: params.WithDefaults(), Counts: counts}
}

// Classify rates a message's tokens (from [Tokenize]). With nothing
// learned yet, or no token known well enough, the probability is 0.5.
func (c *Classifier) Classify(ctx context.Context, tokens []string) (Result, error) {
	totals, err := c.Counts.Totals(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("spam totals: %w", err)
	}
	words, err := c.Counts.Words(ctx, tokens)
	if err != nil {
		return Result{}, fmt.Errorf("spam word counts: %w", err)
	}
	return c.Rate(tokens, totals, Words(words)), nil
}

// Rate is Classify on counts already read: totals and the counts of the
// tokens (missing ones never seen).
func (c *Classifier) Rate(tokens []string, totals Count, words WordCounts) Result {
	p := c.Params.WithDefaults()
	result := Result{Probability: 0.5, Tokens: len(tokens)}
	if totals.Spam <= 0 || totals.Ham <= 0 {
		return result
	}
	buffer := rateBuffers.Get().(*rateBuffer)
	defer buffer.put()
	scores, telling, fillers := buffer.scores[:0], buffer.keys[:0], buffer.fillers[:0]
	for _, token := range tokens {
		count, ok := words.Count(token)
		if !ok || count.Spam+count.Ham <= 0 {
			continue
		}
		f := wordProbability(count, totals, p)
		key := scoreKey{deviation: deviationKey(f), prefix: wordPrefix(token), index: int32(len(scores))}
		if math.Abs(f-0.5) >= p.MinDeviation {
			telling = append(telling, key)
		} else if count.Spam+count.Ham < int64(p.MinCount) {
			continue // neither telling nor seen enough to fill
		} else {
			fillers = append(fillers, key)
		}
		scores = append(scores, WordScore{Word: token, Probability: f, Spam: count.Spam, Ham: count.Ham})
	}
	buffer.scores, buffer.keys, buffer.fillers = scores, telling, fillers
	// The words used are the most telling first; among equals by word, so
	// that a message gets the same words, and the same sum in
	// chiSquareCombine, whatever the order of its tokens. Every telling
	// word sorts before every other, so the telling words are sorted, and
	// of the others only the best few that fill up to the floor are picked
	// (with a small vocabulary most of a message's words are fillers).
	// The keys are computed once per score (a sort of the scores
	// themselves computed them twice a comparison and moved 40 bytes a
	// swap).
	compare := func(a, b scoreKey) int {
		if a.deviation != b.deviation {
			if a.deviation > b.deviation {
				return -1
			}
			return 1
		}
		// Equals are common (a small vocabulary gives many words the same
		// counts): their words are compared by their first 8 bytes as a
		// number, the strings only when those are the same.
		if a.prefix != b.prefix {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		return strings.Compare(scores[a.index].Word, scores[b.index].Word)
	}
	slices.SortFunc(telling, compare)
	fillers = bestKeys(fillers, p.WordsUsed-len(telling), compare)
	used := len(telling) + len(fillers)
	if used == 0 {
		return result
	}
	result.Words = make([]WordScore, 0, used)
	for _, key := range telling {
		result.Words = append(result.Words, scores[key.index])
	}
	for _, key := range fillers {
		result.Words = append(result.Words, scores[key.index])
	}
	result.Probability = chiSquareCombine(result.Words)
	return result
}

// bestKeys gives the n first of keys in compare's order, in that order,
// reordering keys: one comparison for most keys (with the n best so far
// kept sorted at the front, a key not better than the last of them is
// passed over), rather than a sort of them all.
func bestKeys(keys []scoreKey, n int, compare func(a, b scoreKey) int) []scoreKey {
	if n <= 0 {
		return keys[:0]
	}
	if n >= len(keys) {
		slices.SortFunc(keys, compare)
		return keys
	}
	best := keys[:n]
	slices.SortFunc(best, compare)
	for _, key := range keys[n:] {
		if compare(key, best[n-1]) >= 0 {
			continue
		}
		// Insert key in its place, dropping the last.
		i, _ := slices.BinarySearchFunc(best, key, compare)
		copy(best[i+1:], best[i:n-1])
		best[i] = key
	}
	return best
}

// scoreKey is what Rate sorts a message's scores by: how far the word's
// probability is from 0.5 (deviationKey), then the word (wordPrefix, then
// the score's word at index).
type scoreKey struct {
	deviation uint64
	prefix    uint64
	index     int32
}

// wordPrefix is the first 8 bytes of word as a big-endian number, zeros
// after a shorter word: two words whose prefixes differ compare as their
// prefixes do (a word that ends within them is padded with zeros, which
// sort first as its end does; a zero byte in a word ties with the padding
// and the words are compared).
func wordPrefix(word string) uint64 {
	var prefix uint64
	for i := range 8 {
		prefix <<= 8
		if i < len(word) {
			prefix |= uint64(word[i])
		}
	}
	return prefix
}

// deviationKey orders probabilities as cmp.Compare orders their distances
// from 0.5, as integers: the bits of a float that is not negative grow with
// it, one more so that NaN, which cmp.Compare puts below every number, can
// be 0.
func deviationKey(probability float64) uint64 {
	deviation := math.Abs(probability - 0.5)
	if deviation != deviation {
		return 0
	}
	return math.Float64bits(deviation) + 1
}

// rateBuffer is Rate's working space, kept for the next message (a
// message has hundreds of known words).
type rateBuffer struct {
	scores        []WordScore
	keys, fillers []scoreKey
}

var rateBuffers = sync.Pool{New: func() any {
	return &rateBuffer{scores: make([]WordScore, 0, 512), keys: make([]scoreKey, 0, 256), fillers: make([]scoreKey, 0, 256)}
}}

// put returns b to the pool, not holding on to the message's words.
func (b *rateBuffer) put() {
	if cap(b.scores) > 8192 {
		return // a huge message's: let it go
	}
	clear(b.scores)
	b.scores, b.keys, b.fillers = b.scores[:0], b.keys[:0], b.fillers[:0]
	rateBuffers.Put(b)
}

// WordProbability is the spam probability a word with these counts gives
// in a rating under p (its zero fields defaulted): what the spam page shows
// beside a learned word, so that it says the same as a message's "word =
// p%" lines.
func (p Params) WordProbability(count, totals Count) float64 {
	if totals.Spam <= 0 || totals.Ham <= 0 || count.Spam+count.Ham <= 0 {
		return 0.5
	}
	return wordProbability(count, totals, p.WithDefaults())
}

// wordProbability is Robinson's f(w): the word's spam probability from
// its counts relative to the classes' sizes, drawn towards the assumed
// probability by the strength when the word was seen little.
func wordProbability(count, totals Count, p Params) float64 {
	// Comparisons rather than math.Min and math.Max, which are calls (a
	// tenth of Rate): the same values, NaN kept, for ratios that are never
	// negative zero.
	spamRatio := float64(count.Spam) / float64(totals.Spam)
	if spamRatio > 1 {
		spamRatio = 1
	}
	hamRatio := float64(count.Ham) / float64(totals.Ham)
	if hamRatio > 1 {
		hamRatio = 1
	}
	pw := spamRatio / (spamRatio + hamRatio)
	n := float64(count.Spam + count.Ham)
	f := (p.Strength*p.Assumed + n*pw) / (p.Strength + n)
	// Never quite certain: one word must not outweigh all the others.
	if f < 0.0001 {
		f = 0.0001
	}
	if f > 0.9999 {
		f = 0.9999
	}
	return f
}

// chiSquareCombine is Robinson's Fisher combining (as in SpamBayes and
// bogofilter): how unlikely the words' spam probabilities are for a ham
// and their ham probabilities for a spam, under chi-square with 2n degrees
// of freedom, taken together as (1 + S - H) / 2.
func chiSquareCombine(scores []WordScore) float64 {
	var lnSpam, lnHam float64
	for _, w := range scores {
		lnSpam += math.Log(1 - w.Probability)
		lnHam += math.Log(w.Probability)
	}
	n := len(scores)
	s := 1 - chi2Q(-2*lnSpam, 2*n)
	h := 1 - chi2Q(-2*lnHam, 2*n)
	return (1 + s - h) / 2
}

// chi2Q is the chi-square survival function for an even number of degrees
// of freedom: P(X >= x2).
func chi2Q(x2 float64, freedom int) float64 {
	m := x2 / 2
	// Sum of the Poisson terms e^-m m^i / i!, in logarithms so that a large
	// m does not underflow the first term to zero.
	logTerm := -m
	sum := math.Exp(logTerm)
	for i := 1; i < freedom/2; i++ {
		logTerm += math.Log(m / float64(i))
		sum += math.Exp(logTerm)
	}
	return math.Min(sum, 1)
}
