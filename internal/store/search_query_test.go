package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// The searches, on both backends: each must list the same
// messages on SQLite and PostgreSQL (the wanted subjects are written once).
func TestSearchFindsWhatPeopleType(t *testing.T) {
	type mail struct {
		subject, from, to, body string
		files                   []string
		date                    string
		read                    bool
		spam                    string
	}
	mails := []mail{
		{"Счёт на оплату", "Бухгалтерия <buh@example.ru>", "anna@example.com", "Оплатите счёт до пятницы", []string{"счёт-42.pdf"}, "2026-03-01", true, "no"},
		{"Продление лицензии", "Отдел продаж <sales@example.ru>", "boris@example.com", "Срок лицензии истекает", nil, "2026-03-05", false, "unknown"},
		{"Invoices for March", "Billing <billing@example.com>", "anna@example.com", "Two invoices attached, running late", []string{"March report.xlsx"}, "2026-03-10", false, "no"},
		{"Lunch", "Boris <boris@example.com>", "team@example.com", "Anyone for lunch? The report can wait", nil, "2026-03-15", true, "yes"},
		{"ОТЧЕТ за квартал", "Anna <anna@example.com>", "boss@example.ru", "Отчёты во вложении, ёлки-палки", []string{"otchet.docx"}, "2026-03-20", false, "unknown"},
	}
	searches := []struct {
		name  string
		query string
		want  []string // subjects, in list order (newest first)
	}{
		{"е finds ё, any case", "счет", []string{"Счёт на оплату"}},
		{"ё finds е", "отчёт", []string{"ОТЧЕТ за квартал"}},
		{"a word form finds another", "лицензия", []string{"Продление лицензии"}},
		{"English word forms", "invoice", []string{"Invoices for March"}},
		{"English stems both ways", "run", []string{"Invoices for March"}},
		{"a prefix", "лиценз", []string{"Продление лицензии"}},
		{"OR", "лицензия OR lunch", []string{"Lunch", "Продление лицензии"}},
		{"words side by side all hold", "report march", []string{"Invoices for March"}},
		{"-word", "report -march", []string{"Lunch"}},
		{"-word alone", "-report", []string{"ОТЧЕТ за квартал", "Продление лицензии", "Счёт на оплату"}},
		{"from:", "from:бухгалтерия", []string{"Счёт на оплату"}},
		{"from: an address", "from:billing@example.com", []string{"Invoices for March"}},
		{"to:", "to:anna", []string{"Invoices for March", "Счёт на оплату"}},
		{"from: takes whole words", "from:bil", nil},
		{"to: takes whole words", "to:ann", nil},
		{"a word form typed whole finds the others", "лицензию", []string{"Продление лицензии"}},
		{"a word being typed, which the stemmer shortens", "лицен", []string{"Продление лицензии"}},
		{"счета finds Счёт", "счета", []string{"Счёт на оплату"}},
		{"a word form and an operator", "invoices from:billing has:attachment is:unread", []string{"Invoices for March"}},
		{"subject:", "subject:отчет", []string{"ОТЧЕТ за квартал"}},
		{"subject: is not the body", "subject:report", nil},
		{"an attachment name", "xlsx", []string{"Invoices for March"}},
		{"filename:", "filename:счет", []string{"Счёт на оплату"}},
		{"filename: is not the subject", "filename:лицензия", nil},
		{"has:attachment", "has:attachment", []string{"ОТЧЕТ за квартал", "Invoices for March", "Счёт на оплату"}},
		{"-has:attachment", "-has:attachment", []string{"Lunch", "Продление лицензии"}},
		{"is:unread", "is:unread", []string{"ОТЧЕТ за квартал", "Invoices for March", "Продление лицензии"}},
		{"is:spam", "is:spam", []string{"Lunch"}},
		{"before: and after:", "after:2026-03-05 before:2026-03-15", []string{"Invoices for March", "Продление лицензии"}},
		{"an operator in OR", "is:spam OR subject:счет", []string{"Lunch", "Счёт на оплату"}},
		{"a quoted phrase: whole words", `"отчеты во"`, []string{"ОТЧЕТ за квартал"}},
		{"a quoted word is whole", `"лиценз"`, []string{"Продление лицензии"}},
		{"a quoted prefix is not a word", `"repor"`, nil},
		{"an unknown operator is text", "foo:lunch", nil},
		{"a bad date is text", "before:someday", nil},
		{"an unclosed quote takes the rest", `"лицензии`, []string{"Продление лицензии"}},
		{"punctuation alone", `- ( ) : , OR`, []string{"ОТЧЕТ за квартал", "Lunch", "Invoices for March", "Продление лицензии", "Счёт на оплату"}},
		{"FTS5 and tsquery syntax is text", `NEAR(a b) & | ! 'x' *`, nil},
	}
	filters := []struct {
		name   string
		filter store.MessageFilter
		want   []string
	}{
		{"the subject filter folds ё", store.MessageFilter{Subject: "счет"}, []string{"Счёт на оплату"}},
		{"the subject filter stems", store.MessageFilter{Subject: "лицензия"}, []string{"Продление лицензии"}},
		{"the body filter", store.MessageFilter{Text: "истекать"}, []string{"Продление лицензии"}},
		{"the body filter is not the attachment names", store.MessageFilter{Text: "xlsx"}, nil},
		{"the sender filter with the query", store.MessageFilter{From: "anna", Query: "отчет"}, []string{"ОТЧЕТ за квартал"}},
		{"the sender filter takes whole words", store.MessageFilter{From: "ann"}, nil},
	}
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		for i, m := range mails {
			date, _ := time.Parse("2006-01-02", m.date)
			message := newMessage(box, fmt.Sprintf("raw %d", i), store.Message{Subject: m.subject, From: m.from, To: m.to, Date: date.Add(time.Hour),
				Read: m.read, Spam: m.spam}, store.Content{Text: m.body})
			for _, name := range m.files {
				message.Attachments = append(message.Attachments, store.Attachment{Filename: name, ContentType: "application/octet-stream", Size: 1, Data: []byte{1}})
			}
			if _, _, err := st.InsertMessage(ctx, message); err != nil {
				t.Fatal(err)
			}
		}
		list := func(filter store.MessageFilter) []string {
			t.Helper()
			page, err := st.Messages(ctx, filter, store.MessageSort{}, "", 100)
			if err != nil {
				t.Fatalf("%+v: %v", filter, err)
			}
			var subjects []string
			for _, m := range page.Items {
				subjects = append(subjects, m.Subject)
			}
			return subjects
		}
		for _, search := range searches {
			if got := list(store.MessageFilter{Query: search.query}); !slices.Equal(got, search.want) {
				t.Errorf("%s: %q found %q, want %q", search.name, search.query, got, search.want)
			}
		}
		for _, test := range filters {
			if got := list(test.filter); !slices.Equal(got, test.want) {
				t.Errorf("%s: found %q, want %q", test.name, got, test.want)
			}
		}
	})
}

