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
		batch = append(batch, newMessage(boxes[i%2], fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, text),
			store.Message{Subject: fmt.Sprint(i), Date: base.Add(time.Duration(i%37) * time.Hour)}, store.Content{Text: text}))
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
	for _, filter := range []store.MessageFilter{{Query: "invoice"}, {Query: "invoice", MailboxIDs: boxes[:1]}} {
		for _, order := range []store.MessageSort{{}, {Ascending: true}} {
			sorted := list(filter, order)
			restore := store.SetFrequentMatches(10)
			walked := list(filter, order)
			restore()
			if len(sorted) == 0 || !slices.Equal(sorted, walked) {
				t.Errorf("%+v %+v: sorted %v\nwalked %v", filter, order, sorted, walked)
			}
		}
	}
}
