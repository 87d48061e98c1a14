package smtpd_test

import (
	"encoding/json"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// The open-relay suite: tricks that have fooled mail servers into relaying,
// sent without authentication to a listener that serves example.test and
// relays for authenticated senders only. None may reach the relay.
func TestOpenRelayTricks(t *testing.T) {
	e := relayEnv(t, true)
	tricks := []struct{ from, to string }{
		{"a@far.test", "user%other.test@example.test"}, // percent hack
		{"a@far.test", "user%other.test%example.test@example.test"},
		{"a@far.test", "@example.test:user@other.test"},          // source route
		{"a@far.test", "@example.test,@mx.test:user@other.test"}, // source route, two hops
		{"a@far.test", `"user@other.test"@example.test`},         // quoted local part with @
		{"a@far.test", `"user@other.test"`},                      // quoted, no domain
		{"a@far.test", "other.test!user@example.test"},           // bang path
		{"a@far.test", "other.test!user"},                        // bang path, no domain
		{"a@far.test", "user@[127.0.0.1]"},                       // IP literal
		{"a@far.test", "user@[IPv6:::1]"},
		{"a@far.test", "user@EXAMPLE.TEST.other.test"},
		{"a@far.test", "user@example.test."},           // trailing dot
		{"a@far.test", "user@OTHER.TEST"},              // upper case
		{"a@far.test", "user@sub.example.test"},        // subdomain of a served domain
		{"a@far.test", "user@example.test@other.test"}, // two @
		{"", "user@other.test"},                        // empty sender
		{"postmaster", "user@other.test"},              // postmaster sender
		{"postmaster@example.test", "user@other.test"},
		{"someone@example.test", "user@other.test"},                  // a served domain in MAIL FROM
		{"a@far.test", "=?utf-8?q?user=40other.test?=@example.test"}, // encoded word
		{"a@far.test", "user@xn--e1afmkfd.test"},                     // punycode elsewhere
		{"a@far.test", "юзер@пример.испытание"},                      // 8-bit address elsewhere
		{"a@far.test", "user@other.test%example.test"},
		{"a@far.test", "user@other.test (example.test)"},
		{"a@far.test", "user@other.test>,<local@example.test"},
	}
	program := `
import json
tricks = json.loads(sys.argv[1]) if len(sys.argv) > 1 else TRICKS
out = []
for sender, rcpt in tricks:
    s = smtplib.SMTP(HOST, PORT)
    s.command_encoding = "utf-8"
    s.ehlo("py.test")
    code, msg = s.docmd("MAIL FROM:<%s>%s" % (sender, " SMTPUTF8" if any(ord(c) > 127 for c in rcpt) else ""))
    rcode, rmsg = s.docmd("RCPT TO:<%s>" % rcpt)
    dcode = None
    if rcode == 250:
        s.docmd("DATA")
        s.send(b"Subject: trick\r\n\r\nx\r\n.\r\n")
        dcode, _ = s.getreply()
    out.append([sender, rcpt, code, rcode, rmsg.decode("utf-8", "replace"), dcode])
    s.close()
print(json.dumps(out))
`
	raw, _ := json.Marshal(func() [][2]string {
		var list [][2]string
		for _, trick := range tricks {
			list = append(list, [2]string{trick.from, trick.to})
		}
		return list
	}())
	out := e.python("TRICKS = json.loads(" + pyString(string(raw)) + ")\n" + program)
	var results [][]any
	if err := json.Unmarshal([]byte(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]), &results); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(results) != len(tricks) {
		t.Fatalf("%d results for %d tricks", len(results), len(tricks))
	}
	local := 0
	for _, r := range results {
		rcode := int(r[3].(float64))
		t.Logf("MAIL <%s> RCPT <%s>: %d %s", r[0], r[1], rcode, r[4])
		if rcode == 250 {
			// Accepted only as local mail of the served domain.
			if !strings.HasSuffix(strings.ToLower(r[1].(string)), "@example.test") {
				t.Errorf("RCPT <%s> accepted", r[1])
			}
			local++
			continue
		}
		if rcode/100 != 5 {
			t.Errorf("RCPT <%s>: %d, want a 5xx refusal", r[1], rcode)
		}
	}
	if checked, sent := e.relay.seen(); len(checked)+len(sent) != 0 {
		t.Fatalf("relayed without authentication: %v %v", checked, sent)
	}
	if n := e.count(e.mailbox); n != local {
		t.Fatalf("stored %d, want the %d local ones", n, local)
	}
}

