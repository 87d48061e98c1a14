package spam

import (
	"context"

	"pochta.dev/pochta/internal/store"
)

// Store is the learned counts kept in the store's spam_words and
// spam_totals tables, shared by every process on the database. It
// implements [Learner].
type Store struct{ St *store.Store }

// Totals implements [Counts].
func (s Store) Totals(ctx context.Context) (Count, error) {
	c, err := s.St.SpamTotals(ctx)
	return Count(c), err
}

// Words implements [Counts]: one query per 500 words.
func (s Store) Words(ctx context.Context, words []string) (map[string]Count, error) {
	counts, err := s.St.SpamWords(ctx, words)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Count, len(counts))
	for w, c := range counts {
		out[w] = Count(c)
	}
	return out, nil
}

// Apply implements [Learner].
func (s Store) Apply(ctx context.Context, d Delta) error {
	words := make(map[string]store.SpamCount, len(d.Words))
	for w, c := range d.Words {
		words[w] = store.SpamCount(c)
	}
	return s.St.ApplySpamDelta(ctx, words, store.SpamCount(d.Messages))
}

// TrainMessage trains a stored message, whose tokens are given, as class
// (None untrains it), moving its counts from the class it was trained as
// in the same transaction that records the new one, so that marking a
// message twice, or from two processes at once, moves its counts once. It
// gives the class the message was trained as before.
func (s Store) TrainMessage(ctx context.Context, messageID int64, tokens []string, class Class) (Class, error) {
	previous, err := s.St.TrainSpamMessage(ctx, messageID, string(class), tokens)
	return Class(previous), err
}
