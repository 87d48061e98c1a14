package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

func newMessage(mailboxID int64, raw string, fields store.Message, content ...store.Content) *store.NewMessage {
	fields.MailboxID = mailboxID
	m := &store.NewMessage{Message: fields, Raw: []byte(raw), SaveSource: true}
	if len(content) > 0 {
		m.Content = content[0]
	}
	return m
}

func TestMessageStorage(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		raw := "Subject: Привет\r\nMessage-ID: <a@x>\r\n\r\nbody \x00\xff bytes\r\n" // the source keeps any bytes
		first := newMessage(box, raw, store.Message{MessageID: "<a@x>", Subject: "Привет, мир", From: "Иван <ivan@example.ru>",
			To: "Team <team@example.com>", Size: int64(len(raw)),
			ParseErrors: []string{"part 1: unknown charset x-foo"}}, store.Content{Text: "Отчёт за квартал готов", HTML: "<p>Отчёт</p>"})
		first.Attachments = []store.Attachment{
			{Filename: "отчёт.pdf", ContentType: "application/pdf", Size: 3, Data: []byte{0, 1, 2}},
			{Filename: "big.iso", ContentType: "application/octet-stream", Size: 1 << 30, Dropped: true},
		}
		first.UID = &store.UID{UID: "uidl-1"}
		id, duplicate, err := st.InsertMessage(ctx, first)
		if err != nil || duplicate {
			t.Fatalf("insert: %d %v %v", id, duplicate, err)
		}
		// The same bytes again (fetched under another UIDL) are a duplicate,
		// and the new UIDL is still recorded.
		again := newMessage(box, raw, store.Message{Subject: "again"})
		again.UID = &store.UID{UID: "uidl-2"}
		if id2, duplicate, err := st.InsertMessage(ctx, again); err != nil || !duplicate || id2 != id {
			t.Errorf("duplicate: %d %v %v", id2, duplicate, err)
		}
		// Another mailbox may hold the same bytes.
		other := newMailbox(t, st, site.ID, 0)
		if _, duplicate, err := st.InsertMessage(ctx, newMessage(other, raw, store.Message{})); err != nil || duplicate {
			t.Errorf("same bytes in another mailbox: %v %v", duplicate, err)
		}
		known, err := st.KnownUIDs(ctx, box, "")
		if err != nil || !known["uidl-1"] || !known["uidl-2"] || len(known) != 2 {
			t.Errorf("KnownUIDs = %v, %v", known, err)
		}
		source, err := st.MessageSource(ctx, id)
		if err != nil || !bytes.Equal(source, []byte(raw)) {
			t.Errorf("source round trip: %q, %v", source, err)
		}
		got, err := st.MessageByID(ctx, id)
		if err != nil || got.Subject != "Привет, мир" || got.ThreadID != id || !got.HasSource ||
			got.Date.IsZero() || got.Spam != "unknown" || got.AttachmentCount != 2 || len(got.ParseErrors) != 1 {
			t.Errorf("MessageByID = %+v, %v", got, err)
		}
		attachments, err := st.Attachments(ctx, id)
		if err != nil || len(attachments) != 2 || attachments[0].Filename != "отчёт.pdf" || !attachments[1].Dropped {
			t.Fatalf("Attachments = %+v, %v", attachments, err)
		}
		data, err := st.AttachmentData(ctx, id, attachments[0].ID)
		if err != nil || !bytes.Equal(data.Data, []byte{0, 1, 2}) {
			t.Errorf("attachment bytes: %v, %v", data.Data, err)
		}
		// A reply joins the thread.
		reply := newMessage(box, "reply", store.Message{MessageID: "<b@x>", InReplyTo: "<a@x>", References: []string{"<a@x>"}, Subject: "Re: Привет"})
		replyID, _, err := st.InsertMessage(ctx, reply)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := st.MessageByID(ctx, replyID); got.ThreadID != id {
			t.Errorf("reply thread %d, want %d", got.ThreadID, id)
		}
		// Bad text is refused before the database sees it, on both backends.
		if _, _, err := st.InsertMessage(ctx, newMessage(box, "x", store.Message{Subject: "nul\x00"})); !errors.Is(err, store.ErrInvalidText) {
			t.Errorf("NUL in subject: %v", err)
		}
		if pruned, err := st.PruneUIDs(ctx, box, "", map[string]bool{"uidl-2": true}); err != nil || pruned != 1 {
			t.Errorf("PruneUIDs = %d, %v", pruned, err)
		}
		if n, err := st.DeleteMessages(ctx, []int64{id}); err != nil || n != 1 {
			t.Errorf("DeleteMessages = %d, %v", n, err)
		}
		if _, err := st.MessageSource(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("source after delete: %v", err)
		}
		if page, _ := st.Messages(ctx, store.MessageFilter{Query: "квартал"}, store.MessageSort{}, "", 10); len(page.Items) != 0 {
			t.Errorf("a deleted message is still found: %+v", page.Items)
		}
	})
}

