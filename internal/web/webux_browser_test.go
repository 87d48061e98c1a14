package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// TestBrowserRussianLocalTime: a Russian admin of a Moscow site sees a
// message sent at 03:12 UTC as 06:12 in the Russian format, with the full
// date and zone on hover.
func TestBrowserRussianLocalTime(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	msgImport(t, ts, f.alpha.ID, msgMail{From: "a@example.com", To: "b@example.com", Subject: "Утро",
		Date: time.Date(2026, 12, 5, 3, 12, 0, 0, time.UTC), Text: "x"}.raw())
	ctx := context.Background()
	moscow, ru := "Europe/Moscow", "ru"
	if _, err := ts.env.Service.UpdateSite(ctx, ts.env.Admin, service.DefaultSiteCode, service.SiteInput{TimeZone: &moscow}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.env.Service.UpdateUser(ctx, ts.env.Admin, ts.env.Admin.User.ID, service.UserInput{Language: &ru}); err != nil {
		t.Fatal(err)
	}
	browser := newChromium(t, ts)
	browser.signIn(t, "admin", servicetest.AdminPassword)
	browser.run(t, chromedp.Navigate(browser.base+"/messages"), chromedp.WaitVisible(chromedp.CSS("table.messages-table")))
	if got := browser.text(t, "td.when time"); got != "05.12.2026 06:12" {
		t.Errorf("the date cell reads %q, want 05.12.2026 06:12", got)
	}
	title, err := chromedp.Run(browser.ctx, chromedp.AttributeValue(chromedp.CSS("td.when time"), "title"))
	if err != nil || title.Value != "05.12.2026 06:12:00 Europe/Moscow (UTC+03:00)" {
		t.Errorf("the hover reads %q (%v)", title.Value, err)
	}
}
