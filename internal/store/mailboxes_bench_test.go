package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// BenchmarkMailboxList measures one page of the mailbox list with 10,000
// mailboxes: the first page and the last, sorted by name, on both backends.
//
//	go test -run '^$' -bench MailboxList ./internal/store/
func BenchmarkMailboxList(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "bench.db")
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(b)
			}
			ctx := context.Background()
			st, err := store.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			site := store.Site{Code: "s1", Name: "s1"}
			if err := st.CreateSite(ctx, &site); err != nil {
				b.Fatal(err)
			}
			tx, err := st.DB().Begin()
			if err != nil {
				b.Fatal(err)
			}
			insert := st.Rebind(`INSERT INTO mailboxes (site_id, type, name, server, port, created_at, updated_at) VALUES (?, ?, ?, 'pop.example.com', 110, 0, 0)`)
			for i := range 10000 {
				kind := store.MailboxPOP3
				if i%3 == 0 {
					kind = store.MailboxIMAP
				}
				if _, err := tx.Exec(insert, site.ID, kind, fmt.Sprintf("mailbox %05d", (i*7919)%10000)); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			// A running server has planner statistics: SQLite's from the
			// hourly Optimize, PostgreSQL's from autovacuum.
			if err := st.Optimize(ctx); err != nil {
				b.Fatal(err)
			}
			if st.Dialect() == store.Postgres {
				if _, err := st.DB().Exec(`ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			filter := store.MailboxFilter{Types: []string{store.MailboxPOP3, store.MailboxSMTP}}
			order := store.MailboxSort{Column: "name"}
			// Walk to the last page once to get its cursor.
			lastCursor, cursor := "", ""
			for {
				page, err := st.Mailboxes(ctx, filter, order, cursor, 50)
				if err != nil {
					b.Fatal(err)
				}
				if page.NextCursor == "" {
					break
				}
				lastCursor, cursor = cursor, page.NextCursor
			}
			lastCursor = cursor
			for _, c := range []struct{ name, cursor string }{{"first", ""}, {"last", lastCursor}} {
				b.Run(c.name+"_page", func(b *testing.B) {
					for b.Loop() {
						if _, err := st.Mailboxes(ctx, filter, order, c.cursor, 50); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
