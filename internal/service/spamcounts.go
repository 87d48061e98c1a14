package service

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
)

// spamVocabularyWords is the most learned words a process holds in memory
// (about 34 bytes each in a spam.Vocabulary, so some 34 MB at the most,
// twice that while a new snapshot is read beside the old one). Past it the
// rating reads the words it needs from the database, keeping those it read
// (spamWordCache).
const spamVocabularyWords = 1_000_000

// spamVocabularyRetry is how long a vocabulary found too large to hold is
// not read whole again: reading it costs as much as holding it.
const spamVocabularyRetry = 10 * time.Minute

// spamSnapshot is the learned counts as one process holds them: the
// totals, the store's change counter they were read at, and every learned
// word. It is never changed once made, so any number of judges read it
// without a lock.
type spamSnapshot struct {
	totals  spam.Count
	changes int64
	// words are every learned word's counts; nil when there were more
	// than spamVocabularyWords (the per-word cache serves then).
	words *spam.Vocabulary
}

// spamCountCache gives the rating on receipt the learned counts without a
// query per message: the rating reads hundreds of words a message, and
// reading even only the words not seen before from the database was half
// of the judges' cost on receipt (docs/benchmarks.md). It holds the whole
// vocabulary (spamSnapshot) and reads the store's change counter
// (spam_totals.changes, which every training moves in its transaction) at
// most once a second; when the counter has moved, a new snapshot is read
// in the background while the messages go on being rated with the one
// held, so a training by any process sharing the database is seen within
// a second and the time it takes to read the vocabulary (for a large one,
// up to nine times that: see loadAt). Only a process
// that cannot rate yet (nothing held, or nothing learned of a class) waits
// for the read.
type spamCountCache struct {
	mu       sync.Mutex
	snapshot *spamSnapshot
	checkAt  time.Time     // the next read of the change counter
	loading  chan struct{} // closed when the read in flight ends; nil when none
	loadErr  error         // the last read's failure, for those who waited on it
	// wholeAt is when a vocabulary found too large may be read whole again.
	wholeAt time.Time
	// loadAt is the earliest time of the next read of a snapshot, once one
	// is held: nine times the last read's duration after it ended, so
	// that frequent trainings keep a process reading its vocabulary at
	// most a tenth of the time (a million words took 2.9 s of CPU on a loaded
	// machine, BenchmarkEachSpamWord).
	loadAt time.Time
	// fallback serves the words when the vocabulary is too large to hold.
	fallback spamWordCache
	// limit is the most words held; 0 means spamVocabularyWords (a test
	// sets a few).
	limit int
}

