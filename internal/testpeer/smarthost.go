package testpeer

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

//go:embed smarthost.py
var smarthostScript []byte

// Smarthost is an SMTP server of the tests' own on loopback (smarthost.py,
// Python's aiosmtpd) that keeps each message it accepts as N.eml, the
// bytes as received, and N.json, the envelope, in Dir; some recipients get
// chosen answers (reject@, flaky@, defer@, slow@: see the script).
type Smarthost struct {
	Dir  string
	Port int
}

// SmarthostMessage is one message a [Smarthost] accepted.
type SmarthostMessage struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	Raw  []byte   `json:"-"`
}

// StartSmarthost starts a [Smarthost] for the test, stopped at its end;
// with a login and a password it asks for AUTH.
func StartSmarthost(t testing.TB, credentials ...string) *Smarthost {
	t.Helper()
	python := Python(t)
	if err := exec.Command(python, "-c", "import aiosmtpd").Run(); err != nil {
		unavailable(t, "python3-aiosmtpd", "aiosmtpd cannot be imported")
	}
	script := filepath.Join(t.TempDir(), "smarthost.py")
	if err := os.WriteFile(script, smarthostScript, 0o644); err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Smarthost{Dir: t.TempDir(), Port: listener.Addr().(*net.TCPAddr).Port}
	listener.Close()
	cmd := exec.Command(python, append([]string{script, s.Dir, strconv.Itoa(s.Port)}, credentials...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("testpeer: smarthost did not start: %q %v\n%s", line, err, stderr.String())
	}
	return s
}

// Messages gives what the smarthost accepted, in order. A message whose
// envelope is still being written is left for the next call, so a test may
// poll while deliveries go on.
func (s *Smarthost) Messages(t testing.TB) []SmarthostMessage {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	number := func(name string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(name), ".json"))
		return n
	}
	sort.Slice(names, func(i, j int) bool { return number(names[i]) < number(names[j]) })
	var out []SmarthostMessage
	for _, name := range names {
		var m SmarthostMessage
		envelope, err := os.ReadFile(name)
		if err != nil || json.Unmarshal(envelope, &m) != nil {
			break
		}
		if m.Raw, err = os.ReadFile(strings.TrimSuffix(name, ".json") + ".eml"); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
