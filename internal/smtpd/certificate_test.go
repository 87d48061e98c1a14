package smtpd_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/testpeer"
)

// presented gives the SHA-256 fingerprint of the certificate the server
// shows after STARTTLS, as openssl s_client sees it, with the verification
// result when caFile is set.
func (e *env) presented(caFile string) (fingerprint, verify string) {
	e.t.Helper()
	args := []string{"s_client", "-starttls", "smtp", "-connect", e.addr(), "-servername", "localhost", "-showcerts"}
	if caFile != "" {
		args = append(args, "-CAfile", caFile)
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = strings.NewReader("QUIT\r\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
	block, _ := pem.Decode(out[strings.Index(string(out), "-----BEGIN CERTIFICATE-----"):])
	if block == nil {
		e.t.Fatalf("no certificate in:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "Verify return code:") {
			verify = strings.TrimSpace(line)
		}
	}
	return fmt.Sprintf("%X", sha256.Sum256(block.Bytes)), verify
}

func fileFingerprint(t *testing.T, certFile string) string {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%X", sha256.Sum256(block.Bytes))
}

func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("POCHTA_REQUIRE_PEERS") == "1" {
			t.Fatal("openssl not found")
		}
		t.Skip("openssl not found")
	}
}

// The certificate and key of the settings, as PEM text or as paths of
// files, are the ones STARTTLS presents; swaks and openssl s_client,
// trusting that certificate alone, verify it.
func TestSTARTTLSCertificateFromSettings(t *testing.T) {
	requireOpenSSL(t)
	certFile, keyFile := testpeer.SelfSignedFiles(t, "127.0.0.1")
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	want := fileFingerprint(t, certFile)
	for _, test := range []struct{ name, cert, key string }{
		{"PEM", string(certPEM), string(keyPEM)},
		{"files", certFile, keyFile},
	} {
		t.Run(test.name, func(t *testing.T) {
			dataDir := t.TempDir()
			e := newEnv(t, options{dataDir: dataDir, settings: service.SettingsInput{SMTPTLSCertificate: ptr(test.cert), SMTPTLSKey: ptr(test.key)}})
			got, verify := e.presented(certFile)
			if got != want || verify != "Verify return code: 0 (ok)" {
				t.Fatalf("presented %s (%s), want %s", got, verify, want)
			}
			out, code := e.swaks("--tls", "--tls-verify", "--tls-ca-path", certFile, "--from", "a@far.test", "--to", "bob@example.test")
			if code != 0 {
				t.Fatalf("swaks verifying against the settings' certificate: exit %d\n%s", code, out)
			}
			if names, _ := filepath.Glob(filepath.Join(dataDir, "*.pem")); len(names) != 0 {
				t.Errorf("a self-signed pair was made beside the settings' one: %v", names)
			}
		})
	}
}

// Without a certificate in the settings the server makes a self-signed pair
// once and keeps it in its data folder: a restart presents the same
// certificate, so a client that pinned it keeps working.
func TestSelfSignedKeptAcrossRestart(t *testing.T) {
	requireOpenSSL(t)
	dataDir := t.TempDir()
	first := newEnv(t, options{dataDir: dataDir})
	before, _ := first.presented("")
	if again, _ := first.presented(""); again != before {
		t.Fatalf("one process presented %s then %s", before, again)
	}
	first.stop()
	kept := filepath.Join(dataDir, "smtp-selfsigned-cert.pem")
	if got := fileFingerprint(t, kept); got != before {
		t.Fatalf("kept %s, presented %s", got, before)
	}
	info, err := os.Stat(filepath.Join(dataDir, "smtp-selfsigned-key.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("kept key: %v %v", info, err)
	}
	second := newEnv(t, options{dataDir: dataDir})
	after, _ := second.presented("")
	if after != before {
		t.Fatalf("after a restart the server presented %s, before %s", after, before)
	}
	if names, _ := filepath.Glob(filepath.Join(dataDir, "*")); len(names) != 2 {
		t.Errorf("data folder holds %v, want the pair alone", names)
	}
	out, code := second.swaks("--tls", "--from", "a@far.test", "--to", "bob@example.test")
	if code != 0 {
		t.Fatalf("swaks over the kept pair: exit %d\n%s", code, out)
	}
}
