package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/testpeer"
)

// chromium is a real headless Chromium on a test server's web admin, for
// the tests that need the CSP, the CSS and app.js in force as a user's
// browser has them.
type chromium struct {
	ctx  context.Context
	base string
}

func newChromium(t *testing.T, ts *testServer) *chromium {
	t.Helper()
	path := testpeer.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return &chromium{ctx: browserCtx, base: ts.srv.URL}
}

func (c *chromium) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(c.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func (c *chromium) text(t *testing.T, css string) string {
	t.Helper()
	value, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(value)
}

// submit clicks a button that posts a form and waits for the page that
// comes back, returning its HTTP status.
func (c *chromium) submit(t *testing.T, css string) int64 {
	t.Helper()
	response, err := chromedp.RunResponse(c.ctx, chromedp.Click(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("submit %s: %v", css, err)
	}
	return response.Status
}

func (c *chromium) signIn(t *testing.T, login, password string) {
	t.Helper()
	c.run(t, chromedp.Navigate(c.base+"/login"), chromedp.WaitVisible(chromedp.CSS("form.login-form")),
		chromedp.SendKeys(chromedp.CSS("#login"), login), chromedp.SendKeys(chromedp.CSS("#password"), password))
	if status := c.submit(t, "form.login-form button[type=submit]"); status != http.StatusOK {
		t.Fatalf("sign-in: status %d", status)
	}
}
