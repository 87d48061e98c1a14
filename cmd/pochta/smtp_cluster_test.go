package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/smtpd"
	"pochta.dev/pochta/internal/testpeer"
)

// inFlight is Python: it opens N SMTP sessions to HOST:PORT, takes each
// into the middle of DATA (half the body sent), prints "ready", waits for
// a line on stdin, then ends each message and prints each reply to the end
// of DATA on a line.
const inFlight = `import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def reply(f):
    while True:
        line = f.readline().decode()
        if line[3:4] != "-":
            return line.strip()
sessions = []
for i in range(n):
    c = socket.create_connection((host, port))
    f = c.makefile("rb")
    for command, code in ((None, "220"), ("EHLO client.test", "250"), ("MAIL FROM:<a@far.test>", "250"),
                          ("RCPT TO:<bob@example.test>", "250"), ("DATA", "354")):
        if command:
            c.sendall(command.encode() + b"\r\n")
        r = reply(f)
        if not r.startswith(code):
            print("session %d: %s got %s" % (i, command, r), flush=True)
            sys.exit(1)
    c.sendall(("Subject: in flight %d\r\nMessage-ID: <in-flight-%d@pochta.test>\r\n\r\nfirst half\r\n" % (i, i)).encode())
    sessions.append((c, f))
print("ready", flush=True)
sys.stdin.readline()
for c, f in sessions:
    c.sendall(b"second half\r\n.\r\n")
    print(reply(f), flush=True)
    c.sendall(b"QUIT\r\n")
`

// smtpStatus reads one process's GET /api/v1/smtp/status.
func smtpStatus(t *testing.T, base string) smtpd.Status {
	t.Helper()
	var status smtpd.Status
	if _, err := crashAPI(context.Background(), "GET", base+"/api/v1/smtp/status", nil, &status); err != nil {
		t.Fatal(err)
	}
	return status
}

// listenerOf gives the status row of a mailbox's listener, if any.
func listenerOf(status smtpd.Status, mailbox int64) (smtpd.ListenerStatus, bool) {
	for _, l := range status.Listeners {
		if l.MailboxID == mailbox {
			return l, true
		}
	}
	return smtpd.ListenerStatus{}, false
}

