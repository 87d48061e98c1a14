package web

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// TestMyMailboxInBrowser is issue 15's employee in a real Chromium: they
// sign in, connect their Dovecot mailbox from the service cards with a
// password, test it (the page lists the server's folders without leaving
// the form), tick a second folder, connect, receive its mail and find the
// messages of both folders in the message list.
func TestMyMailboxInBrowser(t *testing.T) {
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser("worker", "worker-secret")
	for i, subject := range []string{"Inbox letter", "Project plan"} {
		raw := msgMail{From: "boss@example.com", To: "worker@example.com", Subject: subject, Date: msgDay(i + 1), Text: "Hello"}.raw()
		if err := dovecot.Deliver("worker", raw); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mailbox", "create", "-u", "worker", "Sent", "Projects"},
		{"move", "-u", "worker", "Projects", "mailbox", "INBOX", "subject", "Project plan"}} {
		if out, err := dovecot.Doveadm(args...); err != nil {
			t.Fatalf("doveadm %v: %v %s", args, err, out)
		}
	}
	ts := newTestServer(t)
	dovecotService := loopbackService(t, ts, dovecot)
	ts.addUser(t, "worker", store.RoleUser)
	browser := newChromium(t, ts)
	browser.signIn(t, "worker", "password-worker")

	browser.run(t, chromedp.Navigate(ts.srv.URL+"/my/mailboxes"), chromedp.WaitVisible(chromedp.CSS(`.empty-state a[href="/my/mailboxes/new"]`)))
	browser.submit(t, `.empty-state a[href="/my/mailboxes/new"]`)
	card := `a.service-card[href$="service=` + strconv.FormatInt(dovecotService.ID, 10) + `"]`
	browser.run(t, chromedp.WaitVisible(chromedp.CSS(card)))
	browser.submit(t, card)
	browser.run(t, chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#login"), "worker"),
		chromedp.SendKeys(chromedp.CSS("#password"), "worker-secret"),
		chromedp.Click(chromedp.CSS(`button[name="test_connection"]`)),
		chromedp.WaitVisible(chromedp.CSS("[data-test-result].test-ok")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="folder"][value="Projects"]`)))
	if got := strings.Join(strings.Fields(browser.text(t, "[data-folder-list]")), " "); !strings.Contains(got, "INBOX Projects Sent") {
		t.Errorf("folders after the test: %q", got)
	}
	if n := countMailboxes(t, ts); n != 0 {
		t.Fatalf("%d mailboxes after testing", n)
	}
	browser.run(t, chromedp.Click(chromedp.CSS(`input[name="folder"][value="Projects"]`)),
		chromedp.SetValue(chromedp.CSS("#sync_range"), "all"))
	if status := browser.submit(t, ".form-actions button.btn-primary"); status != http.StatusOK {
		t.Fatalf("connect: status %d", status)
	}
	if n := countMailboxes(t, ts); n != 1 {
		t.Fatalf("%d mailboxes after connecting", n)
	}
	// "Receive mail now" from the list, then its messages.
	browser.run(t, chromedp.Navigate(ts.srv.URL+"/my/mailboxes"), chromedp.WaitVisible(chromedp.CSS(".my-card-actions form button")))
	browser.submit(t, ".my-card-actions form button")
	if got := browser.text(t, ".my-card"); !strings.Contains(got, "2 messages, 2 new") {
		t.Errorf("the mailbox after receiving: %q", got)
	}
	browser.submit(t, ".my-card-actions a.btn")
	if got := browser.text(t, "table tbody"); !strings.Contains(got, "Inbox letter") || !strings.Contains(got, "Project plan") {
		t.Errorf("messages list: %q", got)
	}
}
