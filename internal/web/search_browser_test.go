package web

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/testpeer"
)

// An admin types words as people do in the messages' search box, in a
// real Chromium, on both backends: "счет" finds "Счёт", "лицензия" finds
// "лицензии", and an operator works.
func TestBrowserSearchFindsWordForms(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(t)
			}
			env := servicetest.New(t, dsn)
			secure := false
			srv := httptest.NewServer(New(env.Service, Options{SecureCookies: &secure, Logger: slog.New(slog.DiscardHandler)}))
			t.Cleanup(srv.Close)
			ts := &testServer{env: env, srv: srv}
			ctx := context.Background()
			box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: new("smtp"), Name: new("Inbound"), Port: new(2525)})
			if err != nil {
				t.Fatal(err)
			}
			for _, raw := range []string{
				"Subject: =?utf-8?b?0KHRh9GR0YIg0L3QsCDQvtC/0LvQsNGC0YM=?=\r\nFrom: buh@example.ru\r\n\r\nОплатите до пятницы\r\n", // Счёт на оплату
				"Subject: License renewal\r\nFrom: sales@example.ru\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nСрок лицензии истекает\r\n",
				"Subject: Lunch\r\nFrom: boris@example.com\r\n\r\nAnyone?\r\n",
			} {
				if _, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(raw), "test"); err != nil {
					t.Fatal(err)
				}
			}
			browser := newChromium(t, ts)
			browser.signIn(t, "admin", servicetest.AdminPassword)
			search := func(t *testing.T, words string) string {
				t.Helper()
				browser.run(t, chromedp.Navigate(ts.srv.URL+"/messages"), chromedp.WaitVisible(chromedp.CSS("#f-q")),
					chromedp.SendKeys(chromedp.CSS("#f-q"), words))
				browser.submit(t, "form.filters button[type=submit]")
				browser.run(t, chromedp.WaitVisible(chromedp.CSS("main h1")))
				if value, err := chromedp.Run(browser.ctx, chromedp.Value(chromedp.CSS("#f-q"))); err != nil || value != words {
					t.Fatalf("the search box holds %q after the search (%v), want %q", value, err, words)
				}
				return browser.text(t, "main")
			}
			for _, test := range []struct{ words, want, notWant string }{
				{"счет", "Счёт на оплату", "License renewal"},
				{"лицензия", "License renewal", "Счёт на оплату"},
				{"лицензия OR from:boris", "Lunch", "Счёт на оплату"},
			} {
				page := search(t, test.words)
				if !strings.Contains(page, test.want) || strings.Contains(page, test.notWant) {
					t.Errorf("searching %q: the list shows\n%s\nwant %q and not %q", test.words, page, test.want, test.notWant)
				}
			}
			if help := browser.text(t, "#f-q-help"); !strings.Contains(help, "has:attachment") {
				t.Errorf("the search help says %q", help)
			}
		})
	}
}
