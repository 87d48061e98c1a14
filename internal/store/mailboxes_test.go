package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"pochta.dev/pochta/internal/store"
)

func TestMailServicesCopyAndRebind(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		gmail := store.MailService{SiteID: site.ID, Active: true, Name: "gmail", Type: "imap", Server: "imap.gmail.com", Port: 993, Security: "tls", Sort: 100, Icon: "gmail"}
		other := store.MailService{SiteID: site.ID, Active: true, Name: "other", Type: "imap", Sort: 1000, IsOther: true}
		for _, m := range []*store.MailService{&gmail, &other} {
			if err := st.CreateMailService(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		owner := newUser(t, st, site.ID, "bob", store.RoleUser)
		box := store.Mailbox{SiteID: site.ID, Type: store.MailboxIMAP, Active: true, Name: "Bob", ServiceID: gmail.ID, OwnerID: owner.ID,
			Server: "imap.gmail.com", Port: 993, Security: "tls", VerifyCert: true, Folders: []string{"INBOX", "Входящие/Работа"}}
		if err := st.CreateMailbox(ctx, &box); err != nil {
			t.Fatal(err)
		}
		gmail.Server, gmail.Port, gmail.WebURL = "imap.googlemail.com", 994, "https://mail.google.com"
		if err := st.UpdateMailService(ctx, &gmail, true); err != nil {
			t.Fatal(err)
		}
		got, err := st.MailboxByID(ctx, box.ID)
		if err != nil || got.Server != "imap.googlemail.com" || got.Port != 994 || got.WebURL != "https://mail.google.com" {
			t.Errorf("service save did not reach the mailbox: %+v, %v", got, err)
		}
		if got.ServiceName != "gmail" || got.OwnerLogin != "bob" || got.SiteCode != "s1" || len(got.Folders) != 2 || got.Folders[1] != "Входящие/Работа" {
			t.Errorf("joined fields: %+v", got)
		}
		if n, err := st.RebindMailboxes(ctx, gmail.ID, &other); err != nil || n != 1 {
			t.Errorf("rebind = %d, %v", n, err)
		}
		if got, _ := st.MailboxByID(ctx, box.ID); got.ServiceID != other.ID || !got.Active {
			t.Errorf("after rebind: %+v", got)
		}
		if n, err := st.RebindMailboxes(ctx, other.ID, nil); err != nil || n != 1 {
			t.Errorf("unbind = %d, %v", n, err)
		}
		if got, _ := st.MailboxByID(ctx, box.ID); got.ServiceID != 0 || got.Active {
			t.Errorf("after unbind: %+v", got)
		}
		active := true
		list, err := st.MailServices(ctx, store.MailServiceFilter{SiteID: site.ID, Active: &active, Server: "GOOGLE"})
		if err != nil || len(list) != 1 || list[0].Name != "gmail" {
			t.Errorf("MailServices = %+v, %v", list, err)
		}
		if err := st.DeleteMailService(ctx, gmail.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.MailServiceByID(ctx, gmail.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted service: %v", err)
		}
	})
}

func TestMailboxRoundTripAndDeleteCascade(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := store.Mailbox{SiteID: site.ID, Type: store.MailboxSMTP, Active: true, Name: "Inbound", Server: "*", Port: 25,
			Security: "none", Domains: []string{"example.com", "пример.рф"}, Relay: true, RelayAuthOnly: true, MaxMessages: 10,
			MaxMessageSizeKB: 1024, KeepDays: 30, Charset: "windows-1251", PasswordSealed: []byte{1, 2, 3}, Description: "d"}
		if err := st.CreateMailbox(ctx, &box); err != nil {
			t.Fatal(err)
		}
		got, err := st.MailboxByID(ctx, box.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.Domains) != "[example.com пример.рф]" || !got.Relay || !got.RelayAuthOnly || got.MaxMessages != 10 ||
			got.MaxMessageSizeKB != 1024 || got.KeepDays != 30 || got.Charset != "windows-1251" || string(got.PasswordSealed) != "\x01\x02\x03" {
			t.Errorf("round trip: %+v", got)
		}
		got.Name, got.Domains = "Renamed", nil
		if err := st.UpdateMailbox(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if again, _ := st.MailboxByID(ctx, box.ID); again.Name != "Renamed" || len(again.Domains) != 0 {
			t.Errorf("update: %+v", again)
		}

		// Everything that hangs off the mailbox goes with it.
		db := st.DB()
		var messageID, ruleID int64
		messageID, _, err = st.InsertMessage(ctx, newMessage(box.ID, "Subject: x\r\n\r\nx\r\n", store.Message{Subject: "x"}))
		if err != nil {
			t.Fatal(err)
		}
		var attachmentID int64
		if err := db.QueryRow(st.Rebind(`INSERT INTO attachments (message_id, filename) VALUES (?, 'a.txt') RETURNING id`), messageID).Scan(&attachmentID); err != nil {
			t.Fatal(err)
		}
		statements := []string{
			`INSERT INTO message_source_chunks (message_id, seq, data) VALUES (` + fmt.Sprint(messageID) + `, 1, 'x')`,
			`INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES (` + fmt.Sprint(attachmentID) + `, 1, 'x')`,
			`INSERT INTO mailbox_uids (mailbox_id, uid, message_id, created_at) VALUES (` + fmt.Sprint(box.ID) + `, 'u1', ` + fmt.Sprint(messageID) + `, 0)`,
		}
		for _, statement := range statements {
			if _, err := db.Exec(statement); err != nil {
				t.Fatalf("%s: %v", statement, err)
			}
		}
		rule := store.Rule{MailboxID: box.ID, Name: "r", Conditions: []store.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"x"}}}}
		if err := st.CreateRule(ctx, &rule); err != nil {
			t.Fatal(err)
		}
		ruleID = rule.ID
		if err := st.AddLog(ctx, store.LogEntry{Level: store.LevelInfo, Text: "x", MailboxID: box.ID, MessageID: messageID, RuleID: ruleID}); err != nil {
			t.Fatal(err)
		}
		counted, _ := st.MailboxByID(ctx, box.ID)
		if counted.MessagesTotal != 1 || counted.MessagesNew != 1 || counted.RulesCount != 1 {
			t.Errorf("counts: total %d new %d rules %d", counted.MessagesTotal, counted.MessagesNew, counted.RulesCount)
		}
		if err := st.DeleteMailbox(ctx, box.ID); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"messages", "message_sources", "message_source_chunks", "attachments", "attachment_chunks",
			"mailbox_uids", "rules", "log"} {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s keeps %d rows after the mailbox was deleted (%v)", table, n, err)
			}
		}
		if err := st.DeleteMailbox(ctx, box.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete twice: %v", err)
		}
	})
}

