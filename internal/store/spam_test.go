package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

func spamWords(t *testing.T, st *store.Store, words ...string) map[string]store.SpamCount {
	t.Helper()
	counts, err := st.SpamWords(context.Background(), words)
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

func spamTotals(t *testing.T, st *store.Store) store.SpamCount {
	t.Helper()
	totals, err := st.SpamTotals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return totals
}

func TestSpamDelta(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if got := spamWords(t, st, "free"); len(got) != 0 {
			t.Errorf("empty table gives %v", got)
		}
		// More words than one statement takes, Cyrillic, and a word that
		// cannot be stored (skipped, not an error); words with what JSON
		// escapes (SQLite reads the words as a JSON array).
		odd := []string{`say:"hi"`, `back\slash`, "<a&b>", "tab\there", "\u2028line", "emoji😀", `\u0041`}
		words := map[string]store.SpamCount{"free": {Spam: 2}, "ёлка": {Ham: 1}, "bad\x00": {Spam: 1}}
		for _, w := range odd {
			words[w] = store.SpamCount{Ham: 3}
		}
		var many []string
		for i := 0; i < 1200; i++ {
			w := fmt.Sprintf("w%04d", i)
			words[w] = store.SpamCount{Spam: 1, Ham: 1}
			many = append(many, w)
		}
		if err := st.ApplySpamDelta(ctx, words, store.SpamCount{Spam: 2, Ham: 1}); err != nil {
			t.Fatal(err)
		}
		got := spamWords(t, st, append(many, "free", "ёлка", "bad\x00", "never")...)
		if len(got) != 1202 || got["free"] != (store.SpamCount{Spam: 2}) || got["ёлка"] != (store.SpamCount{Ham: 1}) || got["w1199"] != (store.SpamCount{Spam: 1, Ham: 1}) {
			t.Errorf("after training: %d words, free %v, ёлка %v, w1199 %v", len(got), got["free"], got["ёлка"], got["w1199"])
		}
		if totals := spamTotals(t, st); totals != (store.SpamCount{Spam: 2, Ham: 1}) {
			t.Errorf("totals %v", totals)
		}
		got = spamWords(t, st, append(odd, "A", "say:")...)
		for _, w := range odd {
			if got[w] != (store.SpamCount{Ham: 3}) {
				t.Errorf("%q: %v", w, got[w])
			}
		}
		if len(got) != len(odd) {
			t.Errorf("%d words found, want %d: %v", len(got), len(odd), got)
		}
		// Subtractions stop at zero; a word at zero twice is removed; a
		// mixed change adds and takes away.
		if err := st.ApplySpamDelta(ctx, map[string]store.SpamCount{"free": {Spam: -5}, "ёлка": {Spam: 1, Ham: -1}, "missing": {Ham: -1}},
			store.SpamCount{Spam: -3}); err != nil {
			t.Fatal(err)
		}
		got = spamWords(t, st, "free", "ёлка", "missing")
		if len(got) != 1 || got["ёлка"] != (store.SpamCount{Spam: 1}) {
			t.Errorf("after untraining: %v", got)
		}
		if totals := spamTotals(t, st); totals != (store.SpamCount{Spam: 0, Ham: 1}) {
			t.Errorf("totals %v", totals)
		}
	})
}

// Re-marking a message moves its counts once; the message remembers how
// it was trained.
func TestTrainSpamMessage(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		id, _, err := st.InsertMessage(ctx, newMessage(box, "Subject: x\r\n\r\nfree money\r\n", store.Message{}))
		if err != nil {
			t.Fatal(err)
		}
		tokens := []string{"free", "money"}
		steps := []struct {
			class, previous string
			free            store.SpamCount
			totals          store.SpamCount
		}{
			{store.SpamTrainedSpam, "", store.SpamCount{Spam: 1}, store.SpamCount{Spam: 1}},
			{store.SpamTrainedSpam, "spam", store.SpamCount{Spam: 1}, store.SpamCount{Spam: 1}},
			{store.SpamTrainedHam, "spam", store.SpamCount{Ham: 1}, store.SpamCount{Ham: 1}},
			{store.SpamTrainedHam, "ham", store.SpamCount{Ham: 1}, store.SpamCount{Ham: 1}},
			{store.SpamTrainedNone, "ham", store.SpamCount{}, store.SpamCount{}},
		}
		for _, s := range steps {
			previous, err := st.TrainSpamMessage(ctx, id, s.class, tokens)
			if err != nil || previous != s.previous {
				t.Fatalf("train as %q: previous %q, %v", s.class, previous, err)
			}
			if got := spamWords(t, st, "free")["free"]; got != s.free {
				t.Errorf("train as %q: free %v, want %v", s.class, got, s.free)
			}
			if totals := spamTotals(t, st); totals != s.totals {
				t.Errorf("train as %q: totals %v, want %v", s.class, totals, s.totals)
			}
			if class, err := st.MessageSpamTrained(ctx, id); err != nil || class != s.class {
				t.Errorf("trained as %q, %v; want %q", class, err, s.class)
			}
		}
		if _, err := st.TrainSpamMessage(ctx, id+100, store.SpamTrainedSpam, tokens); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing message: %v", err)
		}
		if _, err := st.TrainSpamMessage(ctx, id, "junk", tokens); err == nil {
			t.Error("unknown class accepted")
		}
	})
}

