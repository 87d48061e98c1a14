package web

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/testpeer"
)

// TestPOP3MailboxInBrowser is the POP3 issue's "done when", from the web
// admin: in a real Chromium an admin fills in a POP3 mailbox for a real
// Dovecot, tests the connection, saves it, receives its mail with "Receive
// mail now" and finds the messages in the list; receiving again brings
// nothing twice, and a wrong password is said in plain words.
func TestPOP3MailboxInBrowser(t *testing.T) {
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser("webuser", "web-secret")
	for i, subject := range []string{"Web one", "Web two"} {
		raw := msgMail{From: "sender@example.com", To: "webuser@example.com", Subject: subject, Date: msgDay(i + 1), Text: "Hello from Dovecot"}.raw()
		if err := dovecot.Deliver("webuser", raw); err != nil {
			t.Fatal(err)
		}
	}
	ts := newTestServer(t)
	browser := newChromium(t, ts)
	browser.signIn(t, "admin", servicetest.AdminPassword)

	// The form: test the connection first, then save.
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/mailboxes/new?type=pop3"), chromedp.WaitVisible(chromedp.CSS("#server")))
	fill := func(password string) {
		t.Helper()
		browser.run(t,
			chromedp.SetValue(chromedp.CSS("#name"), "Dovecot inbox"),
			chromedp.SetValue(chromedp.CSS("#server"), dovecot.Host),
			chromedp.SetValue(chromedp.CSS("#port"), strconv.Itoa(dovecot.POP3Port)),
			chromedp.SetValue(chromedp.CSS("#login"), "webuser"),
			chromedp.SetValue(chromedp.CSS("#password"), password),
		)
	}
	fill("not-the-password")
	// The page's script tests without leaving the form and says the
	// outcome under the button.
	browser.run(t, chromedp.Click(chromedp.CSS(`button[name="test_connection"]`)),
		chromedp.WaitVisible(chromedp.CSS("[data-test-result].test-failed")))
	if got := browser.text(t, "[data-test-result]"); !strings.HasPrefix(got, "The test failed: The server did not accept the login or the password") {
		t.Errorf("test with a wrong password: %q", got)
	}
	fill("web-secret")
	browser.run(t, chromedp.Click(chromedp.CSS(`button[name="test_connection"]`)),
		chromedp.WaitVisible(chromedp.CSS("[data-test-result].test-ok")))
	if got := browser.text(t, "[data-test-result].test-ok"); !strings.HasPrefix(got, "Connected: 2 messages") {
		t.Errorf("test connection: %q", got)
	}
	// Nothing was saved by testing; the password typed is still there.
	if n := countMailboxes(t, ts); n != 0 {
		t.Fatalf("%d mailboxes after testing", n)
	}
	if status := browser.submit(t, ".form-actions button.btn-primary"); status != http.StatusOK {
		t.Fatalf("save: status %d", status)
	}
	if n := countMailboxes(t, ts); n != 1 {
		t.Fatalf("%d mailboxes after saving", n)
	}

	// Receive mail now, from the list.
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/mailboxes"), chromedp.WaitVisible(chromedp.CSS(`form[action="/mailboxes/check"] button`)))
	browser.submit(t, `form[action="/mailboxes/check"] button`)
	if got := browser.text(t, ".check-results tbody"); !strings.Contains(got, "Dovecot inbox") || !strings.Contains(got, "Received 2 new messages") {
		t.Errorf("receive now: %q", got)
	}
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/messages"), chromedp.WaitVisible(chromedp.CSS("table")))
	if got := browser.text(t, "table tbody"); !strings.Contains(got, "Web one") || !strings.Contains(got, "Web two") {
		t.Errorf("messages list: %q", got)
	}
	// The server keeps its mail (no delete after receipt): a second run
	// knows its UIDLs and stores nothing twice.
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/mailboxes"), chromedp.WaitVisible(chromedp.CSS(`form[action="/mailboxes/check"] button`)))
	browser.submit(t, `form[action="/mailboxes/check"] button`)
	if got := browser.text(t, ".check-results tbody"); !strings.Contains(got, "Received 0 new messages") {
		t.Errorf("receive again: %q", got)
	}
}
