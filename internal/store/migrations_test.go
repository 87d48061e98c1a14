package store_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
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

// column is what the schema comparison looks at of a column.
type column struct {
	name    string
	notNull bool
}

// schemaOf lists a database's tables with their columns, by name.
func schemaOf(t *testing.T, st *store.Store) map[string][]column {
	t.Helper()
	ctx := context.Background()
	query := `SELECT table_name, column_name, is_nullable = 'NO' FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, column_name`
	if st.Dialect() == store.SQLite {
		// A primary key column is not null whatever SQLite's table_info
		// says (an INTEGER PRIMARY KEY is the rowid).
		query = `SELECT m.name, c.name, c."notnull" OR c.pk > 0 FROM sqlite_master m, pragma_table_info(m.name) c
			WHERE m.type = 'table' ORDER BY m.name, c.name`
	}
	rows, err := st.DB().QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("read the schema: %v", err)
	}
	defer rows.Close()
	tables := map[string][]column{}
	for rows.Next() {
		var table string
		var c column
		if err := rows.Scan(&table, &c.name, &c.notNull); err != nil {
			t.Fatalf("read the schema: %v", err)
		}
		tables[table] = append(tables[table], c)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the schema: %v", err)
	}
	return tables
}

// The two dialects' migrations make the same tables with the same columns
// (names and whether they take NULL), except where the full-text index
// differs by design: SQLite's FTS5 tables, PostgreSQL's search column.
func TestMigrationsGiveTheSameSchema(t *testing.T) {
	ctx := context.Background()
	sqlite, err := store.Open(ctx, filepath.Join(t.TempDir(), "schema.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlite.Close() })
	postgres, err := store.Open(ctx, testpeer.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postgres.Close() })
	sqliteTables, postgresTables := schemaOf(t, sqlite), schemaOf(t, postgres)
	for table := range sqliteTables {
		// SQLite's own tables: the AUTOINCREMENT sequence, the planner's statistics.
		if strings.HasPrefix(table, "sqlite_") || strings.HasPrefix(table, "messages_fts") {
			delete(sqliteTables, table)
		}
	}
	postgresTables["messages"] = slices.DeleteFunc(postgresTables["messages"], func(c column) bool { return c.name == "search" })
	if _, ok := sqliteTables["jobs"]; !ok {
		t.Error("no jobs table: the comparison did not see the latest migration")
	}
	if !slices.Contains(sqliteTables["rules"], column{name: "conditions", notNull: true}) {
		t.Error("no rules.conditions column: the comparison did not see migration 0012")
	}
	for table, columns := range sqliteTables {
		if other, ok := postgresTables[table]; !ok {
			t.Errorf("table %s only on SQLite", table)
		} else if !slices.Equal(columns, other) {
			t.Errorf("table %s:\n SQLite     %v\n PostgreSQL %v", table, columns, other)
		}
	}
	for table := range postgresTables {
		if _, ok := sqliteTables[table]; !ok {
			t.Errorf("table %s only on PostgreSQL", table)
		}
	}
}