// TestClusterSMTPReload runs two "pochta serve" processes on one
// PostgreSQL database (their SMTP listeners share ports by SO_REUSEPORT).
// SMTP mailboxes are created, changed and deactivated through the first
// process's API; the second applies each change by itself (it reads the
// mailboxes every 2 s; the time it took is logged), and sessions that were
// in the middle of DATA on both processes all along finish with 250, their
// messages stored.
func TestClusterSMTPReload(t *testing.T) {
	binary := buildBinary(t)
	dsn := testpeer.PostgresDSN(t)
	python := testpeer.Python(t)
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := []string{"POCHTA_ADMIN_PASSWORD=" + crashAdminPassword, "POCHTA_DB=" + dsn, "POCHTA_SECRET_KEY=" + key}
	_, first, _ := startServer(t, binary, env, "--data", filepath.Join(t.TempDir(), "a"))
	_, second, _ := startServer(t, binary, env, "--data", filepath.Join(t.TempDir(), "b"))
	ctx := context.Background()
	bases := []string{first, second}

	// applied waits until every process's status satisfies cond, and logs
	// how long after the change was saved each process was seen to have
	// applied it (a wait, not an assertion: the machine is shared).
	applied := func(what string, saved time.Time, cond func(smtpd.Status) bool) {
		t.Helper()
		took := make([]time.Duration, len(bases))
		waitFor(t, 30*time.Second, what, func() bool {
			done := true
			for i, base := range bases {
				if took[i] == 0 {
					if cond(smtpStatus(t, base)) {
						took[i] = time.Since(saved).Round(10 * time.Millisecond)
					} else {
						done = false
					}
				}
			}
			return done
		})
		t.Logf("%s: seen applied %v (the process it was saved through) and %v (the other) after it was saved", what, took[0], took[1])
	}

	portOne, portTwo, portMoved := freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)
	var one struct {
		ID int64 `json:"id"`
	}
	saved := time.Now()
	if _, err := crashAPI(ctx, "POST", first+"/api/v1/mailboxes",
		map[string]any{"type": "smtp", "name": "Cluster one", "server": "127.0.0.1", "port": portOne}, &one); err != nil {
		t.Fatal(err)
	}
	applied("mailbox created", saved, func(s smtpd.Status) bool {
		l, ok := listenerOf(s, one.ID)
		return ok && l.Listening
	})

	// Sessions in the middle of DATA on both processes: the kernel spreads
	// the connections to the shared port, so enough of them reach each.
	const sessions = 12
	client := exec.Command(python, "-c", inFlight, "127.0.0.1", strconv.Itoa(portOne), strconv.Itoa(sessions))
	stdin, err := client.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	client.Stderr = &stderr
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Process.Kill(); client.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("client: %q %s", lines.Text(), stderr.String())
	}
	for _, base := range bases {
		if now := smtpStatus(t, base).ConnectionsNow; now == 0 {
			t.Fatalf("no session of %d reached %s: the test proves nothing", sessions, base)
		}
	}

	// Created: a second mailbox gets a listener on both.
	var two struct {
		ID int64 `json:"id"`
	}
	saved = time.Now()
	if _, err := crashAPI(ctx, "POST", first+"/api/v1/mailboxes",
		map[string]any{"type": "smtp", "name": "Cluster two", "server": "127.0.0.1", "port": portTwo}, &two); err != nil {
		t.Fatal(err)
	}
	applied("second mailbox created", saved, func(s smtpd.Status) bool {
		l, ok := listenerOf(s, two.ID)
		return ok && l.Listening
	})

	// Changed: renamed and moved to another port, under the sessions.
	saved = time.Now()
	if _, err := crashAPI(ctx, "PATCH", first+"/api/v1/mailboxes/"+strconv.FormatInt(one.ID, 10),
		map[string]any{"name": "Cluster one moved", "port": portMoved}, nil); err != nil {
		t.Fatal(err)
	}
	applied("mailbox changed", saved, func(s smtpd.Status) bool {
		l, ok := listenerOf(s, one.ID)
		return ok && l.Listening && l.Mailbox == "Cluster one moved" && strings.HasSuffix(l.Address, ":"+strconv.Itoa(portMoved))
	})
	out, err := exec.Command(testpeer.Swaks(t), "--server", "127.0.0.1", "--port", strconv.Itoa(portMoved), "--helo", "client.test",
		"--from", "a@far.test", "--to", "bob@example.test", "--header", "Subject: after the move").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks to the moved listener: %v\n%s", err, out)
	}

	// Deactivated: no listener left on either process.
	saved = time.Now()
	if _, err := crashAPI(ctx, "PATCH", first+"/api/v1/mailboxes/"+strconv.FormatInt(one.ID, 10), map[string]any{"active": false}, nil); err != nil {
		t.Fatal(err)
	}
	applied("mailbox deactivated", saved, func(s smtpd.Status) bool {
		_, ok := listenerOf(s, one.ID)
		return !ok
	})

	// The sessions begun before all this finish their messages.
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	var replies []string
	for lines.Scan() {
		replies = append(replies, lines.Text())
	}
	if err := client.Wait(); err != nil {
		t.Fatalf("client: %v\n%s", err, stderr.String())
	}
	if len(replies) != sessions {
		t.Fatalf("%d replies of %d sessions: %q", len(replies), sessions, replies)
	}
	for i, reply := range replies {
		if !strings.HasPrefix(reply, "250") {
			t.Errorf("session %d ended with %q", i, reply)
		}
	}
	ids, err := storedMessageIDs(ctx, first, one.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for i := range sessions {
		if n := seen[fmt.Sprintf("in-flight-%d@pochta.test", i)]; n != 1 {
			t.Errorf("in-flight message %d stored %d times", i, n)
		}
	}
	if len(ids) != sessions+1 {
		t.Errorf("%d messages stored, want %d in flight and one after the move", len(ids), sessions)
	}
}
