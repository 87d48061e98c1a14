package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
)

// The sign-in routes: signed out they go to the login page; they take
// only IDs, and only of services with an OAuth2 client the user may use;
// the start redirects to the provider with PKCE and a state; a callback
// with a state not started in this session is a page saying so.
func TestOAuthRoutes(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	env := ts.env
	site, err := env.Store.SiteByID(ctx, env.Admin.User.SiteID)
	if err != nil {
		t.Fatal(err)
	}
	name, server, port := "Corporate Google", "imap.gmail.com", 993
	preset, clientID := "google", "client-1.apps.example"
	created, err := env.Service.CreateMailService(ctx, env.Admin, service.MailServiceInput{Site: &site.Code, Name: &name,
		Server: &server, Port: &port, OAuthPreset: &preset, OAuthClientID: &clientID})
	if err != nil {
		t.Fatal(err)
	}
	env.AddUser(t, "bob", "bob-password-1", "user")
	start := "/my/oauth/start?service=" + strconv.FormatInt(created.ID, 10)

	signedOut := ts.browser(t)
	if r := signedOut.get(start); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("signed out: %d %s", r.status, r.header.Get("Location"))
	}
	bob := ts.signIn(t, "bob", "bob-password-1")
	r := bob.get(start + "&login=bob%40gmail.com")
	if r.status != http.StatusSeeOther {
		t.Fatalf("start: %d\n%s", r.status, r.body)
	}
	target, err := url.Parse(r.header.Get("Location"))
	if err != nil || target.Host != "accounts.google.com" {
		t.Fatalf("start redirects to %s", r.header.Get("Location"))
	}
	q := target.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("login_hint") != "bob@gmail.com" ||
		q.Get("access_type") != "offline" || q.Get("redirect_uri") != ts.srv.URL+"/my/oauth/callback" || q.Get("client_id") != clientID {
		t.Errorf("authorisation URL: %s", target)
	}
	for _, path := range []string{"/my/oauth/start", "/my/oauth/start?service=01", "/my/oauth/start?service=abc",
		"/my/oauth/start?service=999999", "/my/oauth/start?mailbox=999999", "/my/oauth/start?service=1"} {
		if r := bob.get(path); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, r.status)
		}
	}
	if r := bob.get("/my/oauth/callback?state=" + q.Get("state") + "x&code=stolen"); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, "was not started in this browser") {
		t.Errorf("callback with a forged state: %d\n%s", r.status, r.body)
	}
	if r := bob.get("/my/oauth/callback?code=x&state=" + strings.Repeat("s", 100000)); r.status == http.StatusOK || r.status >= 500 {
		t.Errorf("callback with a huge state: %d", r.status)
	}
	// Another user's session cannot finish bob's sign-in.
	env.AddUser(t, "eve", "eve-password-1", "user")
	eve := ts.signIn(t, "eve", "eve-password-1")
	if r := eve.get("/my/oauth/callback?state=" + url.QueryEscape(q.Get("state")) + "&code=x"); r.status != http.StatusBadRequest {
		t.Errorf("eve with bob's state: %d", r.status)
	}
}
