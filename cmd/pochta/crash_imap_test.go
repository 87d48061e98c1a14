package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"pochta.dev/pochta/internal/imapsync"
	"pochta.dev/pochta/internal/testpeer"
)

// createIMAPMailbox makes, through the API, a user, a mail service on the
// test's Dovecot (allowed although on loopback) and the user's IMAP mailbox
// of every message, and returns its ID.
func createIMAPMailbox(t *testing.T, base string, dovecot *testpeer.DovecotServer, user, password string) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := crashAPI(ctx, "PATCH", base+"/api/v1/settings", map[string]any{"allowed_networks": []string{"127.0.0.1/32"}}, nil); err != nil {
		t.Fatal(err)
	}
	var owner, mailService, created struct {
		ID int64 `json:"id"`
	}
	if _, err := crashAPI(ctx, "POST", base+"/api/v1/users", map[string]any{"login": "owner-" + user, "password": "owner-password-1", "role": "user"}, &owner); err != nil {
		t.Fatal(err)
	}
	if _, err := crashAPI(ctx, "POST", base+"/api/v1/services", map[string]any{"site": "s1", "name": "Dovecot " + user,
		"server": dovecot.Host, "port": dovecot.IMAPPort, "security": "none"}, &mailService); err != nil {
		t.Fatal(err)
	}
	input := map[string]any{"type": "imap", "name": "IMAP " + user, "service_id": mailService.ID, "owner_id": owner.ID,
		"server": dovecot.Host, "port": dovecot.IMAPPort, "security": "none", "login": user, "password": password,
		"sync_range": "all", "check_interval": 1}
	if _, err := crashAPI(ctx, "POST", base+"/api/v1/mailboxes", input, &created); err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 {
		t.Fatal("no mailbox id in the answer")
	}
	return created.ID
}

// TestCrashDuringIMAPSync kills "pochta serve" with SIGKILL at random
// moments of the first sync of an IMAP mailbox of 1,000 messages and starts
// it again: at the end every message is stored exactly once (a message's
// UID is recorded in the transaction that stores it, and known UIDs are
// skipped whatever the folder's cursor says).
func TestCrashDuringIMAPSync(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server 8 times")
	}
	const user, total, kills = "crashimap", 1000, 8
	binary := buildBinary(t)
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser(user, "crash-secret")
	for i := range total {
		if err := dovecot.Deliver(user, crashMessage(user, i)); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"POCHTA_ADMIN_PASSWORD=" + crashAdminPassword, imapsync.LeaseEnv + "=2"}
	command, base0, _ := startServer(t, binary, env, "--data", data)
	var base atomic.Value
	base.Store(base0)
	mailboxID := createIMAPMailbox(t, base0, dovecot, user, "crash-secret")
	stopKicking := kicker(func() string { return base.Load().(string) }, mailboxID)
	defer stopKicking()

	seed := time.Now().UnixNano()
	random := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("random seed %d", seed)
	deadline := time.Now().Add(150 * time.Second)
	ctx := context.Background()
	midway := 0
	for kill := 1; kill <= kills; kill++ {
		killDuringFetch(t, dovecot, user, command, deadline, kill, time.Duration(20+random.IntN(500))*time.Millisecond)
		command, base0, _ = startServer(t, binary, env, "--data", data)
		base.Store(base0)
		if ids, err := storedMessageIDs(ctx, base0, mailboxID); err == nil {
			t.Logf("kill %d: %d stored", kill, len(ids))
			if len(ids) > 0 && len(ids) < total {
				midway++
			}
		}
	}
	t.Logf("%d kills, %d of them with the sync part done", kills, midway)

	var ids []string
	for {
		var err error
		ids, err = storedMessageIDs(ctx, base0, mailboxID)
		if err == nil && len(ids) >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finished in time: %d stored (%v)", len(ids), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopKicking()
	// Another sync after the last: nothing new, nothing twice.
	if _, err := crashAPI(ctx, "POST", fmt.Sprintf("%s/api/v1/mailboxes/%d/check", base0, mailboxID), map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := storedMessageIDs(ctx, base0, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, ids, user, total)
}
