package smtpd_test

import (
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/smtpd"
)

// Local delivery with swaks and smtplib: trace fields added, one stored
// copy however many local recipients.
func TestLocalDelivery(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{Domains: &[]string{"example.test"}}})
	out, code := e.swaks("--from", "sender@far.test", "--to", "bob@example.test,carol@EXAMPLE.test", "--header", "Subject: hello swaks")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	contains(t, out, "250 2.0.0")
	msgs := e.messages(e.mailbox)
	if len(msgs) != 1 {
		t.Fatalf("stored %d messages, want one copy for two recipients", len(msgs))
	}
	for _, want := range []string{"Return-Path: <sender@far.test>\r\n", "X-Original-To: bob@example.test, carol@EXAMPLE.test\r\n",
		"Received: from client.test ([127.0.0.1])\r\n\tby mx.test (Pochta) with ESMTP id ", "Subject: hello swaks"} {
		contains(t, msgs[0], want)
	}

	out = e.python(`
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
print(sorted(s.esmtp_features))
r = s.sendmail("py@far.test", ["a@example.test", "b@example.test", "c@example.test"], b"Subject: from smtplib\r\n\r\nbody\r\n")
print("refused", r)
s.quit()
`)
	for _, ext := range []string{"'8bitmime'", "'chunking'", "'enhancedstatuscodes'", "'pipelining'", "'size'", "'smtputf8'", "'starttls'"} {
		contains(t, out, ext)
	}
	contains(t, out, "refused {}")
	if n := e.count(e.mailbox); n != 2 {
		t.Fatalf("stored %d messages, want 2", n)
	}
}

// A quoted local part stays quoted in Return-Path: go-smtp unquotes it,
// and "john doe"@far.test written back bare would be no address.
func TestQuotedSenderKeepsQuotes(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{Domains: &[]string{"example.test"}}})
	out := e.python(`
c, reply = raw_session()
reply()
c.sendall(b"EHLO py.test\r\n"); reply()
c.sendall(b'MAIL FROM:<"john doe"@far.test>\r\n'); print("mail", reply())
c.sendall(b"RCPT TO:<bob@example.test>\r\n"); print("rcpt", reply())
c.sendall(b"DATA\r\n"); reply()
c.sendall(b"Subject: quoted\r\n\r\nx\r\n.\r\n"); print("data", reply())
`)
	contains(t, out, "data 250 2.0.0")
	msgs := e.messages(e.mailbox)
	if len(msgs) != 1 {
		t.Fatalf("stored %d messages:\n%s", len(msgs), out)
	}
	contains(t, msgs[0], "Return-Path: <\"john doe\"@far.test>\r\n")
}

func TestUnknownDomain(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{Domains: &[]string{"example.test"}}})
	out, code := e.swaks("--from", "a@far.test", "--to", "bob@elsewhere.test")
	if code == 0 {
		t.Fatalf("accepted:\n%s", out)
	}
	contains(t, out, "550 5.1.1 <bob@elsewhere.test>: domain not served here")
	out = e.python(`
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
s.mail("a@far.test")
print(s.rcpt("bob@elsewhere.test"))
`)
	contains(t, out, "(550, b'5.1.1 <bob@elsewhere.test>: domain not served here')")
	if n := e.count(e.mailbox); n != 0 {
		t.Fatalf("stored %d", n)
	}
}

func relayEnv(t *testing.T, authOnly bool) *env {
	return newEnv(t, options{mailbox: service.MailboxInput{Domains: &[]string{"example.test"}, Relay: ptr(true), RelayAuthOnly: ptr(authOnly)}})
}

func TestRelayDenied(t *testing.T) {
	e := relayEnv(t, true)
	out, _ := e.swaks("--from", "a@far.test", "--to", "bob@elsewhere.test")
	contains(t, out, "550 5.7.1 relaying denied")
	out = e.python(`
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
s.starttls(context=ssl._create_unverified_context())
s.ehlo("py.test")
s.mail("a@far.test")
print(s.rcpt("bob@elsewhere.test"))
`)
	contains(t, out, "(550, b'5.7.1 relaying denied')")
	if checked, sent := e.relay.seen(); len(checked)+len(sent) != 0 {
		t.Fatalf("relay reached: %v %v", checked, sent)
	}
}

func TestRelayAuthenticated(t *testing.T) {
	e := relayEnv(t, true)
	out, code := e.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1",
		"--from", "alice@example.test", "--to", "bob@elsewhere.test,local@example.test")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	_, sent := e.relay.seen()
	if len(sent) != 1 || strings.Join(sent[0].to, ",") != "bob@elsewhere.test" {
		t.Fatalf("relayed %+v", sent)
	}
	contains(t, sent[0].body, "(authenticated as alice)")
	if n := e.count(e.mailbox); n != 1 {
		t.Fatalf("local copies %d, want 1", n)
	}
	out = e.python(`
s = smtplib.SMTP(HOST, PORT)
s.starttls(context=ssl._create_unverified_context())
s.login("alice", "alice-password-1")
print("refused", s.sendmail("alice@example.test", ["x@elsewhere.test"], b"Subject: relay\r\n\r\nx\r\n"))
`)
	contains(t, out, "refused {}")
	if _, sent := e.relay.seen(); len(sent) != 2 {
		t.Fatalf("relayed %d, want 2", len(sent))
	}
}

