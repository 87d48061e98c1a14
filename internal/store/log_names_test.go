package store_test

import (
	"context"
	"reflect"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// Log brings each entry's mailbox name and message subject with it, in the
// same query, and keyset paging still walks the log newest first.
func TestLogNamesItsMailboxAndMessage(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		if _, err := st.DB().Exec(st.Rebind(`UPDATE mailboxes SET name = ? WHERE id = ?`), "Продажи", box); err != nil {
			t.Fatal(err)
		}
		kept, _, err := st.InsertMessage(ctx, newMessage(box, "Subject: a\r\n\r\na", store.Message{Subject: "Счёт № 7"}))
		if err != nil {
			t.Fatal(err)
		}
		gone, _, err := st.InsertMessage(ctx, newMessage(box, "Subject: b\r\n\r\nb", store.Message{Subject: "gone"}))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddLog(ctx,
			store.LogEntry{Level: store.LevelInfo, Type: "system", Text: "no mailbox"},
			store.LogEntry{Level: store.LevelInfo, Type: "receive", Text: "kept", MailboxID: box, MessageID: kept},
			store.LogEntry{Level: store.LevelInfo, Type: "receive", Text: "gone", MailboxID: box, MessageID: gone},
		); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeleteMessages(ctx, []int64{gone}); err != nil {
			t.Fatal(err)
		}
		entries, err := st.Log(ctx, store.LogFilter{})
		if err != nil || len(entries) != 3 {
			t.Fatalf("Log = %+v, %v", entries, err)
		}
		byText := map[string]store.LogEntry{}
		for _, entry := range entries {
			byText[entry.Text] = entry
		}
		if e := byText["kept"]; e.MailboxName != "Продажи" || e.MessageSubject != "Счёт № 7" || e.MessageMailboxID != box {
			t.Errorf("kept: %+v", e)
		}
		if e := byText["gone"]; e.MailboxName != "Продажи" || e.MessageSubject != "" || e.MessageMailboxID != 0 {
			t.Errorf("gone: %+v", e)
		}
		if e := byText["no mailbox"]; e.MailboxName != "" || e.MessageSubject != "" || e.MessageMailboxID != 0 {
			t.Errorf("no mailbox: %+v", e)
		}
		if entries[0].Text != "gone" || entries[2].Text != "no mailbox" {
			t.Errorf("order: %q %q %q", entries[0].Text, entries[1].Text, entries[2].Text)
		}
		page, err := st.Log(ctx, store.LogFilter{Limit: 1, BeforeID: entries[0].ID, MailboxIDs: []int64{box}})
		if err != nil || len(page) != 1 || page[0].Text != "kept" || page[0].MessageSubject != "Счёт № 7" {
			t.Errorf("keyset page: %+v, %v", page, err)
		}
	})
}

// A line's parts come back as they were written, on both backends; a line
// without parts comes back as its text.
func TestLogPartsRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		parts := []store.LogPart{{Key: "log.receive", Args: []string{"Счёт «7» \"quoted\"\n", "3.4 KB"}}, {Args: []string{"\n"}}, {Key: "log.receive_duplicate"}}
		if err := st.AddLog(ctx,
			store.LogEntry{Level: store.LevelInfo, Type: "receive", Text: "Receiving mail: ...", Parts: parts},
			store.LogEntry{Level: store.LevelReply, Type: "pop3", Text: "+OK"},
		); err != nil {
			t.Fatal(err)
		}
		entries, err := st.Log(ctx, store.LogFilter{})
		if err != nil || len(entries) != 2 {
			t.Fatalf("Log = %+v, %v", entries, err)
		}
		if entries[0].Text != "+OK" || entries[0].Parts != nil {
			t.Errorf("plain line: %+v", entries[0])
		}
		// Kept as its parts alone: the text is theirs in English, said
		// again when read (service.Log).
		if got := entries[1]; got.Text != "" || !reflect.DeepEqual(got.Parts, parts) {
			t.Errorf("line with parts: text %q, parts %+v, want %+v", got.Text, got.Parts, parts)
		}
	})
}
