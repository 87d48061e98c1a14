package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// The per-message lookups of an insert use their indexes on SQLite even
// before the planner has statistics (a fresh database): a wrong choice
// would scan a whole mailbox for every message stored.
func TestInsertLookupsUseTheirIndexes(t *testing.T) {
	st := openSQLite(t)
	plans := map[string]string{
		`SELECT thread_id FROM messages WHERE message_id = 'x' AND +mailbox_id = 1 ORDER BY id LIMIT 1`:                                 "messages_msgid",
		`SELECT raw_sha256, MIN(id) FROM messages WHERE mailbox_id = 1 AND substr(raw_sha256, 1, 16) IN ('a', 'b') GROUP BY raw_sha256`: "messages_hash",
	}
	for query, index := range plans {
		if plan := queryPlan(t, st, query); !strings.Contains(plan, index) {
			t.Errorf("%s\nplan %q does not use %s", query, plan, index)
		}
	}
}

// The date order's lists walk their index backwards on SQLite: the date
// indexes are ascending (migration 0034, so that new mail is appended at
// their right edge), and newest first must not sort.
func TestDateOrderWalksItsIndex(t *testing.T) {
	st := openSQLite(t)
	plans := map[string]string{
		`SELECT m.id FROM messages m ORDER BY m.date DESC, m.id DESC LIMIT 50`:                                                    "messages_date",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = 1 ORDER BY m.date DESC, m.id DESC LIMIT 50`:                             "messages_mailbox_date",
		`SELECT m.id FROM messages m WHERE m.is_read = FALSE ORDER BY m.date DESC, m.id DESC LIMIT 50`:                            "messages_unread_date",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = 1 AND m.is_read = FALSE ORDER BY m.date DESC, m.id DESC LIMIT 50`:       "messages_unread_mailbox_date",
		`SELECT m.id FROM messages m WHERE m.attachment_count > 0 ORDER BY m.date DESC, m.id DESC LIMIT 50`:                       "messages_attached_date",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = 1 AND (m.date, m.id) < (5, 5) ORDER BY m.date DESC, m.id DESC LIMIT 50`: "messages_mailbox_date",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = 1 ORDER BY m.date ASC, m.id ASC LIMIT 50`:                               "messages_mailbox_date",
		// The search walk's chunk (walkSearch), as it names its index.
		`SELECT m.id AS id, m.date AS date FROM messages m INDEXED BY messages_unread_mailbox_date WHERE m.mailbox_id = 1 AND m.is_read = FALSE ORDER BY m.date DESC, m.id DESC LIMIT 2048`: "messages_unread_mailbox_date",
		`SELECT m.id AS id, m.date AS date FROM messages m INDEXED BY messages_date WHERE (m.date, m.id) < (5, 5) ORDER BY m.date DESC, m.id DESC LIMIT 2048`:                               "messages_date",
	}
	for query, index := range plans {
		plan := queryPlan(t, st, query)
		if !strings.Contains(plan, index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s\nplan %q: want %s and no sort", query, plan, index)
		}
	}
}

// openSQLite opens a store on a fresh SQLite database, closed when the test
// ends.
func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "pochta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN of query, its lines joined.
func queryPlan(t *testing.T, st *store.Store, query string) string {
	t.Helper()
	rows, err := st.DB().QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// A batch's full-text rows make one FTS5 segment: any statement that opens
// a savepoint after some of them (a multi-row INSERT, another table's rows)
// makes FTS5 write what it holds as a segment of its own, and merging those
// took two thirds of a 100,000-message import.
func TestBatchMakesOneSearchSegment(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
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
		if _, err := st.InsertMessagesLogged(ctx, batch, storedLines(box)); err != nil {
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

// On PostgreSQL a search is planned for its values each time, never
// prepared, whether a frequent word walks a date index or a rare one's
// matches are taken first: pgx caches every statement it prepares, and from
// a cached statement's sixth run PostgreSQL may use a generic plan that does
// not know the word (for "квитанция is:unread" in one mailbox at 1,000,000
// messages, a BitmapAnd of all its GIN matches with the mailbox's unread
// rows, 4-8 times slower than the walk; for a rarer word in one mailbox, a
// BitmapAnd with all the mailbox's rows, 130 ms against 7). Other lists
// stay prepared. The store runs on one connection, so that the prepared
// statements seen are those of its queries.
func TestSearchesAreNotPrepared(t *testing.T) {
	ctx := context.Background()
	st := openPostgres(t)
	st.DB().SetMaxOpenConns(1)
	site := newSite(t, st, "s1")
	box := newMailbox(t, st, site.ID, 0)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []*store.NewMessage
	for i := range 200 {
		text := fmt.Sprintf("message %d invoices", i)
		batch = append(batch, newMessage(box, fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, text),
			store.Message{Subject: fmt.Sprint(i), Date: base.Add(time.Duration(i) * time.Hour), Read: i%3 != 0}, store.Content{Text: text}))
	}
	if _, err := st.InsertMessages(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`ANALYZE messages`); err != nil {
		t.Fatal(err)
	}
	run := func(filters ...store.MessageFilter) {
		t.Helper()
		for _, filter := range filters {
			for range 7 {
				page, err := st.Messages(ctx, filter, store.MessageSort{}, "", 5)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) != 5 {
					t.Fatalf("%+v: %d messages, want 5", filter, len(page.Items))
				}
			}
		}
	}
	// Rare first (the default bound: 200 matches are few), then frequent.
	run(store.MessageFilter{Query: "invoice", MailboxIDs: []int64{box}})
	restore := store.SetFrequentMatches(10)
	defer restore()
	run(store.MessageFilter{Query: "invoice is:unread", MailboxIDs: []int64{box}}, store.MessageFilter{MailboxIDs: []int64{box}})
	var walks, lists int
	err := st.DB().QueryRow(`SELECT COUNT(*) FILTER (WHERE statement LIKE '%m.search @@%ORDER BY%'),
		COUNT(*) FILTER (WHERE statement LIKE '%FROM messages m WHERE m.mailbox_id IN ($1) ORDER BY%')
		FROM pg_prepared_statements WHERE statement NOT LIKE '%pg_prepared_statements%'`).Scan(&walks, &lists)
	if err != nil {
		t.Fatal(err)
	}
	if lists != 1 {
		t.Errorf("%d prepared statements of the plain list, want 1 (the check does not see the driver's statements)", lists)
	}
	if walks != 0 {
		t.Errorf("%d searches are prepared statements, which PostgreSQL may plan once for any word", walks)
	}
}
