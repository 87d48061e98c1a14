package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// Every text a message brings is checked before its batch is written: a
// message with a NUL or invalid UTF-8 in any of them is refused alone, on
// both backends (PostgreSQL would fail the whole batch's transaction,
// SQLite would keep the bytes), and the rest of its batch is stored.
func TestBatchRefusesInvalidTextPerMessage(t *testing.T) {
	fields := []struct {
		name string
		set  func(m *store.NewMessage, bad string)
	}{
		{"subject", func(m *store.NewMessage, bad string) { m.Subject = bad }},
		{"message id", func(m *store.NewMessage, bad string) { m.MessageID = bad }},
		{"in reply to", func(m *store.NewMessage, bad string) { m.InReplyTo = bad }},
		{"references", func(m *store.NewMessage, bad string) { m.References = []string{"<a@x>", bad} }},
		{"from", func(m *store.NewMessage, bad string) { m.From = bad }},
		{"reply to", func(m *store.NewMessage, bad string) { m.ReplyTo = bad }},
		{"to", func(m *store.NewMessage, bad string) { m.To = bad }},
		{"cc", func(m *store.NewMessage, bad string) { m.Cc = bad }},
		{"bcc", func(m *store.NewMessage, bad string) { m.Bcc = bad }},
		{"parse errors", func(m *store.NewMessage, bad string) { m.ParseErrors = []string{bad} }},
		{"text", func(m *store.NewMessage, bad string) { m.Text = bad }},
		{"header without source", func(m *store.NewMessage, bad string) { m.SaveSource, m.Header = false, bad }},
		{"html without source", func(m *store.NewMessage, bad string) { m.SaveSource, m.HTML = false, bad }},
		{"attachment name", func(m *store.NewMessage, bad string) {
			m.Attachments = []store.Attachment{{Filename: bad, ContentType: "text/plain", Data: []byte("x")}}
		}},
		{"attachment type", func(m *store.NewMessage, bad string) {
			m.Attachments = []store.Attachment{{Filename: "a.txt", ContentType: bad, Data: []byte("x")}}
		}},
		{"attachment content id", func(m *store.NewMessage, bad string) {
			m.Attachments = []store.Attachment{{Filename: "a.txt", ContentType: "text/plain", ContentID: bad, Data: []byte("x")}}
		}},
		{"job kind", func(m *store.NewMessage, bad string) { m.Jobs = []store.NewJob{{Kind: bad}} }},
		{"uid", func(m *store.NewMessage, bad string) { m.UID = &store.UID{UID: bad} }},
		{"uid folder", func(m *store.NewMessage, bad string) { m.UID = &store.UID{Folder: bad, UID: "1"} }},
	}
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		var batch []*store.NewMessage
		good := func(n int) *store.NewMessage {
			m := newMessage(box, fmt.Sprintf("Subject: good %d\r\n\r\nbody\r\n", n), store.Message{Subject: "good"}, store.Content{Text: "body"})
			m.UID = &store.UID{UID: fmt.Sprintf("good-%d", n)}
			return m
		}
		batch = append(batch, good(0))
		var badAt []int
		for i, field := range fields {
			for j, bad := range []string{"nul \x00 inside", "bad \xff utf-8"} {
				m := newMessage(box, fmt.Sprintf("Subject: bad %d %d\r\n\r\nbody\r\n", i, j), store.Message{Subject: "fine"}, store.Content{Text: "body"})
				field.set(m, bad)
				badAt = append(badAt, len(batch))
				batch = append(batch, m, good(2*i+j+1))
			}
		}
		results, err := st.InsertMessages(ctx, batch)
		if err != nil {
			t.Fatalf("the batch failed whole: %v", err)
		}
		for k, at := range badAt {
			if r := results[at]; !errors.Is(r.Err, store.ErrInvalidText) || r.ID != 0 {
				t.Errorf("%s (%d): %+v, want ErrInvalidText", fields[k/2].name, k%2, r)
			}
		}
		stored := len(batch) - len(badAt)
		for i, r := range results {
			if r.Err == nil && (r.ID == 0 || r.Duplicate) {
				t.Errorf("good message %d: %+v", i, r)
			}
		}
		if total, _ := mailboxCounts(t, st, box); total != int64(stored) {
			t.Errorf("mailbox holds %d messages, want the %d good ones", total, stored)
		}
		if known, err := st.KnownUIDs(ctx, box, ""); err != nil || len(known) != stored {
			t.Errorf("%d UIDs recorded, want the %d good ones: %v", len(known), stored, err)
		}
	})
}
