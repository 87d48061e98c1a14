package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// pgDateIndexes are the date indexes of PostgreSQL's messages that every
// new message enters (it comes unread), ascending since migration 0035 as
// are the two of messages with attachments.
var pgDateIndexes = []string{"messages_date", "messages_mailbox_date", "messages_unread_date", "messages_unread_mailbox_date"}

// insertSmallCommits stores n messages with rising dates in commits of
// five, as the SMTP server's group commits carry them, and gives the WAL
// bytes PostgreSQL wrote for them.
func insertSmallCommits(t *testing.T, st *store.Store, box int64, n int) int64 {
	t.Helper()
	ctx := context.Background()
	walAt := func() string {
		t.Helper()
		var lsn string
		if err := st.DB().QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		return lsn
	}
	before := walAt()
	for first := 0; first < n; first += 5 {
		insertOrders(t, st, box, first, min(5, n-first))
	}
	var written int64
	if err := st.DB().QueryRowContext(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint`, before).Scan(&written); err != nil {
		t.Fatal(err)
	}
	return written
}

// On PostgreSQL the date indexes take new mail at their right edge, where
// the B-tree appends, and stay about as compact as a rebuild makes them.
// Declared descending (before migration 0035) they took it at their left
// edge and split its pages in halves: 1.7 times the rebuilt size. Counted,
// not timed; the WAL a commit is logged for docs/benchmarks.md.
func TestDateIndexesStayCompact(t *testing.T) {
	ctx := context.Background()
	st := openPostgres(t)
	site := newSite(t, st, "s1")
	box := newMailbox(t, st, site.ID, 0)
	const messages = 6000
	written := insertSmallCommits(t, st, box, messages)
	t.Logf("WAL a commit of five messages: %.0f bytes", float64(written)/(messages/5))
	for _, index := range pgDateIndexes {
		size := func() int64 {
			t.Helper()
			var bytes int64
			if err := st.DB().QueryRowContext(ctx, `SELECT pg_relation_size($1::regclass)`, index).Scan(&bytes); err != nil {
				t.Fatal(err)
			}
			return bytes
		}
		grown := size()
		if _, err := st.DB().ExecContext(ctx, `REINDEX INDEX `+index); err != nil {
			t.Fatal(err)
		}
		rebuilt := size()
		t.Logf("%s: %d pages grown, %d rebuilt", index, grown/8192, rebuilt/8192)
		if float64(grown) > 1.3*float64(rebuilt) {
			t.Errorf("%s: %d bytes after %d messages in commits of five, %d rebuilt: new mail is not appended at its right edge",
				index, grown, messages, rebuilt)
		}
	}
}

// PostgreSQL walks the ascending date indexes backwards for newest first:
// no sort, whichever list or search walk asks. (Which date index serves a
// mailbox's list is the planner's choice: here all mail is in one.)
func TestNewestFirstWalksBackwards(t *testing.T) {
	st := openPostgres(t)
	site := newSite(t, st, "s1")
	box := newMailbox(t, st, site.ID, 0)
	insertSmallCommits(t, st, box, 500)
	conn := indexWalkingConn(t, st)
	mailbox := fmt.Sprint(box)
	plans := map[string]string{ // the query, and the index it must walk ("" any of them)
		`SELECT m.id FROM messages m ORDER BY m.date DESC, m.id DESC LIMIT 50`:                                                                                "messages_date ",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = ` + mailbox + ` ORDER BY m.date DESC, m.id DESC LIMIT 50`:                                           "",
		`SELECT m.id FROM messages m WHERE NOT m.is_read ORDER BY m.date DESC, m.id DESC LIMIT 50`:                                                            "messages_unread_date ",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = ` + mailbox + ` AND NOT m.is_read ORDER BY m.date DESC, m.id DESC LIMIT 50`:                         "messages_unread_",
		`SELECT m.id FROM messages m WHERE m.attachment_count > 0 ORDER BY m.date DESC, m.id DESC LIMIT 50`:                                                   "messages_attached_date ",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = ` + mailbox + ` AND m.attachment_count > 0 ORDER BY m.date DESC, m.id DESC LIMIT 50`:                "messages_attached_",
		`SELECT m.id FROM messages m WHERE m.mailbox_id = ` + mailbox + ` AND (m.date, m.id) < (4102444800000, 400) ORDER BY m.date DESC, m.id DESC LIMIT 50`: "",
	}
	for query, index := range plans {
		text := explain(t, conn, query)
		if !strings.Contains(text, "Backward using messages_") || !strings.Contains(text, "Backward using "+index) || strings.Contains(text, "Sort") {
			t.Errorf("%s\nplan %q: want a backward scan of a date index (%s) and no sort", query, text, index)
		}
	}
}

