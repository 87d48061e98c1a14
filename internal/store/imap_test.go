package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// The IMAP sync's bookkeeping on both backends: cursors, known UIDs with
// their agreed \Seen flag, tombstones of messages deleted in Pochta, and
// forgetting expunged UIDs (a message another folder holds stays).
func TestIMAPSyncState(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)

		since := time.Date(2026, 11, 7, 0, 0, 0, 0, time.UTC)
		cursor := store.IMAPFolder{Name: "INBOX", Role: "Inbox", UIDValidity: 4000000000, LastUID: 3, HighestModSeq: 1 << 40, SyncedSince: since}
		if err := st.SaveIMAPFolder(ctx, box, cursor); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveIMAPFolder(ctx, box, store.IMAPFolder{Name: "Sent", Role: "Sent", UIDValidity: 7, SyncedAll: true}); err != nil {
			t.Fatal(err)
		}
		folders, err := st.IMAPFolders(ctx, box)
		if err != nil || folders["INBOX"] != cursor || !folders["Sent"].SyncedAll || !folders["Sent"].SyncedSince.IsZero() {
			t.Fatalf("folders: %+v %v", folders, err)
		}

		// Three messages in INBOX; the third also in Sent (a copy).
		var ids []int64
		for i := 1; i <= 3; i++ {
			m := newMessage(box, fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i), store.Message{Subject: fmt.Sprint(i)})
			m.UID = &store.UID{Folder: "INBOX", UID: fmt.Sprint(i)}
			id, _, err := st.InsertMessage(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		copied := newMessage(box, "Subject: 3\r\n\r\nbody 3\r\n", store.Message{})
		copied.UID = &store.UID{Folder: "Sent", UID: "9"}
		if id, duplicate, err := st.InsertMessage(ctx, copied); err != nil || !duplicate || id != ids[2] {
			t.Fatalf("copy: %d %v %v", id, duplicate, err)
		}
		if err := st.SetIMAPSeen(ctx, box, "INBOX", []uint32{1}, true); err != nil {
			t.Fatal(err)
		}
		if err := st.SetMessagesRead(ctx, []int64{ids[1]}, true); err != nil {
			t.Fatal(err)
		}
		known, err := st.IMAPUIDs(ctx, box, "INBOX")
		if err != nil || len(known) != 3 || !known[1].Seen || known[1].Read || known[2].Seen || !known[2].Read || known[3].MessageID != ids[2] {
			t.Fatalf("known: %+v %v", known, err)
		}

		// Deleted in Pochta: a tombstone, the UID kept and marked.
		if _, err := st.DeleteMessages(ctx, []int64{ids[0]}); err != nil {
			t.Fatal(err)
		}
		tombstones, err := st.IMAPTombstones(ctx, box)
		if err != nil || len(tombstones) != 1 {
			t.Fatalf("tombstones: %v %v", tombstones, err)
		}
		known, _ = st.IMAPUIDs(ctx, box, "INBOX")
		if !known[1].Deleted || known[1].MessageID != 0 {
			t.Errorf("deleted UID: %+v", known[1])
		}

		// Expunged on the server: UID 3 goes, its message stays (Sent holds
		// it); UID 2 goes with its message; no tombstone for either.
		deleted, err := st.ForgetIMAPUIDs(ctx, box, "INBOX", []uint32{2, 3})
		if err != nil || deleted != 1 {
			t.Fatalf("forget: %d %v", deleted, err)
		}
		if _, err := st.MessageByID(ctx, ids[1]); err == nil {
			t.Error("a message no folder holds is still there")
		}
		if _, err := st.MessageByID(ctx, ids[2]); err != nil {
			t.Errorf("the copy in Sent went: %v", err)
		}
		if tombstones, _ := st.IMAPTombstones(ctx, box); len(tombstones) != 1 {
			t.Errorf("tombstones after expunges: %v", tombstones)
		}

		// A UIDVALIDITY change forgets the folder.
		if err := st.ResetIMAPFolder(ctx, box, "INBOX"); err != nil {
			t.Fatal(err)
		}
		known, _ = st.IMAPUIDs(ctx, box, "INBOX")
		folders, _ = st.IMAPFolders(ctx, box)
		if len(known) != 0 || len(folders) != 1 {
			t.Errorf("after reset: %v %v", known, folders)
		}

		// Due and watched mailboxes, whatever the check interval.
		due, err := st.DueSyncMailboxes(ctx, store.MailboxIMAP, time.Now())
		if err != nil || len(due) != 1 || due[0].ID != box {
			t.Errorf("due: %v %v", due, err)
		}
		if watched, err := st.WatchedMailboxes(ctx, store.MailboxIMAP); err != nil || len(watched) != 0 {
			t.Errorf("watched before a check: %v %v", watched, err)
		}
		if err := st.SetCheckState(ctx, box, store.CheckState{LastCheckAt: time.Now(), NextCheckAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if watched, err := st.WatchedMailboxes(ctx, store.MailboxIMAP); err != nil || len(watched) != 1 {
			t.Errorf("watched after a check: %v %v", watched, err)
		}
		if due, _ := st.DueSyncMailboxes(ctx, store.MailboxIMAP, time.Now()); len(due) != 0 {
			t.Errorf("due before its time: %v", due)
		}
		user := newUser(t, st, site.ID, "owner", "user")
		if seen, err := st.UserLastSeen(ctx, user.ID); err != nil || !seen.IsZero() {
			t.Errorf("never seen: %v %v", seen, err)
		}
	})
}
