package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// A frequent word's search walks the date index and must list exactly
// what sorting its matches lists, page by page, both ways, in all
// mailboxes and in one, on both backends.
func TestFrequentWordSearchWalksTheDateIndex(t *testing.T) {
	backends(t, testFrequentWordSearch)
}

func testFrequentWordSearch(t *testing.T, st *store.Store) {
	ctx := context.Background()
	site := newSite(t, st, "s1")
	boxes := []int64{newMailbox(t, st, site.ID, 0), newMailbox(t, st, site.ID, 0)}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []*store.NewMessage
	for i := range 300 {
		text := fmt.Sprintf("message %d", i)
		if i%3 == 0 {
			text += " invoices"
		}
		// Dates repeat, so that the id breaks ties across pages.
		m := newMessage(boxes[i%2], fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, text),
			store.Message{Subject: fmt.Sprint(i), Date: base.Add(time.Duration(i%37) * time.Hour), Read: i%5 != 0}, store.Content{Text: text})
		if i%4 == 0 {
			m.Attachments = []store.Attachment{{Filename: "a.pdf", ContentType: "application/pdf", Data: []byte("x")}}
		}
		batch = append(batch, m)
	}
	if _, err := st.InsertMessages(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if st.Dialect() == store.Postgres {
		// PostgreSQL's walk is chosen by the planner's lexeme statistics.
		if _, err := st.DB().Exec(`ANALYZE messages`); err != nil {
			t.Fatal(err)
		}
	}
	list := func(filter store.MessageFilter, order store.MessageSort) []int64 {
		t.Helper()
		var ids []int64
		cursor := ""
		for {
			page, err := st.Messages(ctx, filter, order, cursor, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Items {
				ids = append(ids, m.ID)
			}
			if page.NextCursor == "" {
				return ids
			}
			cursor = page.NextCursor
		}
	}
	// With the conditions whose rows a walk meets through an index of
	// their own (is:unread, has:attachment: partial date indexes on
	// PostgreSQL) or that bound it (dates), and with one it tests.
	for _, filter := range []store.MessageFilter{{Query: "invoice"}, {Query: "invoice", MailboxIDs: boxes[:1]},
		{Query: "invoice is:unread"}, {Query: "invoice is:unread", MailboxIDs: boxes[1:]}, {Query: "invoice has:attachment"},
		{Query: "invoice has:attachment", MailboxIDs: boxes[:1]}, {Query: "invoice after:2026-01-01 before:2026-01-02"},
		{Query: "invoice is:unread has:attachment"}, {Query: "invoice", Since: base.Add(3 * time.Hour), Until: base.Add(20 * time.Hour)},
		{Query: "invoice subject:1"}} {
		for _, order := range []store.MessageSort{{}, {Ascending: true}} {
			sorted := list(filter, order)
			restore := store.SetFrequentMatches(10)
			walked := list(filter, order)
			// SQLite walks in chunks: small ones, so that a page takes
			// several and chunks end inside runs of equal dates.
			restoreChunk := store.SetFirstWalkChunk(3)
			chunked := list(filter, order)
			restoreChunk()
			restore()
			if len(sorted) == 0 || !slices.Equal(sorted, walked) || !slices.Equal(sorted, chunked) {
				t.Errorf("%+v %+v: sorted %v\nwalked %v\nin small chunks %v", filter, order, sorted, walked, chunked)
			}
		}
	}
}
