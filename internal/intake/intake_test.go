package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// recorder keeps the work log lines.
type recorder struct{ entries []store.LogEntry }

func (r *recorder) Record(_ context.Context, entries ...store.LogEntry) {
	r.entries = append(r.entries, entries...)
}

// newStore opens a fresh SQLite store with one site and one mailbox.
func newStore(t *testing.T) (*store.Store, store.Mailbox) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pochta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	site := store.Site{Code: "s1", Name: "s1"}
	if err := st.CreateSite(ctx, &site); err != nil {
		t.Fatal(err)
	}
	mailbox := store.Mailbox{SiteID: site.ID, Type: store.MailboxSMTP, Active: true, Name: "box", Port: 2525}
	if err := st.CreateMailbox(ctx, &mailbox); err != nil {
		t.Fatal(err)
	}
	return st, mailbox
}

func TestDeliverBatch(t *testing.T) {
	ctx := context.Background()
	st, mailbox := newStore(t)
	one := []byte("From: a@example.com\r\nSubject: one\r\n\r\nhello\r\n")
	broken := []byte("Subject: broken\nContent-Type: multipart/mixed\n\nno boundary\n")
	items := []intake.Item{{Raw: one}, {Raw: broken}, {Raw: bytes.Clone(one), UID: &store.UID{UID: "u1"}}}
	log := &recorder{}
	options := intake.Options{SaveSource: true, SaveAttachments: true, Origin: "test"}
	results := intake.DeliverBatch(ctx, st, log, mailbox, items, options)
	if len(results) != 3 {
		t.Fatalf("%d results", len(results))
	}
	if r := results[0]; r.Err != nil || r.Duplicate || r.Subject != "one" || r.Size != len(one) {
		t.Errorf("first: %+v", r)
	}
	if r := results[1]; r.Err != nil || r.Duplicate || len(r.ParseErrors) == 0 {
		t.Errorf("broken: %+v", r)
	}
	if r := results[2]; r.Err != nil || !r.Duplicate || r.ID != results[0].ID {
		t.Errorf("repeat: %+v", r)
	}
	if len(log.entries) != 3 || !strings.Contains(log.entries[2].Text, "already stored") || !strings.Contains(log.entries[1].Text, "parse notes") {
		t.Errorf("log lines: %+v", log.entries)
	}
	if known, _ := st.KnownUIDs(ctx, mailbox.ID, ""); !known["u1"] {
		t.Errorf("UID of the repeat not recorded")
	}
	source, err := st.MessageSource(ctx, results[0].ID)
	if err != nil || !bytes.Equal(source, one) {
		t.Errorf("source: %q, %v", source, err)
	}
	// Deliver, the one-message path, agrees.
	result, err := intake.Deliver(ctx, st, log, mailbox, one, options)
	if err != nil || !result.Duplicate || result.ID != results[0].ID {
		t.Errorf("Deliver of a stored message: %+v, %v", result, err)
	}
}

// The "Receiving mail" line names the way in, in words where the catalog
// has them, and is said in each reader's language.
func TestReceiveLineOrigins(t *testing.T) {
	ctx := context.Background()
	st, mailbox := newStore(t)
	tests := []struct{ origin, english, russian string }{
		{"POP3", "Receiving mail: m0 (43 B) via POP3", "Получение письма: m0 (43 Б) по POP3"},
		{"import", "Receiving mail: m1 (43 B) by import", "Получение письма: m1 (43 Б) при импорте"},
		{"API", "Receiving mail: m2 (43 B) via the API", "Получение письма: m2 (43 Б) через API"},
		{"SMTP", "Receiving mail: m3 (43 B) via SMTP", "Получение письма: m3 (43 Б) через SMTP"},
	}
	for i, test := range tests {
		log := &recorder{}
		raw := []byte(fmt.Sprintf("From: a@example.com\r\nSubject: m%d\r\n\r\nhello\r\n", i))
		if _, err := intake.Deliver(ctx, st, log, mailbox, raw, intake.Options{SaveSource: true, Origin: test.origin}); err != nil {
			t.Fatal(err)
		}
		if len(log.entries) != 1 {
			t.Fatalf("%s: %d log lines", test.origin, len(log.entries))
		}
		if got := log.entries[0].Text; got != test.english {
			t.Errorf("%s: %q, want %q", test.origin, got, test.english)
		}
		if got := worklog.Text("ru", log.entries[0]); got != test.russian {
			t.Errorf("%s in Russian: %q, want %q", test.origin, got, test.russian)
		}
	}
}
