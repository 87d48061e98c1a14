package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// TestAuditLines: a change made through the API logs the service's audit
// line, the same line the web admin's change logs (the web's test of the
// same name wants the same text).
func TestAuditLines(t *testing.T) {
	audit := &servicetest.LogRecorder{}
	env := servicetest.NewLogged(t, slog.New(audit))
	h := &harness{env: env, handler: New(env.Service, slog.New(slog.DiscardHandler))}
	admin := h.tokenFor(t, env.Admin)
	ctx := context.Background()

	victim := env.AddUser(t, "victim", userPassword, store.RoleUser)
	h.expect(t, http.StatusNoContent, admin, "DELETE", fmt.Sprintf("/api/v1/users/%d", victim.User.ID), "")
	want := fmt.Sprintf(`"user deleted" by=admin user=victim user_id=%d mailboxes_deleted=false`, victim.User.ID)
	if !audit.Has(want) {
		t.Errorf("no audit line %s in\n%s", want, audit)
	}

	mailbox, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: new("pop3"), Name: new("Support"),
		Server: new("pop.example.com"), Login: new("support"), Password: new("pop3-secret-1")})
	if err != nil {
		t.Fatal(err)
	}
	h.expect(t, http.StatusNoContent, admin, "DELETE", fmt.Sprintf("/api/v1/mailboxes/%d", mailbox.ID), "")
	want = fmt.Sprintf(`"mailbox deleted" by=admin mailbox=Support mailbox_id=%d messages=0`, mailbox.ID)
	if !audit.Has(want) {
		t.Errorf("no audit line %s in\n%s", want, audit)
	}
}