func TestMessageSearchFiltersAndPaging(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		boxA, boxB := newMailbox(t, st, site.ID, 0), newMailbox(t, st, site.ID, 0)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		subjects := []string{"Счёт на оплату", "Meeting notes", "СЧЁТ повторно", "Invoice overdue", "Hello"}
		for i := range 25 {
			box := boxA
			if i%5 == 4 {
				box = boxB
			}
			m := newMessage(box, fmt.Sprintf("raw %d", i), store.Message{Subject: subjects[i%5], From: fmt.Sprintf("Sender%d <s%d@example.com>", i%3, i%3),
				To: "Бухгалтерия <buh@example.ru>", Date: base.Add(time.Duration(i%7) * time.Hour), Read: i%2 == 0},
				store.Content{Text: fmt.Sprintf("message number %d, invoice from accounting", i)})
			if _, _, err := st.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		read := true
		tests := []struct {
			name   string
			filter store.MessageFilter
			want   int
		}{
			{"all", store.MessageFilter{}, 25},
			{"full text, Cyrillic, any case", store.MessageFilter{Query: "счёт"}, 10},
			{"prefix", store.MessageFilter{Query: "meet"}, 5},
			{"subject only", store.MessageFilter{Subject: "бухгалтерия"}, 0},
			{"recipients", store.MessageFilter{To: "бухгалтерия"}, 25},
			{"sender", store.MessageFilter{From: "sender1"}, 8},
			{"a recipient is not a sender", store.MessageFilter{From: "бухгалтерия"}, 0},
			{"a sender is not a recipient", store.MessageFilter{To: "sender1"}, 0},
			{"body", store.MessageFilter{Text: "number"}, 25},
			// Words of the body alone are no sender, recipient or subject
			// (PostgreSQL keeps them without a weight, rechecked).
			{"a body word is not a sender", store.MessageFilter{From: "accounting"}, 0},
			{"a body word is not a recipient", store.MessageFilter{To: "accounting"}, 0},
			{"a body word is not a subject", store.MessageFilter{Subject: "accounting"}, 0},
			{"a subject word in the body too", store.MessageFilter{Subject: "invoice"}, 5},
			{"a subject word in the body, as body", store.MessageFilter{Text: "invoice"}, 25},
			{"sender and subject", store.MessageFilter{From: "sender1", Subject: "invoice"}, 1},
			{"operators are words", store.MessageFilter{Query: `"OR" NEAR( *`}, 0},
			{"mailbox", store.MessageFilter{MailboxIDs: []int64{boxB}}, 5},
			{"no mailboxes", store.MessageFilter{MailboxIDs: []int64{}}, 0},
			{"read", store.MessageFilter{Read: &read}, 13},
			{"spam unknown", store.MessageFilter{Spam: "unknown"}, 25},
		}
		for _, test := range tests {
			page, err := st.Messages(ctx, test.filter, store.MessageSort{}, "", 100)
			if err != nil || len(page.Items) != test.want {
				t.Errorf("%s: %d messages, %v; want %d", test.name, len(page.Items), err, test.want)
			}
		}
		for _, order := range []store.MessageSort{{}, {Ascending: true}, {Column: "size"}, {Column: "received_at", Ascending: true}} {
			seen := map[int64]bool{}
			var previous *store.Message
			cursor := ""
			for {
				page, err := st.Messages(ctx, store.MessageFilter{}, order, cursor, 4)
				if err != nil {
					t.Fatal(err)
				}
				for i := range page.Items {
					m := page.Items[i]
					if seen[m.ID] {
						t.Errorf("%+v: message %d twice", order, m.ID)
					}
					seen[m.ID] = true
					if order.Column == "" && previous != nil && !order.Ascending && m.Date.After(previous.Date) {
						t.Errorf("newest first broken: %v after %v", m.Date, previous.Date)
					}
					previous = &m
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if len(seen) != 25 {
				t.Errorf("%+v: %d messages over all pages", order, len(seen))
			}
		}
		if _, err := st.Messages(ctx, store.MessageFilter{}, store.MessageSort{}, "%%%", 10); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
	})
}
