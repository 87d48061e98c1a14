package testpeer

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
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
	TLS  bool     `json:"tls"` // it came after STARTTLS
	Raw  []byte   `json:"-"`
}

// StartSmarthost starts a [Smarthost] for the test, stopped at its end;
// with a login and a password it asks for AUTH.
func StartSmarthost(t testing.TB, credentials ...string) *Smarthost {
	t.Helper()
	return startSmarthost(t, nil, credentials)
}

// SmarthostTLS is how a [Smarthost] started by [StartSmarthostTLS] answers
// STARTTLS.
type SmarthostTLS int

const (
	// SmarthostTLSWorks offers STARTTLS with a self-signed certificate.
	SmarthostTLSWorks SmarthostTLS = iota
	// SmarthostTLSBroken offers STARTTLS, answers it with 220 and then
	// fails every handshake: TLS 1.2 at most with only DHE ciphers, which
	// Go's client does not offer (as an old or misconfigured MX does).
	SmarthostTLSBroken
	// SmarthostTLSRefused offers STARTTLS and answers it "454 4.7.0 TLS
	// not available", the session going on in plain text.
	SmarthostTLSRefused
)

// StartSmarthostTLS starts a [Smarthost] that offers STARTTLS, working or
// broken as mode says.
func StartSmarthostTLS(t testing.TB, mode SmarthostTLS, credentials ...string) *Smarthost {
	t.Helper()
	certFile, keyFile := SelfSignedFiles(t, "127.0.0.1")
	environment := []string{"SMARTHOST_TLS_CERT=" + certFile, "SMARTHOST_TLS_KEY=" + keyFile}
	switch mode {
	case SmarthostTLSBroken:
		environment = append(environment, "SMARTHOST_TLS_BROKEN=1")
	case SmarthostTLSRefused:
		environment = append(environment, "SMARTHOST_TLS_REFUSE=1")
	}
	return startSmarthost(t, environment, credentials)
}

// SelfSignedFiles writes a self-signed RSA certificate for host and its key
// as PEM files in a folder of the test and gives their paths. RSA, because
// the DHE ciphers of a broken [Smarthost] need an RSA key.
func SelfSignedFiles(t testing.TB, host string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(host); ip != nil {
		template.IPAddresses = []net.IP{ip}
	} else {
		template.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func startSmarthost(t testing.TB, environment, credentials []string) *Smarthost {
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
	cmd.Env = append(os.Environ(), environment...)
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
