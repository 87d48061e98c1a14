package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"pochta.dev/pochta/internal/benchcpu"
	"pochta.dev/pochta/internal/store"
)

// BenchmarkInsertMessages measures the batch insert path on SQLite: 200
// messages per transaction.
//
//	go test -run '^$' -bench InsertMessages ./internal/store/
func BenchmarkInsertMessages(b *testing.B) {
	ctx := context.Background()
	st, box := benchMailbox(b)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		var batch []*store.NewMessage
		for range 200 {
			n++
			raw := fmt.Sprintf("Subject: message %d\r\nMessage-ID: <%d@x>\r\n\r\nbody of message %d with some words\r\n", n, n, n)
			batch = append(batch, &store.NewMessage{Message: store.Message{MailboxID: box, MessageID: fmt.Sprintf("%d@x", n),
				Subject: fmt.Sprintf("message %d", n), From: "a@example.com", To: "b@example.com"},
				Content: store.Content{Text: fmt.Sprintf("body of message %d with some words", n)}, Raw: []byte(raw), SaveSource: true})
		}
		if _, err := st.InsertMessages(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkInsertFiveLogged measures the SMTP server's commit on SQLite:
// five messages a transaction (its group commits carry about that many,
// docs/benchmarks.md), each with its work log line, the date rising, in a
// mailbox of 5,000 first. cpu-ns/op is the thread's own CPU time for one
// commit, which holds on a busy machine where ns/op does not.
//
//	go test -run '^$' -bench InsertFiveLogged -benchtime 2000x ./internal/store/
func BenchmarkInsertFiveLogged(b *testing.B) {
	st, box := benchMailbox(b)
	n := 0
	insert := func(count int) {
		insertOrders(b, st, box, n, count)
		n += count
	}
	for range 25 {
		insert(200)
	}
	b.ResetTimer()
	benchcpu.Measure(b, func() { insert(5) })
}

// benchMailbox opens a SQLite store in the benchmark's folder with one
// mailbox, closed when the benchmark ends.
func benchMailbox(b *testing.B) (*store.Store, int64) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	box := newMailbox(b, st, newSite(b, st, "s1").ID, 0)
	return st, box
}
