package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testmail"
	"pochta.dev/pochta/internal/testpeer"
)

// The crash and cluster tests run the real binary against a real Dovecot and
// kill it with SIGKILL at random moments of a fetch with "delete after
// receipt": whatever the moment, every message must end up stored exactly
// once and deleted from the server.

const crashAdminPassword = "crash-admin-password"

// crashAPI calls the API as admin and decodes the JSON answer into out (when
// not nil). A failed connection is returned as an error: the process may
// have just been killed.
func crashAPI(ctx context.Context, method, address string, body, out any) (int, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		reader = bytes.NewReader(data)
	}
	request, err := http.NewRequestWithContext(ctx, method, address, reader)
	if err != nil {
		return 0, err
	}
	request.SetBasicAuth("admin", crashAdminPassword)
	if body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return 0, err
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		return response.StatusCode, err
	}
	if response.StatusCode >= 300 {
		return response.StatusCode, fmt.Errorf("%s %s: %d %s", method, address, response.StatusCode, data)
	}
	if out != nil {
		return response.StatusCode, json.Unmarshal(data, out)
	}
	return response.StatusCode, nil
}

// crashMessage is message i of a test mailbox: distinct, about 3 KB.
func crashMessage(user string, i int) []byte {
	var body strings.Builder
	for line := 0; line < 40; line++ {
		fmt.Fprintf(&body, "Line %d of message %d: the quick brown fox jumps over the lazy dog, and so on.\r\n", line, i)
	}
	return []byte(fmt.Sprintf("From: Sender <sender@example.com>\r\nTo: %[1]s@example.com\r\nSubject: %[1]s message %[2]d\r\n"+
		"Message-ID: <%[1]s-%[2]d@pochta.test>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n%[3]s", user, i, body.String()))
}