// Two processes training at once lose no count, and a message marked by
// both at once is moved once.
func TestSpamTrainingConcurrent(t *testing.T) {
	open := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return t.TempDir() + "/pochta.db" },
		"postgres": func(t *testing.T) string { return testpeer.PostgresDSN(t) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := open[name](t)
			var stores [2]*store.Store
			for i := range stores {
				st, err := store.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				stores[i] = st
			}
			site := newSite(t, stores[0], "s1")
			box := newMailbox(t, stores[0], site.ID, 0)
			const messages = 20
			ids := make([]int64, messages)
			for i := range ids {
				id, _, err := stores[0].InsertMessage(ctx, newMessage(box, fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i), store.Message{}))
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = id
			}
			words := []string{"shared", "common", "zeta", "alpha"}
			var wg sync.WaitGroup
			errs := make(chan error, 4*messages)
			for p, st := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i, id := range ids {
						// Both processes mark every message as spam; the
						// first process also adds plain deltas.
						if _, err := st.TrainSpamMessage(ctx, id, store.SpamTrainedSpam, words); err != nil {
							errs <- err
						}
						if p == 0 && i%2 == 0 {
							if err := st.ApplySpamDelta(ctx, map[string]store.SpamCount{"alpha": {Ham: 1}, "shared": {Ham: 1}}, store.SpamCount{Ham: 1}); err != nil {
								errs <- err
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			got := spamWords(t, stores[1], words...)
			if got["shared"] != (store.SpamCount{Spam: messages, Ham: messages / 2}) || got["zeta"] != (store.SpamCount{Spam: messages}) {
				t.Errorf("counts %v", got)
			}
			if totals := spamTotals(t, stores[1]); totals != (store.SpamCount{Spam: messages, Ham: messages / 2}) {
				t.Errorf("totals %v", totals)
			}
		})
	}
}

// The whole vocabulary read at once, and the limit past which it is not.
func TestEachSpamWord(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		words := map[string]store.SpamCount{"free": {Spam: 2}, "ёлка": {Ham: 1}, "pair free:ёлка": {Spam: 1, Ham: 1}}
		if err := st.ApplySpamDelta(ctx, words, store.SpamCount{Spam: 2, Ham: 1}); err != nil {
			t.Fatal(err)
		}
		read := map[string]store.SpamCount{}
		complete, err := st.EachSpamWord(ctx, 3, func(word string, count store.SpamCount) { read[word] = count })
		if err != nil || !complete || fmt.Sprint(read) != fmt.Sprint(words) {
			t.Errorf("limit 3: complete %v, %v, read %v", complete, err, read)
		}
		complete, err = st.EachSpamWord(ctx, 2, func(string, store.SpamCount) {})
		if err != nil || complete {
			t.Errorf("limit 2 of 3 words: complete %v, %v", complete, err)
		}
	})
}

// BenchmarkEachSpamWord reads a learned vocabulary of a million words
// (SQLite) into a map, as the rating's snapshot does in each process when
// the learned counts change, and reports the heap the map holds.
func BenchmarkEachSpamWord(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, b.TempDir()+"/pochta.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	const vocabulary = 1_000_000
	words := make(map[string]store.SpamCount, 10_000)
	for i := range vocabulary {
		words[fmt.Sprintf("word%07d", i)] = store.SpamCount{Spam: 1 + int64(i%7), Ham: int64(i % 5)}
		if len(words) == 10_000 || i == vocabulary-1 {
			if err := st.ApplySpamDelta(ctx, words, store.SpamCount{}); err != nil {
				b.Fatal(err)
			}
			clear(words)
		}
	}
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		held := make(map[string]store.SpamCount)
		started := processCPU()
		complete, err := st.EachSpamWord(ctx, vocabulary, func(word string, count store.SpamCount) { held[word] = count })
		cpu += processCPU() - started
		if err != nil || !complete || len(held) != vocabulary {
			b.Fatalf("read %d words, complete %v: %v", len(held), complete, err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(held)), "heap-B/word")
		runtime.KeepAlive(held)
	}
	// The process's CPU time (the database driver's and the collector's
	// threads too), of the reads alone: the machine is shared.
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
