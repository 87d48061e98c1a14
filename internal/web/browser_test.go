package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// TestBrowser drives a real headless Chromium through the web admin: the
// redirect to the login page, signing in, every navigation page, and the
// settings form's save, flash and field error, with CSP and the embedded
// CSS and JS in force as a user's browser has them.
//
// POCHTA_WEB_SCREENSHOT=path also writes the settings screenshot there.
func TestBrowser(t *testing.T) {
	ts := newTestServer(t)
	browser := newChromium(t, ts)
	browserCtx, base := browser.ctx, ts.srv.URL
	run := func(t *testing.T, actions ...chromedp.Action[chromedp.Void]) { t.Helper(); browser.run(t, actions...) }
	text := func(t *testing.T, css string) string { t.Helper(); return browser.text(t, css) }
	value := func(t *testing.T, css string) string {
		t.Helper()
		v, err := chromedp.Run(browserCtx, chromedp.Value(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("value of %s: %v", css, err)
		}
		return v
	}
	submit := func(t *testing.T, css string) int64 { t.Helper(); return browser.submit(t, css) }

	t.Run("redirect to login and sign in", func(t *testing.T) {
		run(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("form.login-form")))
		location, err := chromedp.Run(browserCtx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if location != base+"/login" {
			t.Fatalf("signed out, / went to %s", location)
		}
		run(t,
			chromedp.SendKeys(chromedp.CSS("#login"), "admin"),
			chromedp.SendKeys(chromedp.CSS("#password"), servicetest.AdminPassword),
		)
		if status := submit(t, "form.login-form button[type=submit]"); status != 200 {
			t.Fatalf("sign-in ended with status %d", status)
		}
		run(t, chromedp.WaitVisible(chromedp.CSS("nav.sidenav")))
		if got := text(t, "main h1"); got != "Messages" {
			t.Fatalf("after sign-in the heading is %q", got)
		}
	})

	t.Run("navigation", func(t *testing.T) {
		for _, page := range []struct{ path, heading string }{
			{"/log", "Mail log"},
			{"/mailboxes", "Mailboxes"},
			{"/services", "Mail services"},
			{"/settings", "Module settings"},
			{"/sites", "Sites"},
			{"/users", "Users"},
			{"/messages", "Messages"},
		} {
			link := `nav.sidenav a[href="` + page.path + `"]`
			run(t, chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.CSS(link+".active")))
			if got := text(t, "main h1"); got != page.heading {
				t.Errorf("%s: heading %q, want %q", page.path, got, page.heading)
			}
		}
	})

	t.Run("mail services", func(t *testing.T) {
		run(t, chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/services"]`)), chromedp.WaitVisible(chromedp.CSS("table.services-table")))
		if got := text(t, "table.services-table tbody"); !strings.Contains(got, "gmail") {
			t.Errorf("the mail services table lacks gmail: %q", got)
		}
		if got := text(t, "main h1"); got != "Mail services" {
			t.Errorf("heading %q", got)
		}
	})

	t.Run("settings save", func(t *testing.T) {
		run(t, chromedp.Navigate(base+"/settings"), chromedp.WaitVisible(chromedp.CSS("#log_keep_days")))
		run(t, chromedp.Clear(chromedp.CSS("#log_keep_days")), chromedp.SendKeys(chromedp.CSS("#log_keep_days"), "30"))
		if status := submit(t, ".form-actions button[type=submit]"); status != 200 {
			t.Fatalf("save ended with status %d", status)
		}
		run(t, chromedp.WaitVisible(chromedp.CSS(".flash")))
		if got := text(t, ".flash"); got != "Settings saved" {
			t.Errorf("flash %q", got)
		}
		run(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#log_keep_days")))
		if got := value(t, "#log_keep_days"); got != "30" {
			t.Errorf("after reload Keep log for is %q, want 30", got)
		}
		if got := ts.settings(t).LogKeepDays; got != 30 {
			t.Errorf("stored LogKeepDays = %d, want 30", got)
		}

		shot, err := chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "settings.png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("settings page screenshot: %s", path)
		if extra := os.Getenv("POCHTA_WEB_SCREENSHOT"); extra != "" {
			if err := os.WriteFile(extra, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("settings page screenshot: %s", extra)
		}
	})

	t.Run("settings field error", func(t *testing.T) {
		run(t, chromedp.Clear(chromedp.CSS("#connection_timeout")), chromedp.SendKeys(chromedp.CSS("#connection_timeout"), "0"))
		if status := submit(t, ".form-actions button[type=submit]"); status != 422 {
			t.Fatalf("invalid save ended with status %d, want 422", status)
		}
		// The message sits in the same field block as the input.
		errorCSS := ".field.has-error #connection_timeout ~ #connection_timeout-error"
		run(t, chromedp.WaitVisible(chromedp.CSS(errorCSS)))
		const want = "Connection timeout (seconds) must be a whole number from 1 to 600"
		if got := text(t, errorCSS); got != want {
			t.Errorf("field error %q, want %q", got, want)
		}
		if got := text(t, ".alert-error"); !strings.Contains(got, want) {
			t.Errorf("summary %q lacks the error", got)
		}
		if got := value(t, "#connection_timeout"); got != "0" {
			t.Errorf("the form lost the typed value: %q", got)
		}
		if got := ts.settings(t).ConnectionTimeout; got != 30 {
			t.Errorf("stored ConnectionTimeout = %d, want 30 (unchanged)", got)
		}
		if extra := os.Getenv("POCHTA_WEB_SCREENSHOT"); extra != "" {
			shot, err := chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			errorShot := strings.TrimSuffix(extra, ".png") + "-error.png"
			if err := os.WriteFile(errorShot, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("settings error screenshot: %s", errorShot)
		}
	})

	t.Run("mailbox form", func(t *testing.T) {
		// pick sets a select and fires its change event, as a person's pick does.
		pick := func(t *testing.T, css, value string) {
			t.Helper()
			script := `(() => { const s = document.querySelector(` + strconv.Quote(css) + `); s.value = ` + strconv.Quote(value) +
				`; s.dispatchEvent(new Event("change", {bubbles: true})); return s.value; })()`
			got, err := chromedp.Run(browserCtx, chromedp.Evaluate[string](script))
			if err != nil || got != value {
				t.Fatalf("pick %s in %s: got %q, %v", value, css, got, err)
			}
		}
		typeInto := func(t *testing.T, css, text string) {
			t.Helper()
			run(t, chromedp.Clear(chromedp.CSS(css)), chromedp.SendKeys(chromedp.CSS(css), text))
		}
		shoot := func(t *testing.T, suffix string) {
			t.Helper()
			extra := os.Getenv("POCHTA_MAILBOX_SCREENSHOT")
			if extra == "" {
				return
			}
			shot, err := chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			path := strings.TrimSuffix(extra, ".png") + suffix + ".png"
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("mailbox form screenshot: %s", path)
		}
		saveCSS := ".form-actions button.btn-primary"

		// POP3: an empty save shows the error by the field.
		run(t, chromedp.Navigate(base+"/mailboxes/new?type=pop3"), chromedp.WaitVisible(chromedp.CSS("#name")))
		if got := text(t, "main h1"); got != "New system mailbox" {
			t.Errorf("heading %q", got)
		}
		if status := submit(t, saveCSS); status != 422 {
			t.Fatalf("empty save ended with status %d, want 422", status)
		}
		errorCSS := ".field.has-error #name ~ #name-error"
		run(t, chromedp.WaitVisible(chromedp.CSS(errorCSS)))
		if got := text(t, errorCSS); got != "Name is required" {
			t.Errorf("name error %q", got)
		}
		shoot(t, "-error")
		typeInto(t, "#name", "Browser POP3")
		typeInto(t, "#server", "pop.example.com")
		typeInto(t, "#login", "browser")
		typeInto(t, "#password", "browser-secret-1")
		if got := value(t, "#port"); got != "110" {
			t.Fatalf("port %q before TLS, want 110", got)
		}
		run(t, chromedp.WaitNotPresent(chromedp.CSS("#no_verify:enabled")))
		pick(t, "#security", "tls")
		if got := value(t, "#port"); got != "995" {
			t.Errorf("port %q after picking TLS, want 995 (the script swaps it)", got)
		}
		run(t, chromedp.WaitVisible(chromedp.CSS("#no_verify:enabled")))
		// The tabs: "Additional" shows its panel and hides the other.
		run(t, chromedp.Click(chromedp.CSS(`a[data-tab="tab-additional"]`)), chromedp.WaitVisible(chromedp.CSS("#max_messages")),
			chromedp.WaitNotVisible(chromedp.CSS("#name")))
		shoot(t, "-additional")
		run(t, chromedp.Click(chromedp.CSS(`a[data-tab="tab-mailbox"]`)), chromedp.WaitVisible(chromedp.CSS("#name")))
		if status := submit(t, saveCSS); status != 200 {
			t.Fatalf("save ended with status %d", status)
		}
		run(t, chromedp.WaitVisible(chromedp.CSS(".flash")))
		if got := text(t, ".flash"); got != "Mailbox created" {
			t.Errorf("flash %q", got)
		}
		if got := text(t, "main h1"); got != "Mailbox “Browser POP3”" {
			t.Errorf("heading %q", got)
		}
		if got := value(t, "#port"); got != "995" {
			t.Errorf("saved port %q", got)
		}
		if got := value(t, "#password"); got != "" {
			t.Errorf("the password came back: %q", got)
		}
		shoot(t, "")

		// SMTP: the type swaps the fields at once; relay only with domains.
		run(t, chromedp.Navigate(base+"/mailboxes/new?type=pop3"), chromedp.WaitVisible(chromedp.CSS("#server")))
		pick(t, "#type", "smtp")
		run(t, chromedp.WaitVisible(chromedp.CSS("#listen")), chromedp.WaitNotVisible(chromedp.CSS("#server")))
		typeInto(t, "#name", "Browser SMTP")
		typeInto(t, "#listen_port", "2526")
		run(t, chromedp.WaitNotPresent(chromedp.CSS("#relay:enabled")))
		run(t, chromedp.SendKeys(chromedp.CSS("#domains"), "example.com"), chromedp.WaitVisible(chromedp.CSS("#relay:enabled")))
		shoot(t, "-smtp")
		if status := submit(t, saveCSS); status != 200 {
			t.Fatalf("SMTP save ended with status %d", status)
		}
		run(t, chromedp.WaitVisible(chromedp.CSS(".flash")))
		if got := text(t, "main h1"); got != "Mailbox “Browser SMTP”" {
			t.Errorf("heading %q", got)
		}
		smtpPage, err := chromedp.Run(browserCtx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}

		// IMAP: picking gmail fills the server.
		run(t, chromedp.Navigate(base+"/mailboxes/new?type=imap"), chromedp.WaitVisible(chromedp.CSS("#service_id")))
		pick(t, "#service_id", strconv.FormatInt(findService(t, ts, "gmail").ID, 10))
		if got := value(t, "#server"); got != "imap.gmail.com" {
			t.Errorf("server %q after picking gmail", got)
		}
		typeInto(t, "#name", "Browser IMAP")
		typeInto(t, "#login", "someone@gmail.com")
		typeInto(t, "#password", "imap-browser-secret")
		pick(t, "#owner_id", strconv.FormatInt(ts.env.Admin.User.ID, 10))
		shoot(t, "-imap")
		if status := submit(t, saveCSS); status != 200 {
			t.Fatalf("IMAP save ended with status %d", status)
		}
		run(t, chromedp.WaitVisible(chromedp.CSS(".flash")))
		if got := text(t, "main h1"); got != "Mailbox “Browser IMAP”" {
			t.Errorf("heading %q", got)
		}

		// Delete the SMTP mailbox from its form, through the confirmation.
		run(t, chromedp.Navigate(smtpPage), chromedp.WaitVisible(chromedp.CSS(".form-actions a.btn-danger-ghost")))
		run(t, chromedp.Click(chromedp.CSS(".form-actions a.btn-danger-ghost")), chromedp.WaitVisible(chromedp.CSS(".panel-danger button.btn-danger")))
		if got := text(t, ".panel-danger"); !strings.Contains(got, "Browser SMTP") {
			t.Errorf("the confirmation does not name the mailbox: %q", got)
		}
		if status := submit(t, ".panel-danger button.btn-danger"); status != 200 {
			t.Fatalf("delete ended with status %d", status)
		}
		list, err := ts.env.Service.Mailboxes(context.Background(), ts.env.Admin, store.MailboxFilter{}, store.MailboxSort{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range list.Items {
			names = append(names, m.Name)
		}
		if got := strings.Join(names, ","); strings.Contains(got, "Browser SMTP") || !strings.Contains(got, "Browser POP3") || !strings.Contains(got, "Browser IMAP") {
			t.Errorf("mailboxes after the delete: %s", got)
		}
	})

	// A hostile message in the view: its HTML sits in a sandboxed frame
	// under its own CSP, so none of its script runs, nothing it names loads
	// until the reader asks for remote images, and its cid: image does.
	//
	// POCHTA_WEB_SCREENSHOT_MESSAGES=path.png also writes screenshots of
	// the list (path), a view (path with "-view") and the hostile message
	// ("-hostile").
	t.Run("message view is safe", func(t *testing.T) {
		var mu sync.Mutex
		var remotePaths []string
		remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			remotePaths = append(remotePaths, r.URL.RequestURI())
			mu.Unlock()
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(msgPNG)
		}))
		defer remote.Close()
		remoteHits := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), remotePaths...)
		}
		// The app again, on a port of its own (cookies do not mind ports),
		// noting the status of each attachment it serves (the cid: image).
		var attachmentStatus []int
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			ts.srv.Config.Handler.ServeHTTP(recorder, r)
			if strings.Contains(r.URL.Path, "/attachments/") {
				mu.Lock()
				attachmentStatus = append(attachmentStatus, recorder.status)
				mu.Unlock()
			}
		}))
		defer app.Close()

		box := mblAdd(t, ts, mblPOP3("Browser mail", "pop.browser.example"))
		var report int64
		for i, m := range []msgMail{
			{From: "Иван Петров <ivan@example.ru>", To: "team@example.com", Subject: msgReportSubject, Date: msgDay(1),
				Text: "Привет!\n> Пришлите отчёт\n>> до пятницы", Attachment: &msgPart{Name: "отчёт.pdf", Type: "application/pdf", Data: msgPDF}},
			{From: "News <news@example.com>", To: "team@example.com", Subject: "Weekly news", Date: msgDay(2), Text: "news", HTML: "<p>news</p>"},
			{From: "boss@example.com", To: "admin@example.com", Subject: "", Date: msgDay(3), Text: "No subject at all"},
		} {
			id := msgImport(t, ts, box.ID, m.raw())
			if i == 0 {
				report = id
			}
			if i == 1 {
				if _, err := ts.env.Service.MessageAction(context.Background(), ts.env.Admin, service.MessageSelection{IDs: []int64{id}}, "spam"); err != nil {
					t.Fatal(err)
				}
			}
		}
		hostile := msgImport(t, ts, box.ID, msgHostile(remote.URL+"/pixel.png").raw())
		view := app.URL + "/messages/" + strconv.FormatInt(hostile, 10)
		shoot := func(suffix string) {
			t.Helper()
			extra := os.Getenv("POCHTA_WEB_SCREENSHOT_MESSAGES")
			if extra == "" {
				return
			}
			shot, err := chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			path := strings.TrimSuffix(extra, ".png") + suffix + ".png"
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)
		}
		// loaded waits for the page's load event, which comes after its
		// frames and their images have loaded.
		loaded := func() {
			t.Helper()
			if _, err := chromedp.Run(browserCtx, chromedp.Poll[bool](`document.readyState === "complete"`)); err != nil {
				t.Fatal(err)
			}
		}

		run(t, chromedp.Navigate(base+"/messages?mailbox_id="+strconv.FormatInt(box.ID, 10)), chromedp.WaitVisible(chromedp.CSS("table.messages-table")))
		loaded()
		shoot("")
		run(t, chromedp.Navigate(base+"/messages/"+strconv.FormatInt(report, 10)), chromedp.WaitVisible(chromedp.CSS(".message-text .quote-2")))
		shoot("-view")

		run(t, chromedp.Navigate(view), chromedp.WaitVisible(chromedp.CSS("iframe.message-frame")))
		loaded()
		title, err := chromedp.Run(browserCtx, chromedp.Title())
		if err != nil {
			t.Fatal(err)
		}
		if title != "Hostile · Pochta" {
			t.Errorf("the page title is %q", title)
		}
		marker, err := chromedp.Run(browserCtx, chromedp.Evaluate[string](`window.name + "|" + document.title + "|" + document.body.innerText.indexOf("PWNED")`))
		if err != nil {
			t.Fatal(err)
		}
		if marker != "|Hostile · Pochta|-1" {
			t.Errorf("the message's script ran: %q", marker)
		}
		sandbox, err := chromedp.Run(browserCtx, chromedp.AttributeValue(chromedp.CSS("iframe.message-frame"), "sandbox"))
		if err != nil {
			t.Fatal(err)
		}
		if !sandbox.Exists || sandbox.Value != "allow-popups allow-popups-to-escape-sandbox" {
			t.Errorf("the frame's sandbox attribute: %+v", sandbox)
		}
		if got := remoteHits(); len(got) != 0 {
			t.Errorf("remote requests before asking: %v", got)
		}
		mu.Lock()
		statuses := append([]int(nil), attachmentStatus...)
		mu.Unlock()
		// The cid: image comes inside the page, not from a request.
		if len(statuses) != 0 {
			t.Errorf("the frame asked for attachments: %v", statuses)
		}
		if got := text(t, ".remote-bar"); !strings.Contains(got, "Remote images are blocked (1).") {
			t.Errorf("remote bar %q", got)
		}
		shoot("-hostile")

		// Show them: the remote image loads, and still nothing else.
		run(t, chromedp.Click(chromedp.CSS(".remote-bar a")), chromedp.WaitNotPresent(chromedp.CSS(".remote-bar")),
			chromedp.WaitVisible(chromedp.CSS(`iframe.message-frame[src$="remote=1"]`)))
		loaded()
		hits := remoteHits()
		if len(hits) == 0 {
			t.Fatal("the remote image did not load after asking")
		}
		for _, path := range hits {
			if path != "/pixel.png" {
				t.Errorf("a remote request the message should not make: %s", path)
			}
		}
		marker, err = chromedp.Run(browserCtx, chromedp.Evaluate[string](`window.name + "|" + document.title`))
		if err != nil {
			t.Fatal(err)
		}
		if marker != "|Hostile · Pochta" {
			t.Errorf("after remote images, the message's script ran: %q", marker)
		}
	})
}

// statusRecorder notes the status a handler answers with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
