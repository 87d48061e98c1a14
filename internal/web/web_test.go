package web

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// testServer is a web admin over a fresh service.
type testServer struct {
	env *servicetest.Env
	srv *httptest.Server
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	env := servicetest.New(t)
	secure := false
	srv := httptest.NewServer(New(env.Service, Options{SecureCookies: &secure, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return &testServer{env: env, srv: srv}
}

// browser is an HTTP client with cookies that does not follow redirects, so
// tests see each 303.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string // the last CSRF token seen on a page
}

func (ts *testServer) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: ts.srv.URL, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

type result struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) result {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfPattern.FindSubmatch(body); m != nil {
		b.csrf = html.UnescapeString(string(m[1]))
	}
	return result{status: resp.StatusCode, body: string(body), header: resp.Header}
}

func (b *browser) get(path string) result {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form as is; postForm adds the current CSRF token.
func (b *browser) post(path string, form url.Values) result {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) postForm(path string, form url.Values) result {
	b.t.Helper()
	if b.csrf == "" {
		b.t.Fatal("no CSRF token seen yet")
	}
	form.Set("csrf_token", b.csrf)
	return b.post(path, form)
}

// signIn opens the login page and signs in, failing the test otherwise.
func (ts *testServer) signIn(t *testing.T, login, password string) *browser {
	t.Helper()
	b := ts.browser(t)
	if r := b.get("/login"); r.status != http.StatusOK {
		t.Fatalf("GET /login: %d", r.status)
	}
	r := b.postForm("/login", url.Values{"login": {login}, "password": {password}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign in as %s: status %d, want 303\n%s", login, r.status, r.body)
	}
	b.get("/messages") // picks up the session's CSRF token
	return b
}

func (ts *testServer) addUser(t *testing.T, login, role string) *service.Actor {
	t.Helper()
	return ts.env.AddUser(t, login, "password-"+login, role)
}

func (ts *testServer) settings(t *testing.T) service.Settings {
	t.Helper()
	settings, err := ts.env.Service.Settings(context.Background(), ts.env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return settings
}

func wantStatus(t *testing.T, r result, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
}

func wantBody(t *testing.T, r result, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if !strings.Contains(r.body, text) {
			t.Errorf("body lacks %q\n%s", text, r.body)
		}
	}
}

func wantNoBody(t *testing.T, r result, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if strings.Contains(r.body, text) {
			t.Errorf("body has %q", text)
		}
	}
}

func TestSignedOutRedirectsToLogin(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	r := b.get("/")
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "/login" {
		t.Errorf("Location %q, want /login", got)
	}
	r = b.get("/settings")
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "/login?next=%2Fsettings" {
		t.Errorf("Location %q", got)
	}
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t)

	t.Run("ok", func(t *testing.T) {
		b := ts.browser(t)
		b.get("/login?next=/log")
		r := b.postForm("/login", url.Values{"login": {"admin"}, "password": {servicetest.AdminPassword}, "next": {"/log"}})
		wantStatus(t, r, http.StatusSeeOther)
		if got := r.header.Get("Location"); got != "/log" {
			t.Errorf("Location %q, want /log", got)
		}
		cookie := findCookie(r.header, sessionCookie)
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
			t.Fatalf("session cookie %+v", cookie)
		}
		wantStatus(t, b.get("/log"), http.StatusOK)
		// Signed in, the login page sends you on.
		wantStatus(t, b.get("/login"), http.StatusSeeOther)
	})

	t.Run("open redirect refused", func(t *testing.T) {
		b := ts.browser(t)
		b.get("/login")
		r := b.postForm("/login", url.Values{"login": {"admin"}, "password": {servicetest.AdminPassword}, "next": {"//evil.example/"}})
		wantStatus(t, r, http.StatusSeeOther)
		if got := r.header.Get("Location"); got != "/" {
			t.Errorf("Location %q, want /", got)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		b := ts.browser(t)
		b.get("/login")
		r := b.postForm("/login", url.Values{"login": {"admin"}, "password": {"nope"}})
		wantStatus(t, r, http.StatusUnauthorized)
		wantBody(t, r, "Wrong login or password", `value="admin"`)
		if findCookie(r.header, sessionCookie) != nil {
			t.Error("a failed sign-in set a session cookie")
		}
	})

	t.Run("throttled", func(t *testing.T) {
		ts.addUser(t, "victim", store.RoleUser)
		ts.env.Clock.Set(time.Now())
		b := ts.browser(t)
		b.get("/login")
		for range 3 {
			wantStatus(t, b.postForm("/login", url.Values{"login": {"victim"}, "password": {"wrong-password"}}), http.StatusUnauthorized)
		}
		r := b.postForm("/login", url.Values{"login": {"victim"}, "password": {"wrong-password"}})
		wantStatus(t, r, http.StatusTooManyRequests)
		wantBody(t, r, "Too many failed attempts from your address. Try again in 1 s.")
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After %q, want 1", got)
		}
		// Even the right password waits: it is not checked while the
		// address waits. After the wait it is taken.
		wantStatus(t, b.postForm("/login", url.Values{"login": {"victim"}, "password": {"password-victim"}}), http.StatusTooManyRequests)
		ts.env.Clock.Advance(time.Second)
		wantStatus(t, b.postForm("/login", url.Values{"login": {"victim"}, "password": {"password-victim"}}), http.StatusSeeOther)
	})

	t.Run("login CSRF", func(t *testing.T) {
		b := ts.browser(t)
		b.get("/login")
		r := b.post("/login", url.Values{"login": {"admin"}, "password": {servicetest.AdminPassword}})
		wantStatus(t, r, http.StatusForbidden)
		r = b.post("/login", url.Values{"login": {"admin"}, "password": {servicetest.AdminPassword}, "csrf_token": {"forged"}})
		wantStatus(t, r, http.StatusForbidden)
		// A client that never saw the login page has no cookie to match.
		fresh := ts.browser(t)
		r = fresh.post("/login", url.Values{"login": {"admin"}, "password": {servicetest.AdminPassword}, "csrf_token": {"x"}})
		wantStatus(t, r, http.StatusForbidden)
	})
}