// Until the outbound queue exists, an allowed relay recipient is refused
// for now (451 4.3.0), never as "relaying denied".
func TestRelayQueueNotYet(t *testing.T) {
	e := newEnv(t, options{relay: smtpd.NoRelay{}, mailbox: service.MailboxInput{Domains: &[]string{"example.test"}, Relay: ptr(true)}})
	out, _ := e.swaks("--from", "a@far.test", "--to", "bob@elsewhere.test")
	contains(t, out, "451 4.3.0 relay queue not available yet")
}

func TestRelayForEveryone(t *testing.T) {
	e := relayEnv(t, false)
	out, code := e.swaks("--from", "a@far.test", "--to", "bob@elsewhere.test")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	out = e.python(`
s = smtplib.SMTP(HOST, PORT)
print("refused", s.sendmail("a@far.test", ["c@elsewhere.test"], b"Subject: relay\r\n\r\nx\r\n"))
`)
	contains(t, out, "refused {}")
	if _, sent := e.relay.seen(); len(sent) != 2 {
		t.Fatalf("relayed %d, want 2", len(sent))
	}
}

func TestSTARTTLS(t *testing.T) {
	e := newEnv(t, options{})
	out, code := e.swaks("--tls", "--from", "a@far.test", "--to", "bob@example.test")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	e.python(`
s = smtplib.SMTP(HOST, PORT)
s.starttls(context=ssl._create_unverified_context())
s.sendmail("a@far.test", ["b@example.test"], b"Subject: tls\r\n\r\nx\r\n")
`)
	msgs := e.messages(e.mailbox)
	if len(msgs) != 2 {
		t.Fatalf("stored %d", len(msgs))
	}
	for _, m := range msgs {
		contains(t, m, "with ESMTPS id ")
		contains(t, m, "(using TLS 1.3 with cipher ")
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, options{})
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		out, code := e.swaks("--tls", "--auth", mech, "--auth-user", "alice", "--auth-password", "alice-password-1",
			"--from", "a@far.test", "--to", "bob@example.test")
		if code != 0 {
			t.Fatalf("%s: swaks exit %d:\n%s", mech, code, out)
		}
		contains(t, out, "235 2.0.0")
	}
	// Both forms of LOGIN: challenges for both, and the user name as the
	// initial response.
	out := e.python(`
for initial in (False, True):
    s = smtplib.SMTP(HOST, PORT)
    s.starttls(context=ssl._create_unverified_context())
    s.ehlo("py.test")
    s.user, s.password = "alice", "alice-password-1"
    print(s.auth("LOGIN", s.auth_login, initial_response_ok=initial))
    s.quit()
s = smtplib.SMTP(HOST, PORT)
s.starttls(context=ssl._create_unverified_context())
s.ehlo("py.test")
s.user, s.password = "alice", "alice-password-1"
print(s.auth("PLAIN", s.auth_plain))
s.sendmail("alice@example.test", ["b@example.test"], b"Subject: authed\r\n\r\nx\r\n")
`)
	if strings.Count(out, "(235, b'2.0.0 Authentication succeeded')") != 3 {
		t.Fatalf("logins:\n%s", out)
	}
	msgs := e.messages(e.mailbox)
	if len(msgs) != 3 {
		t.Fatalf("stored %d", len(msgs))
	}
	authed := 0
	for _, m := range msgs {
		if strings.Contains(m, "with ESMTPSA id") && strings.Contains(m, "(authenticated as alice)") {
			authed++
		}
	}
	if authed != 3 {
		t.Fatalf("%d of 3 messages say the user:\n%s", authed, msgs[0])
	}
}

func TestWrongPassword(t *testing.T) {
	e := newEnv(t, options{})
	out, code := e.swaks("--tls", "--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "wrong",
		"--from", "a@far.test", "--to", "bob@example.test")
	if code == 0 {
		t.Fatalf("accepted:\n%s", out)
	}
	contains(t, out, "535 5.7.8")
	out = e.python(`
s = smtplib.SMTP(HOST, PORT)
s.starttls(context=ssl._create_unverified_context())
try:
    s.login("alice", "nope")
except smtplib.SMTPAuthenticationError as e:
    print("refused", e.smtp_code)
try:
    s.login("nobody-such", "nope")
except smtplib.SMTPAuthenticationError as e:
    print("refused", e.smtp_code)
`)
	if strings.Count(out, "refused 535") != 2 {
		t.Fatalf("%s", out)
	}
}

