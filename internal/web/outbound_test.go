package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service/servicetest"
)

func TestSettingsAllowedNetworks(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/settings")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<label class="field-label" for="allowed_networks">Allowed networks</label>`, `name="allowed_networks"`,
		"List here those users&#39; mailboxes may still reach")

	r = b.postForm("/settings", url.Values{"allowed_networks": {"10.1.2.3/8,\r\n192.168.1.5  fd00::/8"}})
	wantStatus(t, r, http.StatusSeeOther)
	if got := strings.Join(ts.settings(t).AllowedNetworks, " "); got != "10.0.0.0/8 192.168.1.5 fd00::/8" {
		t.Fatalf("saved %q", got)
	}
	wantBody(t, b.get("/settings"), ">10.0.0.0/8\n192.168.1.5\nfd00::/8</textarea>")

	// A bad entry is named under the field, and what was typed stays.
	r = b.postForm("/settings", url.Values{"allowed_networks": {"10.0.0.0/8 intranet"}, "connection_timeout": {"0"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="allowed_networks-error"`, "Allowed networks: &#34;intranet&#34; is not an address or network",
		">10.0.0.0/8 intranet</textarea>", `id="connection_timeout-error"`)
	if got := strings.Join(ts.settings(t).AllowedNetworks, " "); got != "10.0.0.0/8 192.168.1.5 fd00::/8" {
		t.Errorf("a refused form changed the setting: %q", got)
	}
	// A form without the field leaves the setting as it is; an empty
	// field empties it.
	wantStatus(t, b.postForm("/settings", url.Values{"log_keep_days": {"8"}}), http.StatusSeeOther)
	if got := ts.settings(t).AllowedNetworks; len(got) != 3 {
		t.Errorf("after a form without the field: %q", got)
	}
	wantStatus(t, b.postForm("/settings", url.Values{"allowed_networks": {""}}), http.StatusSeeOther)
	if got := ts.settings(t).AllowedNetworks; len(got) != 0 {
		t.Errorf("after an empty field: %q", got)
	}
}

// "Test connection" in the form says the limit in plain words where a
// test's outcome goes.
func TestMailboxFormTestConnectionLimit(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	form := pop3Values("Sales")
	form.Set("server", pop3.Host)
	form.Set("port", pop3.PortText())
	form.Set("test_connection", "1")
	for range 10 {
		wantBody(t, b.postForm("/mailboxes", form), "Connected: 2 messages")
	}
	r := b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusTooManyRequests)
	wantBody(t, r, `<p class="alert-title">Too many connection tests in a short time; wait a minute and try again</p>`, `value="`+pop3.Host+`"`)
}
