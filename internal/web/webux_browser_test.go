package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
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

// TestBrowserMailLinkOpensTab: a link in HTML mail opens in a new tab,
// without the address it came from, while a script in the same mail still
// runs nothing; the frame's height follows its content.
func TestBrowserMailLinkOpensTab(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	visited := make(chan string, 10) // what the linked site saw: path and Referer
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/landing" {
			visited <- r.URL.Path + " referer=" + r.Referer()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Landing</title><p>landed</p>"))
	}))
	defer site.Close()
	id := msgImport(t, ts, f.alpha.ID, msgMail{From: "shop@example.com", To: "b@example.com", Subject: "Sale", Date: msgDay(5),
		HTML: `<p><a id="go" href="` + site.URL + `/landing" target="_top" style="display:block;font-size:40px;padding:10px">OPEN</a></p>` +
			`<script>window.top.name="PWNED";document.title="PWNED"</script>` +
			`<img src="x" onerror="window.top.name='PWNED'">` + strings.Repeat("<p>"+strings.Repeat("line of the newsletter ", 8)+"</p>", 40)}.raw())
	browser := newChromium(t, ts)
	browser.signIn(t, "admin", servicetest.AdminPassword)
	browser.run(t, chromedp.Navigate(browser.base+"/messages/"+mblID(id)), chromedp.WaitVisible(chromedp.CSS("iframe.message-frame")))
	if _, err := chromedp.Run(browser.ctx, chromedp.Poll[bool](`document.readyState === "complete"`)); err != nil {
		t.Fatal(err)
	}
	// The frame is as tall as its forty paragraphs, not a small box.
	height, err := chromedp.Run(browser.ctx, chromedp.Evaluate[float64](`document.querySelector("iframe.message-frame").getBoundingClientRect().height`))
	if err != nil || height < 1200 {
		t.Errorf("the frame is %v px tall (%v)", height, err)
	}
	rect, err := chromedp.Run(browser.ctx, chromedp.Evaluate[[]float64](`(function(){var f=document.querySelector("iframe.message-frame");`+
		`window.scrollTo(0, f.getBoundingClientRect().top + window.scrollY - 200);var r=f.getBoundingClientRect();return [r.left, r.top]})()`))
	if err != nil {
		t.Fatal(err)
	}
	// The linked site's visit says the link opened, a second page target
	// that it opened in a tab of its own (a mouse move first, so that the
	// out-of-process frame knows where the pointer is).
	// A screenshot makes the browser composite the page with its
	// out-of-process frame, after which the frame takes the pointer's
	// events (before it, a click could go nowhere).
	if _, err := chromedp.Run(browser.ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	browser.run(t, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, rect[0]+60, rect[1]+40),
		chromedp.MouseClickXY(rect[0]+60, rect[1]+40))
	select {
	case visit := <-visited:
		if visit != "/landing referer=" {
			t.Errorf("the linked site saw %q", visit)
		}
	case <-browser.ctx.Done():
		t.Fatal("the link opened nothing")
	}
	targets, err := chromedp.Targets(browser.ctx)
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	for _, info := range targets {
		if info.Type == "page" {
			pages++
		}
	}
	if pages != 2 {
		t.Errorf("%d pages after the click, want the view and a new tab", pages)
	}
	// The page stayed where it was, and nothing of the mail's script ran.
	marker, err := chromedp.Run(browser.ctx, chromedp.Evaluate[string](`window.name + "|" + document.title + "|" + location.pathname`))
	if err != nil {
		t.Fatal(err)
	}
	if marker != "|Sale · Pochta|/messages/"+mblID(id) {
		t.Errorf("after the click: %q", marker)
	}
}

// TestBrowserTestConnectionKeepsPassword: "Test connection" on a new
// mailbox says the outcome under the button without leaving the form, and
// the typed password is still there to save.
func TestBrowserTestConnectionKeepsPassword(t *testing.T) {
	ts := newTestServer(t)
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	browser := newChromium(t, ts)
	browser.signIn(t, "admin", servicetest.AdminPassword)
	browser.run(t, chromedp.Navigate(browser.base+"/mailboxes/new?type=pop3"), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Sales"), chromedp.SendKeys(chromedp.CSS("#server"), pop3.Host),
		chromedp.SetValue(chromedp.CSS("#port"), pop3.PortText()), chromedp.SendKeys(chromedp.CSS("#login"), "sales"),
		chromedp.SendKeys(chromedp.CSS("#password"), "typed-secret-1"),
		chromedp.Click(chromedp.CSS("[data-test-connection]")),
		chromedp.WaitVisible(chromedp.CSS("[data-test-result].test-ok")))
	if got := browser.text(t, "[data-test-result]"); !strings.Contains(got, "Connected: 2 messages") {
		t.Errorf("the outcome reads %q", got)
	}
	password, err := chromedp.Run(browser.ctx, chromedp.Value(chromedp.CSS("#password")))
	if err != nil || password != "typed-secret-1" {
		t.Errorf("the password field holds %q (%v)", password, err)
	}
	location, err := chromedp.Run(browser.ctx, chromedp.Location())
	if err != nil || location != browser.base+"/mailboxes/new?type=pop3" {
		t.Errorf("the page moved to %q", location)
	}
	// And the form saves with it, as typed.
	if status := browser.submit(t, ".form-actions button.btn-primary"); status != http.StatusOK {
		t.Fatalf("create: status %d", status)
	}
	if got := browser.text(t, ".flash"); got != "Mailbox created" {
		t.Errorf("after saving: %q", got)
	}
}

