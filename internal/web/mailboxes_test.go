package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// The helpers of the mailbox list tests are prefixed "mbl" so that they
// cannot clash with those of the mailbox form's tests.

func mblPtr[T any](value T) *T { return &value }

func mblAdd(t *testing.T, ts *testServer, input service.MailboxInput) service.MailboxView {
	t.Helper()
	created, err := ts.env.Service.CreateMailbox(context.Background(), ts.env.Admin, input)
	if err != nil {
		t.Fatalf("create mailbox %q: %v", *input.Name, err)
	}
	return created
}

func mblPOP3(name, server string) service.MailboxInput {
	return service.MailboxInput{Type: mblPtr(store.MailboxPOP3), Name: mblPtr(name), Server: mblPtr(server),
		Login: mblPtr("login"), Password: mblPtr("secret")}
}

func mblSMTP(name, listen string, port int, active bool) service.MailboxInput {
	return service.MailboxInput{Type: mblPtr(store.MailboxSMTP), Name: mblPtr(name), Server: mblPtr(listen), Port: mblPtr(port),
		Active: mblPtr(active)}
}

func mblIMAP(t *testing.T, ts *testServer, name string, owner int64) service.MailboxInput {
	gmail := findService(t, ts, "gmail")
	return service.MailboxInput{Type: mblPtr(store.MailboxIMAP), Name: mblPtr(name), ServiceID: mblPtr(gmail.ID),
		OwnerID: mblPtr(owner), Login: mblPtr(name + "@gmail.com"), Password: mblPtr("secret")}
}

func mblGet(t *testing.T, ts *testServer, id int64) (service.MailboxView, bool) {
	t.Helper()
	m, err := ts.env.Service.Mailbox(context.Background(), ts.env.Admin, id)
	if err != nil {
		return m, false
	}
	return m, true
}

func mblID(id int64) string { return strconv.FormatInt(id, 10) }

// mblRow is how a mailbox's row shows its name: a link to its form.
func mblRow(name string) string { return ">" + name + "</a>" }

// mblRowHTML is the table row of one mailbox in a list page.
func mblRowHTML(t *testing.T, r result, id int64) string {
	t.Helper()
	start := strings.Index(r.body, `<tr id="mailbox-`+mblID(id)+`"`)
	if start < 0 {
		t.Fatalf("no row of mailbox %d", id)
	}
	end := strings.Index(r.body[start:], "</tr>")
	if end < 0 {
		t.Fatalf("row of mailbox %d does not end", id)
	}
	return r.body[start : start+end]
}

func TestMailboxListEmpty(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	// No mailboxes at all, no filter: "none yet" and the ways to add one.
	r := b.get("/mailboxes")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "No system mailboxes yet", "Add a system mailbox to receive mail",
		`<a class="btn btn-primary" href="/mailboxes/new?type=pop3">Add system mailbox</a>`,
		`<a class="btn" href="/mailboxes/new?type=imap">Add user mailbox</a>`)
	wantNoBody(t, r, "No mailboxes match", "Try a wider filter")
	r = b.get("/mailboxes?kind=all")
	wantBody(t, r, "No mailboxes match", "Try a wider filter")
	wantNoBody(t, r, "No system mailboxes yet", "No mailboxes yet")
}

// mblOrder fails unless the names appear in the body in this order.
func mblOrder(t *testing.T, r result, names ...string) {
	t.Helper()
	last := -1
	for _, name := range names {
		at := strings.Index(r.body, mblRow(name))
		if at < 0 {
			t.Fatalf("no row %q", name)
		}
		if at < last {
			t.Fatalf("row %q out of order in %v", name, names)
		}
		last = at
	}
}

var mblNextLink = regexp.MustCompile(`href="([^"]+)" rel="next"`)