func findCookie(header http.Header, name string) *http.Cookie {
	for _, cookie := range (&http.Response{Header: header}).Cookies() {
		if cookie.Name == name {
			return cookie
		}
	}
	return nil
}

func TestLogout(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.postForm("/logout", url.Values{})
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, b.get("/settings"), http.StatusSeeOther)
}

func TestSecureCookieAuto(t *testing.T) {
	env := servicetest.New(t)
	handler := New(env.Service, Options{Logger: slog.New(slog.DiscardHandler)})
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if cookie := findCookie(rec.Header(), loginCSRFCookie); cookie == nil || !cookie.Secure {
		t.Errorf("behind HTTPS the cookie is not Secure: %+v", cookie)
	}
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	if cookie := findCookie(rec.Header(), loginCSRFCookie); cookie == nil || cookie.Secure {
		t.Errorf("over plain HTTP the cookie is Secure: %+v", cookie)
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	for _, path := range []string{"/login", "/", "/static/app.css", "/no-such-page"} {
		r := b.get(path)
		for name, want := range map[string]string{
			"Content-Security-Policy": contentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
			"X-Frame-Options":         "DENY",
		} {
			if got := r.header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
	}
	csp := contentSecurityPolicy
	for _, part := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
		"frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP lacks %q", part)
		}
	}
}

