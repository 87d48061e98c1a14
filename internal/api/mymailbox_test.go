package api

import (
	"fmt"
	"net/http"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// "Connect a mailbox" through the API: a user tests a new IMAP mailbox
// through an active mail service of their site (which fills the server),
// and not through a switched-off one or none; then creates it within the
// per-user limit.
func TestUserConnectsIMAPThroughAPI(t *testing.T) {
	h := newHarness(t)
	imap := servicetest.NewFakeServer(t, servicetest.FakeIMAPGreeting)
	h.expect(t, http.StatusOK, h.admin, "PATCH", "/api/v1/settings", `{"allowed_networks":["127.0.0.0/8"],"user_mailboxes_per_user":1}`)
	active := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/services",
		fmt.Sprintf(`{"site":"s1","name":"Loopback","server":%q,"port":%d,"security":"none"}`, imap.Host, imap.Port)))
	off := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/services",
		fmt.Sprintf(`{"site":"s1","name":"Off","active":false,"server":%q,"port":%d,"security":"none"}`, imap.Host, imap.Port)))

	result := decodeAs[service.TestResult](t, h.expect(t, http.StatusOK, h.user, "POST", "/api/v1/mailboxes/test",
		fmt.Sprintf(`{"type":"imap","service_id":%d,"login":"me@example.com","password":"secret"}`, active.ID)))
	if !result.OK || result.Messages != servicetest.FakePOP3Messages {
		t.Errorf("test through the service: %+v", result)
	}
	invalid := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.user, "POST", "/api/v1/mailboxes/test",
		fmt.Sprintf(`{"type":"imap","service_id":%d,"login":"me@example.com","password":"secret"}`, off.ID)))
	if invalid.Fields["service_id"] == "" {
		t.Errorf("a switched-off service: %+v", invalid)
	}
	invalid = decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.user, "POST", "/api/v1/mailboxes/test",
		fmt.Sprintf(`{"type":"imap","server":%q,"port":%d,"login":"me@example.com","password":"secret"}`, imap.Host, imap.Port)))
	if invalid.Fields["service_id"] == "" {
		t.Errorf("no service: %+v", invalid)
	}
	h.expect(t, http.StatusForbidden, h.user, "POST", "/api/v1/mailboxes/test",
		fmt.Sprintf(`{"type":"pop3","server":%q,"port":%d,"login":"me","password":"secret"}`, imap.Host, imap.Port))

	body := fmt.Sprintf(`{"type":"imap","name":"Mine","service_id":%d,"login":"me@example.com","password":"secret","folders":["INBOX","Sent"],"sync_range":"week","delete_from_server":true}`, active.ID)
	created := decodeAs[service.MailboxView](t, h.expect(t, http.StatusCreated, h.user, "POST", "/api/v1/mailboxes", body))
	if created.OwnerID == nil || *created.OwnerID != h.userID || !created.DeleteFromServer || len(created.Folders) != 2 || created.Server != imap.Host {
		t.Errorf("created: %+v", created)
	}
	h.expect(t, http.StatusConflict, h.user, "POST", "/api/v1/mailboxes", body)
}