// createPOP3Mailbox makes a POP3 mailbox on the Dovecot user with delete
// after receipt and a 1-minute check interval, and returns its ID.
// maxPerConnection, when not zero, limits the messages fetched per session.
func createPOP3Mailbox(t *testing.T, base string, dovecot *testpeer.DovecotServer, user, password string, maxPerConnection int) int64 {
	t.Helper()
	input := map[string]any{
		"type": "pop3", "name": "POP3 " + user, "server": dovecot.Host, "port": dovecot.POP3Port,
		"login": user, "password": password, "delete_from_server": true, "check_interval": 1,
	}
	if maxPerConnection > 0 {
		input["max_messages"] = maxPerConnection
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if _, err := crashAPI(context.Background(), "POST", base+"/api/v1/mailboxes", input, &created); err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 {
		t.Fatal("no mailbox id in the answer")
	}
	return created.ID
}

// storedMessageIDs lists the Message-ID of every stored message of a
// mailbox, paging through the API.
func storedMessageIDs(ctx context.Context, base string, mailboxID int64) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		var page struct {
			Items []struct {
				MessageID string `json:"message_id"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		address := fmt.Sprintf("%s/api/v1/messages?mailbox_id=%d&limit=1000", base, mailboxID)
		if cursor != "" {
			address += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := crashAPI(ctx, "GET", address, nil, &page); err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			ids = append(ids, item.MessageID)
		}
		if page.NextCursor == "" || len(page.Items) == 0 {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}

// checkExactlyOnce reports a test error unless the Message-IDs are those
// of messages 0..n-1 of user, each once.
func checkExactlyOnce(t *testing.T, ids []string, user string, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	missing, twice := 0, 0
	for i := range n {
		switch seen[fmt.Sprintf("%s-%d@pochta.test", user, i)] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if len(ids) != n || missing > 0 || twice > 0 {
		t.Errorf("%d messages stored, want %d: %d missing, %d stored more than once", len(ids), n, missing, twice)
	}
}

// onServer counts the messages left in the Dovecot user's Maildir.
func onServer(dovecot *testpeer.DovecotServer, user string) int {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(dovecot.Dir, "mail", user, "Maildir", sub))
		n += len(entries)
	}
	return n
}

// logins counts the POP3 logins of user in Dovecot's log.
func logins(dovecot *testpeer.DovecotServer, user string) int {
	return strings.Count(dovecot.Log(), "Login: user=<"+user+">")
}

// kicker asks the server at base() to receive mail for the mailbox again
// and again until stop is called: after a restart the scheduler would wait
// up to 15 s for its next tick. Answers (busy, errors, a killed process)
// do not matter.
func kicker(base func() string, mailboxID int64) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		for ctx.Err() == nil {
			crashAPI(ctx, "POST", fmt.Sprintf("%s/api/v1/mailboxes/%d/check", base(), mailboxID), map[string]any{}, nil)
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() {
		cancel()
		done.Wait()
	}
}

// killDuringFetch waits for the next fetch of user's mailbox to start in
// the Pochta process (a new Dovecot login), lets it run for delay, and
// kills the process with SIGKILL.
func killDuringFetch(t *testing.T, dovecot *testpeer.DovecotServer, user string, command *exec.Cmd, deadline time.Time, kill int, delay time.Duration) {
	t.Helper()
	before := logins(dovecot, user)
	for logins(dovecot, user) == before {
		if time.Now().After(deadline) {
			t.Fatalf("kill %d: no fetch started in time", kill)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(delay)
	if err := command.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	command.Wait()
}

// TestCrashDuringFetch kills "pochta serve" with SIGKILL at 20 random
// moments of a fetch of 500 messages with delete after receipt, restarting
// it on the same SQLite data folder each time (default durability). At the
// end every message is stored exactly once and the server mailbox is empty.
//
// One session stores 500 messages in well under a second, so most kills
// would find the work done. At most 10 messages per connection spread the
// job over about 50 sessions back to back (the test asks for the next one
// at once), and the kills land in every phase: RETR and storing, DELE,
// QUIT, forgetting the deleted UIDLs.
func TestCrashDuringFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server 20 times")
	}
	const total, kills = 500, 20
	binary := buildBinary(t)
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser("crash", "crash-secret")
	for i := range total {
		if err := dovecot.Deliver("crash", crashMessage("crash", i)); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"POCHTA_ADMIN_PASSWORD=" + crashAdminPassword, fetch.LeaseEnv + "=2"}
	command, base0, _ := startServer(t, binary, env, "--data", data)
	var base atomic.Value
	base.Store(base0)
	// A webhook rule on receipt: its job is written in each message's own
	// transaction, so whatever the kills, every stored message has exactly
	// one (the webhook's host does not exist: the jobs stay, retried).
	rule := map[string]any{"name": "hook", "actions": map[string]any{"webhook": map[string]any{"url": "https://hooks.invalid/in", "secret": "s"}}}
	if status, err := crashAPI(context.Background(), "POST", base0+"/api/v1/rules", rule, nil); err != nil || status != http.StatusCreated {
		t.Fatalf("create the webhook rule: %d %v", status, err)
	}
	mailboxID := createPOP3Mailbox(t, base0, dovecot, "crash", "crash-secret", 10)
	stopKicking := kicker(func() string { return base.Load().(string) }, mailboxID)
	defer stopKicking()

	seed := time.Now().UnixNano()
	random := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("random seed %d", seed)
	deadline := time.Now().Add(150 * time.Second)
	inProgress := 0
	for kill := 1; kill <= kills; kill++ {
		killDuringFetch(t, dovecot, "crash", command, deadline, kill, time.Duration(50+random.IntN(651))*time.Millisecond)
		if onServer(dovecot, "crash") > 0 {
			inProgress++
		}
		command, base0, _ = startServer(t, binary, env, "--data", data)
		base.Store(base0)
		if ids, err := storedMessageIDs(context.Background(), base0, mailboxID); err == nil {
			t.Logf("kill %d: %d stored, %d on the server", kill, len(ids), onServer(dovecot, "crash"))
		}
	}
	t.Logf("%d kills, %d of them with messages still on the server", kills, inProgress)

	// Let it finish: the server empty and the count steady.
	var ids []string
	ctx := context.Background()
	for {
		var err error
		ids, err = storedMessageIDs(ctx, base0, mailboxID)
		if err == nil && len(ids) >= total && onServer(dovecot, "crash") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finished in time: %d stored, %d on the server (%v)", len(ids), onServer(dovecot, "crash"), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopKicking()
	time.Sleep(500 * time.Millisecond)
	ids, err := storedMessageIDs(ctx, base0, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, ids, "crash", total)
	if n := onServer(dovecot, "crash"); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
	checkOneJobPerMessage(t, filepath.Join(data, "pochta.db"), "webhook")
}

// checkOneJobPerMessage checks that every stored message has exactly one
// job of kind and that no such job lacks its message.
func checkOneJobPerMessage(t *testing.T, path, kind string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var messages, jobs, orphans, doubled int
	db := st.DB()
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`).Scan(&messages); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) - COUNT(message_id) FROM jobs WHERE kind = ?`, kind).Scan(&jobs, &orphans); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT message_id FROM jobs WHERE kind = ? GROUP BY message_id HAVING COUNT(*) > 1) d`, kind).Scan(&doubled); err != nil {
		t.Fatal(err)
	}
	if jobs != messages || orphans != 0 || doubled != 0 {
		t.Errorf("%d messages, %d %s jobs (%d without a message, %d messages with more than one)", messages, jobs, kind, orphans, doubled)
	}
}

