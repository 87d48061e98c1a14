package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// TestClusterFetch runs two "pochta serve" processes on one PostgreSQL
// database (separate data folders, one secret key) with one POP3 mailbox of
// many messages, delete after receipt and a 1-minute interval. Dovecot's log
// shows that the two never have a session with the mailbox at the same
// time; the one fetching is killed with SIGKILL mid-fetch and the other
// finishes the job after the lease expires (on its own scheduler): every
// message stored exactly once, the server mailbox empty.
func TestClusterFetch(t *testing.T) {
	const total = 2000
	binary := buildBinary(t)
	dsn := testpeer.PostgresDSN(t)
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser("cluster", "cluster-secret")
	for i := range total {
		if err := dovecot.Deliver("cluster", crashMessage("cluster", i)); err != nil {
			t.Fatal(err)
		}
	}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := []string{"POCHTA_ADMIN_PASSWORD=" + crashAdminPassword, "POCHTA_DB=" + dsn, "POCHTA_SECRET_KEY=" + key, fetch.LeaseEnv + "=3"}
	first, firstBase, _ := startServer(t, binary, env, "--data", filepath.Join(t.TempDir(), "a"))
	second, secondBase, _ := startServer(t, binary, env, "--data", filepath.Join(t.TempDir(), "b"))
	pids := map[int]string{first.Process.Pid: firstBase, second.Process.Pid: secondBase}

	mailboxID := createPOP3Mailbox(t, firstBase, dovecot, "cluster", "cluster-secret", 0)
	// Both are asked to receive now, at once (and their schedulers try at
	// their ticks): one gets the mailbox, the other is told it is busy.
	for _, base := range []string{firstBase, secondBase} {
		go crashAPI(context.Background(), "POST", fmt.Sprintf("%s/api/v1/mailboxes/%d/check", base, mailboxID), map[string]any{}, nil)
	}

	// Find the process in session with Dovecot and kill it a moment later,
	// in the middle of its fetch.
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	victim := 0
	for victim == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no process fetched the mailbox within 60 s")
		}
		for pid := range pids {
			if connectedTo(pid, dovecot.POP3Port) {
				victim = pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Kill it as soon as its first messages are in the shared database:
	// through the intake's sink a quiet machine takes all 2,000 within a
	// second, a loaded one may not have logged in after a second, so no
	// fixed wait lands mid-fetch on both.
	shared, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	for {
		if time.Now().After(deadline) {
			t.Fatal("the fetching process stored nothing within 60 s")
		}
		mailbox, err := shared.MailboxByID(ctx, mailboxID)
		if err == nil && mailbox.MessagesTotal > 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	survivor := firstBase
	killed := first
	if victim == second.Process.Pid {
		killed = second
	} else {
		survivor = secondBase
	}
	if err := killed.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed.Wait()
	killedAt := time.Now()
	ids, _ := storedMessageIDs(ctx, survivor, mailboxID)
	t.Logf("killed the fetching process with %d of %d stored, %d on the server", len(ids), total, onServer(dovecot, "cluster"))
	if len(ids) == total && onServer(dovecot, "cluster") == 0 {
		t.Fatal("the fetch was over when the process was killed")
	}

	// The survivor's scheduler (every 15 s) takes over once the lease (3 s)
	// has expired.
	deadline = time.Now().Add(90 * time.Second)
	for {
		var err error
		ids, err = storedMessageIDs(ctx, survivor, mailboxID)
		if err == nil && len(ids) >= total && onServer(dovecot, "cluster") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the survivor did not finish: %d stored, %d on the server (%v)", len(ids), onServer(dovecot, "cluster"), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the survivor finished %v after the kill", time.Since(killedAt).Round(time.Second))
	checkExactlyOnce(t, ids, "cluster", total)

	sessions, err := sessionsOverlap(dovecot.Log(), "cluster")
	if err != nil {
		t.Errorf("%v\n%s", err, dovecot.Log())
	}
	if sessions < 2 {
		t.Errorf("%d POP3 sessions in Dovecot's log, want the killed one and the survivor's", sessions)
	}
}

var (
	loginLine      = regexp.MustCompile(`pop3-login: Info: Login: user=<([^>]*)>.*session=<([^>]*)>`)
	disconnectLine = regexp.MustCompile(`pop3\(([^)]*)\)<\d+><([^>]*)>: Info: (Disconnected|Connection closed)`)
)

// sessionsOverlap reads Dovecot's log and returns an error when a POP3
// login of user happens while another session of user is still open; it
// returns the number of sessions.
func sessionsOverlap(log, user string) (int, error) {
	open := map[string]bool{}
	sessions := 0
	scanner := bufio.NewScanner(strings.NewReader(log))
	for scanner.Scan() {
		line := scanner.Text()
		if m := loginLine.FindStringSubmatch(line); m != nil && m[1] == user {
			if len(open) > 0 {
				return sessions, fmt.Errorf("login of session %s while %v still open: %s", m[2], open, line)
			}
			open[m[2]] = true
			sessions++
		}
		if m := disconnectLine.FindStringSubmatch(line); m != nil && m[1] == user {
			delete(open, m[2])
		}
	}
	return sessions, nil
}

// connectedTo reports whether process pid has an established TCP
// connection to port on 127.0.0.1 (Linux: its socket inodes in /proc/net/tcp).
func connectedTo(pid, port int) bool {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false
	}
	remote := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(table), "\n")[1:] {
		fields := strings.Fields(line)
		// sl local rem st tx:rx tr:tm retrnsmt uid timeout inode
		if len(fields) < 10 || fields[2] != remote || fields[3] != "01" {
			continue
		}
		if inodes[fields[9]] {
			return true
		}
	}
	return false
}