// current gives the snapshot to rate with, reading the change counter when
// its second has passed.
func (c *spamCountCache) current(ctx context.Context, s *Service) (*spamSnapshot, error) {
	now := s.now()
	c.mu.Lock()
	snapshot := c.snapshot
	if snapshot != nil {
		if now.Before(c.checkAt) {
			c.mu.Unlock()
			return snapshot, nil
		}
		// This caller checks; the others rate with what is held meanwhile.
		c.checkAt = now.Add(time.Second)
	}
	c.mu.Unlock()
	totals, changes, err := s.store.SpamVersion(ctx)
	if err != nil {
		if snapshot != nil {
			s.logger.Error("spam rating: read the learned counts' version", "error", err)
			return snapshot, nil
		}
		return nil, err
	}
	if snapshot != nil && changes == snapshot.changes {
		return snapshot, nil
	}
	c.mu.Lock()
	if snapshot != nil && snapshot.totals.Spam > 0 && snapshot.totals.Ham > 0 && now.Before(c.loadAt) {
		// Read again soon (the counter is read again in a second).
		c.mu.Unlock()
		return snapshot, nil
	}
	if snapshot != nil && snapshot.words == nil && now.Before(c.wholeAt) {
		// Too large to hold: the totals are taken, the words are read as
		// needed by the per-word cache, which checks the counter itself.
		snapshot = &spamSnapshot{totals: spam.Count(totals), changes: changes}
		c.snapshot = snapshot
		c.mu.Unlock()
		return snapshot, nil
	}
	done := c.load(s)
	c.mu.Unlock()
	if snapshot != nil && snapshot.totals.Spam > 0 && snapshot.totals.Ham > 0 {
		return snapshot, nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snapshot == nil {
		return nil, fmt.Errorf("spam snapshot not read: %w", c.loadErr)
	}
	return c.snapshot, nil
}

// load starts reading a new snapshot unless one is being read, and gives
// the channel closed when that read ends. c.mu is held.
func (c *spamCountCache) load(s *Service) chan struct{} {
	if c.loading != nil {
		return c.loading
	}
	done := make(chan struct{})
	c.loading = done
	hint := 4096
	if c.snapshot != nil && c.snapshot.words != nil {
		hint = c.snapshot.words.Len()
	}
	go func() {
		defer close(done)
		// Not the context of the message that noticed the change: the
		// read serves every later message.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		started := time.Now()
		limit := c.limit
		if limit == 0 {
			limit = spamVocabularyWords
		}
		snapshot, err := readSpamSnapshot(ctx, s.store, hint, limit)
		elapsed := time.Since(started)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.loading, c.loadErr = nil, err
		c.loadAt = s.now().Add(9 * elapsed)
		if err != nil {
			s.logger.Error("spam rating: read the learned words", "error", err)
			return
		}
		if snapshot.words == nil {
			c.wholeAt = s.now().Add(spamVocabularyRetry)
			s.logger.Info("spam rating: too many learned words to hold in memory; reading them per message",
				"limit", limit)
		}
		c.snapshot = snapshot
	}()
	return done
}

// readSpamSnapshot reads the totals and every learned word. The change
// counter is read first: a training during the read moves it past the
// snapshot's, so the next check reads the words again.
func readSpamSnapshot(ctx context.Context, st *store.Store, hint, limit int) (*spamSnapshot, error) {
	totals, changes, err := st.SpamVersion(ctx)
	if err != nil {
		return nil, err
	}
	words := spam.NewVocabulary(hint)
	complete, err := st.EachSpamWord(ctx, limit, func(word string, count store.SpamCount) {
		words.Set(word, spam.Count(count))
	})
	if err != nil {
		return nil, fmt.Errorf("spam snapshot: %w", err)
	}
	if !complete {
		words = nil
	}
	return &spamSnapshot{totals: spam.Count(totals), changes: changes, words: words}, nil
}

// words gives the counts of a message's tokens: the snapshot's whole
// vocabulary (read, never changed), or those of tokens ever learned when
// the vocabulary is too large to hold.
func (c *spamCountCache) words(ctx context.Context, s *Service, snapshot *spamSnapshot, tokens []string) (spam.WordCounts, error) {
	if snapshot.words != nil {
		return snapshot.words, nil
	}
	_, counts, err := c.fallback.lookup(ctx, s, tokens)
	return spam.Words(counts), err
}

// lookup gives the totals and the counts of tokens (the dry run's rating).
func (c *spamCountCache) lookup(ctx context.Context, s *Service, tokens []string) (spam.Count, spam.WordCounts, error) {
	snapshot, err := c.current(ctx, s)
	if err != nil {
		return spam.Count{}, nil, err
	}
	counts, err := c.words(ctx, s, snapshot, tokens)
	return snapshot.totals, counts, err
}

// forget makes the next rating read the change counter (this process
// trained).
func (c *spamCountCache) forget() {
	c.mu.Lock()
	c.checkAt = time.Time{}
	c.mu.Unlock()
	c.fallback.forget()
}

// spamWordCache is the rating's counts when the vocabulary is too large to
// hold whole (spamCountCache): the words a message needs are read from the
// database and kept, read for each message they made the judged import
// four times slower (see docs/benchmarks.md). The words read stay while the store's count of
// changes to the learned counts stays the same (checked at most once a
// second, with the totals), so a training by any process sharing the
// database is seen within a second. Words never learned are kept too, as
// zero counts: most of a message's words are.
type spamWordCache struct {
	mu      sync.Mutex
	totals  spam.Count
	changes int64
	words   map[string]spam.Count
	expires time.Time
}

// spamCacheWords bounds the words kept (a few tens of megabytes); past it
// the cache starts again.
const spamCacheWords = 300_000

// lookup gives the totals and the counts of those of tokens ever learned.
func (c *spamWordCache) lookup(ctx context.Context, s *Service, tokens []string) (spam.Count, map[string]spam.Count, error) {
	c.mu.Lock()
	now := s.now()
	if !now.Before(c.expires) {
		totals, changes, err := s.store.SpamVersion(ctx)
		if err != nil {
			c.mu.Unlock()
			return spam.Count{}, nil, err
		}
		if changes != c.changes || c.words == nil || len(c.words) > spamCacheWords {
			c.words = make(map[string]spam.Count, 4096)
		}
		c.totals, c.changes, c.expires = spam.Count(totals), changes, now.Add(time.Second)
	}
	totals, changes := c.totals, c.changes
	counts := make(map[string]spam.Count, len(tokens)/2)
	var missing []string
	for _, token := range tokens {
		count, known := c.words[token]
		switch {
		case !known:
			missing = append(missing, token)
		case count != (spam.Count{}):
			counts[token] = count
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 || totals.Spam == 0 || totals.Ham == 0 {
		return totals, counts, nil
	}
	read, err := spam.Store{St: s.store}.Words(ctx, missing)
	if err != nil {
		return totals, nil, err
	}
	c.mu.Lock()
	keep := c.changes == changes // a training since: these may be stale for the next message
	for _, token := range missing {
		count := read[token]
		if count != (spam.Count{}) {
			counts[token] = count
		}
		if keep {
			// A token may be a piece of its message's text (see
			// spam.Tokenize): a copy, so that the cache does not keep
			// the message.
			c.words[strings.Clone(token)] = count
		}
	}
	c.mu.Unlock()
	return totals, counts, nil
}

// forget makes the next lookup read the totals again (this process
// trained).
func (c *spamWordCache) forget() {
	c.mu.Lock()
	c.expires = time.Time{}
	c.mu.Unlock()
}
