package spam

import (
	"context"
	"fmt"
	"sync"
)

// Class is how a message was trained: the value of a message's
// spam_trained column.
type Class string

// The classes. None is a message never trained (or untrained).
const (
	None Class = ""
	Spam Class = "spam"
	Ham  Class = "ham"
)

// Valid tells a known class.
func (c Class) Valid() bool { return c == None || c == Spam || c == Ham }

// Delta is a change of the learned counts: per word and for the message
// totals, signed.
type Delta struct {
	Words    map[string]Count
	Messages Count
}

// Move gives the change of counts that moves a message with these tokens
// from one class to another: untraining from (unless None), training to
// (unless None). Moving a message to the class it is in changes nothing;
// the caller keeps how each message was trained (the store's
// spam_trained) so that re-marking moves its counts once.
func Move(tokens []string, from, to Class) Delta {
	d := Delta{Words: make(map[string]Count, len(tokens))}
	if from == to {
		return d
	}
	sign := func(c Class) Count {
		var n Count
		if c == from {
			n = sub(n, unit(c))
		}
		if c == to {
			n = add(n, unit(c))
		}
		return n
	}
	change := add(sign(Spam), sign(Ham))
	d.Messages = change
	for _, token := range tokens {
		d.Words[token] = change
	}
	return d
}

// unit is one message of class c.
func unit(c Class) Count {
	switch c {
	case Spam:
		return Count{Spam: 1}
	case Ham:
		return Count{Ham: 1}
	}
	return Count{}
}

func add(a, b Count) Count { return Count{Spam: a.Spam + b.Spam, Ham: a.Ham + b.Ham} }
func sub(a, b Count) Count { return Count{Spam: a.Spam - b.Spam, Ham: a.Ham - b.Ham} }

// Learner is learned counts that can change: [Memory], or the store.
type Learner interface {
	Counts
	// Apply adds a delta to the counts, atomically: concurrent deltas
	// never lose one another. A count never goes below zero.
	Apply(ctx context.Context, d Delta) error
}

// Train adds a message's tokens to the counts as class c (Spam or Ham).
// The caller that keeps how messages were trained uses [Move] instead.
func Train(ctx context.Context, l Learner, tokens []string, c Class) error {
	if c != Spam && c != Ham {
		return fmt.Errorf("train as %q: not spam or ham", c)
	}
	return l.Apply(ctx, Move(tokens, None, c))
}

// Untrain takes a message's tokens trained as class c back out of the
// counts.
func Untrain(ctx context.Context, l Learner, tokens []string, c Class) error {
	if c != Spam && c != Ham {
		return fmt.Errorf("untrain as %q: not spam or ham", c)
	}
	return l.Apply(ctx, Move(tokens, c, None))
}

// Memory is learned counts held in memory, for tests and offline
// evaluation. It is safe for concurrent use. The zero value is empty and
// ready.
type Memory struct {
	mu     sync.RWMutex
	words  map[string]Count
	totals Count
}

// Totals implements [Counts].
func (m *Memory) Totals(context.Context) (Count, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.totals, nil
}

// Words implements [Counts].
func (m *Memory) Words(_ context.Context, words []string) (map[string]Count, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]Count, len(words))
	for _, w := range words {
		if c, ok := m.words[w]; ok {
			out[w] = c
		}
	}
	return out, nil
}

// Len is the number of distinct words learned.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.words)
}

// Apply implements [Learner].
func (m *Memory) Apply(_ context.Context, d Delta) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.words == nil {
		m.words = make(map[string]Count)
	}
	for w, change := range d.Words {
		c := clamp(add(m.words[w], change))
		if c == (Count{}) {
			delete(m.words, w)
			continue
		}
		m.words[w] = c
	}
	m.totals = clamp(add(m.totals, d.Messages))
	return nil
}

func clamp(c Count) Count {
	return Count{Spam: max(c.Spam, 0), Ham: max(c.Ham, 0)}
}
