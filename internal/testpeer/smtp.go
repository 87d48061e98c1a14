package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Swaks gives the path of swaks, the SMTP test client (with STARTTLS and
// AUTH: libnet-ssleay-perl and libauthen-sasl-perl).
func Swaks(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("swaks")
	if err != nil {
		unavailable(t, "swaks libnet-ssleay-perl libauthen-sasl-perl", "swaks not found")
	}
	for _, module := range []string{"Net::SSLeay", "Authen::SASL"} {
		if err := exec.Command("perl", "-M"+module, "-e1").Run(); err != nil {
			unavailable(t, "libnet-ssleay-perl libauthen-sasl-perl", "perl module %s missing", module)
		}
	}
	return path
}

// Python gives Debian's own python3 (/usr/bin/python3), whose smtplib the
// tests drive; the python3 on PATH may be another build.
func Python(t testing.TB) string {
	t.Helper()
	const path = "/usr/bin/python3"
	if _, err := os.Stat(path); err != nil {
		unavailable(t, "python3", "%s not found", path)
	}
	return path
}

// PostfixToolsDir is where scripts/install-test-peers.sh unpacks Postfix's
// package (its smtp-source and smtp-sink run without installing Postfix,
// which would conflict with other MTAs); POCHTA_POSTFIX_ROOT overrides it.
const PostfixToolsDir = "/opt/pochta-test-peers/postfix"

// PostfixTool gives the command to run one of Postfix's test tools
// ("smtp-source", "smtp-sink") with the environment it needs.
func PostfixTool(t testing.TB, name string) (path string, env []string) {
	t.Helper()
	root := os.Getenv("POCHTA_POSTFIX_ROOT")
	if root == "" {
		root = PostfixToolsDir
	}
	path = filepath.Join(root, "usr/sbin", name)
	if _, err := os.Stat(path); err != nil {
		unavailable(t, "postfix (unpacked by the script)", "%s not found", path)
	}
	return path, append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(root, "usr/lib/postfix"))
}
