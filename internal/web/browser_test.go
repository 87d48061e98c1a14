package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/testpeer"
)

// TestBrowser drives a real headless Chromium through the web admin: the
// redirect to the login page, signing in, every navigation page, and the
// settings form's save, flash and field error, with CSP and the embedded
// CSS and JS in force as a user's browser has them.
//
// POCHTA_WEB_SCREENSHOT=path also writes the settings screenshot there.
func TestBrowser(t *testing.T) {
	chromium := testpeer.Chromium(t)
	ts := newTestServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	base := ts.srv.URL
	run := func(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browserCtx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(t *testing.T, css string) string {
		t.Helper()
		value, err := chromedp.Run(browserCtx, chromedp.Text(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("text of %s: %v", css, err)
		}
		return strings.TrimSpace(value)
	}
	value := func(t *testing.T, css string) string {
		t.Helper()
		v, err := chromedp.Run(browserCtx, chromedp.Value(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("value of %s: %v", css, err)
		}
		return v
	}
	// submit clicks a button that posts a form and waits for the page that
	// comes back, returning its HTTP status.
	submit := func(t *testing.T, css string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(browserCtx, chromedp.Click(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("submit %s: %v", css, err)
		}
		return resp.Status
	}

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
			{"/rules", "Rules"},
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
}
