package testpeer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// DovecotServer is a throwaway Dovecot serving POP3 and IMAP on 127.0.0.1,
// each in plain text (with STLS/STARTTLS) and with implicit TLS. Users live in
// a passwd-file with {PLAIN} passwords (so APOP and CRAM-MD5 work) and have
// a Maildir under Dir. It is stopped and its directory removed in t.Cleanup.
type DovecotServer struct {
	Host      string // "127.0.0.1"
	POP3Port  int    // plain POP3 (STLS offered)
	POP3SPort int    // POP3 over implicit TLS
	IMAPPort  int    // plain IMAP (STARTTLS offered)
	IMAPSPort int    // IMAP over implicit TLS
	CertPEM   []byte // the server's self-signed certificate (CN and SAN localhost, SAN 127.0.0.1)
	Dir       string // temporary directory with config, log (dovecot.log) and mail

	t        testing.TB
	uid, gid int
	mu       sync.Mutex
	users    []string // passwd-file lines, in order
	names    map[string]bool
	cmd      *exec.Cmd
	done     chan struct{}
	// introspection, when set, is the token-introspection URL of an oauth2
	// passdb taking XOAUTH2 and OAUTHBEARER ([DovecotOAuth]).
	introspection string
}

var deliverSeq atomic.Uint64

// Dovecot starts a throwaway Dovecot for this test. When Dovecot (with its
// imapd and pop3d) is not installed or cannot start, the test is skipped, or
// fails under CI=true or POCHTA_REQUIRE_PEERS=1.
func Dovecot(t testing.TB) *DovecotServer {
	t.Helper()
	return startDovecot(t, "")
}

// DovecotOAuth is [Dovecot] that also signs users in with OAuth2 bearer
// tokens (SASL XOAUTH2 and OAUTHBEARER) through its oauth2 passdb, which
// POSTs each token to introspectionURL (RFC 7662: a form with token=...)
// and takes the user from the answer's "username" when its "active" is
// true. The users must exist (AddUser): their passwd-file entry is the
// userdb.
func DovecotOAuth(t testing.TB, introspectionURL string) *DovecotServer {
	t.Helper()
	return startDovecot(t, introspectionURL)
}

func startDovecot(t testing.TB, introspection string) *DovecotServer {
	t.Helper()
	bin, err := dovecotBin()
	if err != nil {
		unavailable(t, "dovecot-imapd dovecot-pop3d", "Dovecot: %v", err)
	}
	dir, err := newPeerDir("pochta-dovecot-")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	uid, gid, _ := peerIDs()
	d := &DovecotServer{Host: "127.0.0.1", Dir: dir, t: t, uid: uid, gid: gid, names: map[string]bool{}, introspection: introspection}
	t.Cleanup(d.stop)
	if err := d.setup(); err != nil {
		t.Fatalf("testpeer: Dovecot: %v", err)
	}
	for attempt := 0; ; attempt++ {
		err := d.start(bin)
		if err == nil {
			return d
		}
		if attempt == 2 || !strings.Contains(err.Error(), "in use") {
			unavailable(t, "dovecot-imapd dovecot-pop3d", "Dovecot did not start: %v", err)
		}
	}
}

func dovecotBin() (string, error) {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/dovecot"); err != nil {
			return "", errors.New("dovecot not found in PATH or /usr/sbin")
		}
		bin = "/usr/sbin/dovecot"
	}
	for _, p := range []string{"pop3", "imap"} {
		if _, err := os.Stat("/usr/lib/dovecot/" + p); err != nil {
			return "", fmt.Errorf("/usr/lib/dovecot/%s missing", p)
		}
	}
	return bin, nil
}

