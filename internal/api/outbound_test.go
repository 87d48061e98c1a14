package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// The port-scan probe of issue 11 through the API: a user points "Test
// connection" of their own mailbox at listeners of the test's own on
// loopback.
func TestMailboxTestForUserKeepsOffInternalAddresses(t *testing.T) {
	h := newHarness(t)
	// Stopped, so that all the tests below fall in one minute.
	h.env.Clock.Set(time.Now())
	mine := addMailbox(t, h.env.Store, "Mine", h.userID)
	// The user's mailbox is an IMAP one: its test speaks IMAP.
	pop3 := servicetest.NewFakeServer(t, servicetest.FakeIMAPGreeting)
	ssh := servicetest.NewFakeServer(t, "SSH-2.0-OpenSSH_9.2p1 secret-banner")
	probe := func(server *servicetest.FakeServer) service.TestResult {
		t.Helper()
		body := fmt.Sprintf(`{"id":%d,"server":%q,"port":%d,"security":"none","login":"someone","password":"secret"}`, mine, server.Host, server.Port)
		rec := h.expect(t, http.StatusOK, h.user, "POST", "/api/v1/mailboxes/test", body)
		for _, banner := range []string{"SSH", "OpenSSH", "secret-banner"} {
			if strings.Contains(rec.Body.String(), banner) {
				t.Errorf("the answer tells the banner: %s", rec.Body)
			}
		}
		return decodeAs[service.TestResult](t, rec)
	}
	const blocked = "Pochta does not connect to internal addresses (loopback, private networks) for users; an administrator can allow networks in the settings"

	// 1, 2: refused in plain words without allowed networks.
	for _, server := range []*servicetest.FakeServer{pop3, ssh} {
		if result := probe(server); result.OK || result.Reason != "blocked" || result.Error != blocked {
			t.Errorf("test of port %d: %+v, want reason blocked", server.Port, result)
		}
	}
	if pop3.Connections()+ssh.Connections() != 0 {
		t.Errorf("refused tests connected: %d, %d", pop3.Connections(), ssh.Connections())
	}

	settings := decodeAs[service.Settings](t, h.expect(t, http.StatusOK, h.admin, "PATCH", "/api/v1/settings", `{"allowed_networks":["127.0.0.0/8"]}`))
	if len(settings.AllowedNetworks) != 1 || settings.AllowedNetworks[0] != "127.0.0.0/8" {
		t.Fatalf("allowed networks = %q", settings.AllowedNetworks)
	}
	// 3: through with loopback allowed.
	if result := probe(pop3); !result.OK || result.Messages != servicetest.FakePOP3Messages {
		t.Errorf("test with 127.0.0.0/8 allowed: %+v", result)
	}
	// 4: a non-POP3 greeting is said as such, never quoted.
	if result := probe(ssh); result.OK || result.Reason != "protocol" || result.Error != "The server does not answer as a mail server (POP3 or IMAP): check the port" {
		t.Errorf("test of the SSH port: %+v", result)
	}

	// 5 to 10 are within the limit of 10 a minute; the 11th is not.
	for range 6 {
		probe(pop3)
	}
	body := fmt.Sprintf(`{"id":%d,"server":%q,"port":%d,"security":"none","login":"someone","password":"secret"}`, mine, pop3.Host, pop3.Port)
	rec := h.expect(t, http.StatusTooManyRequests, h.user, "POST", "/api/v1/mailboxes/test", body)
	if got := decodeAs[errorBody](t, rec).Error; got != "Too many connection tests in a short time; wait a minute and try again" {
		t.Errorf("over the limit: %q", got)
	}
	if got := rec.Header().Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60", got)
	}
	// The limit is the user's: an admin's tests go on.
	system := servicetest.NewFakeServer(t, "+OK ready")
	body = fmt.Sprintf(`{"server":%q,"port":%d,"security":"none","login":"someone","password":"secret"}`, system.Host, system.Port)
	if result := decodeAs[service.TestResult](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/mailboxes/test", body)); !result.OK {
		t.Errorf("admin's test: %+v", result)
	}
}

// An admin testing a system mailbox on loopback is not limited by the
// guard.
func TestMailboxTestOfSystemMailboxOnLoopback(t *testing.T) {
	h := newHarness(t)
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	body := fmt.Sprintf(`{"type":"pop3","server":%q,"port":%d,"security":"none","login":"someone","password":"secret"}`, pop3.Host, pop3.Port)
	result := decodeAs[service.TestResult](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/mailboxes/test", body))
	if !result.OK || result.Messages != servicetest.FakePOP3Messages || result.Size != servicetest.FakePOP3Size {
		t.Errorf("admin's test of a system mailbox on loopback: %+v", result)
	}
}

func TestAllowedNetworksFieldError(t *testing.T) {
	h := newHarness(t)
	russian := h.addAdmin(t, "ivan", "ru")
	tests := []struct{ auth, body, want string }{
		{h.admin, `{"allowed_networks":["10.0.0.0/8, intranet"]}`, `Allowed networks: "intranet" is not an address or network`},
		{russian, `{"allowed_networks":["300.1.2.3"]}`, `Поле «Разрешённые внутренние сети»: "300.1.2.3" — не адрес и не сеть`},
	}
	for _, test := range tests {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, test.auth, "PATCH", "/api/v1/settings", test.body))
		if got.Fields["allowed_networks"] != test.want {
			t.Errorf("%s: %q, want %q", test.body, got.Fields["allowed_networks"], test.want)
		}
	}
}
