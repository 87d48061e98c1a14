package testpeer

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium (or Chrome) binary: POCHTA_CHROMIUM
// when set, else the first of chromium, chromium-browser, google-chrome and
// google-chrome-stable found in PATH or /usr/bin. When none is found the test
// is skipped, or fails under CI=true or POCHTA_REQUIRE_PEERS=1.
//
// Start it with --headless --no-sandbox --disable-gpu and a fresh
// --user-data-dir (the tests run as root).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("POCHTA_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("testpeer: POCHTA_CHROMIUM=%s: %v", p, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
		if path, err := exec.LookPath("/usr/bin/" + name); err == nil {
			return path
		}
	}
	unavailable(t, "chromium", "no Chromium binary found (chromium, chromium-browser, google-chrome or POCHTA_CHROMIUM)")
	return ""
}
