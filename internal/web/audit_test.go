package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// TestAuditLines: a change made through the web admin logs the service's
// audit line, the same line the API's change logs (the API's test of the
// same name wants the same text); the web adds none of its own.
func TestAuditLines(t *testing.T) {
	audit := &servicetest.LogRecorder{}
	env := servicetest.NewLogged(t, slog.New(audit))
	secure := false
	srv := httptest.NewServer(New(env.Service, Options{SecureCookies: &secure, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	ts := &testServer{env: env, srv: srv}
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	ctx := context.Background()

	victim := env.AddUser(t, "victim", "victim-password-1", store.RoleUser)
	wantStatus(t, b.postForm(fmt.Sprintf("/users/%d/delete", victim.User.ID), url.Values{"confirm": {"yes"}}), http.StatusSeeOther)
	want := fmt.Sprintf(`"user deleted" by=admin user=victim user_id=%d mailboxes_deleted=false`, victim.User.ID)
	if !audit.Has(want) {
		t.Errorf("no audit line %s in\n%s", want, audit)
	}

	mailbox, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: new("pop3"), Name: new("Support"),
		Server: new("pop.example.com"), Login: new("support"), Password: new("pop3-secret-1")})
	if err != nil {
		t.Fatal(err)
	}
	b.get("/mailboxes")
	wantStatus(t, b.postForm("/mailboxes/group", url.Values{"action": {"delete"}, "confirm": {"yes"},
		"id": {strconv.FormatInt(mailbox.ID, 10)}}), http.StatusSeeOther)
	want = fmt.Sprintf(`"mailbox deleted" by=admin mailbox=Support mailbox_id=%d messages=0`, mailbox.ID)
	if !audit.Has(want) {
		t.Errorf("no audit line %s in\n%s", want, audit)
	}
}
