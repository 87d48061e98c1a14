package spam

import (
	"context"
	"fmt"
	"testing"
)

// bulkExamples are messages of a tiny vocabulary: every spam says the
// same 8 words and every ham 8 others, each with a word of its own.
func bulkExamples(spams, hams int) []Example {
	var out []Example
	for i := range hams {
		out = append(out, Example{Tokens: append(words("meeting", 8), fmt.Sprintf("ham%d", i)), Class: Ham})
	}
	for i := range spams {
		out = append(out, Example{Tokens: append(words("offer", 8), fmt.Sprintf("spam%d", i)), Class: Spam})
	}
	return out
}

func words(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestInterleave(t *testing.T) {
	ordered, err := interleave(append(bulkExamples(2, 4), Example{Class: Ham}))
	if err != nil {
		t.Fatal(err)
	}
	var classes string
	for _, e := range ordered {
		classes += string(e.Class[0])
	}
	if classes != "shhshh" {
		// The spam leads: 0/2 of the spam is not behind 0/4 of the ham.
		t.Errorf("classes in order %q, want shhshh (an example without tokens left out)", classes)
	}
	if ordered[1].Tokens[8] != "ham0" || ordered[4].Tokens[8] != "ham2" {
		t.Errorf("each class's order not kept: %v", ordered)
	}
	if _, err := interleave([]Example{{Tokens: []string{"a"}, Class: "junk"}}); err == nil {
		t.Error("an unknown class was accepted")
	}
}

func TestTrainBulk(t *testing.T) {
	ctx := context.Background()
	examples := bulkExamples(50, 100)

	var everything Memory
	progress, err := TrainBulk(ctx, &everything, examples, BulkOptions{Margin: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if progress.Trained != (Count{Spam: 50, Ham: 100}) || progress.Pass != 1 {
		t.Errorf("margin 0.5 trained %+v in %d passes, want every message once", progress.Trained, progress.Pass)
	}
	if totals, _ := everything.Totals(ctx); totals != (Count{Spam: 50, Ham: 100}) {
		t.Errorf("totals %+v", totals)
	}

	var onError Memory
	var calls int
	var last BulkProgress
	progress, err = TrainBulk(ctx, &onError, examples, BulkOptions{Progress: func(p BulkProgress) {
		calls++
		last = p
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The first spam and the first ham are trained (nothing rated before
	// both classes are known); after them every message is rated clearly
	// on its side, and the second pass trains nothing and ends it.
	if progress.Trained.Spam < 1 || progress.Trained.Ham < 1 || progress.Trained.Spam+progress.Trained.Ham > 10 {
		t.Errorf("on error trained %+v, want a few of each class", progress.Trained)
	}
	if progress.Pass != 2 || calls != 2*len(examples) || last.Done != len(examples) || last.Total != len(examples) || last != progress {
		t.Errorf("progress: %d calls, last %+v, result %+v", calls, last, progress)
	}
	classifier := NewClassifier(Params{}, &onError)
	for _, e := range []Example{{Tokens: append(words("offer", 8), "new"), Class: Spam}, {Tokens: append(words("meeting", 8), "new"), Class: Ham}} {
		result, err := classifier.Classify(ctx, e.Tokens)
		if err != nil {
			t.Fatal(err)
		}
		if (e.Class == Spam) != (result.Probability > DefaultThreshold) {
			t.Errorf("%v rated %.3f after training on error", e, result.Probability)
		}
	}

	// One class alone (an mbox of spam) is trained once: with no ham
	// learned nothing can be rated, and further passes would repeat it.
	var spamOnly Memory
	progress, err = TrainBulk(ctx, &spamOnly, bulkExamples(5, 0), BulkOptions{})
	if err != nil || progress.Trained != (Count{Spam: 5}) || progress.Pass != 1 {
		t.Errorf("spam alone: %+v, %v", progress, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := TrainBulk(cancelled, &Memory{}, examples, BulkOptions{}); err == nil {
		t.Error("a cancelled training went on")
	}
}

// An upload of a few messages is trained on error only after its first
// pass: its few counts rate its own messages less near certain than the
// later margin, and each would be trained again in every pass (the web
// spam page's upload of two ham once learned six).
func TestTrainBulkSmallUploadOnce(t *testing.T) {
	ctx := context.Background()
	examples := []Example{
		{Tokens: []string{"cheap", "pills", "casino", "now", "shared"}, Class: Spam},
		{Tokens: []string{"quarterly", "report", "meeting", "shared"}, Class: Ham},
		{Tokens: []string{"квартальный", "отчёт", "meeting", "shared"}, Class: Ham},
	}
	var counts Memory
	progress, err := TrainBulk(ctx, &counts, examples, BulkOptions{LaterMargin: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	if progress.Trained != (Count{Spam: 1, Ham: 2}) {
		t.Errorf("a small upload trained %+v in %d passes, want each message once", progress.Trained, progress.Pass)
	}
}

// The web page and the API train one class per request, so an upload never
// holds 200 of both classes: whether the later passes keep their margin is
// decided by what is learned after the first pass, the counts learned
// before plus the upload's. An upload of 5 spam into a filter that knows
// 200 of each class is trained again while rated short of certain; into an
// empty filter (TestTrainBulkSmallUploadOnce) on error only.
func TestTrainBulkLaterMarginFromLearnedTotals(t *testing.T) {
	ctx := context.Background()
	var upload []Example
	for i := range 5 {
		// Words of both classes: rated about 50% before, short of
		// certain after one training.
		tokens := append(append(words("offer", 4), words("meeting", 2)...), fmt.Sprintf("new%d", i))
		upload = append(upload, Example{Tokens: tokens, Class: Spam})
	}
	learned := func(spams, hams int) *Memory {
		var counts Memory
		for _, e := range bulkExamples(spams, hams) {
			if err := Train(ctx, &counts, e.Tokens, e.Class); err != nil {
				t.Fatal(err)
			}
		}
		return &counts
	}
	for _, test := range []struct {
		name        string
		spams, hams int
		laterMargin float64
		want        func(trained int64) bool
		wantText    string
	}{
		{"200 of each learned", BulkLaterMarginMinimum, BulkLaterMarginMinimum, 0, func(n int64) bool { return n > 5 }, "more than 5 (trained again within the margin)"},
		{"200 of each learned, later passes on error", BulkLaterMarginMinimum, BulkLaterMarginMinimum, 0.5, func(n int64) bool { return n == 5 }, "5"},
		{"199 ham learned", BulkLaterMarginMinimum, BulkLaterMarginMinimum - 1, 0, func(n int64) bool { return n == 5 }, "5 (on error only)"},
	} {
		progress, err := TrainBulk(ctx, learned(test.spams, test.hams), upload, BulkOptions{LaterMargin: test.laterMargin})
		if err != nil {
			t.Fatal(err)
		}
		if progress.Trained.Ham != 0 || !test.want(progress.Trained.Spam) {
			t.Errorf("%s: trained %+v in %d passes, want spam %s", test.name, progress.Trained, progress.Pass, test.wantText)
		}
	}
}
