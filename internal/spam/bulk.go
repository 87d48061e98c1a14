package spam

import (
	"context"
	"fmt"
)

// Example is one message of a bulk training: its tokens and its class.
type Example struct {
	Tokens []string
	Class  Class
}

// BulkOptions tune [TrainBulk]. The zero value means the defaults.
type BulkOptions struct {
	// Params rate each message before it is trained (the settings' words
	// used and minimum count).
	Params Params
	// Margin: a message is trained unless it is already rated within
	// Margin of certain on its own side, a spam at 1-Margin or more, a ham
	// at Margin or less (chi-square rates most messages within 10⁻⁸ of 0
	// or 1, so the default is that small). 0 means [DefaultBulkMargin];
	// 0.5 or more trains every message once (Passes is then 1).
	Margin float64
	// LaterMargin is the margin of the passes after the first: a message
	// is trained again only when rated less than LaterMargin from certain
	// on its side. 0 means [DefaultBulkLaterMargin]; 0.5 trains again only
	// messages on the wrong side. While fewer than [BulkLaterMarginMinimum]
	// messages of either class are learned after the first pass (the counts
	// learned before plus the upload's trainings), 0.5 is used: so few
	// counts cannot rate a message that near certain, and each message
	// would be trained in every pass.
	LaterMargin float64
	// Passes is how many times at most the examples are gone through; a
	// pass that trains nothing ends it. 0 means [DefaultBulkPasses].
	Passes int
	// Progress, when set, is called after each example with what is done.
	Progress func(BulkProgress)
}

// DefaultBulkMargin and DefaultBulkPasses are bulk training's defaults,
// chosen on the SpamAssassin corpus's splits with seeds 4-9
// (docs/benchmarks.md).
const (
	DefaultBulkMargin      = 1e-8
	DefaultBulkLaterMargin = 1e-4
	DefaultBulkPasses      = 3
	// BulkLaterMarginMinimum is how many messages of each class must be
	// learned after the first pass (before the upload and from it) for the
	// later passes to train within LaterMargin rather than on error only
	// (the spam page's "at least 200 of each class"). The learned totals
	// decide, not the upload's own sizes: the web page and the API train
	// one class per request, so an upload never holds 200 of both.
	BulkLaterMarginMinimum = 200
)

// BulkProgress is how far a bulk training has got.
type BulkProgress struct {
	Pass, Passes int // the pass under way, 1-based, and the most there may be
	Done, Total  int // examples gone through in this pass, and all of them
	// Trained counts the trainings so far per class, over every pass: a
	// message trained in two passes counts twice.
	Trained Count
}

// TrainBulk teaches the counts many messages at once ("pochta spam train",
// POST /api/v1/spam/train), training on error with a margin, several
// passes (Yerazunis's "train until no errors", TUNE, as bogofilter and
// SpamAssassin users train): each message is rated first and trained only
// when the filter does not already rate it clearly on its side. Training
// every message once weighs the many easy messages (the thousandth list
// mail) as much as the hard ones and left 8-14% of the corpus's spam
// rated 70% or less; training on the errors spends the counts where the
// filter errs (4-6% at 70%, docs/benchmarks.md). The classes are interleaved in proportion, each in the
// given order, so that the filter learns both from the start.
//
// Messages trained this way cannot be untrained one by one: only a stored
// message's spam / not spam action, which trains once and remembers how
// ([Store.TrainMessage]), can be taken back.
func TrainBulk(ctx context.Context, l Learner, examples []Example, options BulkOptions) (BulkProgress, error) {
	margin := options.Margin
	if margin <= 0 {
		margin = DefaultBulkMargin
	}
	passes := options.Passes
	if passes <= 0 {
		passes = DefaultBulkPasses
	}
	if margin >= 0.5 {
		passes = 1
	}
	ordered, err := interleave(examples)
	if err != nil {
		return BulkProgress{}, err
	}
	laterMargin := options.LaterMargin
	if laterMargin <= 0 || laterMargin > 0.5 {
		laterMargin = DefaultBulkLaterMargin
	}
	classifier := NewClassifier(options.Params, l)
	progress := BulkProgress{Passes: passes, Total: len(ordered)}
	for pass := 1; pass <= passes; pass++ {
		progress.Pass, progress.Done = pass, 0
		trainedInPass := 0
		for _, e := range ordered {
			if err := ctx.Err(); err != nil {
				return progress, err
			}
			train := true
			if margin < 0.5 {
				result, err := classifier.Classify(ctx, e.Tokens)
				if err != nil {
					return progress, err
				}
				// The first pass trains within the margin; later ones
				// within the smaller later margin (only the messages still
				// on the wrong side while fewer than 200 of a class are
				// learned), so that a few messages too short to be rated
				// that surely are not trained three times over.
				need := margin
				if pass > 1 {
					need = laterMargin
				}
				if e.Class == Spam {
					train = result.Probability < 1-need
				} else {
					train = result.Probability > need
				}
			}
			if train {
				if err := Train(ctx, l, e.Tokens, e.Class); err != nil {
					return progress, err
				}
				progress.Trained = add(progress.Trained, unit(e.Class))
				trainedInPass++
			}
			progress.Done++
			if options.Progress != nil {
				options.Progress(progress)
			}
		}
		if trainedInPass == 0 {
			break
		}
		// Until both classes are learned every message rates 0.5: a
		// further pass would only train them all again.
		totals, err := l.Totals(ctx)
		if err != nil {
			return progress, fmt.Errorf("spam totals: %w", err)
		}
		if totals.Spam <= 0 || totals.Ham <= 0 {
			break
		}
		if pass == 1 && (totals.Spam < BulkLaterMarginMinimum || totals.Ham < BulkLaterMarginMinimum) {
			laterMargin = 0.5
		}
	}
	return progress, nil
}

// interleave orders the examples so that the classes alternate in
// proportion (with 2 ham to each spam: ham, spam, ham, ham, spam, …),
// each class in its given order. Examples without tokens are left out.
func interleave(examples []Example) ([]Example, error) {
	var spams, hams []Example
	for _, e := range examples {
		switch e.Class {
		case Spam:
			if len(e.Tokens) > 0 {
				spams = append(spams, e)
			}
		case Ham:
			if len(e.Tokens) > 0 {
				hams = append(hams, e)
			}
		default:
			return nil, fmt.Errorf("train as %q: not spam or ham", e.Class)
		}
	}
	out := make([]Example, 0, len(spams)+len(hams))
	s, h := 0, 0
	for s < len(spams) || h < len(hams) {
		// Take from the class that is further behind its share.
		if h >= len(hams) || (s < len(spams) && float64(s)/float64(len(spams)) <= float64(h)/float64(len(hams))) {
			out = append(out, spams[s])
			s++
		} else {
			out = append(out, hams[h])
			h++
		}
	}
	return out, nil
}