func mblNext(r result) string {
	m := mblNextLink.FindStringSubmatch(r.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// mblSetup makes the mailboxes most tests use: two POP3 (one off), an SMTP
// one and two user (IMAP) mailboxes of different owners.
type mblFixture struct {
	alpha, beta, gamma, joeBox, annBox service.MailboxView
	joe, ann                           *service.Actor
}

func mblSetup(t *testing.T, ts *testServer) mblFixture {
	t.Helper()
	var f mblFixture
	ts.addUser(t, "audit", store.RoleAuditor)
	f.joe = ts.addUser(t, "joe", store.RoleUser)
	f.ann = ts.addUser(t, "ann", store.RoleUser)
	f.alpha = mblAdd(t, ts, mblPOP3("Alpha POP", "pop.alpha.example"))
	beta := mblPOP3("Beta POP", "pop.beta.example")
	beta.Active = mblPtr(false)
	f.beta = mblAdd(t, ts, beta)
	f.gamma = mblAdd(t, ts, mblSMTP("Gamma SMTP", "*", 2525, true))
	f.joeBox = mblAdd(t, ts, mblIMAP(t, ts, "Joe IMAP", f.joe.User.ID))
	f.annBox = mblAdd(t, ts, mblIMAP(t, ts, "Ann IMAP", f.ann.User.ID))
	return f
}

func TestMailboxListFilters(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	// The default: system mailboxes only.
	r := b.get("/mailboxes")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Mailboxes</h1>", "Mailboxes found: 3", mblRow("Alpha POP"), mblRow("Beta POP"), mblRow("Gamma SMTP"),
		"pop.alpha.example:110", "*:2525", "<td>POP3</td>", "<td>SMTP</td>", `href="/mailboxes/new?type=pop3"`, `href="/mailboxes/new?type=imap"`,
		`<option value="system" selected>`, `name="id" value="`+mblID(f.alpha.ID)+`" form="mailboxes-group"`,
		`action="/mailboxes/`+mblID(f.alpha.ID)+`/rename"`, `action="/mailboxes/`+mblID(f.alpha.ID)+`/active"`,
		`href="/log?mailbox_id=`+mblID(f.alpha.ID)+`"`, `href="/messages?mailbox_id=`+mblID(f.alpha.ID)+`"`,
		"Messages (0/0)", `action="/mailboxes/`+mblID(f.alpha.ID)+`/check"`, `href="/mailboxes/`+mblID(f.alpha.ID)+`"`,
		`href="/mailboxes/`+mblID(f.alpha.ID)+`/delete?back=%2fmailboxes"`, "Apply to all 3 mailboxes matching the filter",
		`name="f_kind" value="system"`, "never")
	wantNoBody(t, r, mblRow("Joe IMAP"), mblRow("Ann IMAP"), "<td>IMAP</td>")
	// Each row links to its rules and to a new rule for it.
	wantBody(t, r, `href="/rules?mailbox_id=`+mblID(f.alpha.ID)+`"`, "Rules (0)", `href="/rules/new?mailbox_id=`+mblID(f.alpha.ID)+`"`, "Add rule")
	// An SMTP mailbox listens rather than being checked: a dash, not "never".
	smtpRow := mblRowHTML(t, r, f.gamma.ID)
	if !strings.Contains(smtpRow, `<span class="muted" title="SMTP mailboxes receive by themselves: there is nothing to check">—</span>`) ||
		strings.Contains(smtpRow, "never") {
		t.Errorf("SMTP row's last check is not a dash:\n%s", smtpRow)
	}
	if !strings.Contains(mblRowHTML(t, r, f.alpha.ID), "never") {
		t.Error("POP3 row never checked does not say never")
	}
	mblOrder(t, r, "Alpha POP", "Beta POP", "Gamma SMTP") // by name

	cases := []struct {
		query string
		want  []string
		not   []string
	}{
		{"kind=all", []string{"Alpha POP", "Beta POP", "Gamma SMTP", "Joe IMAP", "Ann IMAP"}, nil},
		{"kind=user", []string{"Joe IMAP", "Ann IMAP"}, []string{"Alpha POP", "Gamma SMTP"}},
		{"kind=all&type=imap", []string{"Joe IMAP", "Ann IMAP"}, []string{"Alpha POP", "Gamma SMTP"}},
		{"type=smtp", []string{"Gamma SMTP"}, []string{"Alpha POP", "Beta POP"}},
		{"name=alpha", []string{"Alpha POP"}, []string{"Beta POP", "Gamma SMTP"}},
		{"server=beta", []string{"Beta POP"}, []string{"Alpha POP", "Gamma SMTP"}},
		{"active=no", []string{"Beta POP"}, []string{"Alpha POP", "Gamma SMTP"}},
		{"active=yes", []string{"Alpha POP", "Gamma SMTP"}, []string{"Beta POP"}},
		{"id=" + mblID(f.gamma.ID), []string{"Gamma SMTP"}, []string{"Alpha POP", "Beta POP"}},
		{"kind=all&id=" + mblID(f.alpha.ID) + ",+" + mblID(f.joeBox.ID), []string{"Alpha POP", "Joe IMAP"}, []string{"Beta POP", "Ann IMAP"}},
		{"site=s1", []string{"Alpha POP", "Beta POP", "Gamma SMTP"}, nil},
	}
	for _, c := range cases {
		r := b.get("/mailboxes?" + c.query)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, fmt.Sprintf("Mailboxes found: %d", len(c.want)))
		for _, name := range c.want {
			wantBody(t, r, mblRow(name))
		}
		for _, name := range c.not {
			wantNoBody(t, r, mblRow(name))
		}
		wantBody(t, r, `href="/mailboxes">Reset</a>`)
	}
	for _, query := range []string{"id=abc", "site=nope", "type=imap", "name=nothing-like-this"} {
		r := b.get("/mailboxes?" + query)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, "No mailboxes match", "Try a wider filter")
		wantNoBody(t, r, mblRow("Alpha POP"), `action="/mailboxes/group"`)
	}
	wantStatus(t, b.get("/mailboxes?cursor=not-a-cursor"), http.StatusBadRequest)

	// Check now: a POST with CSRF that receives at once and shows the
	// outcome with links to the mailbox's messages and log. The test dialer
	// refuses every address but loopback, and that refusal is the server
	// error shown.
	wantStatus(t, b.post("/mailboxes/"+mblID(f.alpha.ID)+"/check", url.Values{}), http.StatusForbidden)
	r = b.follow(b.postForm("/mailboxes/"+mblID(f.alpha.ID)+"/check", url.Values{"back": {"/mailboxes?name=alpha"}}))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Alpha POP", `<div class="check-failed" role="alert">Receiving mail failed</div>`, "not a loopback address", `href="/messages?mailbox_id=`+mblID(f.alpha.ID)+`"`,
		`href="/log?mailbox_id=`+mblID(f.alpha.ID)+`"`, `href="/mailboxes?name=alpha"`)
	wantStatus(t, b.postForm("/mailboxes/999999/check", url.Values{}), http.StatusNotFound)
	r = b.follow(b.postForm("/mailboxes/"+mblID(f.alpha.ID)+"/check", url.Values{"back": {"https://evil.example/"}}))
	wantStatus(t, r, http.StatusOK)
	wantNoBody(t, r, "evil.example")
	// Receive now for all: every active POP3 mailbox, one line each.
	r = b.follow(b.postForm("/mailboxes/check", url.Values{}))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Alpha POP", "not a loopback address")
	wantNoBody(t, r, "Gamma SMTP") // SMTP mailboxes receive by themselves

	// The last check and its error, as the fetchers will leave them: the
	// reason in plain words, the error's own text in the tooltip.
	if _, err := ts.env.Store.DB().Exec(ts.env.Store.Rebind(`UPDATE mailboxes SET last_check_at = ?, last_error = ?, last_error_reason = ?, failure_streak = ? WHERE id = ?`),
		int64(1_700_000_000_000_000), "-ERR [AUTH] invalid password", "login", 3, f.beta.ID); err != nil {
		t.Fatal(err)
	}
	r = b.get("/mailboxes?name=beta")
	wantBody(t, r, `<div class="mailbox-error" title="-ERR [AUTH] invalid password">The server did not accept the login or the password <span class="nowrap">(failures in a row: 3)</span>`, "14 Nov 2023 22:13")
	// An error recorded before reasons were shows as it was said.
	if _, err := ts.env.Store.DB().Exec(ts.env.Store.Rebind(`UPDATE mailboxes SET last_error_reason = '' WHERE id = ?`), f.beta.ID); err != nil {
		t.Fatal(err)
	}
	wantBody(t, b.get("/mailboxes?name=beta"), `title="-ERR [AUTH] invalid password">-ERR [AUTH] invalid password <span`)
	wantStatus(t, b.postForm("/profile/language", url.Values{"language": {"ru"}, "back": {"/mailboxes"}}), http.StatusSeeOther)
	if _, err := ts.env.Store.DB().Exec(ts.env.Store.Rebind(`UPDATE mailboxes SET last_error_reason = 'login' WHERE id = ?`), f.beta.ID); err != nil {
		t.Fatal(err)
	}
	wantBody(t, b.get("/mailboxes?name=beta"), "Сервер не принял имя входа или пароль")
}

