package service_test

import (
	"go/build"
	"strings"
	"testing"
)

// The service speaks no protocol itself: it holds receivers (receive) and
// the intake, so that a new protocol is a new package, not a new switch in
// the service. docs/architecture.md draws this.
func TestServiceImportsNoProtocol(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range pkg.Imports {
		for _, protocol := range []string{"/internal/pop3", "/internal/imap", "/internal/smtp", "/internal/web", "/internal/api", "/internal/app"} {
			if strings.HasSuffix(path, protocol) || strings.Contains(path, protocol+"/") {
				t.Errorf("service imports %s", path)
			}
		}
		// The protocol libraries belong to the receivers (fetch,
		// imapsync) and the SMTP server.
		for _, library := range []string{"github.com/emersion/go-imap", "github.com/emersion/go-smtp", "github.com/emersion/go-sasl"} {
			if strings.HasPrefix(path, library) {
				t.Errorf("service imports %s", path)
			}
		}
	}
}
