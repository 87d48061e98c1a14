package web

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// The log names mailboxes and messages, translates its types, and offers
// the reader's own mailboxes as the filter.
func TestLogPageNamesAndFilter(t *testing.T) {
	ts := newTestServer(t)
	f := msgSetup(t, ts) // each import logs a "receive" line with its mailbox and message
	untitled := msgImport(t, ts, f.alpha.ID, msgMail{From: "a@example.com", To: "b@example.com", Date: msgDay(5), Text: "no subject"}.raw())
	if err := ts.env.Store.AddLog(context.Background(), store.LogEntry{Level: store.LevelInfo, Type: "brand-new", Text: "odd type"}); err != nil {
		t.Fatal(err)
	}
	// A line of Joe's mailbox that names a message in Ann's.
	if err := ts.env.Store.AddLog(context.Background(), store.LogEntry{Level: store.LevelInfo, Type: "rule", Text: "cross line",
		MailboxID: f.joeBox.ID, MessageID: f.annMail}); err != nil {
		t.Fatal(err)
	}
	option := func(id int64, name string) string { return `<option value="` + mblID(id) + `">` + name + `</option>` }

	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/log")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r,
		`<a href="/mailboxes/`+mblID(f.alpha.ID)+`">Alpha POP</a>`,
		`<a href="/mailboxes/`+mblID(f.joeBox.ID)+`">Joe IMAP</a>`,
		`<a href="/messages/`+mblID(f.news)+`" title="Weekly news">Weekly news</a>`, // the whole subject on hover: two lines show
		`<a href="/messages/`+mblID(untitled)+`">(no subject)</a>`,
		`<td class="nowrap">Receiving</td>`, `<td class="nowrap">brand-new</td>`,
		`<select id="mailbox_id" name="mailbox_id">`,
		option(f.alpha.ID, "Alpha POP"), option(f.joeBox.ID, "Joe IMAP"), option(f.annBox.ID, "Ann IMAP"))
	wantNoBody(t, r, `<td class="nowrap">receive</td>`, `value.log_type`, `<input id="mailbox_id"`)

	// The short ?mailbox= form filters and selects like ?mailbox_id=.
	r = b.get("/log?mailbox=" + mblID(f.joeBox.ID))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<option value="`+mblID(f.joeBox.ID)+`" selected>Joe IMAP</option>`, "Joe private")
	wantNoBody(t, r, "Weekly news", "Ann IMAP</a>")
	r = b.get("/log?mailbox_id=" + mblID(f.alpha.ID))
	wantBody(t, r, `<option value="`+mblID(f.alpha.ID)+`" selected>Alpha POP</option>`, "Weekly news")
	wantNoBody(t, r, "Joe private")

	// The message and rule filters keep working.
	r = b.get("/log?message_id=" + mblID(f.news))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<a href="/messages/`+mblID(f.news)+`" title="Weekly news">Weekly news</a>`)
	wantNoBody(t, r, "Joe private", "(no subject)")
	r = b.get("/log?rule_id=999999")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "No entries match")

	// An employee's select lists only their own mailboxes.
	joe := ts.signIn(t, "joe", "password-joe")
	r = joe.get("/log")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, option(f.joeBox.ID, "Joe IMAP"), `<a href="/messages/`+mblID(f.joeMail)+`" title="Joe private">Joe private</a>`)
	wantBody(t, r, "cross line", `<td class="log-subject">#`+mblID(f.annMail)+"</td>")
	wantNoBody(t, r, "Alpha POP", "Ann IMAP", "Beta POP", "Gamma SMTP", "Weekly news", "Ann private", "odd type",
		`href="/messages/`+mblID(f.annMail)+`"`)

	// Types and Pochta's own lines go through the catalog; a line written
	// as plain text (a server's reply, an old line) stays as it was.
	if r := b.postForm("/profile/language", url.Values{"language": {"ru"}, "back": {"/log"}}); r.status != http.StatusSeeOther {
		t.Fatalf("language switch: %d", r.status)
	}
	r = b.get("/log")
	wantBody(t, r, `<td class="nowrap">Приём</td>`, `<a href="/messages/`+mblID(untitled)+`">(без темы)</a>`,
		"Получение письма: Weekly news", "Получение письма: (без темы)", "odd type")
	wantNoBody(t, r, `<td class="nowrap">Receiving</td>`, "Receiving mail:")
}
