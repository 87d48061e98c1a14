package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/mailfile"
	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
)

// SpamReadyMessages is how many messages of each class the filter should
// have learned before its ratings are worth a rule: below it the spam page
// warns.
const SpamReadyMessages = 200

// SpamState is what the spam filter has learned (SPEC.md "The UI shows how
// much it has learned").
type SpamState struct {
	SpamMessages int64 `json:"spam_messages"`
	HamMessages  int64 `json:"ham_messages"`
	Words        int64 `json:"words"`
	// Ready is false until SpamReadyMessages of each class are learned.
	Ready     bool `json:"ready"`
	ReadyAt   int  `json:"ready_at"`
	CheckSpam bool `json:"check_spam"` // "check spam on receipt"
	WordsUsed int  `json:"words_used"`
	MinCount  int  `json:"min_word_count"`
	// SpamWords and HamWords are the learned words that tell most of
	// spam and of ham (SpamTellingWords of each), seen in at least
	// MinCount messages.
	SpamWords []SpamWordView `json:"spam_words"`
	HamWords  []SpamWordView `json:"ham_words"`
}

// SpamTellingWords is how many telling words of each class the spam
// state lists.
const SpamTellingWords = 20

// SpamWordView is a learned word: the trained messages of each class that
// held it, and the spam probability it gives in a rating (0-100).
type SpamWordView struct {
	Word        string `json:"word"`
	Spam        int64  `json:"spam"`
	Ham         int64  `json:"ham"`
	Probability int    `json:"probability"`
}

// spamWordViews adds each word's probability as a rating would take it
// (Robinson's, from its shares of each class drawn towards the assumed
// probability when it was seen little), so that the page and a message's
// "word = p%" lines agree.
func spamWordViews(words []store.SpamWord, totals store.SpamCount, params spam.Params) []SpamWordView {
	out := make([]SpamWordView, 0, len(words))
	learned := spam.Count{Spam: totals.Spam, Ham: totals.Ham}
	for _, w := range words {
		probability := params.WordProbability(spam.Count{Spam: w.Spam, Ham: w.Ham}, learned)
		out = append(out, SpamWordView{Word: w.Word, Spam: w.Spam, Ham: w.Ham, Probability: int(math.Round(100 * probability))})
	}
	return out
}

// Spam gives the spam filter's state to admins and auditors, with the
// words that tell most of each class (the page and GET /api/v1/spam).
func (s *Service) Spam(ctx context.Context, actor *Actor) (SpamState, error) {
	state, err := s.SpamCounts(ctx, actor)
	if err != nil {
		return SpamState{}, err
	}
	totals := store.SpamCount{Spam: state.SpamMessages, Ham: state.HamMessages}
	params := spam.Params{WordsUsed: state.WordsUsed, MinCount: state.MinCount}
	for _, class := range []bool{true, false} {
		// A scan of the whole vocabulary each: only where they are shown.
		telling, err := s.store.SpamTellingWords(ctx, totals, class, int64(state.MinCount), SpamTellingWords)
		if err != nil {
			return SpamState{}, err
		}
		if class {
			state.SpamWords = spamWordViews(telling, totals, params)
		} else {
			state.HamWords = spamWordViews(telling, totals, params)
		}
	}
	return state, nil
}

// SpamCounts is [Service.Spam] without the telling words: what a training
// upload answers with.
func (s *Service) SpamCounts(ctx context.Context, actor *Actor) (SpamState, error) {
	if err := requireReadAll(actor); err != nil {
		return SpamState{}, err
	}
	totals, _, err := s.store.SpamVersion(ctx)
	if err != nil {
		return SpamState{}, err
	}
	words, err := s.store.SpamWordCount(ctx)
	if err != nil {
		return SpamState{}, err
	}
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return SpamState{}, err
	}
	return SpamState{SpamMessages: totals.Spam, HamMessages: totals.Ham, Words: words, ReadyAt: SpamReadyMessages,
		Ready:     totals.Spam >= SpamReadyMessages && totals.Ham >= SpamReadyMessages,
		CheckSpam: settings.CheckSpam, WordsUsed: settings.SpamWordsUsed, MinCount: settings.SpamMinWordCount,
		SpamWords: []SpamWordView{}, HamWords: []SpamWordView{}}, nil
}

