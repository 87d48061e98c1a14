package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// TestClusterQueue runs two "pochta serve" processes on one PostgreSQL
// database with an aiosmtpd smarthost. Forty messages queued at once are
// delivered by both processes and each reaches the smarthost exactly once
// (their claims skip each other's rows); then a message whose delivery
// hangs in DATA is killed with its process (SIGKILL), and the other process
// takes it over once the lease (3 s) has expired and delivers it.
func TestClusterQueue(t *testing.T) {
	binary := buildBinary(t)
	dsn := testpeer.PostgresDSN(t)
	host := testpeer.StartSmarthost(t)
	smarthost, port := host.Dir, host.Port

	ctx := context.Background()
	shared, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	// The settings are in the database before the processes read them.
	if err := shared.SaveSettings(ctx, map[string]string{"smarthost_host": "127.0.0.1", "smarthost_port": strconv.Itoa(port),
		"smarthost_tls": "none"}); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := []string{"POCHTA_ADMIN_PASSWORD=" + crashAdminPassword, "POCHTA_DB=" + dsn, "POCHTA_SECRET_KEY=" + key, queue.LeaseEnv + "=3"}
	first, _, _ := startServer(t, binary, env, "--data", filepath.Join(t.TempDir(), "a"))
	second, _, _ := startServer(t, binary, env, "--data", filepath.Join(t.TempDir(), "b"))
	processes := map[int]*exec.Cmd{first.Process.Pid: first, second.Process.Pid: second}

	const total = 40
	var batch []store.NewOutbound
	for i := range total {
		subject := fmt.Sprintf("cluster %d", i)
		batch = append(batch, store.NewOutbound{Sender: "alice@example.test", Recipients: []string{"bob@example.test"}, Subject: subject,
			Raw: []byte("Subject: " + subject + "\r\n\r\nbody\r\n")})
	}
	if _, err := shared.EnqueueOutbound(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the forty messages sent", func() bool { return countState(t, shared, store.OutboundSent) == total })
	subjects := smarthostSubjects(t, smarthost)
	for i := range total {
		if n := subjects[fmt.Sprintf("cluster %d", i)]; n != 1 {
			t.Errorf("message %d reached the smarthost %d times", i, n)
		}
	}

	ids, err := shared.EnqueueOutbound(ctx, store.NewOutbound{Sender: "alice@example.test", Recipients: []string{"slow@example.test"},
		Subject: "hangs", Raw: []byte("Subject: hangs\r\n\r\nbody\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the slow delivery to start", func() bool {
		_, err := os.Stat(filepath.Join(smarthost, "waiting"))
		return err == nil
	})
	slow, err := shared.OutboundMessageByID(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(slow.LeaseHolder, ":")
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	victim := processes[pid]
	if victim == nil {
		t.Fatalf("lease holder %q is neither process", slow.LeaseHolder)
	}
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	victim.Wait()
	waitFor(t, 60*time.Second, "the survivor to deliver the message", func() bool {
		m, err := shared.OutboundMessageByID(ctx, ids[0])
		return err == nil && m.State == store.OutboundSent
	})
	if n := smarthostSubjects(t, smarthost)["hangs"]; n != 1 {
		t.Errorf("the taken-over message reached the smarthost %d times", n)
	}
	if m, _ := shared.OutboundMessageByID(ctx, ids[0]); m.Attempts != 1 {
		t.Errorf("attempts recorded %d, want the survivor's one", m.Attempts)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countState(t *testing.T, st *store.Store, state string) int {
	t.Helper()
	page, err := st.OutboundMessages(context.Background(), store.OutboundFilter{State: state, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Messages)
}

// smarthostSubjects counts the messages the smarthost kept by subject.
func smarthostSubjects(t *testing.T, dir string) map[string]int {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	counts := map[string]int{}
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(raw), "\r\n")
		counts[strings.TrimPrefix(first, "Subject: ")]++
	}
	return counts
}
