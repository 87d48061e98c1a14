package store_test

import (
	"context"
	"fmt"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// A mailbox's counts are kept on its row by every write that changes them:
// new messages (not duplicates), read and unread marks, deletes.
func TestMailboxCountsFollowWrites(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		boxA, boxB := newMailbox(t, st, site.ID, 0), newMailbox(t, st, site.ID, 0)
		check := func(step string, box int64, total, unread int64) {
			t.Helper()
			m, err := st.MailboxByID(ctx, box)
			if err != nil || m.MessagesTotal != total || m.MessagesNew != unread {
				t.Errorf("%s: mailbox %d counts %d/%d (%v), want %d/%d", step, box, m.MessagesTotal, m.MessagesNew, err, total, unread)
			}
		}
		var batch []*store.NewMessage
		for i := range 5 {
			box := boxA
			if i == 4 {
				box = boxB
			}
			batch = append(batch, newMessage(box, fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i), store.Message{Subject: fmt.Sprint(i), Read: i == 0}))
		}
		batch = append(batch, newMessage(boxA, "Subject: 1\r\n\r\nbody\r\n", store.Message{Subject: "again"})) // a duplicate
		results, err := st.InsertMessages(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		check("insert", boxA, 4, 3)
		check("insert", boxB, 1, 1)
		ids := []int64{results[0].ID, results[1].ID, results[2].ID}
		if err := st.SetMessagesRead(ctx, ids, true); err != nil { // one of them read already
			t.Fatal(err)
		}
		check("read", boxA, 4, 1)
		if err := st.SetMessagesRead(ctx, []int64{results[1].ID, results[4].ID}, false); err != nil {
			t.Fatal(err)
		}
		check("unread", boxA, 4, 2)
		check("unread", boxB, 1, 1)
		if _, err := st.DeleteMessages(ctx, []int64{results[1].ID, results[2].ID, results[4].ID}); err != nil {
			t.Fatal(err)
		}
		check("delete", boxA, 2, 1)
		check("delete", boxB, 0, 0)
	})
}