// TestCrashDuringLargeFetch is TestCrashDuringFetch for messages too large
// to hold in memory (spooled to a file as they are read, stored in chunks):
// kill -9 at random moments of a delete-after fetch of three 9 MB messages
// among small ones, restart, and at the end each is stored exactly once,
// the server is empty and no spool file is left behind.
func TestCrashDuringLargeFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server")
	}
	const user, total, kills = "crashbig", 12, 6
	binary := buildBinary(t)
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser(user, "crashbig-secret")
	for i := range total {
		raw := crashMessage(user, i)
		if i%4 == 1 { // 1, 5, 9: large
			large, _ := testmail.Large(uint64(i), fmt.Sprintf("%s message %d", user, i), 9<<20)
			raw = bytes.Replace(large, []byte(fmt.Sprintf("<large-%d@example.com>", i)), []byte(fmt.Sprintf("<%s-%d@pochta.test>", user, i)), 1)
		}
		if err := dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"POCHTA_ADMIN_PASSWORD=" + crashAdminPassword, fetch.LeaseEnv + "=2"}
	command, base0, _ := startServer(t, binary, env, "--data", data)
	var base atomic.Value
	base.Store(base0)
	mailboxID := createPOP3Mailbox(t, base0, dovecot, user, "crashbig-secret", 2)
	stopKicking := kicker(func() string { return base.Load().(string) }, mailboxID)
	defer stopKicking()

	seed := time.Now().UnixNano()
	random := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("random seed %d", seed)
	deadline := time.Now().Add(120 * time.Second)
	for kill := 1; kill <= kills && onServer(dovecot, user) > 0; kill++ {
		killDuringFetch(t, dovecot, user, command, deadline, kill, time.Duration(20+random.IntN(400))*time.Millisecond)
		command, base0, _ = startServer(t, binary, env, "--data", data)
		base.Store(base0)
		if ids, err := storedMessageIDs(context.Background(), base0, mailboxID); err == nil {
			t.Logf("kill %d: %d stored, %d on the server", kill, len(ids), onServer(dovecot, user))
		}
	}
	var ids []string
	ctx := context.Background()
	for {
		var err error
		ids, err = storedMessageIDs(ctx, base0, mailboxID)
		if err == nil && len(ids) >= total && onServer(dovecot, user) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finished in time: %d stored, %d on the server (%v)", len(ids), onServer(dovecot, user), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopKicking()
	time.Sleep(500 * time.Millisecond)
	ids, err := storedMessageIDs(ctx, base0, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, ids, user, total)
	if n := onServer(dovecot, user); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
	// The spool files of the killed processes went at the restarts.
	if entries, err := os.ReadDir(filepath.Join(data, "spool")); err != nil || len(entries) != 0 {
		t.Errorf("spool folder after the fetch: %d files (%v)", len(entries), err)
	}
}
