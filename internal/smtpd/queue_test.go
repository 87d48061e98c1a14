package smtpd_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
	dir, port := host.Dir, host.Port
	lazy := &lazyRelay{}
	e := newEnv(t, options{
		mailbox: service.MailboxInput{Domains: &[]string{"example.test"}, Relay: ptr(true), RelayAuthOnly: ptr(true)},
		settings: service.SettingsInput{SmarthostHost: ptr("127.0.0.1"), SmarthostPort: ptr(port), SmarthostTLS: ptr("none"),
			AllowedNetworks: &[]string{}},
		relay: lazy,
	})
	outbound := queue.New(app.QueueConfig(e.svc.Service, slog.New(slog.DiscardHandler),
		worklog.New(e.svc.Store, e.svc.Service, slog.New(slog.DiscardHandler)), "mx.test"))
	lazy.queue.Store(outbound)
	out, code := e.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alice-password-1",
		"--from", "alice@example.test", "--to", "bob@elsewhere.test,local@example.test", "--header", "Subject: through the queue",
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
	for _, want := range []string{"Return-Path: <alice@example.test>", "(authenticated as alice)", "Subject: through the queue", "relayed body"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the smarthost's copy lacks %q:\n%s", want, raw)
		}
	}
	if n := e.count(e.mailbox); n != 1 {
		t.Errorf("local copies %d, want 1", n)
	}
	if m, _ := e.svc.Store.OutboundMessageByID(e.ctx, page.Messages[0].ID); m.State != store.OutboundSent {
		t.Errorf("after delivery: %+v", m)
	}
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