// TestBrowserGroupActionReload: after a group action the address is the
// list's, so F5 shows the list again and sends nothing.
func TestBrowserGroupActionReload(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	id := msgImport(t, ts, f.alpha.ID, msgMail{From: "a@example.com", To: "b@example.com", Subject: "Unread one", Date: msgDay(5), Text: "x"}.raw())
	var posts atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/messages/group" {
			posts.Add(1)
		}
		ts.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer app.Close()
	browser := newChromium(t, ts)
	browser.base = app.URL
	browser.signIn(t, "admin", servicetest.AdminPassword)
	browser.run(t, chromedp.Navigate(app.URL+"/messages"), chromedp.WaitVisible(chromedp.CSS("table.messages-table")),
		chromedp.Click(chromedp.CSS(`input[name=id][value="`+mblID(id)+`"]`)))
	if status := browser.submit(t, `#messages-group button[value=read]`); status != http.StatusOK {
		t.Fatalf("group read: status %d", status)
	}
	if got := browser.text(t, ".flash"); !strings.HasPrefix(got, "Messages marked read: 1.") {
		t.Errorf("the flash reads %q", got)
	}
	location, err := chromedp.Run(browser.ctx, chromedp.Location())
	if err != nil || location != app.URL+"/messages" {
		t.Errorf("after the POST the address is %q", location)
	}
	response, err := chromedp.RunResponse(browser.ctx, chromedp.Reload())
	if err != nil || response.Status != http.StatusOK {
		t.Fatalf("F5: %v", err)
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("%d POSTs of the group action, want 1", n)
	}
	if n, err := chromedp.Run(browser.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".flash").length`)); err != nil || n != 0 {
		t.Errorf("the flash shows again after F5 (%d, %v)", n, err)
	}
}

// TestBrowserPhoneMessageList: at 390 px the message list has no sideways
// scroll, the navigation and the filters fold behind their buttons, and
// the rows are readable.
func TestBrowserPhoneMessageList(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)
	msgImport(t, ts, f.alpha.ID, msgMail{From: "Очень Длинное Имя Отправителя <very.long.sender.address@subdomain.example.com>",
		To: "team@example.com", Subject: strings.Repeat("Длинная тема письма, которая не помещается в одну строку ", 6),
		Date: msgDay(7), Text: "x"}.raw())
	browser := newChromium(t, ts)
	browser.signIn(t, "admin", servicetest.AdminPassword)
	browser.run(t, chromedp.EmulateViewport(390, 844), chromedp.Navigate(browser.base+"/messages"),
		chromedp.WaitVisible(chromedp.CSS("table.messages-table")))
	widths, err := chromedp.Run(browser.ctx, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, window.innerWidth,
		document.querySelector("nav.sidenav").offsetHeight, document.querySelector("form.filters").offsetHeight]`))
	if err != nil {
		t.Fatal(err)
	}
	if widths[0] > widths[1] {
		t.Errorf("the page is %v px wide in a %v px window", widths[0], widths[1])
	}
	if widths[2] != 0 || widths[3] != 0 {
		t.Errorf("the navigation (%v px) or the filters (%v px) are not folded", widths[2], widths[3])
	}
	// The menu opens the navigation without script.
	browser.run(t, chromedp.Click(chromedp.CSS("label.nav-toggle-label")), chromedp.WaitVisible(chromedp.CSS("nav.sidenav")))
	browser.run(t, chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/mailboxes"]`)), chromedp.WaitVisible(chromedp.CSS("table.mailboxes-table, .empty")))
	width, err := chromedp.Run(browser.ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
	if err != nil || width > 390 {
		t.Errorf("the mailbox list is %v px wide (%v)", width, err)
	}
}

// TestBrowserPhoneLists: at 390 px every list page is as wide as the
// window (its rows folded, no sideways scroll), its filters folded behind
// their button while no filter is set, and a folded row's bare values
// carry their column's name.
func TestBrowserPhoneLists(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)
	ctx := context.Background()
	name := "Счета бухгалтерии в отдельный ящик"
	if _, err := ts.env.Service.CreateRule(ctx, ts.env.Admin, service.RuleInput{Name: &name, MailboxID: service.Optional[int64]{Set: true, Value: &f.alpha.ID},
		Conditions: &[]service.RuleCondition{{Field: "body", Op: "contains", Values: []string{"счёт"}}},
		Actions:    &service.RuleActionsInput{Delete: &[]bool{true}[0]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.env.Store.EnqueueOutbound(ctx, store.NewOutbound{Sender: "alice@example.test",
		Recipients: []string{"carol.very.long.address@elsewhere.example.test"}, Raw: []byte("Subject: x\r\n\r\nbody\r\n"),
		Subject: "Письмо", NotBefore: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	browser := newChromium(t, ts)
	browser.signIn(t, "admin", servicetest.AdminPassword)
	browser.run(t, chromedp.EmulateViewport(390, 844))
	for _, page := range []string{"/mailboxes", "/services", "/users", "/sites", "/rules", "/queue", "/log", "/messages"} {
		browser.run(t, chromedp.Navigate(browser.base+page), chromedp.WaitVisible(chromedp.CSS("table.table")))
		got, err := chromedp.Run(browser.ctx, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, window.innerWidth,
			document.querySelector("form.filters") ? document.querySelector("form.filters").offsetHeight : 0,
			document.querySelectorAll("table.table td[data-label]").length]`))
		if err != nil {
			t.Fatal(err)
		}
		if got[0] > got[1] {
			t.Errorf("%s is %v px wide in a %v px window", page, got[0], got[1])
		}
		if got[2] != 0 {
			t.Errorf("%s: the filters are not folded (%v px)", page, got[2])
		}
		if page != "/messages" && page != "/log" && got[3] == 0 {
			t.Errorf("%s: no value carries its column's name", page)
		}
	}
}