// TLSConfig returns a client configuration that trusts CertPEM, for
// ServerName "localhost".
func (d *DovecotServer) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(d.CertPEM)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// AddUser adds a user with a plain-text password and an empty Maildir. It
// may be called before or after the server started serving.
func (d *DovecotServer) AddUser(name, password string) {
	d.t.Helper()
	if name == "" || strings.ContainsAny(name, ":/\r\n\x00") || name == "." || name == ".." {
		d.t.Fatalf("testpeer: Dovecot.AddUser: bad user name %q", name)
	}
	if strings.ContainsAny(password, ":\r\n\x00") {
		d.t.Fatalf("testpeer: Dovecot.AddUser: password of %s contains ':' or a line break", name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.names[name] {
		d.t.Fatalf("testpeer: Dovecot.AddUser: user %s exists", name)
	}
	home := filepath.Join(d.Dir, "mail", name)
	for _, sub := range []string{"", "Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"} {
		p := filepath.Join(home, sub)
		if err := os.Mkdir(p, 0o700); err != nil {
			d.t.Fatalf("testpeer: Dovecot.AddUser: %v", err)
		}
		if err := os.Chown(p, d.uid, d.gid); err != nil {
			d.t.Fatalf("testpeer: Dovecot.AddUser: %v", err)
		}
	}
	d.users = append(d.users, fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::", name, password, d.uid, d.gid, home))
	d.names[name] = true
	if err := d.writeUsers(); err != nil {
		d.t.Fatalf("testpeer: Dovecot.AddUser: %v", err)
	}
}

// writeUsers replaces the passwd-file atomically; Dovecot notices the change
// on the next lookup.
func (d *DovecotServer) writeUsers() error {
	tmp := filepath.Join(d.Dir, "users.tmp")
	data := strings.Join(d.users, "\n")
	if data != "" {
		data += "\n"
	}
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(d.Dir, "users"))
}

// Deliver puts raw into the user's Maildir/new as a new message, as a local
// delivery agent would. raw is stored as is; Dovecot serves LF line endings
// as CRLF.
func (d *DovecotServer) Deliver(user string, raw []byte) error {
	d.mu.Lock()
	known := d.names[user]
	d.mu.Unlock()
	if !known {
		return fmt.Errorf("testpeer: Dovecot.Deliver: no user %q", user)
	}
	now := time.Now()
	name := fmt.Sprintf("%d.M%dP%dQ%d.pochta-test,S=%d", now.Unix(), now.Nanosecond()/1000, os.Getpid(), deliverSeq.Add(1), len(raw))
	md := filepath.Join(d.Dir, "mail", user, "Maildir")
	tmp := filepath.Join(md, "tmp", name)
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	if err := os.Chown(tmp, d.uid, d.gid); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(md, "new", name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Doveadm runs doveadm with this server's configuration (for example
// "mailbox update --uid-validity N -u alice INBOX") and returns its output.
func (d *DovecotServer) Doveadm(args ...string) (string, error) {
	bin, err := exec.LookPath("doveadm")
	if err != nil {
		bin = "/usr/bin/doveadm"
	}
	cmd := exec.Command(bin, append([]string{"-c", filepath.Join(d.Dir, "dovecot.conf")}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("doveadm %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Log returns Dovecot's log so far.
func (d *DovecotServer) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(b)
}

// setup writes the certificate, an empty passwd-file and the mail root.
func (d *DovecotServer) setup() error {
	if err := os.Chmod(d.Dir, 0o755); err != nil { // mail and login processes traverse it
		return err
	}
	certPEM, keyPEM, err := selfSignedCert()
	if err != nil {
		return err
	}
	d.CertPEM = certPEM
	if err := os.WriteFile(filepath.Join(d.Dir, "cert.pem"), certPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "key.pem"), keyPEM, 0o600); err != nil {
		return err
	}
	mail := filepath.Join(d.Dir, "mail")
	if err := os.Mkdir(mail, 0o755); err != nil {
		return err
	}
	if err := os.Chown(mail, d.uid, d.gid); err != nil {
		return err
	}
	if d.introspection != "" {
		settings := fmt.Sprintf("introspection_mode = post\nintrospection_url = %s\nusername_attribute = username\n"+
			"active_attribute = active\nactive_value = true\n", d.introspection)
		if err := os.WriteFile(filepath.Join(d.Dir, "oauth2.conf.ext"), []byte(settings), 0o644); err != nil {
			return err
		}
	}
	return d.writeUsers()
}

func (d *DovecotServer) config() string {
	D := d.Dir
	oauthMechanisms, oauthPassdb := "", ""
	if d.introspection != "" {
		oauthMechanisms = " xoauth2 oauthbearer"
		oauthPassdb = fmt.Sprintf("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s/oauth2.conf.ext\n}\n", D)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop%[2]s
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 1000
first_valid_uid = 1
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
  }
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Junk {
    special_use = \Junk
  }
  mailbox Archive {
    special_use = \Archive
  }
}
%[3]spassdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
pop3_uidl_format = %%08Xu%%08Xv
`, D, oauthMechanisms, oauthPassdb)
	if _, err := os.Stat("/usr/share/dovecot/dh.pem"); err == nil {
		b.WriteString("ssl_dh = </usr/share/dovecot/dh.pem\n")
	}
	loginExtra := ""
	if os.Geteuid() != 0 {
		// Unprivileged Dovecot: every service runs as the current user.
		name := strconv.Itoa(os.Geteuid())
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		group := strconv.Itoa(os.Getegid())
		if g, err := user.LookupGroupId(group); err == nil {
			group = g.Name
		}
		fmt.Fprintf(&b, "default_internal_user = %[1]s\ndefault_login_user = %[1]s\ndefault_internal_group = %[2]s\n", name, group)
		loginExtra = "  chroot =\n"
	}
	fmt.Fprintf(&b, `service imap-login {
%[5]s  inet_listener imap {
    port = %[1]d
  }
  inet_listener imaps {
    port = %[2]d
    ssl = yes
  }
}
service pop3-login {
%[5]s  inet_listener pop3 {
    port = %[3]d
  }
  inet_listener pop3s {
    port = %[4]d
    ssl = yes
  }
}
`, d.IMAPPort, d.IMAPSPort, d.POP3Port, d.POP3SPort, loginExtra)
	return b.String()
}

// start picks ports, writes the configuration and runs Dovecot in the
// foreground as a child process until it accepts connections on all ports.
func (d *DovecotServer) start(bin string) error {
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	d.POP3Port, d.POP3SPort, d.IMAPPort, d.IMAPSPort = ports[0], ports[1], ports[2], ports[3]
	return d.startOn(bin, ports)
}

// Restart kills Dovecot and every session it serves (SIGKILL to its
// process group: Dovecot lets sessions finish what they are sending on
// SIGTERM) and starts it again on the same ports with the same mail: the
// server going away under its clients mid-command.
func (d *DovecotServer) Restart() error {
	bin, err := dovecotBin()
	if err != nil {
		return err
	}
	if d.cmd != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
		d.cmd = nil
	}
	return d.startOn(bin, []int{d.POP3Port, d.POP3SPort, d.IMAPPort, d.IMAPSPort})
}

// startOn runs Dovecot on the ports already chosen.
func (d *DovecotServer) startOn(bin string, ports []int) error {
	conf := filepath.Join(d.Dir, "dovecot.conf")
	if err := os.WriteFile(conf, []byte(d.config()), 0o644); err != nil {
		return err
	}
	outPath := filepath.Join(d.Dir, "dovecot.out")
	out, err := os.Create(outPath)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(bin, "-F", "-c", conf)
	cmd.Dir = d.Dir
	cmd.Stdout, cmd.Stderr = out, out
	childAttrs(cmd, syscall.SIGTERM, false)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()

	deadline := time.Now().Add(30 * time.Second)
	for _, port := range ports {
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(d.Host, strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				return fmt.Errorf("dovecot exited (%v): %s\n%s", cmd.ProcessState, tail(outPath, 10), tail(filepath.Join(d.Dir, "dovecot.log"), 20))
			default:
			}
			if time.Now().After(deadline) {
				stopProcess(cmd, done, syscall.SIGKILL, 5*time.Second)
				return fmt.Errorf("dovecot not listening on port %d after 30s\n%s", port, tail(filepath.Join(d.Dir, "dovecot.log"), 20))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	d.cmd, d.done = cmd, done
	return nil
}

func (d *DovecotServer) stop() {
	if d.cmd != nil {
		stopProcess(d.cmd, d.done, syscall.SIGTERM, 10*time.Second)
	}
	if d.t.Failed() {
		if log := tail(filepath.Join(d.Dir, "dovecot.log"), 40); log != "" {
			d.t.Logf("testpeer: end of Dovecot log (%s):\n%s", d.Dir, log)
		}
	}
	os.RemoveAll(d.Dir)
}

// selfSignedCert returns a PEM certificate and PKCS#8 key for localhost and
// 127.0.0.1, usable as its own trust anchor.
func selfSignedCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}
