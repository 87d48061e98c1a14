package web

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// "Original source" of 8-bit KOI8-R mail is its exact bytes in its own
// charset, not UTF-8 with replacement characters; the .eml stays
// message/rfc822.
func TestSourceInItsCharset(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	raw := []byte("From: a@example.ru\r\nTo: b@example.ru\r\nSubject: =?koi8-r?B?8NLJ18XU?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2!\r\n")
	id := msgImport(t, ts, f.alpha.ID, raw)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/messages/" + mblID(id) + "/source")
	wantStatus(t, r, http.StatusOK)
	if got := r.header.Get("Content-Type"); got != "text/plain; charset=koi8-r" {
		t.Errorf("Content-Type %q", got)
	}
	if !bytes.Equal([]byte(r.body), raw) {
		t.Errorf("the source is not the exact bytes:\n%q", r.body)
	}
	r = b.get("/messages/" + mblID(id) + "/raw")
	if got := r.header.Get("Content-Type"); got != "message/rfc822" || r.body != string(raw) {
		t.Errorf(".eml: %q", got)
	}
}

// follow is the browser after a POST: it wants a redirect (303) and opens
// where it points, as F5-safe pages do.
func (b *browser) follow(r result) result {
	b.t.Helper()
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("status %d, want a redirect after the POST\n%s", r.status, r.body)
	}
	return b.get(r.header.Get("Location"))
}

// "Test connection" without script: the form comes back as typed, the
// password too, with the outcome at its top; the page's script gets JSON.
func TestTestConnectionKeepsInput(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	form := pop3Values("Sales")
	form.Set("server", pop3.Host)
	form.Set("port", pop3.PortText())
	form.Set("password", `typed "secret" <1>`)
	form.Set("test_connection", "1")
	r := b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<div class="alert alert-success" role="status" id="test-outcome">`, "Connected: 2 messages",
		`name="password" type="password" value="typed &#34;secret&#34; &lt;1&gt;"`, `value="Sales"`)
	// The script's way: JSON, nothing else.
	req, _ := http.NewRequest(http.MethodPost, b.base+"/mailboxes", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(testHeader, "1")
	r = b.do(req)
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || !strings.Contains(r.body, `"ok":true`) ||
		!strings.Contains(r.body, "Connected: 2 messages") {
		t.Errorf("the script's answer: %s %s", r.header.Get("Content-Type"), r.body)
	}
	// Without the CSRF token, no test.
	form.Del("csrf_token")
	req, _ = http.NewRequest(http.MethodPost, b.base+"/mailboxes", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(testHeader, "1")
	if r = b.do(req); r.status != http.StatusForbidden || strings.Contains(r.body, "Connected") {
		t.Errorf("a test without the CSRF token: %d", r.status)
	}
	// A stored mailbox's page never shows its stored password.
	if _, err := ts.env.Service.CreateMailbox(context.Background(), ts.env.Admin, service.MailboxInput{Type: new("pop3"),
		Name: new("Kept"), Server: new("pop.example.com"), Login: new("u"), Password: new("stored-secret-9")}); err != nil {
		t.Fatal(err)
	}
	wantNoBody(t, b.get("/mailboxes?kind=all"), "stored-secret-9")
}

// The message list filters by attachments and by local days; an inline
// image of HTML is not an attachment; the log takes several levels.
func TestListFiltersIssue16(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts) // the report has a PDF; the others nothing
	inline := msgImport(t, ts, f.alpha.ID, msgMail{From: "a@example.com", To: "b@example.com", Subject: "Logo only", Date: msgDay(6),
		HTML: `<p>Hi</p><img src="cid:logo@test">`, Inline: &msgPart{Name: "logo.png", Type: "image/png", ContentID: "logo@test", Data: msgPNG}}.raw())
	if m, _ := msgGet(t, ts, inline); m.AttachmentN != 0 {
		t.Errorf("an inline image counts as %d attachments", m.AttachmentN)
	}
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/messages?attachments=yes")
	wantStatus(t, r, http.StatusOK)
	if !msgHas(r, f.report) || msgHas(r, f.news) || msgHas(r, inline) {
		t.Error("attachments=yes")
	}
	r = b.get("/messages?attachments=no")
	if msgHas(r, f.report) || !msgHas(r, f.news) || !msgHas(r, inline) {
		t.Error("attachments=no")
	}
	// Days 2 to 3 March (10:00 UTC each), both included; in a zone where
	// 10:00 UTC is already the next day, the range moves with it.
	r = b.get("/messages?since=2026-03-02&until=2026-03-03")
	wantBody(t, r, `name="since" type="date" value="2026-03-02"`)
	if msgHas(r, f.report) || !msgHas(r, f.news) || !msgHas(r, f.joeMail) || msgHas(r, f.annMail) {
		t.Error("the day range in UTC")
	}
	tokyoPlus := "Pacific/Kiritimati" // UTC+14: 10:00 UTC is 00:00 the next day
	if _, err := ts.env.Service.UpdateUser(context.Background(), ts.env.Admin, ts.env.Admin.User.ID, service.UserInput{TimeZone: &tokyoPlus}); err != nil {
		t.Fatal(err)
	}
	r = b.get("/messages?since=2026-03-03&until=2026-03-04")
	if msgHas(r, f.report) || !msgHas(r, f.news) || !msgHas(r, f.joeMail) || msgHas(r, f.annMail) {
		t.Error("the day range in the reader's zone")
	}
	if r = b.get("/messages?since=tomorrow"); r.status != http.StatusOK || msgHas(r, f.news) {
		t.Error("a day that is not one")
	}
	// The log: info and error, not request or reply.
	r = b.get("/log?level=info&level=error")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `value="info" checked`, `value="error" checked`)
	wantNoBody(t, r, `class="log-request"`, `class="log-reply"`)
	wantStatus(t, b.get("/log?level=info&level=loud"), http.StatusBadRequest)
}

// TestMailboxListSchedule: the list says how often each mailbox is checked
// as the schedules do it: a POP3 mailbox by its interval or by hand only,
// an IMAP mailbox without an interval every 10 minutes (its sync's
// default), an SMTP mailbox nothing.
func TestMailboxListSchedule(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	manual := mblPOP3("Manual POP", "pop.manual.example")
	manual.CheckInterval = mblPtr(0)
	manualBox := mblAdd(t, ts, manual)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/mailboxes?kind=all")
	wantStatus(t, r, http.StatusOK)
	for _, test := range []struct {
		id        int64
		want, not string
	}{
		{f.alpha.ID, "every 10 min", "manual only"},
		{manualBox.ID, "manual only", "every"},
		{f.joeBox.ID, "every 10 min", "manual only"},
		{f.gamma.ID, "", "every"},
	} {
		row := mblRowHTML(t, r, test.id)
		if !strings.Contains(row, test.want) || strings.Contains(row, test.not) {
			t.Errorf("mailbox %d's row says\n%s\nwant %q, not %q", test.id, row, test.want, test.not)
		}
	}
	if row := mblRowHTML(t, r, f.joeBox.ID); !strings.Contains(row, "once a day otherwise") {
		t.Errorf("the IMAP row does not say the owner's schedule:\n%s", row)
	}
}

// TestIMAPFormTestsConnection: an admin's IMAP mailbox form has "Test
// connection" too, and without script the outcome comes back at the top
// of the form with the typed password kept.
func TestIMAPFormTestsConnection(t *testing.T) {
	ts := newTestServer(t)
	joe := ts.addUser(t, "joe", "user")
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	wantBody(t, b.get("/mailboxes/new?type=imap"), `name="test_connection"`)
	server := servicetest.NewFakeServer(t, "+OK a POP3 server, not IMAP")
	form := imapValues("JoeTested", findService(t, ts, "other").ID, joe.User.ID)
	form.Set("server", server.Host)
	form.Set("port", server.PortText())
	form.Set("security", "none")
	form.Set("password", "typed-imap-secret")
	form.Set("test_connection", "1")
	r := b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<div class="alert alert-error" role="status" id="test-outcome">`, `value="typed-imap-secret"`)
	wantNoBody(t, b.get("/mailboxes?kind=all"), "JoeTested")
}

