package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// Migration 0006 moves the header, text and HTML of messages stored
// without their source into a content row before it drops those columns;
// messages with a source read them from it.
func TestMigrationKeepsTextOfMessagesWithoutSource(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "old.db") },
		"postgres": func(t *testing.T) string { return testpeer.PostgresDSN(t) },
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			path := dsn(t)
			old, err := store.OpenUpTo(ctx, path, 5)
			if err != nil {
				t.Fatal(err)
			}
			db := old.DB()
			if _, err := db.Exec(`INSERT INTO sites (code, name, created_at, updated_at) VALUES ('s1', 'Site', 0, 0)`); err != nil {
				t.Fatal(err)
			}
			var site, mailbox, withSource, without int64
			if err := db.QueryRow(`SELECT id FROM sites WHERE code = 's1'`).Scan(&site); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(old.Rebind(`INSERT INTO mailboxes (site_id, type, name, created_at, updated_at) VALUES (?, 'pop3', 'm', 0, 0) RETURNING id`), site).Scan(&mailbox); err != nil {
				t.Fatal(err)
			}
			insert := old.Rebind(`INSERT INTO messages (mailbox_id, date, received_at, header, text_body, html_body) VALUES (?, 0, 0, ?, ?, ?) RETURNING id`)
			if err := db.QueryRow(insert, mailbox, "Subject: a", "text a", "").Scan(&withSource); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(old.Rebind(`INSERT INTO message_sources (message_id, compression, data) VALUES (?, '', ?)`), withSource, []byte("Subject: a\r\n\r\ntext a\r\n")); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(insert, mailbox, "Subject: b", "текст b", "<p>b</p>").Scan(&without); err != nil {
				t.Fatal(err)
			}
			old.Close()

			st, err := store.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			content, err := st.MessageContent(ctx, without)
			if err != nil || content != (store.Content{Header: "Subject: b", Text: "текст b", HTML: "<p>b</p>"}) {
				t.Errorf("content kept: %+v, %v", content, err)
			}
			if m, err := st.MessageByID(ctx, without); err != nil || m.HasSource {
				t.Errorf("message without source: %+v, %v", m, err)
			}
			// Migration 0007 counts the mailbox's messages onto its row.
			if m, err := st.MailboxByID(ctx, mailbox); err != nil || m.MessagesTotal != 2 || m.MessagesNew != 2 {
				t.Errorf("mailbox counts after the migrations: %d/%d, %v", m.MessagesTotal, m.MessagesNew, err)
			}
			source, err := st.MessageSource(ctx, withSource)
			if err != nil || string(source) != "Subject: a\r\n\r\ntext a\r\n" {
				t.Errorf("source kept: %q, %v", source, err)
			}
		})
	}
}