func pyString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// SMTP smuggling: every end-of-data look-alike with a bare CR or LF (mox's
// list) makes the message refused, and no second message appears.
func TestSmugglingRefused(t *testing.T) {
	e := newEnv(t, options{})
	variants := []string{`\n.\n`, `\n.\r\n`, `\r.\r`, `\r.\r\n`, `\r\n.\n`, `\r\n.\r`, `\n.\r`, `\r.\n`, `\r\n.\r\r\n`, `\r\n.\rX`}
	program := `
import socket
def reply(f):
    lines = []
    while True:
        line = f.readline()
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)
for v in VARIANTS:
    v = v.encode().decode("unicode_escape").encode()
    c = socket.create_connection((HOST, PORT))
    f = c.makefile("rb")
    reply(f)
    c.sendall(b"EHLO py.test\r\n"); reply(f)
    c.sendall(b"MAIL FROM:<a@far.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n")
    reply(f); reply(f); reply(f)
    smuggled = b"MAIL FROM:<evil@far.test>\r\nRCPT TO:<victim@x.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n"
    c.sendall(b"Subject: first\r\n\r\nfirst" + v + smuggled + b".\r\n")
    print(repr(v), reply(f).decode().strip())
    c.sendall(b"QUIT\r\n"); reply(f)
    c.close()
# A clean message on the same kind of session is still taken.
s = smtplib.SMTP(HOST, PORT)
print("clean", s.sendmail("a@far.test", ["b@x.test"], b"Subject: clean\r\n\r\nline\r\n.dot stuffed\r\n"))
`
	quoted := make([]string, len(variants))
	for i, v := range variants {
		quoted[i] = pyString(v)
	}
	out := e.python("VARIANTS = [" + strings.Join(quoted, ", ") + "]\n" + program)
	if got := strings.Count(out, "550 5.6.0 bare carriage return or line feed around a dot line"); got != len(variants) {
		t.Fatalf("%d of %d variants refused:\n%s", got, len(variants), out)
	}
	msgs := e.messages(e.mailbox)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: clean") || !strings.Contains(msgs[0], "\r\n.dot stuffed\r\n") {
		t.Fatalf("stored %d: %q", len(msgs), msgs)
	}
}

// Line length: a line over the cap ends the session, nothing stored; lines
// far over 1,000 bytes under the cap are taken.
func TestLineLength(t *testing.T) {
	e := newEnv(t, options{settings: service.SettingsInput{SMTPMaxLineLength: ptr(4000)}})
	out := e.python(`
s = smtplib.SMTP(HOST, PORT)
print("refused", s.sendmail("a@far.test", ["b@x.test"], b"Subject: long\r\n\r\n" + b"y" * 3000 + b"\r\n"))
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
s.mail("a@far.test")
s.rcpt("b@x.test")
try:
    print("long", s.data(b"Subject: too long\r\n\r\n" + b"z" * 100000 + b"\r\n"))
except smtplib.SMTPServerDisconnected:
    print("long: disconnected")
s = smtplib.SMTP(HOST, PORT)
try:
    print("command", s.docmd("MAIL FROM:<" + "a" * 10000 + "@far.test>"))
except smtplib.SMTPServerDisconnected:
    print("command: disconnected")
`)
	contains(t, out, "refused {}")
	if !strings.Contains(out, "long (500, b'5.5.2 line too long')") && !strings.Contains(out, "long: disconnected") {
		t.Fatalf("%s", out)
	}
	if !strings.Contains(out, "command (500, b'5.4.0 Too long line, closing connection')") && !strings.Contains(out, "command: disconnected") {
		t.Fatalf("%s", out)
	}
	if n := e.count(e.mailbox); n != 1 {
		t.Fatalf("stored %d", n)
	}
}

func TestConnectionsPerAddress(t *testing.T) {
	e := newEnv(t, options{settings: service.SettingsInput{SMTPMaxConnectionsPerIP: ptr(2)}})
	out := e.python(`
a = smtplib.SMTP(HOST, PORT)
b = smtplib.SMTP(HOST, PORT)
try:
    c = smtplib.SMTP(HOST, PORT)
    print("third", c.noop())
except smtplib.SMTPConnectError as e:
    print("third refused", e.smtp_code, e.smtp_error)
a.quit()
# A place is free again once a session ends.
import time
for i in range(100):
    try:
        d = smtplib.SMTP(HOST, PORT)
        print("after quit", d.noop())
        break
    except smtplib.SMTPConnectError:
        time.sleep(0.05)
`)
	contains(t, out, "third refused 421 b'4.7.0 mx.test too many connections from your address'")
	contains(t, out, "after quit (250, b'2.0.0 I have successfully done nothing')")
}

// AUTH brute force: wrong passwords get 535 until the sign-in throttle
// makes the address wait; then 421 and the connection is closed.
func TestAuthBruteForce(t *testing.T) {
	e := newEnv(t, options{})
	e.svc.Clock.Set(e.svc.Clock.Now()) // the throttle's waits do not pass during the test
	out := e.python(`
codes = []
for i in range(8):
    s = smtplib.SMTP(HOST, PORT)
    s.starttls(context=ssl._create_unverified_context())
    s.ehlo("py.test")
    try:
        s.user, s.password = "alice", "guess-%d" % i
        s.auth("PLAIN", s.auth_plain)
    except smtplib.SMTPAuthenticationError as e:
        codes.append(e.smtp_code)
    except smtplib.SMTPServerDisconnected:
        codes.append("disconnected")
    try:
        s.noop()
        codes.append("open")
    except smtplib.SMTPServerDisconnected:
        codes.append("closed")
print(codes)
`)
	contains(t, out, "[535, 'open', 535, 'open', 535, 'open', 421, 'closed', 421, 'closed'")
	// The right password is refused too while the address waits.
	out, _ = e.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1", "--to", "b@x.test")
	contains(t, out, "421 4.7.0 too many failed logins")
}

