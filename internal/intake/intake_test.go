package intake_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
)

// recorder keeps the work log lines.
type recorder struct{ entries []store.LogEntry }

func (r *recorder) Record(_ context.Context, entries ...store.LogEntry) {
	r.entries = append(r.entries, entries...)
}

func TestDeliverBatch(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pochta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	site := store.Site{Code: "s1", Name: "s1"}
	if err := st.CreateSite(ctx, &site); err != nil {
		t.Fatal(err)
	}
	mailbox := store.Mailbox{SiteID: site.ID, Type: store.MailboxSMTP, Active: true, Name: "box", Port: 2525}
	if err := st.CreateMailbox(ctx, &mailbox); err != nil {
		t.Fatal(err)
	}
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
