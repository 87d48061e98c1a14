package smtpd_test

import (
	"bufio"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/testpeer"
)

// A session in flight survives the mailboxes changing under it: a new
// mailbox is added, its own one changed and then deactivated, each applied
// by a reload; the session then finishes its message, which is stored.
func TestReloadDoesNotDropSessions(t *testing.T) {
	e := newEnv(t, options{})
	cmd := exec.Command(testpeer.Python(t), "-c", `
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]))
s.ehlo("py.test")
s.mail("a@far.test")
s.rcpt("b@example.test")
print("ready", flush=True)
sys.stdin.readline()
print(s.data(b"Subject: across reloads\r\n\r\nx\r\n"), flush=True)
s.quit()
`, e.host, strconv.Itoa(e.port))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("python: %q", lines.Text())
	}

	// Add a mailbox: it listens after the reload.
	port := freePort(t)
	added, err := e.svc.Service.CreateMailbox(e.ctx, e.svc.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Added"),
		Server: ptr("127.0.0.1"), Port: ptr(port)})
	if err != nil {
		t.Fatal(err)
	}
	e.server.Reload(e.ctx)
	if e.server.Addr(added.ID) == nil {
		t.Fatalf("added mailbox not listening: %+v", e.server.Status())
	}
	// Change the session's mailbox, then deactivate it.
	if _, err := e.svc.Service.UpdateMailbox(e.ctx, e.svc.Admin, e.mailbox, service.MailboxInput{Domains: &[]string{"example.test"}}); err != nil {
		t.Fatal(err)
	}
	e.server.Reload(e.ctx)
	if err := e.svc.Service.SetMailboxActive(e.ctx, e.svc.Admin, e.mailbox, false); err != nil {
		t.Fatal(err)
	}
	e.server.Reload(e.ctx)
	if e.server.Addr(e.mailbox) != nil {
		t.Fatal("deactivated mailbox still listening")
	}
	if c, err := net.Dial("tcp", e.addr()); err == nil {
		c.Close()
		t.Fatal("new connection taken on a deactivated mailbox's address")
	}

	stdin.Write([]byte("go\n"))
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "(250, ") {
		t.Fatalf("the session in flight: %q", lines.Text())
	}
	msgs := e.messages(e.mailbox)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: across reloads") {
		t.Fatalf("stored %d", len(msgs))
	}
	// The added mailbox takes mail.
	out, code := (&env{t: t, host: e.host, port: port}).swaks("--from", "a@far.test", "--to", "b@x.test")
	if code != 0 {
		t.Fatalf("%s", out)
	}
	if n := e.count(added.ID); n != 1 {
		t.Fatalf("added mailbox has %d", n)
	}
}

// Run applies changes by itself (every ReloadInterval, 2 s by default),
// and a port that cannot be bound is an error on the mailbox, not a crash.
func TestRunReloadsAndReportsBindErrors(t *testing.T) {
	e := newEnv(t, options{})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	blocked, err := e.svc.Service.CreateMailbox(e.ctx, e.svc.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Busy"),
		Server: ptr("127.0.0.1"), Port: ptr(busyPort)})
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	added, err := e.svc.Service.CreateMailbox(e.ctx, e.svc.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Later"),
		Server: ptr("127.0.0.1"), Port: ptr(port)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.server.Addr(added.ID) != nil })
	waitFor(t, func() bool {
		m, err := e.svc.Store.MailboxByID(e.ctx, blocked.ID)
		return err == nil && strings.Contains(m.LastError, "cannot listen on 127.0.0.1:"+strconv.Itoa(busyPort))
	})
	status := e.server.Status()
	var sawError bool
	for _, l := range status.Listeners {
		if l.MailboxID == blocked.ID {
			sawError = !l.Listening && strings.Contains(l.Error, "address already in use")
		}
	}
	if !sawError || !status.Running {
		t.Fatalf("status: %+v", status)
	}
	// Freed, the port is bound at a later reload and the error cleared.
	busy.Close()
	waitFor(t, func() bool { return e.server.Addr(blocked.ID) != nil })
	waitFor(t, func() bool {
		m, err := e.svc.Store.MailboxByID(e.ctx, blocked.ID)
		return err == nil && m.LastError == ""
	})
}

// waitFor polls cond until it holds; the server reloads on its own clock.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