// SpamExample reads one message that is not stored in Pochta for bulk
// training (from folders and mbox files: "pochta spam train", the API's
// /spam/train) as class "spam" or "ham": its tokens, which is all
// [Service.TrainSpamBulk] keeps of it. A message without tokens gives an
// example that training leaves out.
func SpamExample(class string, raw []byte) (spam.Example, error) {
	c := spam.Class(class)
	if c != spam.Spam && c != spam.Ham {
		return spam.Example{}, &ValidationError{Fields: map[string]i18n.Message{"class": i18n.M("error.spam_class")}}
	}
	if len(raw) > MaxRuleTestSource {
		return spam.Example{}, &ValidationError{Fields: map[string]i18n.Message{"raw": i18n.M("error.too_large", i18n.Key("field.source"))}}
	}
	tokens := spam.Tokenize(mime.Parse(raw, mime.Options{}))
	// Tokens may be pieces of the message's text (see spam.Tokenize), and
	// an example is kept through every pass of a bulk training: copies,
	// so that a thousand examples do not hold a thousand bodies.
	for i, token := range tokens {
		tokens[i] = strings.Clone(token)
	}
	return spam.Example{Tokens: tokens, Class: c}, nil
}

// MaxSpamUploadBytes bounds one bulk-training upload (an mbox of many
// messages) on the web page and the API.
const MaxSpamUploadBytes = 200 << 20

// SpamExamples reads an upload for bulk training as class "spam" or
// "ham": an mbox file (mbox true) or one message. A message of an mbox
// larger than MaxRuleTestSource is left out and counted in skipped (as
// "pochta spam train" leaves it out), never read whole; one message that
// large is a *ValidationError, as is a bad class. With an error it gives
// the examples read before it, so that the caller can say which message
// failed.
func SpamExamples(class string, body io.Reader, mbox bool) (examples []spam.Example, skipped int, err error) {
	add := func(message io.Reader) error {
		raw, err := io.ReadAll(io.LimitReader(message, MaxRuleTestSource+1))
		if err != nil {
			return err
		}
		if mbox && len(raw) > MaxRuleTestSource {
			skipped++ // the mbox reader skips the rest of it
			return nil
		}
		example, err := SpamExample(class, raw)
		if err != nil {
			return err
		}
		examples = append(examples, example)
		return nil
	}
	if !mbox {
		return examples, 0, add(body)
	}
	reader := mailfile.NewMboxReader(body)
	for {
		message, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return examples, skipped, nil
		}
		if err != nil {
			return examples, skipped, err
		}
		if err := add(message); err != nil {
			return examples, skipped, err
		}
	}
}

// TrainSpamBulk teaches the filter many messages at once (admins): on
// error with a margin, in up to three passes ([spam.TrainBulk]), rating
// each with the settings' words used and minimum count, so that it learns
// from the messages it does not yet rate clearly, not from every one.
// progress, when set, is called after each message of each pass. Such
// messages cannot be untrained: train stored messages through their spam /
// not spam actions for that.
func (s *Service) TrainSpamBulk(ctx context.Context, actor *Actor, examples []spam.Example, progress func(spam.BulkProgress)) (spam.BulkProgress, error) {
	if err := requireAdmin(actor); err != nil {
		return spam.BulkProgress{}, err
	}
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return spam.BulkProgress{}, err
	}
	for i, example := range examples {
		if len(example.Tokens) == 0 {
			// Nothing to learn from it; said, so that a bulk training of
			// an unreadable folder does not pass for one that taught
			// something.
			s.logger.Warn("spam training: a message gave no tokens, nothing learned", "class", string(example.Class), "message", i+1)
		}
	}
	params := spam.Params{WordsUsed: settings.SpamWordsUsed, MinCount: settings.SpamMinWordCount}
	done, err := spam.TrainBulk(ctx, spam.Store{St: s.store}, examples, spam.BulkOptions{Params: params, Progress: progress})
	s.spamCounts.forget()
	if err != nil {
		return done, fmt.Errorf("train the spam filter: %w", err)
	}
	return done, nil
}
