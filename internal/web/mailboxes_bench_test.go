package web

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// BenchmarkMailboxListPage measures the whole mailbox list page with 10,000
// mailboxes (two thirds of them system ones, which the list shows by
// default), sorted by name, 50 a page: the handler from session check to
// rendered HTML, for the first page and for the last, before and after the
// planner statistics are refreshed.
//
//	go test -run '^$' -bench MailboxListPage -benchtime 2s ./internal/web/
func BenchmarkMailboxListPage(b *testing.B) {
	env := servicetest.New(b)
	ctx := context.Background()
	site, err := env.Service.DefaultSite(ctx)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := env.Store.DB().Begin()
	if err != nil {
		b.Fatal(err)
	}
	insert := env.Store.Rebind(`INSERT INTO mailboxes (site_id, type, name, server, port, login, created_at, updated_at) VALUES (?, ?, ?, 'pop.example.com', 110, 'login', 0, 0)`)
	lastName := ""
	for i := range 10000 {
		kind, name := store.MailboxPOP3, fmt.Sprintf("mailbox %05d", (i*7919)%10000)
		if i%3 == 0 {
			kind = store.MailboxIMAP
		} else {
			lastName = max(lastName, name)
		}
		if _, err := tx.Exec(insert, site.ID, kind, name); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	secure := false
	handler := New(env.Service, Options{SecureCookies: &secure, Logger: slog.New(slog.DiscardHandler)})
	cookies := benchSignIn(b, handler, "admin", servicetest.AdminPassword)
	get := func(target string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for _, cookie := range cookies {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d\n%s", target, rec.Code, rec.Body.String())
		}
		return rec
	}

	// Walk the pages once, by the list's own "Next page" links, to get the
	// last page's URL.
	first := "/mailboxes?sort=name"
	last, pages := first, 0
	for target := first; target != ""; pages++ {
		last = target
		target = mblNext(result{body: get(target).Body.String()})
	}
	if pages != 134 { // 6,666 system mailboxes, 50 a page
		b.Fatalf("walked %d pages, want 134", pages)
	}
	if body := get(last).Body.String(); !strings.Contains(body, "Mailboxes found: 6666") || !strings.Contains(body, ">"+lastName+"</a>") {
		b.Fatalf("last page is not the last:\n%s", body)
	}
	// SQLite plans the page by its statistics, which the app refreshes at
	// start and hourly (store.Optimize): measured as a bulk import leaves
	// them (stale, planned from a near-empty table), then refreshed.
	for _, stats := range []string{"stale_stats", "fresh_stats"} {
		if stats == "fresh_stats" {
			if err := env.Store.Optimize(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(stats, func(b *testing.B) {
			for _, c := range []struct{ name, target string }{{"first", first}, {"last", last}} {
				b.Run(c.name+"_page", func(b *testing.B) {
					for b.Loop() {
						get(c.target)
					}
				})
			}
			// The service call alone, for comparison: what the page adds is
			// the session, the sites and the rendering.
			b.Run("first_page_service_only", func(b *testing.B) {
				filter := store.MailboxFilter{Types: []string{store.MailboxPOP3, store.MailboxSMTP}}
				for b.Loop() {
					if _, err := env.Service.Mailboxes(ctx, env.Admin, filter, store.MailboxSort{Column: "name"}, "", 50); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchSignIn signs in through the login form and gives the cookies of the
// session.
func benchSignIn(b *testing.B, handler http.Handler, login, password string) []*http.Cookie {
	b.Helper()
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	m := csrfPattern.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.Fatal("no CSRF token on the login page")
	}
	form := url.Values{"login": {login}, "password": {password}, "csrf_token": {html.UnescapeString(m[1])}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, cookie := range rec.Result().Cookies() {
		req.AddCookie(cookie)
	}
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("sign in: %d\n%s", rec.Code, rec.Body.String())
	}
	var cookies []*http.Cookie
	for _, cookie := range rec.Result().Cookies() {
		if cookie.Name == sessionCookie && cookie.Value != "" {
			cookies = append(cookies, cookie)
		}
	}
	if len(cookies) == 0 {
		b.Fatal("no session cookie")
	}
	return cookies
}
