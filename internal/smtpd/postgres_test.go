package smtpd_test

import (
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/testpeer"
)

// The same delivery on PostgreSQL: one stored copy for several local
// recipients, 250 after the commit, the trace fields there.
func TestLocalDeliveryPostgres(t *testing.T) {
	e := newEnv(t, options{dsn: testpeer.PostgresDSN(t), mailbox: service.MailboxInput{Domains: &[]string{"example.test"}}})
	out := e.python(`
s = smtplib.SMTP(HOST, PORT)
for i in range(3):
    print("refused", s.sendmail("py@far.test", ["a@example.test", "b@example.test"], b"Subject: pg %d\r\n\r\nbody\r\n" % i))
print(s.rcpt("x@elsewhere.test") if s.mail("py@far.test") else "")
`)
	if strings.Count(out, "refused {}") != 3 {
		t.Fatalf("%s", out)
	}
	msgs := e.messages(e.mailbox)
	if len(msgs) != 3 {
		t.Fatalf("stored %d", len(msgs))
	}
	contains(t, msgs[0], "X-Original-To: a@example.test, b@example.test\r\n")
}

// The panel's stop closes the listeners (a session in flight finishes),
// start opens them again.
func TestStopStart(t *testing.T) {
	e := newEnv(t, options{})
	e.server.Stop()
	e.server.Reload(e.ctx)
	if e.server.Addr(e.mailbox) != nil || e.server.Status().Running {
		t.Fatalf("still listening after Stop: %+v", e.server.Status())
	}
	e.server.Start()
	e.server.Reload(e.ctx)
	if e.server.Addr(e.mailbox) == nil || !e.server.Status().Running {
		t.Fatalf("not listening after Start: %+v", e.server.Status())
	}
	if out, code := e.swaks("--from", "a@far.test", "--to", "b@x.test"); code != 0 {
		t.Fatalf("%s", out)
	}
}