// TestIMAPFormSummaryInFieldOrder: the error summary of an admin's IMAP
// form lists its errors in the order of the fields on the page (it had
// the POP3 form's order, the mail service after the server).
func TestIMAPFormSummaryInFieldOrder(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	form := imapValues("", 0, 0)
	form.Set("service_id", "")
	form.Set("owner_id", "")
	form.Set("login", "")
	form.Set("password", "")
	r := b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	summary := r.body[strings.Index(r.body, `<p class="alert-title">`):]
	summary = summary[:strings.Index(summary, "</ul>")]
	var links []string
	for _, part := range strings.Split(summary, `<a href="#`)[1:] {
		links = append(links, part[:strings.Index(part, `"`)])
	}
	onPage := slices.Clone(links)
	slices.SortStableFunc(onPage, func(a, b string) int {
		return strings.Index(r.body, `id="`+a+`"`) - strings.Index(r.body, `id="`+b+`"`)
	})
	if len(links) < 4 || !slices.Equal(links, onPage) {
		t.Errorf("the summary links %v, the fields come in the order %v", links, onPage)
	}
}

// TestFirstSignInLeadsToAMailbox: a first sign-in with no mailbox shows,
// instead of an empty list, the way to add one: a system mailbox for an
// admin, their own mailbox for an employee.
func TestFirstSignInLeadsToAMailbox(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "joe", "user")
	r := ts.signIn(t, "admin", servicetest.AdminPassword).get("/messages")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "No mailboxes yet", `href="/mailboxes/new?type=pop3">Add a mailbox</a>`)
	r = ts.signIn(t, "joe", "password-joe").get("/messages")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "No mailboxes yet", "Connect your own mailbox", `href="/my/mailboxes/new">Connect a mailbox</a>`)
	wantNoBody(t, r, "/mailboxes/new?type=")
}

// TestRulesGroupSaysWhatWasDone: a group action on rules comes back to the
// list saying in words what it did, with the count, as the mailboxes' do.
func TestRulesGroupSaysWhatWasDone(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"One", "Two"} {
		rule, err := ts.env.Service.CreateRule(ctx, ts.env.Admin, service.RuleInput{Name: &name,
			Conditions: &[]service.RuleCondition{{Field: "body", Op: "contains", Values: []string{"счёт"}}},
			Actions:    &service.RuleActionsInput{Delete: new(true)}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strconv.FormatInt(rule.ID, 10))
	}
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	b.get("/rules")
	r := b.postForm("/rules/group", url.Values{"action": {"deactivate"}, "id": ids})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.follow(r), `<div class="flash" role="status">Rules switched off: 2.</div>`)
	r = b.follow(b.postForm("/rules/group", url.Values{"action": {"delete"}, "id": ids, "confirm": {"yes"}}))
	wantBody(t, r, "Rules deleted: 2.")
}
