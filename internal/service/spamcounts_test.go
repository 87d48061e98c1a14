package service

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
)

// The learned vocabulary held per process: a training by another process
// is read in the background while the snapshot held goes on rating; a
// vocabulary over the limit is read per message instead.
func TestSpamCountSnapshot(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pochta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var mu sync.Mutex
	clock := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	s := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), Now: now, TimeZone: "UTC"})
	train := func(words map[string]store.SpamCount, messages store.SpamCount) {
		t.Helper()
		if err := st.ApplySpamDelta(ctx, words, messages); err != nil {
			t.Fatal(err)
		}
	}
	// lookup gives the totals and the counts of those of tokens known.
	lookup := func(tokens ...string) (spam.Count, map[string]spam.Count) {
		t.Helper()
		totals, counts, err := s.spamCounts.lookup(ctx, s, tokens)
		if err != nil {
			t.Fatal(err)
		}
		known := map[string]spam.Count{}
		for _, token := range tokens {
			if count, ok := counts.Count(token); ok {
				known[token] = count
			}
		}
		return totals, known
	}
	// The background read in flight, if any, waited for.
	settle := func() {
		s.spamCounts.mu.Lock()
		loading := s.spamCounts.loading
		s.spamCounts.mu.Unlock()
		if loading != nil {
			<-loading
		}
	}

	train(map[string]store.SpamCount{"casino": {Spam: 1}, "agenda": {Ham: 1}}, store.SpamCount{Spam: 1, Ham: 1})
	if totals, counts := lookup("casino"); totals != (spam.Count{Spam: 1, Ham: 1}) || counts["casino"] != (spam.Count{Spam: 1}) {
		t.Fatalf("first read: %v, %v", totals, counts)
	}
	train(map[string]store.SpamCount{"casino": {Spam: 1}, "lottery": {Spam: 1}}, store.SpamCount{Spam: 1})
	if totals, counts := lookup("casino"); counts["casino"] != (spam.Count{Spam: 1}) || totals.Spam != 1 {
		t.Errorf("within the second: %v, %v; want the snapshot held", totals, counts)
	}
	advance(2 * time.Second)
	lookup("casino") // notices the change, reads in the background
	settle()
	if totals, counts := lookup("casino", "lottery"); totals != (spam.Count{Spam: 2, Ham: 1}) || counts["casino"] != (spam.Count{Spam: 2}) || counts["lottery"] != (spam.Count{Spam: 1}) {
		t.Errorf("after the background read: %v, %v", totals, counts)
	}

	// Over the limit: the words a message needs, read from the database.
	s.spamCounts.limit = 2
	train(map[string]store.SpamCount{"pills": {Spam: 1}}, store.SpamCount{Spam: 1})
	advance(time.Minute)
	lookup()
	settle()
	if snapshot := s.spamCounts.snapshot; snapshot.words != nil {
		t.Fatalf("%d words held over a limit of 2", snapshot.words.Len())
	}
	if totals, counts := lookup("pills", "agenda", "never"); totals != (spam.Count{Spam: 3, Ham: 1}) || len(counts) != 2 || counts["pills"] != (spam.Count{Spam: 1}) {
		t.Errorf("over the limit: %v, %v", totals, counts)
	}
	// Trained again within spamVocabularyRetry: still per message, and the
	// totals follow.
	train(map[string]store.SpamCount{"pills": {Spam: 1}}, store.SpamCount{Spam: 1})
	advance(2 * time.Second)
	if totals, counts := lookup("pills"); totals != (spam.Count{Spam: 4, Ham: 1}) || counts["pills"] != (spam.Count{Spam: 2}) {
		t.Errorf("over the limit, trained again: %v, %v", totals, counts)
	}
	// Under the limit again after the retry time: held whole.
	s.spamCounts.limit = 0
	train(map[string]store.SpamCount{"agenda": {Ham: 1}}, store.SpamCount{Ham: 1})
	advance(spamVocabularyRetry + time.Second)
	lookup()
	settle()
	if totals, counts := lookup("agenda"); s.spamCounts.snapshot.words == nil || totals != (spam.Count{Spam: 4, Ham: 2}) || counts["agenda"] != (spam.Count{Ham: 2}) {
		t.Errorf("held whole again: %v, %v", totals, counts)
	}
}
