package service

import (
	"context"
	"fmt"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/spam"
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
}

// Spam gives the spam filter's state to admins and auditors.
func (s *Service) Spam(ctx context.Context, actor *Actor) (SpamState, error) {
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
		CheckSpam: settings.CheckSpam, WordsUsed: settings.SpamWordsUsed, MinCount: settings.SpamMinWordCount}, nil
}

// TrainSpam teaches the filter one message that is not stored in Pochta
// (bulk training from folders and mbox files: "pochta spam train", the
// API's /spam/train) as class "spam" or "ham" (admins). Such a message
// cannot be untrained: train stored messages through their spam / not
// spam actions for that.
func (s *Service) TrainSpam(ctx context.Context, actor *Actor, class string, raw []byte) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	c := spam.Class(class)
	if c != spam.Spam && c != spam.Ham {
		return &ValidationError{Fields: map[string]i18n.Message{"class": i18n.M("error.spam_class")}}
	}
	if len(raw) > MaxRuleTestSource {
		return &ValidationError{Fields: map[string]i18n.Message{"raw": i18n.M("error.too_large", i18n.Key("field.source"))}}
	}
	parsed := mime.Parse(raw, mime.Options{})
	tokens := spam.Tokenize(parsed)
	if len(tokens) == 0 {
		// Nothing to learn; said, so that a bulk training of an
		// unreadable folder does not pass for one that taught something.
		s.logger.Warn("spam training: the message gave no tokens, nothing learned", "class", class, "subject", parsed.Subject, "size", len(raw))
		return nil
	}
	if err := spam.Train(ctx, spam.Store{St: s.store}, tokens, c); err != nil {
		return fmt.Errorf("train the spam filter: %w", err)
	}
	s.spamCounts.forget()
	return nil
}
