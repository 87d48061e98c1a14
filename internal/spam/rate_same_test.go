package spam

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/benchcpu"
)

// refRate is Rate as it was before session 10 (sorting the scores
// themselves), kept to prove the reworked one rates the same.
func refRate(c *Classifier, tokens []string, totals Count, words map[string]Count) Result {
	p := c.Params.WithDefaults()
	result := Result{Probability: 0.5, Tokens: len(tokens)}
	if totals.Spam <= 0 || totals.Ham <= 0 {
		return result
	}
	scores := make([]WordScore, 0, 64)
	telling := 0
	for _, token := range tokens {
		count, ok := words[token]
		if !ok || count.Spam+count.Ham <= 0 {
			continue
		}
		f := wordProbability(count, totals, p)
		if math.Abs(f-0.5) >= p.MinDeviation {
			telling++
		} else if count.Spam+count.Ham < int64(p.MinCount) {
			continue
		}
		scores = append(scores, WordScore{Word: token, Probability: f, Spam: count.Spam, Ham: count.Ham})
	}
	slices.SortFunc(scores, func(a, b WordScore) int {
		if c := cmp.Compare(math.Abs(b.Probability-0.5), math.Abs(a.Probability-0.5)); c != 0 {
			return c
		}
		return strings.Compare(a.Word, b.Word)
	})
	scores = scores[:min(len(scores), max(telling, p.WordsUsed))]
	if len(scores) == 0 {
		return result
	}
	result.Words = scores
	result.Probability = chiSquareCombine(scores)
	return result
}

var awkwardWords = []string{"a", "a\x00", "a\x00b", "ab", "abcdefgh", "abcdefghi", "abcdefgh\x00", "abcdefgh\xff", "\xff", "", "я", "яя"}

// TestRateSameAsBefore: the same probability (to the bit), words and
// explanation as the reference, on random vocabularies full of ties (few
// distinct counts), tokens in any order, with several settings.
func TestRateSameAsBefore(t *testing.T) {
	rnd := rand.New(rand.NewPCG(10, 14))
	for i := range 2000 {
		words := map[string]Count{}
		var tokens []string
		n := rnd.IntN(600)
		for j := range n {
			token := fmt.Sprintf("w%d", rnd.IntN(2*n+1))
			if j%7 == 0 {
				token = fmt.Sprintf("слово%d", j)
			}
			if j%11 == 0 {
				// Words alike in their first 8 bytes, zero bytes, ends
				// within them: the sort's prefix keys.
				token = awkwardWords[rnd.IntN(len(awkwardWords))]
			}
			tokens = append(tokens, token)
			if rnd.IntN(4) > 0 {
				words[token] = Count{Spam: int64(rnd.IntN(1 + rnd.IntN(50))), Ham: int64(rnd.IntN(1 + rnd.IntN(50)))}
				if rnd.IntN(100) == 0 {
					words[token] = Count{Spam: int64(rnd.IntN(5) - 2), Ham: int64(rnd.IntN(5) - 2)} // a damaged row
				}
			}
		}
		totals := Count{Spam: int64(1 + rnd.IntN(100)), Ham: int64(1 + rnd.IntN(100))}
		if i%50 == 0 {
			totals.Ham = 0
		}
		params := Params{WordsUsed: rnd.IntN(40), MinCount: rnd.IntN(8), MinDeviation: []float64{0, -1, 0.1, 0.4}[rnd.IntN(4)]}
		classifier := NewClassifier(params, nil)
		want := refRate(classifier, tokens, totals, words)
		// The same from a map of the words and from a vocabulary of their
		// hashes (the snapshot rating on receipt reads).
		vocabulary := vocabularyOf(words)
		for range 2 {
			for _, counts := range []WordCounts{Words(words), vocabulary} {
				got := classifier.Rate(tokens, totals, counts)
				if math.Float64bits(got.Probability) != math.Float64bits(want.Probability) || got.Tokens != want.Tokens ||
					!slices.Equal(got.Words, want.Words) || got.String() != want.String() {
					t.Fatalf("case %d (%T): got %v (%d words), want %v (%d words)", i, counts, got.Probability, len(got.Words), want.Probability, len(want.Words))
				}
			}
			rnd.Shuffle(len(tokens), func(a, b int) { tokens[a], tokens[b] = tokens[b], tokens[a] })
		}
	}
}

// BenchmarkRate is the rating of a ~4 KB message once its tokens and
// their counts are at hand (the snapshot's vocabulary), with the words
// behind it said for the row, as the rating on receipt does;
// BenchmarkRateMap the same from a map of the words, and
// BenchmarkRateReference with refRate.
func BenchmarkRate(b *testing.B) {
	benchmarkRate(b, func(c *Classifier, tokens []string, totals Count, words map[string]Count, vocabulary *Vocabulary) Result {
		return c.Rate(tokens, totals, vocabulary)
	})
}

func BenchmarkRateMap(b *testing.B) {
	benchmarkRate(b, func(c *Classifier, tokens []string, totals Count, words map[string]Count, _ *Vocabulary) Result {
		return c.Rate(tokens, totals, Words(words))
	})
}

func BenchmarkRateReference(b *testing.B) {
	benchmarkRate(b, func(c *Classifier, tokens []string, totals Count, words map[string]Count, _ *Vocabulary) Result {
		return refRate(c, tokens, totals, words)
	})
}

// vocabularyOf is words as a Vocabulary.
func vocabularyOf(words map[string]Count) *Vocabulary {
	v := NewVocabulary(len(words))
	for word, count := range words {
		v.Set(word, count)
	}
	return v
}

func benchmarkRate(b *testing.B, rate func(*Classifier, []string, Count, map[string]Count, *Vocabulary) Result) {
	c := newBenchCorpus()
	counts := c.learned(b, 3000)
	ctx := context.Background()
	totals, _ := counts.Totals(ctx)
	tokens := Tokenize(c.message(4 << 10))
	// The whole vocabulary, as a process's snapshot holds it.
	words := counts.words
	vocabulary := vocabularyOf(words)
	classifier := Classifier{Params: Params{}}
	b.ReportAllocs()
	b.ResetTimer()
	benchcpu.Measure(b, func() {
		_ = rate(&classifier, tokens, totals, words, vocabulary).String()
	})
}
