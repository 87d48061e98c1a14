package app

import (
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/metrics"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// proxiedClient speaks to the whole HTTP surface as a reverse proxy on
// loopback would, for clients at the addresses it names in X-Forwarded-For.
type proxiedClient struct {
	t    *testing.T
	base string
}

// send sends a request through client (nil: one without cookies).
func (c *proxiedClient) send(client *http.Client, from, method, path string, header http.Header, body io.Reader) *http.Response {
	c.t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	req.Header.Set("X-Forwarded-For", from)
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// api makes an API request with HTTP Basic from a client address.
func (c *proxiedClient) api(from, login, password string) *http.Response {
	c.t.Helper()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+password))
	return c.send(nil, from, "GET", "/api/v1/sites", http.Header{"Authorization": {auth}}, nil)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn fills in the web sign-in form from a client address, as a fresh
// browser would, and gives the answer to the form.
func (c *proxiedClient) signIn(from, login, password string) (*http.Response, string) {
	c.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := c.send(browser, from, "GET", "/login", nil, nil)
	content, err := io.ReadAll(page.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	token := csrfField.FindSubmatch(content)
	if token == nil {
		c.t.Fatalf("no CSRF token on the sign-in page: %s", content)
	}
	form := url.Values{"login": {login}, "password": {password}, "csrf_token": {html.UnescapeString(string(token[1]))}}
	resp := c.send(browser, from, "POST", "/login", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(form.Encode()))
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(answer)
}

// Finding 3 of issue 11: five wrong passwords for admin from five
// addresses behind a trusted proxy used to refuse the right password from
// everywhere for 15 minutes. Now the guessing addresses are told to wait,
// longer after each failure, per (login, address) and per address, while the
// admin signs in at once from an address of their own, through the web
// sign-in and through the API.
func TestSignInThrottleBehindTrustedProxy(t *testing.T) {
	env := servicetest.New(t)
	env.Clock.Set(time.Now())
	proxies, err := ParseTrustedProxies("127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	a := &App{Config: Config{TrustedProxies: proxies}, Service: env.Service, Store: env.Store, Metrics: metrics.New(),
		logger: slog.New(slog.DiscardHandler)}
	server := httptest.NewServer(a.Handler())
	t.Cleanup(server.Close)
	client := &proxiedClient{t: t, base: server.URL}
	wantStatus := func(resp *http.Response, want int, what string) {
		t.Helper()
		if resp.StatusCode != want {
			t.Fatalf("%s: status %d, want %d", what, resp.StatusCode, want)
		}
	}
	retryAfter := func(resp *http.Response) int {
		t.Helper()
		seconds, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil {
			t.Fatalf("Retry-After %q: %v", resp.Header.Get("Retry-After"), err)
		}
		return seconds
	}

	attackers := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"}
	for i, address := range attackers {
		for range 3 {
			if i%2 == 0 {
				wantStatus(client.api(address, "admin", "guess"), http.StatusUnauthorized, "a wrong password by the API")
			} else {
				resp, _ := client.signIn(address, "admin", "guess")
				wantStatus(resp, http.StatusUnauthorized, "a wrong password on the sign-in page")
			}
		}
		resp := client.api(address, "admin", servicetest.AdminPassword)
		wantStatus(resp, http.StatusTooManyRequests, "the right password from a guessing address")
		if got := retryAfter(resp); got != 1 {
			t.Errorf("Retry-After %d, want 1", got)
		}
	}

	// The admin, from an address without failures, is in at once: by the
	// API and by the sign-in page.
	wantStatus(client.api("203.0.113.10", "admin", servicetest.AdminPassword), http.StatusOK, "the admin by the API")
	resp, _ := client.signIn("203.0.113.11", "admin", servicetest.AdminPassword)
	wantStatus(resp, http.StatusSeeOther, "the admin on the sign-in page")

	// A guesser that waits and guesses again waits twice as long each time,
	// and the sign-in page says so in words.
	for _, want := range []int{2, 4, 8} {
		env.Clock.Advance(time.Duration(want/2) * time.Second)
		wantStatus(client.api(attackers[0], "admin", "guess"), http.StatusUnauthorized, "a guess after the wait")
		resp, page := client.signIn(attackers[0], "admin", "guess")
		wantStatus(resp, http.StatusTooManyRequests, "the next guess")
		if got := retryAfter(resp); got != want {
			t.Errorf("Retry-After %d, want %d", got, want)
		}
		if text := "Try again in " + strconv.Itoa(want) + " s."; !strings.Contains(page, text) {
			t.Errorf("the sign-in page does not say %q", text)
		}
	}

	// Per address: ten logins tried once each from one address slow it
	// down for any login, the admin's right password included.
	for i := range 10 {
		wantStatus(client.api("198.51.100.77", "user"+strconv.Itoa(i), "guess"), http.StatusUnauthorized, "spraying")
	}
	resp = client.api("198.51.100.77", "admin", servicetest.AdminPassword)
	wantStatus(resp, http.StatusTooManyRequests, "the right password from a spraying address")
	env.Clock.Advance(time.Duration(retryAfter(resp)) * time.Second)
	wantStatus(client.api("198.51.100.77", "user10", "guess"), http.StatusUnauthorized, "spraying after the wait")
	if got := retryAfter(client.api("198.51.100.77", "admin", servicetest.AdminPassword)); got != 2 {
		t.Errorf("Retry-After %d after one more failure from the address, want 2", got)
	}

	// The admin sees the slowed-down addresses in the work log, once each.
	entries, err := env.Service.Log(t.Context(), env.Admin, store.LogFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, entry := range entries {
		if entry.Type != "signin" {
			continue
		}
		for _, address := range append(attackers, "198.51.100.77") {
			if strings.Contains(service.LogText("en", entry), " "+address+" ") {
				seen[address]++
			}
		}
	}
	for _, address := range append(attackers, "198.51.100.77") {
		if seen[address] != 1 {
			t.Errorf("%s is in %d sign-in lines of the work log, want 1", address, seen[address])
		}
	}
}
