package smtpd_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
	"pochta.dev/pochta/internal/worklog"
)

// A message relayed for an authenticated sender (swaks, AUTH PLAIN after
// STARTTLS) is durable in the outbound queue when the 250 comes, and the
// queue delivers it to the smarthost as it was received, trace fields and
// all; the local recipient's copy stays here.
func TestRelayThroughQueueToSmarthost(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	dir := host.Dir
	e, outbound := queueRelayEnv(t, host)
	out, code := e.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1",
		"--from", "alice@example.test", "--to", "bob@elsewhere.test,local@example.test", "--header", "Subject: through the queue", "--header", "To: bob@elsewhere.test",
		"--body", "relayed body")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	page, err := e.svc.Store.OutboundMessages(e.ctx, store.OutboundFilter{})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].Subject != "through the queue" || page.Messages[0].Sender != "alice@example.test" {
		t.Fatalf("queued after the 250: %+v %v", page.Messages, err)
	}
	if n, err := outbound.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("delivered %d: %v", n, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "1.eml"))
	if err != nil {
		t.Fatalf("nothing reached the smarthost: %v", err)
	}
	envelope, _ := os.ReadFile(filepath.Join(dir, "1.json"))
	if !bytes.Contains(envelope, []byte(`"to": ["bob@elsewhere.test"]`)) || !bytes.Contains(envelope, []byte(`"from": "alice@example.test"`)) {
		t.Errorf("envelope at the smarthost: %s", envelope)
	}
	for _, want := range []string{"Received: from ", "(authenticated as alice)", "Subject: through the queue", "relayed body"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the smarthost's copy lacks %q:\n%s", want, raw)
		}
	}
	// The local recipient is a Bcc to the outside: the copy sent on names
	// them nowhere, and has no Return-Path (added at final delivery).
	for _, unwanted := range []string{"local@example.test", "Return-Path:", "X-Original-To:"} {
		if bytes.Contains(raw, []byte(unwanted)) {
			t.Errorf("the smarthost's copy has %q:\n%s", unwanted, raw)
		}
	}
	if n := e.count(e.mailbox); n != 1 {
		t.Errorf("local copies %d, want 1", n)
	}
	if m, _ := e.svc.Store.OutboundMessageByID(e.ctx, page.Messages[0].ID); m.State != store.OutboundSent {
		t.Errorf("after delivery: %+v", m)
	}
}

// queueRelayEnv is a server whose SMTP mailbox serves example.test and relays
// for authenticated senders through the outbound queue it gives back, host
// being the queue's smarthost.
func queueRelayEnv(t *testing.T, host *testpeer.Smarthost) (*env, *queue.Queue) {
	t.Helper()
	lazy := &lazyRelay{}
	e := newEnv(t, options{
		mailbox: service.MailboxInput{Domains: &[]string{"example.test"}, Relay: ptr(true), RelayAuthOnly: ptr(true)},
		settings: service.SettingsInput{SmarthostHost: ptr("127.0.0.1"), SmarthostPort: ptr(host.Port), SmarthostTLS: ptr("none"),
			AllowedNetworks: &[]string{}},
		relay: lazy,
	})
	outbound := queue.New(app.QueueConfig(e.svc.Service, slog.New(slog.DiscardHandler),
		worklog.New(e.svc.Store, e.svc.Service, slog.New(slog.DiscardHandler)), "mx.test"))
	lazy.queue.Store(outbound)
	return e, outbound
}

// lazyRelay is the queue made after the server (it needs the server's
// service); the sessions' goroutines read it, so it is set atomically.
type lazyRelay struct{ queue atomic.Pointer[queue.Queue] }

func (l *lazyRelay) Check(ctx context.Context, from, to string) error {
	return l.queue.Load().Check(ctx, from, to)
}

func (l *lazyRelay) Enqueue(ctx context.Context, from string, to []string, message io.Reader) error {
	return l.queue.Load().Enqueue(ctx, from, to, message)
}

// Mail the queue holds for a domain Pochta serves is stored here, never
// sent out: a relayed recipient in the domain of another SMTP mailbox goes
// into that mailbox, and the bounce of a failed recipient to a sender in a
// served domain goes into the sender's mailbox; the smarthost sees neither.
func TestQueuedMailToServedDomainsStoredLocally(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e, outbound := queueRelayEnv(t, host)
	other, err := e.svc.Service.CreateMailbox(e.ctx, e.svc.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Other"),
		Server: ptr("127.0.0.1"), Port: ptr(freePort(t)), Domains: &[]string{"Other.Test"}})
	if err != nil {
		t.Fatal(err)
	}
	out, code := e.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1",
		"--from", "alice@example.test", "--to", "reject@elsewhere.test,carol@other.test", "--header", "Subject: to the queue",
		"--body", "queued body")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	if n := e.count(e.mailbox); n != 0 {
		t.Fatalf("%d messages in the listener's mailbox before the queue ran", n)
	}
	if n, err := outbound.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("delivered %d: %v", n, err)
	}
	stored := e.messages(other.ID)
	if len(stored) != 1 || !strings.Contains(stored[0], "X-Original-To: carol@other.test") || !strings.Contains(stored[0], "queued body") ||
		!strings.Contains(stored[0], "Return-Path: <alice@example.test>") {
		t.Fatalf("the other mailbox has %q", stored)
	}
	if n, err := outbound.RunOnce(e.ctx); n != 1 || err != nil { // the bounce
		t.Fatalf("delivered %d: %v", n, err)
	}
	bounces := e.messages(e.mailbox)
	if len(bounces) != 1 || !strings.Contains(bounces[0], "Return-Path: <>") || !strings.Contains(bounces[0], "multipart/report") ||
		!strings.Contains(bounces[0], "Final-Recipient: rfc822; reject@elsewhere.test") {
		t.Fatalf("alice's mailbox has %q", bounces)
	}
	if got := host.Messages(t); len(got) != 0 {
		t.Errorf("the smarthost got %d messages, want none (the one recipient it had refused at RCPT)", len(got))
	}
	page, err := e.svc.Store.OutboundMessages(e.ctx, store.OutboundFilter{})
	if err != nil || len(page.Messages) != 2 {
		t.Fatalf("queue %+v %v", page.Messages, err)
	}
	for _, m := range page.Messages {
		if m.State == store.OutboundQueued {
			t.Errorf("still queued: %+v", m)
		}
	}
	if c := outbound.Counters(); c.Attempts != 2 || c.Local != 2 || c.Failed != 1 || c.Delivered != 2 {
		t.Errorf("counters %+v", c)
	}
}

// A sender whose local part is quoted and holds a space (swaks sends it as
// given) is relayed with its quotes: the queue takes it at RCPT and the
// smarthost gets the same envelope sender.
func TestRelayQuotedSender(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e, outbound := queueRelayEnv(t, host)
	const sender = `"john doe"@example.test`
	out, code := e.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1",
		"--from", sender, "--to", "bob@elsewhere.test", "--header", "Subject: quoted sender", "--body", "hello")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	if n, err := outbound.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("delivered %d: %v", n, err)
	}
	got := host.Messages(t)
	if len(got) != 1 || got[0].From != sender || len(got[0].To) != 1 || got[0].To[0] != "bob@elsewhere.test" {
		t.Fatalf("the smarthost got %+v", got)
	}
}