// Messages stored before migration 0022 are indexed anew by the reindex,
// newest first, a batch at a time, and stay searchable where it stopped.
func TestSearchReindex(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		var ids []int64
		for i := range 5 {
			id, _, err := st.InsertMessage(ctx, newMessage(box, fmt.Sprintf("raw %d", i), store.Message{Subject: fmt.Sprintf("Счёт %d", i)},
				store.Content{Text: "лицензии"}))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		// As after the migration: the entries are gone (or old) and the
		// reindex has every message to do.
		reset := []string{`DELETE FROM ` + store.SearchTable, `UPDATE search_reindex SET below_id = ? WHERE id = 1`}
		if st.Dialect() == store.Postgres {
			reset[0] = `UPDATE messages SET search = NULL`
		}
		if _, err := st.DB().Exec(reset[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB().Exec(st.Rebind(reset[1]), ids[4]+1); err != nil {
			t.Fatal(err)
		}
		found := func() int {
			page, err := st.Messages(ctx, store.MessageFilter{Query: "счет лицензия"}, store.MessageSort{}, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Items)
		}
		if n := found(); n != 0 {
			t.Fatalf("%d found before the reindex", n)
		}
		// A message deleted meanwhile is skipped.
		if _, err := st.DeleteMessages(ctx, []int64{ids[2]}); err != nil {
			t.Fatal(err)
		}
		done := 0
		for {
			pending, err := st.SearchReindexPending(ctx, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(pending) == 0 {
				break
			}
			if done == 0 && pending[0] != ids[4] {
				t.Errorf("first pending %v, want the newest %d", pending, ids[4])
			}
			var entries []store.ReindexEntry
			for _, id := range pending {
				m, err := st.MessageByID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				entries = append(entries, store.ReindexEntry{ID: id, Text: store.MessageSearchText(m, "лицензии", []string{"a.pdf"})})
			}
			// Deleted between the two calls: still written for nothing.
			entries = append(entries, store.ReindexEntry{ID: ids[2], Text: store.SearchText{Subject: "счет лицензия"}})
			if err := st.ReindexSearch(ctx, entries, pending[len(pending)-1]); err != nil {
				t.Fatal(err)
			}
			done += len(pending)
			if n := found(); n != done {
				t.Errorf("%d found after %d reindexed", n, done)
			}
		}
		if done != 4 {
			t.Errorf("%d reindexed, want 4", done)
		}
		if pending, err := st.SearchReindexPending(ctx, 2); err != nil || len(pending) != 0 {
			t.Errorf("after the end: %v, %v", pending, err)
		}
		if st.Dialect() == store.SQLite {
			var old int
			st.DB().QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_fts'`).Scan(&old)
			if old != 0 {
				t.Error("the old index is still there")
			}
			// Deleting works without it.
			if _, err := st.DeleteMessages(ctx, ids[:1]); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Mail stored before migration 0022 is left to the reindex, which the
// migration sets up for exactly those messages; on PostgreSQL their old
// vectors answer meanwhile (a stem is the start of its words).
func TestMigrationLeavesOldMailToTheReindex(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "old.db") },
		"postgres": func(t *testing.T) string { return testpeer.PostgresDSN(t) },
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			path := dsn(t)
			old, err := store.OpenUpTo(ctx, path, 21)
			if err != nil {
				t.Fatal(err)
			}
			// The site as the schema of then has it (CreateSite writes
			// columns of later migrations).
			var siteID int64
			if err := old.DB().QueryRow(`INSERT INTO sites (code, name, created_at, updated_at) VALUES ('s1', 'Site s1', 0, 0) RETURNING id`).Scan(&siteID); err != nil {
				t.Fatal(err)
			}
			box := newMailbox(t, old, siteID, 0)
			var oldID int64
			if err := old.DB().QueryRow(old.Rebind(`INSERT INTO messages (mailbox_id, subject, date, received_at) VALUES (?, 'Счёт', 0, 0) RETURNING id`), box).Scan(&oldID); err != nil {
				t.Fatal(err)
			}
			// The entry as the store wrote it before: words as they are.
			index := `INSERT INTO messages_fts (rowid, subject, sender, recipients, body) VALUES (?, 'Счёт', '', '', 'лицензии')`
			if name == "postgres" {
				index = `UPDATE messages SET search = CAST('''счёт'':1A ''лицензии''' AS tsvector) WHERE id = ?`
			}
			if _, err := old.DB().Exec(old.Rebind(index), oldID); err != nil {
				t.Fatal(err)
			}
			old.Close()

			st, err := store.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			newID, _, err := st.InsertMessage(ctx, newMessage(box, "new", store.Message{Subject: "Счёт"}, store.Content{Text: "лицензии"}))
			if err != nil {
				t.Fatal(err)
			}
			found := func(query string) []int64 {
				t.Helper()
				page, err := st.Messages(ctx, store.MessageFilter{Query: query}, store.MessageSort{Column: "id"}, "", 10)
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, m := range page.Items {
					ids = append(ids, m.ID)
				}
				return ids
			}
			meanwhile := []int64{newID}
			if name == "postgres" {
				meanwhile = []int64{newID, oldID}
			}
			// Meanwhile PostgreSQL's old vector holds the words as they
			// were, which a prefix finds.
			if got := found("лиценз"); !slices.Equal(got, meanwhile) {
				t.Errorf("before the reindex: %v, want %v", got, meanwhile)
			}
			pending, err := st.SearchReindexPending(ctx, 10)
			if err != nil || !slices.Equal(pending, []int64{oldID}) {
				t.Fatalf("pending %v, %v; want only the old message %d", pending, err, oldID)
			}
			m, err := st.MessageByID(ctx, oldID)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.ReindexSearch(ctx, []store.ReindexEntry{{ID: oldID, Text: store.MessageSearchText(m, "лицензии", nil)}}, oldID); err != nil {
				t.Fatal(err)
			}
			for _, query := range []string{"лицензия", "счет"} {
				if got := found(query); !slices.Equal(got, []int64{newID, oldID}) {
					t.Errorf("%q after the reindex: %v", query, got)
				}
			}
		})
	}
}
