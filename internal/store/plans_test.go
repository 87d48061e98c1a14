package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// The per-message lookups of an insert use their indexes on SQLite even
// before the planner has statistics (a fresh database): a wrong choice
// would scan a whole mailbox for every message stored.
func TestInsertLookupsUseTheirIndexes(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plans := map[string]string{
		`SELECT thread_id FROM messages WHERE message_id = 'x' AND +mailbox_id = 1 ORDER BY id LIMIT 1`:                                 "messages_msgid",
		`SELECT raw_sha256, MIN(id) FROM messages WHERE mailbox_id = 1 AND substr(raw_sha256, 1, 16) IN ('a', 'b') GROUP BY raw_sha256`: "messages_hash",
	}
	for query, index := range plans {
		rows, err := st.DB().QueryContext(ctx, `EXPLAIN QUERY PLAN `+query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "; "), index) {
			t.Errorf("%s\nplan %q does not use %s", query, plan, index)
		}
	}
}

// A batch's full-text rows make one FTS5 segment: any statement that opens
// a savepoint after some of them (a multi-row INSERT, another table's rows)
// makes FTS5 write what it holds as a segment of its own, and merging those
// took two thirds of a 100,000-message import.
func TestBatchMakesOneSearchSegment(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "segments.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	site := newSite(t, st, "s1")
	box := newMailbox(t, st, site.ID, 0)
	const batches = 3
	for b := range batches {
		var batch []*store.NewMessage
		for i := range 300 {
			raw := fmt.Sprintf("Subject: message %d-%d\r\n\r\nbody words %d %d\r\n", b, i, b, i)
			batch = append(batch, newMessage(box, raw, store.Message{Subject: fmt.Sprintf("message %d %d", b, i)},
				store.Content{Text: fmt.Sprintf("body words w%d w%d", b, i)}))
		}
		logLines := func(results []store.InsertResult) []store.LogEntry {
			entries := make([]store.LogEntry, len(results))
			for i, result := range results {
				entries[i] = store.LogEntry{Level: store.LevelInfo, Text: "stored", MailboxID: box, MessageID: result.ID}
			}
			return entries
		}
		if _, err := st.InsertMessagesLogged(ctx, batch, logLines); err != nil {
			t.Fatal(err)
		}
	}
	var segments int
	if err := st.DB().QueryRow(`SELECT COUNT(DISTINCT segid) FROM messages_fts_terms_idx`).Scan(&segments); err != nil {
		t.Fatal(err)
	}
	if segments > batches {
		t.Errorf("%d full-text segments after %d batches, want one a batch", segments, batches)
	}
}