func TestMailboxPaging(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		for i := range 25 {
			kind := store.MailboxPOP3
			if i%5 == 0 {
				kind = store.MailboxIMAP
			}
			box := store.Mailbox{SiteID: site.ID, Type: kind, Active: i%2 == 0, Name: fmt.Sprintf("box %02d", 24-i), Server: "pop.example.com", Port: 110, Security: "none"}
			if err := st.CreateMailbox(ctx, &box); err != nil {
				t.Fatal(err)
			}
		}
		for _, order := range []store.MailboxSort{{Column: "id"}, {Column: "name"}, {Column: "name", Descending: true}, {Column: "active", Descending: true}, {Column: "updated_at"}} {
			seen := map[int64]bool{}
			var names []string
			cursor := ""
			for pages := 0; ; pages++ {
				page, err := st.Mailboxes(ctx, store.MailboxFilter{Types: []string{store.MailboxPOP3, store.MailboxSMTP}}, order, cursor, 7)
				if err != nil {
					t.Fatalf("%+v: %v", order, err)
				}
				if page.Total != 20 {
					t.Errorf("%+v: total %d", order, page.Total)
				}
				for _, m := range page.Items {
					if seen[m.ID] {
						t.Errorf("%+v: mailbox %d on two pages", order, m.ID)
					}
					seen[m.ID] = true
					names = append(names, m.Name)
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if len(seen) != 20 {
				t.Errorf("%+v: %d mailboxes over all pages, want 20", order, len(seen))
			}
			if order.Column == "name" && !order.Descending && names[0] != "box 00" {
				t.Errorf("name order starts with %q", names[0])
			}
		}
		if _, err := st.Mailboxes(ctx, store.MailboxFilter{}, store.MailboxSort{}, "garbage!", 10); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
	})
}