func TestMailboxListSortAndPaging(t *testing.T) {
	ts := newTestServer(t)
	var ids []int64
	for i := range 25 {
		m := mblAdd(t, ts, mblPOP3(fmt.Sprintf("box %02d", (i*7)%25), fmt.Sprintf("pop%02d.example", i)))
		ids = append(ids, m.ID)
	}
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	r := b.get("/mailboxes?size=20")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Mailboxes found: 25", `<option value="20" selected>`, mblRow("box 00"), mblRow("box 19"))
	wantNoBody(t, r, mblRow("box 20"), "First page")
	mblOrder(t, r, "box 00", "box 01", "box 10", "box 19")
	next := mblNext(r)
	if !strings.HasPrefix(next, "/mailboxes?") || !strings.Contains(next, "cursor=") || !strings.Contains(next, "size=20") {
		t.Fatalf("next page link %q", next)
	}
	r = b.get(next)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, mblRow("box 20"), mblRow("box 24"), `href="/mailboxes?size=20">First page</a>`, "Mailboxes found: 25")
	wantNoBody(t, r, mblRow("box 19"), `rel="next"`)
	mblOrder(t, r, "box 20", "box 21", "box 24")

	// The default page holds 50; the header links sort, and again reverse.
	r = b.get("/mailboxes")
	wantNoBody(t, r, `rel="next"`)
	wantBody(t, r, `href="/mailboxes?desc=1&amp;sort=name"`, `aria-sort="ascending"`, `href="/mailboxes?sort=server"`)
	r = b.get("/mailboxes?sort=name&desc=1&size=20")
	mblOrder(t, r, "box 24", "box 10", "box 05")
	wantBody(t, r, `aria-sort="descending"`, `href="/mailboxes?size=20"`, `name="sort" value="name"`, `name="desc" value="1"`)
	wantNoBody(t, r, mblRow("box 04"))
	r = b.get(mblNext(r))
	mblOrder(t, r, "box 04", "box 00")

	// By server (pop00 is box 00, pop01 is box 07, ...), by ID backwards,
	// by modification time.
	r = b.get("/mailboxes?sort=server&size=20")
	mblOrder(t, r, "box 00", "box 07", "box 14")
	r = b.get("/mailboxes?sort=id&desc=1")
	mblOrder(t, r, "box 18", "box 11", "box 04", "box 00")
	if err := ts.env.Service.SetMailboxActive(context.Background(), ts.env.Admin, ids[3], false); err != nil {
		t.Fatal(err)
	}
	r = b.get("/mailboxes?sort=updated_at&desc=1&size=20")
	mblOrder(t, r, "box 21", "box 18", "box 11")
	r = b.get("/mailboxes?sort=active&size=20")
	mblOrder(t, r, "box 21", "box 00") // inactive first
	for _, sort := range []string{"type", "site"} {
		r = b.get("/mailboxes?sort=" + sort + "&size=20")
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, `rel="next"`)
	}

	// Paging through everything with a filter gives every row once.
	seen := map[string]bool{}
	page := "/mailboxes?size=20&name=box&sort=server&desc=1"
	for page != "" {
		r := b.get(page)
		wantStatus(t, r, http.StatusOK)
		for _, m := range regexp.MustCompile(`>(box \d\d)</a>`).FindAllStringSubmatch(r.body, -1) {
			if seen[m[1]] {
				t.Fatalf("%s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		page = mblNext(r)
	}
	if len(seen) != 25 {
		t.Fatalf("paging showed %d mailboxes, want 25", len(seen))
	}
}

func TestMailboxInlineEdits(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	b.get("/mailboxes")
	alpha := "/mailboxes/" + mblID(f.alpha.ID)

	r := b.postForm(alpha+"/rename", url.Values{"name": {"  Alpha renamed "}, "back": {"/mailboxes?name=alpha"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/mailboxes?name=alpha" {
		t.Errorf("Location %q", loc)
	}
	if m, _ := mblGet(t, ts, f.alpha.ID); m.Name != "Alpha renamed" || m.Login != "login" || !m.HasPassword {
		t.Errorf("renamed %+v", m)
	}
	wantBody(t, b.get("/mailboxes"), "Mailbox renamed", mblRow("Alpha renamed"))

	r = b.postForm(alpha+"/rename", url.Values{"name": {" "}, "back": {"/mailboxes"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Not changed (1):", "<strong>Alpha renamed</strong>", "Name is required", mblRow("Gamma SMTP"))

	r = b.postForm(alpha+"/active", url.Values{"active": {"0"}, "back": {"/mailboxes"}})
	wantStatus(t, r, http.StatusSeeOther)
	if m, _ := mblGet(t, ts, f.alpha.ID); m.Active {
		t.Error("still active")
	}
	r = b.get("/mailboxes?name=alpha")
	wantBody(t, r, "Mailbox deactivated", `<tr id="mailbox-`+mblID(f.alpha.ID)+`" class="inactive">`, `name="active" value="1"`)
	r = b.postForm(alpha+"/active", url.Values{"active": {"1"}})
	wantStatus(t, r, http.StatusSeeOther)
	if m, _ := mblGet(t, ts, f.alpha.ID); !m.Active {
		t.Error("not active again")
	}
	wantStatus(t, b.postForm(alpha+"/active", url.Values{"active": {"maybe"}}), http.StatusBadRequest)
	wantStatus(t, b.postForm("/mailboxes/999999/rename", url.Values{"name": {"x"}}), http.StatusNotFound)

	// An SMTP mailbox on an address another one uses cannot come on.
	other := mblAdd(t, ts, mblSMTP("Other SMTP", "127.0.0.1", 2525, false))
	r = b.postForm("/mailboxes/"+mblID(other.ID)+"/active", url.Values{"active": {"1"}, "back": {"/mailboxes?type=smtp"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "<strong>Other SMTP</strong>", "already in use", `value="/mailboxes?type=smtp"`)
	if m, _ := mblGet(t, ts, other.ID); m.Active {
		t.Error("SMTP mailbox on a taken address came on")
	}
}

func TestMailboxGroupActions(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	b.get("/mailboxes")

	// Deactivate the checked rows.
	r := b.follow(b.postForm("/mailboxes/group", url.Values{"action": {"deactivate"}, "id": {mblID(f.alpha.ID), mblID(f.gamma.ID)},
		"back": {"/mailboxes?active=yes"}}))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<div class="flash" role="status">Mailboxes switched off: 2.</div>`, `<option value="yes" selected>`, "No mailboxes match")
	wantNoBody(t, r, "Not changed")
	for _, id := range []int64{f.alpha.ID, f.gamma.ID} {
		if m, _ := mblGet(t, ts, id); m.Active {
			t.Errorf("%s still active", m.Name)
		}
	}
	if m, _ := mblGet(t, ts, f.joeBox.ID); !m.Active {
		t.Error("an unchecked mailbox was switched off")
	}
	r = b.postForm("/mailboxes/group", url.Values{"action": {"activate"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.get("/mailboxes"), "Check at least one row first")
	wantStatus(t, b.postForm("/mailboxes/group", url.Values{"action": {"explode"}, "id": {mblID(f.alpha.ID)}}), http.StatusBadRequest)
	wantStatus(t, b.postForm("/mailboxes/group", url.Values{"action": {"activate"}, "id": {"x"}}), http.StatusBadRequest)

	// A failure is reported by name with its reason; the rest goes ahead.
	smtpA := mblAdd(t, ts, mblSMTP("SMTP A", "*", 2600, false))
	smtpB := mblAdd(t, ts, mblSMTP("SMTP B", "*", 2600, false))
	r = b.follow(b.postForm("/mailboxes/group", url.Values{"action": {"activate"}, "id": {mblID(smtpA.ID), mblID(smtpB.ID)}, "back": {"/mailboxes?type=smtp"}}))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Mailboxes that could not be changed: 1; open them to see why.", `href="/mailboxes?kind=all&amp;id=`+mblID(smtpB.ID)+`">Show them</a>`, mblRow("SMTP A"))
	if a, _ := mblGet(t, ts, smtpA.ID); !a.Active {
		t.Error("SMTP A not activated")
	}
	if b, _ := mblGet(t, ts, smtpB.ID); b.Active {
		t.Error("SMTP B activated on a taken address")
	}

	// Delete everything the filter matches, through the confirmation.
	temp1 := mblAdd(t, ts, mblPOP3("Temp one", "pop.temp.example"))
	temp2 := mblAdd(t, ts, mblPOP3("Temp two", "pop.temp.example"))
	r = b.get("/mailboxes?name=temp")
	wantBody(t, r, "Apply to all 2 mailboxes matching the filter", `name="f_name" value="temp"`)
	filter := url.Values{"f_id": {""}, "f_name": {"temp"}, "f_type": {""}, "f_server": {""}, "f_kind": {"system"}, "f_active": {""}, "f_site": {""}}
	form := url.Values{"action": {"delete"}, "all": {"1"}, "back": {"/mailboxes?name=temp"}}
	for name, values := range filter {
		form[name] = values
	}
	r = b.postForm("/mailboxes/group", form)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Delete mailboxes</h1>", "Delete all 2 mailboxes matching the filter?", "<strong>Temp one</strong>",
		"<strong>Temp two</strong>", "Their messages (0), rules (0) and log entries are deleted with them.",
		`name="all" value="1"`, `name="f_name" value="temp"`, `name="confirm" value="yes"`)
	wantNoBody(t, r, "Alpha POP")
	if _, ok := mblGet(t, ts, temp1.ID); !ok {
		t.Fatal("deleted by asking")
	}
	form.Set("confirm", "yes")
	r = b.follow(b.postForm("/mailboxes/group", form))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Mailboxes deleted: 2.", "No mailboxes match")
	for _, id := range []int64{temp1.ID, temp2.ID} {
		if _, ok := mblGet(t, ts, id); ok {
			t.Errorf("mailbox %d not deleted", id)
		}
	}
	for _, id := range []int64{f.alpha.ID, f.beta.ID, f.gamma.ID, f.joeBox.ID, f.annBox.ID} {
		if _, ok := mblGet(t, ts, id); !ok {
			t.Errorf("mailbox %d outside the filter was deleted", id)
		}
	}

	// Delete checked rows, and one from its row menu.
	r = b.postForm("/mailboxes/group", url.Values{"action": {"delete"}, "id": {mblID(f.beta.ID), mblID(f.annBox.ID)}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete these mailboxes (2)?", "<strong>Beta POP</strong>", "<strong>Ann IMAP</strong>",
		`name="id" value="`+mblID(f.annBox.ID)+`"`)
	r = b.get("/mailboxes/" + mblID(f.alpha.ID) + "/delete?back=/mailboxes%3Fname%3Dalpha")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete these mailboxes (1)?", "<strong>Alpha POP</strong>", "messages: 0, rules: 0", `href="/mailboxes?name=alpha">Cancel</a>`)
	wantStatus(t, b.get("/mailboxes/999999/delete"), http.StatusNotFound)
	r = b.follow(b.postForm("/mailboxes/group", url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": {mblID(f.alpha.ID)}, "back": {"/mailboxes?name=alpha"}}))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Mailboxes deleted: 1.")
	if _, ok := mblGet(t, ts, f.alpha.ID); ok {
		t.Error("not deleted")
	}
}

func TestMailboxListRoles(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)

	// The auditor reads everything and changes nothing.
	a := ts.signIn(t, "audit", "password-audit")
	r := a.get("/mailboxes?kind=all")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, mblRow("Alpha POP"), mblRow("Joe IMAP"), mblRow("Ann IMAP"), `href="/log?mailbox_id=`)
	wantNoBody(t, r, `name="id" value=`, `/mailboxes/new`, `/rename"`, `/active"`, `/check"`, `action="/mailboxes/group"`,
		`/delete?`, "/rules/new")
	alpha := "/mailboxes/" + mblID(f.alpha.ID)
	for path, form := range map[string]url.Values{
		"/mailboxes/group": {"action": {"delete"}, "confirm": {"yes"}, "id": {mblID(f.alpha.ID)}},
		alpha + "/rename":  {"name": {"Hacked"}},
		alpha + "/active":  {"active": {"0"}},
		alpha + "/check":   {},
	} {
		wantStatus(t, a.postForm(path, form), http.StatusForbidden)
	}
	wantStatus(t, a.postForm("/mailboxes/group", url.Values{"action": {"deactivate"}, "all": {"1"}, "f_kind": {"all"}}), http.StatusForbidden)
	wantStatus(t, a.get(alpha+"/delete"), http.StatusForbidden)
	for _, id := range []int64{f.alpha.ID, f.beta.ID, f.gamma.ID, f.joeBox.ID, f.annBox.ID} {
		m, ok := mblGet(t, ts, id)
		if !ok {
			t.Fatalf("the auditor deleted mailbox %d", id)
		}
		if m.Name == "Hacked" || (id == f.alpha.ID && !m.Active) {
			t.Errorf("the auditor changed %+v", m)
		}
	}

	// A user sees their own mailboxes, user ones by default, and may add
	// only user mailboxes.
	u := ts.signIn(t, "joe", "password-joe")
	r = u.get("/mailboxes")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, mblRow("Joe IMAP"), "Mailboxes found: 1", `<option value="user" selected>`, `href="/mailboxes/new?type=imap"`, "<td>IMAP</td>")
	wantNoBody(t, r, mblRow("Ann IMAP"), mblRow("Alpha POP"), `href="/mailboxes/new?type=pop3"`, `id="f-site"`)
	r = u.get("/mailboxes?kind=all&site=s1")
	wantBody(t, r, mblRow("Joe IMAP"), "Mailboxes found: 1")
	wantNoBody(t, r, mblRow("Ann IMAP"), mblRow("Alpha POP"))
	wantBody(t, u.get("/mailboxes?kind=system"), "No mailboxes match")

	// Their own they change; others' they cannot, not even by ID.
	wantStatus(t, u.postForm("/mailboxes/"+mblID(f.joeBox.ID)+"/rename", url.Values{"name": {"My mail"}}), http.StatusSeeOther)
	if m, _ := mblGet(t, ts, f.joeBox.ID); m.Name != "My mail" {
		t.Errorf("own rename: %+v", m)
	}
	wantStatus(t, u.postForm("/mailboxes/"+mblID(f.annBox.ID)+"/rename", url.Values{"name": {"Mine now"}}), http.StatusNotFound)
	wantStatus(t, u.get("/mailboxes/"+mblID(f.annBox.ID)+"/delete"), http.StatusNotFound)
	r = u.follow(u.postForm("/mailboxes/group", url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": {mblID(f.annBox.ID), mblID(f.alpha.ID)}}))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Mailboxes that could not be changed: 2")
	wantNoBody(t, r, "Ann IMAP", "Alpha POP")
	r = u.follow(u.postForm("/mailboxes/group", url.Values{"action": {"deactivate"}, "all": {"1"}, "f_kind": {"all"}}))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Mailboxes switched off: 1.")
	for id, active := range map[int64]bool{f.joeBox.ID: false, f.annBox.ID: true, f.alpha.ID: true} {
		m, ok := mblGet(t, ts, id)
		if !ok || m.Active != active || m.Name == "Mine now" {
			t.Errorf("after the user's group actions: %+v (exists %v)", m, ok)
		}
	}
}

// TestMailboxPagesNoInlineScriptOrStyle keeps the list, its results and its
// confirmation within the CSP, with rows in them (TestNoInlineScriptOrStyle
// sees an empty list).
func TestMailboxPagesNoInlineScriptOrStyle(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=`)
	pages := []result{
		b.get("/mailboxes"),
		b.get("/mailboxes?kind=all&size=20&sort=site&desc=1"),
		b.get("/mailboxes?name=nothing"),
		b.get("/mailboxes/" + mblID(f.alpha.ID) + "/delete"),
		b.postForm("/mailboxes/group", url.Values{"action": {"delete"}, "all": {"1"}, "f_kind": {"all"}}),
		b.follow(b.postForm("/mailboxes/group", url.Values{"action": {"activate"}, "id": {mblID(f.beta.ID)}})),
		b.postForm("/mailboxes/"+mblID(f.alpha.ID)+"/rename", url.Values{"name": {""}}),
	}
	for i, r := range pages {
		if r.status != http.StatusOK && r.status != http.StatusUnprocessableEntity {
			t.Errorf("page %d: status %d", i, r.status)
		}
		if m := inline.FindString(r.body); m != "" {
			t.Errorf("page %d has inline script or style: %q", i, m)
		}
	}
}

// TestMailboxListBrowser uses the list in a real Chromium, CSP and app.js in
// force: the row menu's "Check now", the inline rename and on/off, and the
// group action on all rows of the page checked at once.
//
// POCHTA_WEB_SCREENSHOT_MAILBOXES=path.png also writes screenshots there.
func TestMailboxListBrowser(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	browser := newChromium(t, ts)
	browserCtx, base := browser.ctx, ts.srv.URL
	run := func(actions ...chromedp.Action[chromedp.Void]) { t.Helper(); browser.run(t, actions...) }
	text := func(css string) string { t.Helper(); return browser.text(t, css) }
	submit := func(css string) int64 { t.Helper(); return browser.submit(t, css) }
	screenshot := func(suffix string) {
		t.Helper()
		path := os.Getenv("POCHTA_WEB_SCREENSHOT_MAILBOXES")
		if path == "" {
			return
		}
		shot, err := chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		path = strings.TrimSuffix(path, ".png") + suffix + ".png"
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	run(chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("form.login-form")),
		chromedp.SendKeys(chromedp.CSS("#login"), "admin"), chromedp.SendKeys(chromedp.CSS("#password"), servicetest.AdminPassword))
	if status := submit("form.login-form button[type=submit]"); status != 200 {
		t.Fatalf("sign-in: status %d", status)
	}
	run(chromedp.Navigate(base+"/mailboxes?kind=all"), chromedp.WaitVisible(chromedp.CSS("table.mailboxes-table")))
	alpha := "#mailbox-" + mblID(f.alpha.ID)

	// The row menu opens (a <details>) and "Check now" posts.
	run(chromedp.Click(chromedp.CSS(alpha+" details.row-menu > summary")), chromedp.WaitVisible(chromedp.CSS(alpha+" .menu-button")))
	screenshot("-menu")
	if status := submit(alpha + " .menu-button"); status != 200 {
		t.Fatalf("check now: status %d", status)
	}
	run(chromedp.WaitVisible(chromedp.CSS(".check-results")))
	if got := text(".check-results"); !strings.Contains(got, "not a loopback address") {
		t.Errorf("check result %q", got)
	}
	run(chromedp.Navigate(base+"/mailboxes?kind=all"), chromedp.WaitVisible(chromedp.CSS("table.mailboxes-table")))

	// Inline rename: the pencil opens the field, focused by app.js.
	run(chromedp.Click(chromedp.CSS(alpha+" details.rename > summary")), chromedp.WaitVisible(chromedp.CSS(alpha+" .rename-form input[name=name]")))
	// The toggle event that focuses the field comes after the opening.
	focused := ""
	for deadline := time.Now().Add(5 * time.Second); focused != "name" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if focused, err = chromedp.Run(browserCtx, chromedp.Evaluate[string](`document.activeElement.name || ""`)); err != nil {
			t.Fatal(err)
		}
	}
	if focused != "name" {
		t.Errorf("the rename field is not focused (%q)", focused)
	}
	run(chromedp.Clear(chromedp.CSS(alpha+" .rename-form input[name=name]")),
		chromedp.SendKeys(chromedp.CSS(alpha+" .rename-form input[name=name]"), "Alpha in Chromium"))
	if status := submit(alpha + " .rename-form button"); status != 200 {
		t.Fatalf("rename: status %d", status)
	}
	run(chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := text(alpha + " .mailbox-name a"); got != "Alpha in Chromium" {
		t.Errorf("renamed row shows %q", got)
	}

	// The on/off button.
	if status := submit(alpha + " button.toggle"); status != 200 {
		t.Fatalf("switch: status %d", status)
	}
	run(chromedp.WaitVisible(chromedp.CSS(alpha + ".inactive")))
	if m, _ := mblGet(t, ts, f.alpha.ID); m.Active || m.Name != "Alpha in Chromium" {
		t.Errorf("after rename and switch: %+v", m)
	}

	// Check every row of the page at once, then deactivate them.
	run(chromedp.Click(chromedp.CSS("input[data-check-all]")))
	checked, err := chromedp.Run(browserCtx, chromedp.Evaluate[int](`document.querySelectorAll("input[name=id][form=mailboxes-group]:checked").length`))
	if err != nil {
		t.Fatal(err)
	}
	if checked != 5 {
		t.Fatalf("%d rows checked, want 5", checked)
	}
	if status := submit(`#mailboxes-group button[value=deactivate]`); status != 200 {
		t.Fatalf("group deactivate: status %d", status)
	}
	run(chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := text(".flash"); got != "Mailboxes switched off: 5." {
		t.Errorf("flash %q", got)
	}
	for _, id := range []int64{f.alpha.ID, f.beta.ID, f.gamma.ID, f.joeBox.ID, f.annBox.ID} {
		if m, _ := mblGet(t, ts, id); m.Active {
			t.Errorf("%s still active", m.Name)
		}
	}
	screenshot("")
}
