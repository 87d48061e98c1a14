package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// BenchmarkInsertMessages measures the batch insert path on SQLite: 200
// messages per transaction.
//
//	go test -run '^$' -bench InsertMessages ./internal/store/
func BenchmarkInsertMessages(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	site := store.Site{Code: "s1", Name: "s1"}
	if err := st.CreateSite(ctx, &site); err != nil {
		b.Fatal(err)
	}
	var box int64
	if err := st.DB().QueryRow(`INSERT INTO mailboxes (site_id, type, name, created_at, updated_at) VALUES (?, 'smtp', 'box', 0, 0) RETURNING id`, site.ID).Scan(&box); err != nil {
		b.Fatal(err)
	}
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
