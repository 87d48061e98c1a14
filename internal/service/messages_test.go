package service_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

func storeMessage(t *testing.T, env *servicetest.Env, mailboxID int64, raw string, fields store.Message, attachments ...store.Attachment) int64 {
	t.Helper()
	fields.MailboxID = mailboxID
	id, _, err := env.Store.InsertMessage(context.Background(), &store.NewMessage{Message: fields, Raw: []byte(raw), SaveSource: true, Attachments: attachments})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestMessagesRightsViewAndActions(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	owner := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	other := env.AddUser(t, "penelope", "user-password", store.RoleUser)
	auditor := env.AddUser(t, "audrey", "auditor-pass", store.RoleAuditor)
	gmail := serviceID(t, env, "gmail")
	box, err := env.Service.CreateMailbox(ctx, owner, service.MailboxInput{Type: ptr("imap"), Name: ptr("Mine"), ServiceID: &gmail, Login: ptr("u"), Password: ptr("p")})
	if err != nil {
		t.Fatal(err)
	}
	system, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Inbound"), Port: ptr(2525)})
	if err != nil {
		t.Fatal(err)
	}
	// The view reads the HTML from the source.
	id := storeMessage(t, env, box.ID, "Subject: Hello\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"+
		`<p>Hi</p><img src="cid:logo"><img src="https://t.example/p.gif"><script>x()</script>`, store.Message{Subject: "Hello"},
		store.Attachment{Filename: "logo.png", ContentType: "image/png", ContentID: "logo", Size: 3, Data: []byte{1, 2, 3}})
	storeMessage(t, env, system.ID, "raw two", store.Message{Subject: "System mail"})

	if page, _ := env.Service.Messages(ctx, owner, store.MessageFilter{}, store.MessageSort{}, "", 10); len(page.Items) != 1 || page.Items[0].ID != id {
		t.Errorf("owner sees %+v", page.Items)
	}
	if page, _ := env.Service.Messages(ctx, other, store.MessageFilter{}, store.MessageSort{}, "", 10); len(page.Items) != 0 {
		t.Errorf("another user sees %+v", page.Items)
	}
	if page, _ := env.Service.Messages(ctx, owner, store.MessageFilter{MailboxIDs: []int64{system.ID}}, store.MessageSort{}, "", 10); len(page.Items) != 0 {
		t.Errorf("owner asks for the system mailbox and sees %+v", page.Items)
	}
	if page, _ := env.Service.Messages(ctx, auditor, store.MessageFilter{}, store.MessageSort{}, "", 10); len(page.Items) != 2 {
		t.Errorf("auditor sees %d", len(page.Items))
	}
	if _, err := env.Service.Message(ctx, other, id, service.MessageOptions{}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("another user opens the message: %v", err)
	}
	if _, err := env.Source(ctx, other, id); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("another user reads the source: %v", err)
	}

	// An auditor's look does not mark it read; the owner's does.
	if view, _ := env.Service.Message(ctx, auditor, id, service.MessageOptions{MarkRead: true}); view.Read {
		t.Error("an auditor's look marked the message read")
	}
	view, err := env.Service.Message(ctx, owner, id, service.MessageOptions{MarkRead: true, CIDURL: func(a int64) string { return "/att/" + strings.Repeat("x", int(a)) }})
	if err != nil || !view.Read {
		t.Fatalf("owner opens: %+v, %v", view, err)
	}
	if strings.Contains(view.HTML, "<script") || strings.Contains(view.HTML, "t.example") || view.RemoteBlocked != 1 || !strings.Contains(view.HTML, `src="/att/x"`) {
		t.Errorf("sanitised HTML: %q (blocked %d)", view.HTML, view.RemoteBlocked)
	}
	if len(view.Attachments) != 1 || view.Attachments[0].Filename != "logo.png" {
		t.Errorf("attachments: %+v", view.Attachments)
	}
	_, body, err := env.Service.MessageAttachment(ctx, owner, id, view.Attachments[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(body); err != nil || !bytes.Equal(data, []byte{1, 2, 3}) {
		t.Errorf("attachment bytes: %v, %v", data, err)
	}
	body.Close()
	if raw, err := env.Source(ctx, owner, id); err != nil || !strings.HasPrefix(string(raw), "Subject: Hello\r\n") {
		t.Errorf("source: %q, %v", raw, err)
	}

	if _, err := env.Service.MessageAction(ctx, auditor, service.MessageSelection{IDs: []int64{id}}, service.ActionDelete); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("auditor deletes: %v", err)
	}
	// "Everything" for a user is their own mailboxes only.
	if n, err := env.Service.MessageAction(ctx, other, service.MessageSelection{Filter: &store.MessageFilter{}}, service.ActionDelete); err != nil || n != 0 {
		t.Errorf("another user deletes everything: %d, %v", n, err)
	}
	if n, err := env.Service.MessageAction(ctx, env.Admin, service.MessageSelection{Filter: &store.MessageFilter{}}, service.ActionSpam); err != nil || n != 2 {
		t.Errorf("admin marks everything spam: %d, %v", n, err)
	}
	if n, err := env.Service.MessageAction(ctx, owner, service.MessageSelection{IDs: []int64{id}}, service.ActionUnread); err != nil || n != 1 {
		t.Errorf("owner marks unread: %d, %v", n, err)
	}
	if got, _ := env.Service.Message(ctx, auditor, id, service.MessageOptions{}); got.Read || got.Spam != "yes" {
		t.Errorf("after actions: read %v spam %s", got.Read, got.Spam)
	}
	if _, err := env.Service.MessageAction(ctx, owner, service.MessageSelection{IDs: []int64{id}}, "burn"); err == nil {
		t.Error("unknown action accepted")
	}
}

func TestRetention(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Inbound"), Port: ptr(2525), KeepDays: ptr(30)})
	if err != nil {
		t.Fatal(err)
	}
	storeMessage(t, env, box.ID, "old", store.Message{ReceivedAt: time.Now().AddDate(0, 0, -31)})
	storeMessage(t, env, box.ID, "new", store.Message{ReceivedAt: time.Now().AddDate(0, 0, -29)})
	if err := env.Service.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	page, _ := env.Service.Messages(ctx, env.Admin, store.MessageFilter{}, store.MessageSort{}, "", 10)
	if len(page.Items) != 1 {
		t.Errorf("%d messages after retention, want 1", len(page.Items))
	}
	entries, _ := env.Service.Log(ctx, env.Admin, store.LogFilter{MailboxID: box.ID})
	if len(entries) == 0 || !strings.Contains(entries[0].Text, "Deleted 1 messages older than 30 days") {
		t.Errorf("retention not logged: %+v", entries)
	}
}