// A frequent word's walk on PostgreSQL (the list's statement itself, as the
// store makes it) reads its date index in the index's order: newest first
// backwards, oldest first forwards, in one mailbox or all, never with a
// sort. With the mailbox first in the order in the other direction than
// the dates, the walk of the ascending index had to sort all the mailbox's
// matches (0.3-1.7 s at 1,000,000 messages, docs/benchmarks.md).
func TestFrequentWordWalksItsIndexInOrder(t *testing.T) {
	ctx := context.Background()
	st := openPostgres(t)
	site := newSite(t, st, "s1")
	boxes := []int64{newMailbox(t, st, site.ID, 0), newMailbox(t, st, site.ID, 0)}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []*store.NewMessage
	for i := range 400 {
		text := fmt.Sprintf("message %d invoices", i)
		batch = append(batch, newMessage(boxes[i%2], fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, text),
			store.Message{Subject: fmt.Sprint(i), Date: base.Add(time.Duration(i) * time.Hour), Read: i%3 != 0}, store.Content{Text: text}))
	}
	if _, err := st.InsertMessages(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `ANALYZE messages`); err != nil {
		t.Fatal(err)
	}
	defer store.SetFrequentMatches(10)()
	type seen struct {
		statement string
		args      []any
	}
	var walks []seen
	defer store.SeeListStatements(func(statement string, args []any) {
		if strings.Contains(statement, "m.search @@") && !strings.Contains(statement, "WITH hits") {
			walks = append(walks, seen{statement, args})
		}
	})()
	filters := []struct {
		filter store.MessageFilter
		order  store.MessageSort
	}{
		{store.MessageFilter{Query: "invoice", MailboxIDs: boxes[:1]}, store.MessageSort{}},
		{store.MessageFilter{Query: "invoice", MailboxIDs: boxes[:1]}, store.MessageSort{Ascending: true}},
		{store.MessageFilter{Query: "invoice is:unread", MailboxIDs: boxes[:1]}, store.MessageSort{}},
		{store.MessageFilter{Query: "invoice"}, store.MessageSort{}},
		{store.MessageFilter{Query: "invoice"}, store.MessageSort{Ascending: true}},
	}
	for _, f := range filters {
		before := len(walks)
		if _, err := st.Messages(ctx, f.filter, f.order, "", 5); err != nil {
			t.Fatal(err)
		}
		if len(walks) != before+1 {
			t.Fatalf("%+v %+v: %d walks, want one (the word is frequent)", f.filter, f.order, len(walks)-before)
		}
	}
	conn := indexWalkingConn(t, st)
	for i, walk := range walks {
		text := explain(t, conn, st.Rebind(walk.statement), walk.args...)
		if !strings.Contains(text, "Index Scan") || !strings.Contains(text, "_date on messages") || strings.Contains(text, "Sort") {
			t.Errorf("%+v %+v:\n%s\nplan %q: want a walk of a date index without a sort", filters[i].filter, filters[i].order, walk.statement, text)
		}
	}
}

// indexWalkingConn is a connection of st's kept off sequential and bitmap
// scans, after an ANALYZE: on a test's small table the planner would read
// it whole and sort, which says nothing about an index's order; walking an
// index, whether it must sort is the statement's order's doing.
func indexWalkingConn(t *testing.T, st *store.Store) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := st.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, `ANALYZE messages; SET enable_seqscan = off; SET enable_bitmapscan = off`); err != nil {
		t.Fatal(err)
	}
	return conn
}

// explain is PostgreSQL's plan of query with args, its lines joined by "; ".
func explain(t *testing.T, conn *sql.Conn, query string, args ...any) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), `EXPLAIN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// openPostgres opens a store on a database of its own in the test's
// PostgreSQL, closed when the test ends.
func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), testpeer.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