func TestAuthBeforeSTARTTLSRefused(t *testing.T) {
	e := newEnv(t, options{})
	out := e.python(`
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
print("auth offered", s.has_extn("auth"))
print(s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0alice-password-1").decode()))
print(s.docmd("AUTH", "LOGIN"))
s.starttls(context=ssl._create_unverified_context())
s.ehlo("py.test")
print("auth offered", s.has_extn("auth"), s.esmtp_features.get("auth"))
`)
	contains(t, out, "auth offered False")
	if strings.Count(out, "(523, b'5.7.10 TLS is required')") != 2 {
		t.Fatalf("%s", out)
	}
	contains(t, out, "auth offered True  PLAIN LOGIN")

	// Allowed by the admin: offered in plain text.
	e = newEnv(t, options{settings: service.SettingsInput{SMTPAllowPlaintextAuth: ptr(true)}})
	out, code := e.swaks("--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1", "--from", "a@far.test", "--to", "bob@example.test")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
}

func TestSizeExceeded(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{MaxMessageSizeKB: ptr(10)}})
	out := e.python(`
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
print("size", s.esmtp_features["size"])
big = b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * 300
s.mail("a@far.test")
s.rcpt("b@example.test")
print("refused", s.data(big))
try:
    s.sendmail("a@far.test", ["b@example.test"], big, mail_options=["SIZE=%d" % len(big)])
except smtplib.SMTPSenderRefused as e:
    print("refused at MAIL", e.smtp_code)
print("refused", s.sendmail("a@far.test", ["b@example.test"], b"Subject: small\r\n\r\nx\r\n"))
`)
	contains(t, out, "size 10240")
	contains(t, out, "refused (552, b'5.3.4 Maximum message size exceeded')")
	contains(t, out, "refused at MAIL 552")
	contains(t, out, "refused {}")
	msgs := e.messages(e.mailbox)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: small") {
		t.Fatalf("stored %d", len(msgs))
	}
	out, code := e.swaks("--from", "a@far.test", "--to", "b@example.test", "--body", strings.Repeat("y", 20000))
	if code == 0 {
		t.Fatalf("accepted:\n%s", out)
	}
	contains(t, out, "552 5.3.4")
}

func TestTooManyRecipients(t *testing.T) {
	e := newEnv(t, options{settings: service.SettingsInput{SMTPMaxRecipients: ptr(2)}})
	out := e.python(`
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
s.mail("a@far.test")
for r in ("a@x.test", "b@x.test", "c@x.test"):
    print(s.rcpt(r))
`)
	contains(t, out, "(452, b'4.5.3 Maximum limit of 2 recipients reached')")
	out, _ = e.swaks("--from", "a@far.test", "--to", "a@x.test,b@x.test,c@x.test")
	contains(t, out, "452 4.5.3")
}

func TestTooManyMessagesPerConnection(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{MaxMessages: ptr(2)}})
	out := e.python(`
s = smtplib.SMTP(HOST, PORT)
for i in range(3):
    try:
        print("refused", s.sendmail("a@far.test", ["b@x.test"], b"Subject: n\r\n\r\nx\r\n"))
    except smtplib.SMTPSenderRefused as e:
        print("sender refused", e.smtp_code, e.smtp_error)
    except smtplib.SMTPServerDisconnected as e:
        print("disconnected")
`)
	if strings.Count(out, "refused {}") != 2 {
		t.Fatalf("%s", out)
	}
	contains(t, out, "sender refused 421 b'4.7.0 too many messages in this connection, closing it'")
	if n := e.count(e.mailbox); n != 2 {
		t.Fatalf("stored %d", n)
	}
}

// A DATA that takes longer than the idle timeout in all but keeps moving
// is not cut; a client that says nothing for the idle timeout is.
func TestSlowDataOutlivesIdleTimeout(t *testing.T) {
	e := newEnv(t, options{idle: 400 * 1e6})
	out := e.python(`
import time, socket
s = smtplib.SMTP(HOST, PORT)
s.ehlo("py.test")
s.mail("a@far.test")
s.rcpt("b@x.test")
code, _ = s.docmd("DATA")
print("data", code)
start = time.time()
s.send(b"Subject: slow\r\n\r\n")
for i in range(12):
    time.sleep(0.1)
    s.send(b"line %d\r\n" % i)
s.send(b".\r\n")
print(s.getreply(), "took over idle", time.time() - start > 0.4)
t0 = time.time()
try:
    print("idle", s.getreply())
except smtplib.SMTPServerDisconnected:
    print("idle: disconnected")
`)
	contains(t, out, "data 354")
	contains(t, out, "(250, b'2.0.0 OK: queued') took over idle True")
	contains(t, out, "idle (421, b'4.4.2 Idle timeout, bye bye')")
	if n := e.count(e.mailbox); n != 1 {
		t.Fatalf("stored %d", n)
	}
}
