package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// A megabyte subject is legal mail. The message list and the log show the
// start of it (a list page stays small); the view shows all of it. Long
// names and descriptions in the mailbox list are shortened likewise.
func TestLongTextsShortenedInLists(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	name := strings.Repeat("Имя ", 63) // 252 characters
	mailbox, err := ts.env.Service.CreateMailbox(ctx, ts.env.Admin, service.MailboxInput{Type: mblPtr("pop3"), Name: mblPtr(name),
		Description: mblPtr(strings.Repeat("Описание ", 222)), Server: mblPtr("pop.example.com"), Login: mblPtr("a"), Password: mblPtr("b")})
	if err != nil {
		t.Fatal(err)
	}
	subject := "Счёт " + strings.Repeat("очень длинная тема ", 60_000) // over 1 MB
	id := msgImport(t, ts, mailbox.ID, msgMail{From: "a@example.com", To: "b@example.com", Subject: subject, Date: msgDay(1), Text: "hello"}.raw())
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	for _, path := range []string{"/messages", "/log", "/mailboxes"} {
		r := b.get(path)
		wantStatus(t, r, http.StatusOK)
		if len(r.body) > 200_000 {
			t.Errorf("%s is %d bytes", path, len(r.body))
		}
		if path != "/mailboxes" {
			wantBody(t, r, "Счёт очень длинная тема очень", "…")
		}
		wantBody(t, r, strings.Repeat("Имя ", 19)+"Имя…")
	}
	view := b.get(fmt.Sprintf("/messages/%d", id))
	wantStatus(t, view, http.StatusOK)
	wantBody(t, view, html.EscapeString(strings.TrimSpace(subject)))
}