// TestNoInlineScriptOrStyle keeps the templates within the CSP.
func TestNoInlineScriptOrStyle(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=`)
	for _, path := range []string{"/login", "/messages", "/log", "/settings", "/sites", "/sites/new", "/sites/s1", "/users", "/users/new", "/users/1", "/profile", "/services", "/services/new", "/services/1", "/services/1/delete"} {
		r := b.get(path)
		if m := inline.FindString(r.body); m != "" {
			t.Errorf("%s has inline script or style: %q", path, m)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	r := b.get("/static/app.css")
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	wantStatus(t, b.get("/static/app.js"), http.StatusOK)
	wantStatus(t, b.get("/static/"), http.StatusNotFound)
	wantStatus(t, b.get("/static/nope.css"), http.StatusNotFound)
}

func TestCSRF(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	before := ts.settings(t)
	form := url.Values{"log_keep_days": {"99"}}

	r := b.post("/settings", form)
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "The form has expired or came from another site")

	form.Set("csrf_token", "wrong-"+b.csrf)
	wantStatus(t, b.post("/settings", form), http.StatusForbidden)

	if after := ts.settings(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("settings changed by a forged form: %+v", after)
	}

	// A token of another session does not count either.
	other := ts.signIn(t, "admin", servicetest.AdminPassword)
	form.Set("csrf_token", other.csrf)
	wantStatus(t, b.post("/settings", form), http.StatusForbidden)

	r = b.post("/logout", url.Values{})
	wantStatus(t, r, http.StatusForbidden)
	wantStatus(t, b.get("/settings"), http.StatusOK) // still signed in

	// The right token works.
	r = b.postForm("/settings", url.Values{"log_keep_days": {"99"}})
	wantStatus(t, r, http.StatusSeeOther)
	if got := ts.settings(t).LogKeepDays; got != 99 {
		t.Fatalf("LogKeepDays = %d, want 99", got)
	}
}

func TestNavPagesAdmin(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	pages := map[string]string{
		"/messages":  "<h1>Messages</h1>",
		"/log":       "<h1>Mail log</h1>",
		"/rules":     "<h1>Rules</h1>",
		"/mailboxes": "<h1>Mailboxes</h1>",
		"/services":  "<h1>Mail services</h1>",
		"/settings":  "<h1>Module settings</h1>",
		"/sites":     "<h1>Sites</h1>",
		"/users":     "<h1>Users</h1>",
		"/profile":   "<h1>Profile</h1>",
	}
	for path, heading := range pages {
		r := b.get(path)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, heading, `href="/settings"`, `href="/users"`, "Services › Mail", "Administration")
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, r.header.Get("Cache-Control"))
		}
	}
	wantBody(t, b.get("/messages"), "No mailboxes yet", `href="/mailboxes/new?type=pop3">Add a mailbox</a>`, `href="/messages.csv"`)
	wantBody(t, b.get("/rules"), "No rules yet", `href="/rules/new?template=webhook"`)
	wantBody(t, b.get("/messages"), `href="/rules"`)
	r := b.get("/settings")
	wantBody(t, r, `id="smtp-server"`)
	wantNoBody(t, r, "comes with the SMTP server")

	r = b.get("/")
	wantStatus(t, r, http.StatusSeeOther)
	if r.header.Get("Location") != "/messages" {
		t.Errorf("/ goes to %q", r.header.Get("Location"))
	}
	wantStatus(t, b.get("/no-such-page"), http.StatusNotFound)
	wantStatus(t, b.get("/users/abc"), http.StatusNotFound)
	wantStatus(t, b.get("/users/9999"), http.StatusNotFound)
	wantStatus(t, b.get("/sites/nope"), http.StatusNotFound)
}

func TestRoles(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "audit", store.RoleAuditor)
	ts.addUser(t, "joe", store.RoleUser)

	t.Run("auditor reads settings, cannot save", func(t *testing.T) {
		b := ts.signIn(t, "audit", "password-audit")
		r := b.get("/settings")
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, "<fieldset class=\"plain\" disabled>", "You can view this page but not change it")
		wantNoBody(t, r, ">Save</button>")
		before := ts.settings(t)
		r = b.postForm("/settings", url.Values{"checkbox": {"save_source"}, "log_keep_days": {"44"}})
		wantStatus(t, r, http.StatusForbidden)
		if after := ts.settings(t); !reflect.DeepEqual(after, before) {
			t.Fatalf("auditor changed settings: %+v", after)
		}
		r = b.get("/sites")
		wantStatus(t, r, http.StatusOK)
		wantNoBody(t, r, "Add site", "/sites/s1/delete")
		wantStatus(t, b.get("/sites/new"), http.StatusForbidden)
		r = b.get("/users")
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, ">joe<")
		wantNoBody(t, r, "Add user")
		wantStatus(t, b.postForm("/users", url.Values{"login": {"x"}, "password": {"long-enough-1"}, "site": {"s1"}, "role": {"user"}}), http.StatusForbidden)
	})

	t.Run("user", func(t *testing.T) {
		b := ts.signIn(t, "joe", "password-joe")
		wantStatus(t, b.get("/settings"), http.StatusForbidden)
		r := b.get("/messages")
		wantNoBody(t, r, `href="/settings"`, `href="/sites"`, `href="/users"`)
		wantBody(t, r, `href="/log"`, `href="/profile"`)

		sites, _ := ts.env.Service.Sites(context.Background(), ts.env.Admin)
		r = b.postForm("/sites", url.Values{"code": {"s2"}, "name": {"Second"}, "charset": {"UTF-8"}, "language": {"en"}})
		wantStatus(t, r, http.StatusForbidden)
		after, _ := ts.env.Service.Sites(context.Background(), ts.env.Admin)
		if len(after) != len(sites) {
			t.Fatalf("a user created a site: %v", after)
		}
		wantStatus(t, b.postForm("/sites/s1", url.Values{"name": {"Mine"}}), http.StatusForbidden)
		wantStatus(t, b.postForm("/sites/s1/delete", url.Values{"confirm": {"yes"}}), http.StatusForbidden)
		wantStatus(t, b.postForm("/settings", url.Values{"log_keep_days": {"3"}}), http.StatusForbidden)
		wantStatus(t, b.get("/users/1"), http.StatusForbidden)

		// The log is the service's to filter: no mailboxes, no entries.
		if err := ts.env.Store.AddLog(context.Background(), store.LogEntry{Level: store.LevelInfo, Text: "secret entry"}); err != nil {
			t.Fatal(err)
		}
		r = b.get("/log")
		wantStatus(t, r, http.StatusOK)
		wantNoBody(t, r, "secret entry")
		wantBody(t, r, "No entries match")
	})
}

func TestSettings(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/settings")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Connection timeout (seconds)", "Keep log for (days)", "Save message source", `name="checkbox" value="save_source"`,
		">Save</button>", `id="connection_timeout" name="connection_timeout" value="30"`)
	// The SMTP server's settings and its panel (no server runs in this
	// harness: stopped, and its buttons find none).
	wantBody(t, r, "Internal SMTP server", "SMTP max recipients per message", `name="smtp_tls_certificate"`,
		`id="smtp-server"`, "<strong>Stopped</strong>", "Messages received: 0. Connections: 0 in all, 0 now.", `value="start"`)
	wantStatus(t, b.postForm("/settings/smtp", url.Values{"action": {"start"}}), http.StatusNotFound)

	t.Run("save", func(t *testing.T) {
		form := url.Values{"checkbox": {"save_source", "check_spam"}, "check_spam": {"1"}, "log_keep_days": {"30"}, "connection_timeout": {"45"}}
		r := b.postForm("/settings", form)
		wantStatus(t, r, http.StatusSeeOther)
		got := ts.settings(t)
		if got.LogKeepDays != 30 || got.ConnectionTimeout != 45 || got.SaveSource || !got.CheckSpam || !got.SaveAttachments {
			t.Fatalf("saved %+v", got)
		}
		r = b.get("/settings")
		wantBody(t, r, "Settings saved", `name="log_keep_days" value="30"`)
		// The flash shows once.
		wantNoBody(t, b.get("/settings"), "Settings saved")
	})

	t.Run("validation error", func(t *testing.T) {
		before := ts.settings(t)
		r := b.postForm("/settings", url.Values{"connection_timeout": {"0"}, "log_keep_days": {"12"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "Connection timeout (seconds) must be a whole number from 1 to 600", `class="field-error" id="connection_timeout-error"`,
			`href="#connection_timeout"`, `name="connection_timeout" value="0"`, `name="log_keep_days" value="12"`)
		if after := ts.settings(t); !reflect.DeepEqual(after, before) {
			t.Fatalf("invalid form saved: %+v", after)
		}
		r = b.postForm("/settings", url.Values{"connection_timeout": {"abc"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "Connection timeout (seconds) must be a whole number")
		// An unreadable field and one out of range are both reported at once.
		r = b.postForm("/settings", url.Values{"connection_timeout": {"0"}, "log_keep_days": {"twelve"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `id="connection_timeout-error"`, `id="log_keep_days-error"`, "Connection timeout (seconds) must be a whole number from 1 to 600")
	})
}

func TestLogPage(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	levels := []string{store.LevelInfo, store.LevelRequest, store.LevelReply, store.LevelError}
	var entries []store.LogEntry
	for i := range 120 {
		entries = append(entries, store.LogEntry{Time: base.Add(time.Duration(i) * time.Minute), Level: levels[i%4], Type: "pop3",
			Text: "entry " + strconv.Itoa(i)})
	}
	if err := ts.env.Store.AddLog(ctx, entries...); err != nil {
		t.Fatal(err)
	}
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	r := b.get("/log")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, ">entry 119<", ">entry 70<", "level-error", "level-request", "level-reply", "level-info", "01 Mar 2025 13:59", "Older")
	wantNoBody(t, r, ">entry 69<")
	if strings.Index(r.body, ">entry 119<") > strings.Index(r.body, ">entry 118<") {
		t.Error("not newest first")
	}
	older := regexp.MustCompile(`href="(/log\?before=\d+)"`).FindStringSubmatch(r.body)
	if older == nil {
		t.Fatal("no Older link")
	}
	r = b.get(html.UnescapeString(older[1]))
	wantBody(t, r, ">entry 69<", ">entry 20<", "Newest")
	wantNoBody(t, r, ">entry 70<")

	r = b.get("/log?level=error&since=2025-03-01T12:30&until=2025-03-01T13:00")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, ">entry 31<", ">entry 59<")
	wantNoBody(t, r, ">entry 27<", ">entry 60<", ">entry 30<", "Older")

	r = b.get("/log?message_id=12345")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "No entries match")

	r = b.get("/log?since=yesterday&mailbox_id=x")
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "From is not valid", "Mailbox ID is not valid")
}

func TestSites(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/sites")
	wantBody(t, r, ">s1<", "Default site", "Add site")

	r = b.postForm("/sites", url.Values{"code": {"bad code"}, "name": {""}, "charset": {"nope"}, "language": {"en"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Code may hold only Latin letters", "Name is required", "Charset is not a character set Pochta knows", `value="bad code"`)

	// Text no backend stores alike is a mistake in the form, not a 500.
	r = b.postForm("/sites", url.Values{"code": {"s3"}, "name": {"nul\x00inside"}, "charset": {"UTF-8"}, "language": {"en"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "The text holds a NUL character or is not valid UTF-8")

	r = b.postForm("/sites", url.Values{"code": {"s2"}, "name": {"Second"}, "domain": {"two.example"}, "charset": {"windows-1251"}, "language": {"ru"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.header.Get("Location") != "/sites/s2" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	r = b.get("/sites/s2")
	wantBody(t, r, "Site created", `value="Second"`, "two.example")

	r = b.postForm("/sites/s2", url.Values{"name": {"Second site"}, "domain": {"two.example"}, "charset": {"UTF-8"}, "language": {"ru"}})
	wantStatus(t, r, http.StatusSeeOther)
	site, err := ts.env.Service.Site(context.Background(), ts.env.Admin, "s2")
	if err != nil || site.Name != "Second site" || site.Charset != "UTF-8" {
		t.Fatalf("site %+v, %v", site, err)
	}

	// Without confirm=yes a delete only asks.
	r = b.postForm("/sites/s2/delete", url.Values{})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete the site “Second site” (s2)?", `name="confirm" value="yes"`)
	wantStatus(t, b.get("/sites/s2/delete"), http.StatusOK)
	if _, err := ts.env.Service.Site(context.Background(), ts.env.Admin, "s2"); err != nil {
		t.Fatal("deleted without confirmation")
	}
	r = b.postForm("/sites/s2/delete", url.Values{"confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := ts.env.Service.Site(context.Background(), ts.env.Admin, "s2"); err == nil {
		t.Fatal("site not deleted")
	}

	// A site with users cannot go.
	r = b.postForm("/sites/s1/delete", url.Values{"confirm": {"yes"}})
	wantStatus(t, r, http.StatusConflict)
	wantBody(t, r, "The site still has users or mailboxes")
}

func TestUsers(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	r := b.postForm("/users", url.Values{"site": {"s1"}, "login": {""}, "email": {"not-mail"}, "password": {"short"}, "role": {"user"},
		"checkbox": {"active"}, "active": {"1"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Login is required", "E-mail must be an e-mail address", "Password must be at least 8 characters long")
	wantNoBody(t, r, "short") // the password is never sent back

	r = b.postForm("/users", url.Values{"site": {"s1"}, "login": {"anna"}, "email": {"anna@example.com"}, "name": {"Anna"},
		"password": {"anna-password"}, "role": {"auditor"}, "checkbox": {"active"}, "active": {"1"}, "language": {"ru"}})
	wantStatus(t, r, http.StatusSeeOther)
	location := r.header.Get("Location")
	r = b.get(location)
	wantBody(t, r, "User created", `value="anna"`, `value="anna@example.com"`, "Create API token")
	wantNoBody(t, r, "anna-password")

	r = b.get("/users")
	wantBody(t, r, ">anna<", "anna@example.com", "Auditor", "never")

	r = b.postForm(location+"/token", url.Values{"token_name": {"script"}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "will not be shown again")
	token := regexp.MustCompile(`id="new-token">([^<]+)<`).FindStringSubmatch(r.body)
	if token == nil {
		t.Fatalf("no token shown\n%s", r.body)
	}
	if actor, err := ts.env.Service.TokenActor(context.Background(), token[1]); err != nil || actor.User.Login != "anna" {
		t.Fatalf("token actor %v, %v", actor, err)
	}
	wantNoBody(t, b.get(location), token[1])

	// Unticking "active" deactivates; an empty password keeps the old one.
	r = b.postForm(location, url.Values{"site": {"s1"}, "login": {"anna"}, "email": {"anna@example.com"}, "name": {"Anna K"},
		"password": {""}, "role": {"auditor"}, "checkbox": {"active"}, "language": {""}})
	wantStatus(t, r, http.StatusSeeOther)
	user, err := ts.env.Store.UserByLogin(context.Background(), "anna")
	if err != nil || user.Active || user.Name != "Anna K" || user.Language != "" {
		t.Fatalf("user %+v, %v", user, err)
	}
	if _, err := ts.env.Service.Login(context.Background(), "anna", "anna-password", ""); err == nil {
		t.Fatal("inactive user signed in")
	}

	// The question names what stays behind: her user mailbox.
	services, err := ts.env.Service.MailServices(context.Background(), ts.env.Admin, store.MailServiceFilter{})
	if err != nil || len(services) == 0 {
		t.Fatalf("services %v, %v", services, err)
	}
	if _, err := ts.env.Service.CreateMailbox(context.Background(), ts.env.Admin, service.MailboxInput{Type: new("imap"), Name: new("Anna's mail"),
		ServiceID: &services[0].ID, OwnerID: &user.ID, Server: new("imap.example.com"), Login: new("anna"), Password: new("imap-password")}); err != nil {
		t.Fatal(err)
	}
	r = b.get(location + "/delete")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete the user anna?", "Their user mailboxes (1) hold the mail of their own accounts",
		`<input type="checkbox" name="delete_mailboxes" value="yes"> Also delete their 1 user mailboxes and the mail in them`)

	r = b.postForm(location+"/delete", url.Values{"confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := ts.env.Store.UserByLogin(context.Background(), "anna"); err == nil {
		t.Fatal("user not deleted")
	}
	// Without the tick her mailbox stays, switched off and without an owner.
	page, err := ts.env.Store.Mailboxes(context.Background(), store.MailboxFilter{Name: "Anna's mail"}, store.MailboxSort{}, "", 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].Active || page.Items[0].OwnerID != 0 {
		t.Fatalf("Anna's mailbox after deleting her: %+v, %v", page.Items, err)
	}
	// With the tick, a user's mailboxes go with them.
	bert := ts.addUser(t, "bert", store.RoleUser).User.ID
	if _, err := ts.env.Service.CreateMailbox(context.Background(), ts.env.Admin, service.MailboxInput{Type: new("imap"), Name: new("Bert's mail"),
		ServiceID: &services[0].ID, OwnerID: &bert, Server: new("imap.example.com"), Login: new("bert"), Password: new("imap-password")}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.postForm("/users/"+strconv.FormatInt(bert, 10)+"/delete", url.Values{"confirm": {"yes"}, "delete_mailboxes": {"yes"}}), http.StatusSeeOther)
	if page, err := ts.env.Store.Mailboxes(context.Background(), store.MailboxFilter{Name: "Bert's mail"}, store.MailboxSort{}, "", 10); err != nil || len(page.Items) != 0 {
		t.Fatalf("Bert's mailbox after deleting him with it: %+v, %v", page.Items, err)
	}
	// The last admin stays.
	r = b.postForm("/users/1/delete", url.Values{"confirm": {"yes"}})
	wantStatus(t, r, http.StatusConflict)
	wantBody(t, r, "The last active administrator cannot be removed")
}

func TestProfileAndLanguage(t *testing.T) {
	ts := newTestServer(t)

	t.Run("admin switches language", func(t *testing.T) {
		b := ts.signIn(t, "admin", servicetest.AdminPassword)
		r := b.postForm("/profile/language", url.Values{"language": {"ru"}, "back": {"/settings"}})
		wantStatus(t, r, http.StatusSeeOther)
		if r.header.Get("Location") != "/settings" {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		r = b.get("/settings")
		wantBody(t, r, "Настройки модуля", "Журнал работы", "Время ожидания соединения (секунды)", `lang="ru"`)
		wantStatus(t, b.postForm("/profile/language", url.Values{"language": {"en"}, "back": {"https://evil.example/"}}), http.StatusSeeOther)
		wantBody(t, b.get("/settings"), "Module settings")
	})

	t.Run("user edits own profile", func(t *testing.T) {
		ts.addUser(t, "joe", store.RoleUser)
		b := ts.signIn(t, "joe", "password-joe")
		r := b.postForm("/profile", url.Values{"name": {"Joe"}, "email": {"joe@example.com"}, "language": {""},
			"password": {"new-password-1"}, "password_repeat": {"typo"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "The passwords do not match")
		r = b.postForm("/profile", url.Values{"name": {"Joe"}, "email": {"joe@example.com"}, "language": {"ru"},
			"password": {"new-password-1"}, "password_repeat": {"new-password-1"}})
		wantStatus(t, r, http.StatusSeeOther)
		r = b.get("/profile")
		wantBody(t, r, "Профиль сохранён", `value="Joe"`)
		if _, err := ts.env.Service.Login(context.Background(), "joe", "new-password-1", ""); err != nil {
			t.Fatalf("new password: %v", err)
		}
	})
}

func TestRussianNavigation(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "ivan", store.RoleAuditor)
	ru := "ru"
	if _, err := ts.env.Service.UpdateUser(context.Background(), ts.env.Admin, mustUserID(t, ts, "ivan"), service.UserInput{Language: &ru}); err != nil {
		t.Fatal(err)
	}
	b := ts.signIn(t, "ivan", "password-ivan")
	r := b.get("/log")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Сервисы › Почта", "Письма", "Журнал работы", "Почтовые ящики", "Почтовые сервисы", "Настройки",
		"Администрирование", "Сайты", "Пользователи", "Выйти", "Подходящих записей нет")
	wantBody(t, r, `href="/rules"`, "Правила")
	wantNoBody(t, r, ">Messages<", ">Mail log<")
	wantBody(t, b.get("/messages"), "Писем пока нет", "Везде")

	// Before sign-in the language comes from the browser.
	anon := ts.browser(t)
	req, _ := http.NewRequest(http.MethodGet, ts.srv.URL+"/login", nil)
	req.Header.Set("Accept-Language", "ru-RU,ru;q=0.9,en;q=0.8")
	wantBody(t, anon.do(req), "Вход в Pochta", "Войти")
}

func mustUserID(t *testing.T, ts *testServer, login string) int64 {
	t.Helper()
	user, err := ts.env.Store.UserByLogin(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	return user.ID
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"":                  "/",
		"/log?level=error":  "/log?level=error",
		"//evil.example":    "/",
		"/\\evil.example":   "/",
		"https://evil.test": "/",
		"log":               "/",
		"/a\r\nSet-Cookie:": "/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

// A user makes an API token in the profile (its secret shown once, on the
// page that answers, never in a redirect), sees it listed without the
// secret, and revokes it after a confirmation; it then stops working.
func TestProfileAPITokens(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "tina", store.RoleUser)
	b := ts.signIn(t, "tina", "password-tina")
	wantBody(t, b.get("/profile"), "API tokens", "No API tokens.")
	r := b.postForm("/profile/tokens", url.Values{"token_name": {"backup script"}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Copy it now", "backup script")
	start := strings.Index(r.body, "pt_")
	if start < 0 {
		t.Fatal("no secret on the page")
	}
	secret := r.body[start : start+strings.IndexByte(r.body[start:], '<')]
	actor, err := ts.env.Service.TokenActor(context.Background(), secret)
	if err != nil || actor.User.Login != "tina" {
		t.Fatalf("the token shown: %v", err)
	}
	r = b.get("/profile")
	wantBody(t, r, "backup script")
	wantNoBody(t, r, secret)
	tokens, err := ts.env.Service.Tokens(context.Background(), actor, 0)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens: %v, %v", tokens, err)
	}
	revoke := fmt.Sprintf("/profile/tokens/%d/revoke", tokens[0].ID)
	wantBody(t, b.get("/profile"), `href="`+revoke+`"`, "backup script")
	wantBody(t, b.get(revoke), "Revoke the API token “backup script”?")
	// Another user's token is not found.
	ts.addUser(t, "otto", store.RoleUser)
	wantStatus(t, ts.signIn(t, "otto", "password-otto").postForm(revoke, url.Values{}), http.StatusNotFound)
	wantStatus(t, b.postForm(revoke, url.Values{}), http.StatusSeeOther)
	wantBody(t, b.get("/profile"), "The API token was revoked", "No API tokens.")
	if _, err := ts.env.Service.TokenActor(context.Background(), secret); err == nil {
		t.Error("a revoked token still works")
	}
}
