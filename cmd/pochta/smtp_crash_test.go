package main

import (
	"context"
	"fmt"
	"net"
	"net/smtp"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pochta.dev/pochta/internal/testpeer"
)

// TestCrashDuringSMTP: Postfix's smtp-source sends 5,000 messages over 20
// sessions to the real binary while a counting client of the test's own
// sends numbered messages beside it and records which got 250; the process
// is killed with SIGKILL mid-run and started again. Every message whose 250
// was counted must be stored exactly once: 250 means durable.
func TestCrashDuringSMTP(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the server under SMTP load")
	}
	source, sourceEnv := testpeer.PostfixTool(t, "smtp-source")
	binary := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"POCHTA_ADMIN_PASSWORD=" + crashAdminPassword}
	command, base, _ := startServer(t, binary, env, "--data", data)

	// 20 sessions of smtp-source and 4 counting clients from one address.
	if _, err := crashAPI(context.Background(), "PATCH", base+"/api/v1/settings", map[string]any{"smtp_max_connections_per_ip": 1000}, nil); err != nil {
		t.Fatal(err)
	}
	port := freeTCPPort(t)
	var created struct {
		ID int64 `json:"id"`
	}
	if _, err := crashAPI(context.Background(), "POST", base+"/api/v1/mailboxes",
		map[string]any{"type": "smtp", "name": "Inbound", "server": "127.0.0.1", "port": port}, &created); err != nil {
		t.Fatal(err)
	}
	address := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitListening(t, address)

	load := exec.Command(source, "-m", "5000", "-s", "20", "-l", "4096", "-f", "load@example.test", "-t", "bob@example.test", address)
	load.Env = sourceEnv
	var loadOutput strings.Builder
	load.Stdout, load.Stderr = &loadOutput, &loadOutput
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan struct{})
	go func() { _ = load.Wait(); close(loadDone) }()
	t.Cleanup(func() { _ = load.Process.Kill(); <-loadDone })

	// The counting clients: 4 of them, each sending numbered messages one
	// after another until the server goes away.
	var (
		mu       sync.Mutex
		accepted []int
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	enough := make(chan struct{})
	var enoughOnce sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1))
				if err := sendCounted(address, n); err != nil {
					return // killed: stop counting
				}
				mu.Lock()
				accepted = append(accepted, n)
				if len(accepted) >= 300 {
					enoughOnce.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-loadDone:
		t.Fatalf("smtp-source finished before the kill: %s", loadOutput.String())
	case <-time.After(120 * time.Second):
		t.Fatal("the counting clients did not get 300 messages through")
	}
	if err := command.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = command.Wait()
	wg.Wait()
	<-loadDone
	mu.Lock()
	counted := append([]int(nil), accepted...)
	mu.Unlock()
	t.Logf("killed after %d counted messages (%d sent); smtp-source: %s", len(counted), next.Load(), strings.TrimSpace(loadOutput.String()))

	_, base, _ = startServer(t, binary, env, "--data", data)
	ids, err := storedMessageIDs(context.Background(), base, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	missing, twice := 0, 0
	for _, n := range counted {
		switch seen[countedID(n)] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	for id, k := range seen {
		if k > 1 && strings.HasPrefix(id, "counted-") {
			twice++
		}
	}
	t.Logf("%d messages stored after the restart (smtp-source's and the counted ones)", len(ids))
	if missing > 0 || twice > 0 {
		t.Fatalf("of %d messages that got 250: %d not stored, %d stored more than once", len(counted), missing, twice)
	}
}

func countedID(n int) string { return fmt.Sprintf("counted-%d@pochta.test", n) }

// sendCounted sends message n on a connection of its own; nil means 250.
func sendCounted(address string, n int) error {
	c, err := smtp.Dial(address)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("counter.test"); err != nil {
		return err
	}
	if err := c.Mail("counter@example.test"); err != nil {
		return err
	}
	if err := c.Rcpt("bob@example.test"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: counter@example.test\r\nTo: bob@example.test\r\nSubject: counted %d\r\nMessage-ID: <%s>\r\n\r\n", n, countedID(n))
	for line := range 40 {
		fmt.Fprintf(w, "Line %d of counted message %d: the quick brown fox jumps over the lazy dog.\r\n", line, n)
	}
	if err := w.Close(); err != nil { // the reply to the end of DATA
		return err
	}
	_ = c.Quit()
	return nil
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until the server's listener, opened at its next
// reload of the mailboxes, takes connections.
func waitListening(t *testing.T, address string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", address, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SMTP listener on %s: %v", address, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