// Refused commands past MaxErrors end the session with 421.
func TestTooManyErrors(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{Domains: &[]string{"example.test"}}})
	out := e.python(`
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
s.mail("a@far.test")
codes = []
for i in range(12):
    try:
        codes.append(s.rcpt("u%d@elsewhere.test" % i)[0])
    except smtplib.SMTPServerDisconnected:
        codes.append("closed")
        break
print(codes)
`)
	contains(t, out, "[550, 550, 550, 550, 550, 550, 550, 550, 550, 421, 'closed']")
}

// Addresses with CR, LF or NUL, and hostile HELO names, never reach a
// header field: the trace fields are cleaned.
func TestHostileHeloAndAddresses(t *testing.T) {
	e := newEnv(t, options{})
	out := e.python(`
c, reply = raw_session()
reply()
c.sendall(b"EHLO evil\rX-Injected: yes\r\n"); print(reply())
c.sendall(b"MAIL FROM:<a\rX-Evil: 1@far.test>\r\n"); print("mail", reply())
c.sendall(b"MAIL FROM:<a\x00b@far.test>\r\n"); print("mail nul", reply())
c.sendall(b"MAIL FROM:<a\rb@far.test>\r\n"); print("mail cr", reply())
c.sendall(b"MAIL FROM:<a\xffb@far.test>\r\n"); print("mail 8bit", reply())
c.sendall(b"RSET\r\nMAIL FROM:<a@far.test>\r\nRCPT TO:<b\rX-Evil: 2@x.test>\r\n"); print(reply()); print(reply()); print("rcpt", reply())
c.sendall(b"RCPT TO:<b@x.test>\r\nDATA\r\n"); print(reply()); print(reply())
c.sendall(b"Subject: hi\r\n\r\nx\r\n.\r\n"); print("data", reply())
`)
	t.Log(out)
	// A control character in MAIL FROM is refused, not echoed back in a 250.
	contains(t, out, "mail 501 ")
	contains(t, out, "mail nul 501 5.1.7 bad sender address syntax")
	contains(t, out, "mail cr 501 5.1.7 bad sender address syntax")
	contains(t, out, "mail 8bit 501 5.1.7 bad sender address syntax")
	for _, m := range e.messages(e.mailbox) {
		header, _, _ := strings.Cut(m, "\r\n\r\n")
		for _, line := range strings.Split(header, "\r\n") {
			if strings.HasPrefix(line, "X-Injected") || strings.HasPrefix(line, "X-Evil") || strings.ContainsAny(line, "\r\n\x00") {
				t.Fatalf("injected header line %q in\n%s", line, header)
			}
		}
	}
}

// BDAT: chunks are counted against the size limit as they come, a huge
// announced chunk is refused without being held in memory.
func TestBDATLimits(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{MaxMessageSizeKB: ptr(10)}})
	out := e.python(`
c, reply = raw_session()
reply()
c.sendall(b"EHLO py.test\r\n"); reply()
c.sendall(b"MAIL FROM:<a@far.test>\r\nRCPT TO:<b@x.test>\r\n"); reply(); reply()
c.sendall(b"BDAT 20000\r\n" + b"x" * 20000); print("big chunk", reply())
c.sendall(b"RSET\r\n"); print(reply())
c.sendall(b"MAIL FROM:<a@far.test>\r\nRCPT TO:<b@x.test>\r\n"); reply(); reply()
body = b"Subject: chunks\r\n\r\n" + b"y" * 1000
c.sendall(b"BDAT %d\r\n" % len(body) + body); print("chunk", reply())
c.sendall(b"BDAT 0 LAST\r\n"); print("last", reply())
`)
	contains(t, out, "big chunk 552 5.3.4")
	contains(t, out, "last 250 2.0.0")
	if n := e.count(e.mailbox); n != 1 {
		t.Fatalf("stored %d", n)
	}
}

// The work log has the session: connect, TLS, AUTH with the secret
// masked, MAIL, RCPT and the outcome.
func TestWorkLog(t *testing.T) {
	e := newEnv(t, options{})
	out, code := e.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1", "--from", "a@far.test", "--to", "b@x.test")
	if code != 0 {
		t.Fatalf("%s", out)
	}
	e.server.FlushLog(e.ctx)
	entries, err := e.svc.Store.Log(e.ctx, store.LogFilter{MailboxID: e.mailbox})
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, entry := range entries {
		if entry.Type == "smtp" {
			text = append(text, entry.Text)
		}
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"connection from 127.0.0.1", "secured: TLS 1.3", "AUTH PLAIN alice ****", "MAIL FROM:<a@far.test>",
		"RCPT TO:<b@x.test>", "250 2.0.0 stored as "} {
		contains(t, all, want)
	}
	if strings.Contains(all, "alice-password-1") || strings.Contains(all, "YWxpY2UtcGFzc3dvcmQtMQ") {
		t.Fatalf("password in the log:\n%s", all)
	}
}
