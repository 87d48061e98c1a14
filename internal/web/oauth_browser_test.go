package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/testpeer"
)

// TestOAuthMailboxInBrowser is issue 15's OAuth2 "done when" in a real
// Chromium: an employee starts the sign-in, allows access on the consent
// page of the tests' own authorisation server, comes back to Pochta with
// a new mailbox, receives its mail from Dovecot (which takes the bearer
// token through its oauth2 passdb) and finds it in the list. A callback
// opened again (a replayed state) is refused with a page saying so.
func TestOAuthMailboxInBrowser(t *testing.T) {
	const address = "bob@example.test"
	provider := testpeer.StartOAuthServer(t, address)
	dovecot := testpeer.DovecotOAuth(t, provider.URL+"/introspect")
	dovecot.AddUser(address, "unused-password")
	for i, subject := range []string{"OAuth one", "OAuth two"} {
		raw := msgMail{From: "sender@example.com", To: address, Subject: subject, Date: msgDay(i + 1), Text: "Hello over OAuth2"}.raw()
		if err := dovecot.Deliver(address, raw); err != nil {
			t.Fatal(err)
		}
	}
	ts := newTestServer(t)
	ctx := context.Background()
	env := ts.env
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &[]string{"127.0.0.1/32"}}); err != nil {
		t.Fatal(err)
	}
	site, err := env.Store.SiteByID(ctx, env.Admin.User.SiteID)
	if err != nil {
		t.Fatal(err)
	}
	name, security, port := "Test provider", "none", dovecot.IMAPPort
	authURL, tokenURL, scopes := provider.URL+"/authorize", provider.URL+"/token", "imap openid email"
	created, err := env.Service.CreateMailService(ctx, env.Admin, service.MailServiceInput{Site: &site.Code, Name: &name,
		Server: &dovecot.Host, Port: &port, Security: &security, OAuthClientID: &provider.ClientID,
		OAuthClientSecret: &provider.ClientSecret, OAuthAuthURL: &authURL, OAuthTokenURL: &tokenURL, OAuthScopes: &scopes})
	if err != nil {
		t.Fatal(err)
	}
	env.AddUser(t, "bob", "bob-password-1", "user")

	browser := newChromium(t, ts)
	browser.signIn(t, "bob", "bob-password-1")
	// From the employee's own page: the service's card, then its button.
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/my/mailboxes/new?service="+strconv.FormatInt(created.ID, 10)),
		chromedp.WaitVisible(chromedp.CSS("[data-oauth-start]")))
	if got := browser.text(t, "[data-oauth-start]"); got != "Sign in with Test provider" {
		t.Errorf("sign-in button: %q", got)
	}
	browser.run(t, chromedp.Click(chromedp.CSS("[data-oauth-start]")), chromedp.WaitVisible(chromedp.CSS("#allow")))
	if got := browser.text(t, "h1"); !strings.Contains(got, address) {
		t.Errorf("consent page: %q", got)
	}
	if status := browser.submit(t, "#allow"); status != http.StatusOK {
		t.Fatalf("allow: status %d", status)
	}
	location, err := chromedp.Run(browser.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(location, ts.srv.URL+"/messages?mailbox_id=") {
		t.Fatalf("after consent the browser is at %s", location)
	}
	if got := browser.text(t, ".flash"); !strings.Contains(got, "The mailbox is connected") {
		t.Errorf("flash: %q", got)
	}

	// Receive mail now, as the owner, from the mailboxes page.
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/mailboxes"), chromedp.WaitVisible(chromedp.CSS(`form[action="/mailboxes/check"] button`)))
	browser.submit(t, `form[action="/mailboxes/check"] button`)
	if got := browser.text(t, ".check-results tbody"); !strings.Contains(got, address) || !strings.Contains(got, "Received 2 new messages") {
		t.Errorf("receive now: %q", got)
	}
	browser.run(t, chromedp.Navigate(location), chromedp.WaitVisible(chromedp.CSS("table")))
	if got := browser.text(t, "table tbody"); !strings.Contains(got, "OAuth one") || !strings.Contains(got, "OAuth two") {
		t.Errorf("messages list: %q", got)
	}

	// The mailbox's own page asks for no password: it signs in again.
	mailboxID := strings.TrimPrefix(location, ts.srv.URL+"/messages?mailbox_id=")
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/my/mailboxes/"+mailboxID), chromedp.WaitVisible(chromedp.CSS("form")))
	if got := browser.text(t, "form.my-mailbox-form"); !strings.Contains(got, "Signed in with the provider") || !strings.Contains(got, "Sign in again") {
		t.Errorf("the OAuth2 mailbox's page: %q", got)
	}
	passwordFields, err := chromedp.Run(browser.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#password").length`))
	if err != nil {
		t.Fatal(err)
	}
	if passwordFields != 0 {
		t.Error("the OAuth2 mailbox's page asks for a password")
	}

	// A second sign-in whose callback is opened twice: the second time the
	// state is spent.
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/my/oauth/start?service="+strconv.FormatInt(created.ID, 10)),
		chromedp.WaitVisible(chromedp.CSS("#allow")))
	browser.submit(t, "#allow")
	replay := provider.LastRedirect()
	browser.run(t, chromedp.Navigate(replay), chromedp.WaitVisible(chromedp.CSS(".alert-error")))
	if got := browser.text(t, ".alert-error"); !strings.Contains(got, "was already used") {
		t.Errorf("replayed callback: %q", got)
	}
}
