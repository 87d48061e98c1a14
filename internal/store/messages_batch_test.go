package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// TestInsertMessagesBatch checks that a batch stores each message as
// InsertMessage would: duplicates by hash within the mailbox, including
// earlier messages of the same batch, UIDs, threads, the full-text entry,
// and a refused message that does not sink the others.
func TestInsertMessagesBatch(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		other := newMailbox(t, st, site.ID, 0)
		before := newMessage(box, "Subject: before\r\n\r\nalready here\r\n", store.Message{MessageID: "root@x", Subject: "before"})
		beforeID, _, err := st.InsertMessage(ctx, before)
		if err != nil {
			t.Fatal(err)
		}
		one := "Subject: one\r\n\r\nпервое письмо\r\n"
		batch := []*store.NewMessage{
			newMessage(box, one, store.Message{MessageID: "one@x", Subject: "one"}, store.Content{Text: "первое письмо"}),
			newMessage(box, "Subject: before\r\n\r\nalready here\r\n", store.Message{Subject: "before again"}), // duplicate of an earlier batch
			newMessage(box, one, store.Message{Subject: "one again"}),                                          // duplicate within this batch
			newMessage(other, one, store.Message{Subject: "one elsewhere"}),                                    // another mailbox: not a duplicate
			newMessage(box, "Subject: bad\r\n\r\n", store.Message{Subject: "bad\x00"}),                         // refused alone
			newMessage(box, "Subject: Re: one\r\n\r\nответ\r\n", store.Message{MessageID: "two@x", InReplyTo: "one@x", Subject: "Re: one"}, store.Content{Text: "ответ"}),
		}
		batch[2].UID = &store.UID{UID: "uid-again"}
		results, err := st.InsertMessages(ctx, batch)
		if err != nil {
			t.Fatalf("InsertMessages: %v", err)
		}
		if len(results) != len(batch) {
			t.Fatalf("%d results for %d messages", len(results), len(batch))
		}
		if r := results[0]; r.Err != nil || r.Duplicate || r.ID == 0 || batch[0].ID != r.ID {
			t.Errorf("first: %+v", r)
		}
		if r := results[1]; r.Err != nil || !r.Duplicate || r.ID != beforeID {
			t.Errorf("duplicate of an earlier message: %+v, want id %d", r, beforeID)
		}
		if r := results[2]; r.Err != nil || !r.Duplicate || r.ID != results[0].ID {
			t.Errorf("duplicate within the batch: %+v, want id %d", r, results[0].ID)
		}
		if r := results[3]; r.Err != nil || r.Duplicate || r.ID == results[0].ID {
			t.Errorf("same bytes in another mailbox: %+v", r)
		}
		if r := results[4]; !errors.Is(r.Err, store.ErrInvalidText) || r.ID != 0 {
			t.Errorf("NUL in subject: %+v", r)
		}
		if r := results[5]; r.Err != nil || r.Duplicate {
			t.Errorf("reply: %+v", r)
		}
		reply, err := st.MessageByID(ctx, results[5].ID)
		if err != nil || reply.ThreadID != results[0].ID {
			t.Errorf("a reply within the batch joins the thread of its parent: %+v, %v", reply.ThreadID, err)
		}
		known, err := st.KnownUIDs(ctx, box, "")
		if err != nil || !known["uid-again"] {
			t.Errorf("UID of a duplicate not recorded: %v, %v", known, err)
		}
		source, err := st.MessageSource(ctx, results[0].ID)
		if err != nil || !bytes.Equal(source, []byte(one)) {
			t.Errorf("source: %q, %v", source, err)
		}
		page, err := st.Messages(ctx, store.MessageFilter{Query: "письмо", MailboxIDs: []int64{box}}, store.MessageSort{}, "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != results[0].ID {
			t.Errorf("full text finds the batch's message: %+v, %v", page.Items, err)
		}
		all, err := st.Messages(ctx, store.MessageFilter{MailboxIDs: []int64{box}}, store.MessageSort{}, "", 100)
		if err != nil || len(all.Items) != 3 {
			t.Errorf("mailbox holds %d messages, want 3 (before, one, reply): %v", len(all.Items), err)
		}
	})
}

// TestInsertMessagesLargeBatch stores a few hundred messages in one batch,
// half of them repeats, and checks the counts.
func TestInsertMessagesLargeBatch(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		var batch []*store.NewMessage
		for i := range 300 {
			raw := fmt.Sprintf("Subject: n%d\r\n\r\nbody %d\r\n", i%150, i%150)
			batch = append(batch, newMessage(box, raw, store.Message{Subject: fmt.Sprintf("n%d", i%150)}, store.Content{Text: "body"}))
		}
		results, err := st.InsertMessages(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		stored, duplicates := 0, 0
		for i, r := range results {
			switch {
			case r.Err != nil:
				t.Fatalf("message %d: %v", i, r.Err)
			case r.Duplicate:
				duplicates++
				if r.ID != results[i-150].ID {
					t.Errorf("message %d: duplicate of %d, want %d", i, r.ID, results[i-150].ID)
				}
			default:
				stored++
			}
		}
		if stored != 150 || duplicates != 150 {
			t.Errorf("stored %d, duplicates %d; want 150 and 150", stored, duplicates)
		}
		if results, err := st.InsertMessages(ctx, nil); err != nil || len(results) != 0 {
			t.Errorf("empty batch: %v, %v", results, err)
		}
		// IDs are never reused, even after the newest message is deleted.
		last := results[149].ID
		if _, err := st.DeleteMessages(ctx, []int64{last}); err != nil {
			t.Fatal(err)
		}
		next, _, err := st.InsertMessage(ctx, newMessage(box, "Subject: after delete\r\n\r\n", store.Message{Subject: "after"}))
		if err != nil || next <= last {
			t.Errorf("id after deleting %d: %d, %v", last, next, err)
		}
		if got, err := st.MessageByID(ctx, next); err != nil || got.ThreadID != next {
			t.Errorf("a new message starts its own thread: %d, %v", got.ThreadID, err)
		}
	})
}
