package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// waitForwarded polls the smarthost until it holds n messages (30 s at most).
func waitForwarded(t *testing.T, host *testpeer.Smarthost, n int) []testpeer.SmarthostMessage {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := host.Messages(t)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the smarthost holds %d messages after 30 s, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A rule's forward goes all the way out as serve wires it: a message
// received into a mailbox matches an active rule on receipt, the rules' job
// runner hands it with X-Pochta-Loop to the outbound queue, and the queue's
// runner delivers it through the smarthost of the settings from
// postmaster@ the SMTP hostname to the rule's address. An auto-replied
// message is not forwarded, nor one carrying this install's own loop header
// (its SMTP hostname); another install's header does not stop a forward.
func TestRuleForwardThroughSmarthost(t *testing.T) {
	smarthost := testpeer.StartSmarthost(t)
	port := smarthost.Port
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SMTPHostname: "mx.test"})
	if err != nil {
		t.Fatal(err)
	}
	var running sync.WaitGroup
	t.Cleanup(func() { cancel(); running.Wait(); a.Close() })

	if _, err := a.Service.Bootstrap(ctx, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	host, tls := "127.0.0.1", "none"
	if _, err := a.Service.UpdateSettings(ctx, service.System, service.SettingsInput{SmarthostHost: &host, SmarthostPort: &port, SmarthostTLS: &tls}); err != nil {
		t.Fatal(err)
	}
	kind, name, mailboxPort := "smtp", "Inbound", 2525
	box, err := a.Service.CreateMailbox(ctx, service.System, service.MailboxInput{Type: &kind, Name: &name, Port: &mailboxPort})
	if err != nil {
		t.Fatal(err)
	}
	ruleName, active, onReceive := "To the boss", true, true
	to := []string{"boss@example.net"}
	if _, err := a.Service.CreateRule(ctx, service.System, service.RuleInput{Name: &ruleName, Active: &active, OnReceive: &onReceive,
		Actions: &service.RuleActionsInput{ForwardTo: &to}}); err != nil {
		t.Fatal(err)
	}

	// The two background jobs of serve that a forward goes through.
	for _, job := range []func(context.Context){
		func(ctx context.Context) { a.Service.RunJobs(ctx, 2) },
		a.Queue.Run,
	} {
		running.Add(1)
		go func() {
			defer running.Done()
			job(ctx)
		}()
	}

	receive := func(header, subject string) int64 {
		t.Helper()
		raw := header + "From: Ann <ann@example.com>\r\nTo: desk@example.com\r\nSubject: " + subject +
			"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.com>\r\n\r\nText of " + subject + ".\r\n"
		result, err := a.Service.ImportMessage(ctx, service.System, box.ID, strings.NewReader(raw), "API")
		if err != nil || result.Dropped || result.ID == 0 {
			t.Fatalf("receiving %q: %+v %v", subject, result, err)
		}
		return result.ID
	}
	check := func(m testpeer.SmarthostMessage, subject string) {
		t.Helper()
		if m.From != "postmaster@mx.test" {
			t.Errorf("envelope sender %q, want postmaster@mx.test", m.From)
		}
		if len(m.To) != 1 || m.To[0] != "boss@example.net" {
			t.Errorf("envelope recipients %q, want [boss@example.net]", m.To)
		}
		header, _, _ := bytes.Cut(m.Raw, []byte("\r\n\r\n"))
		// The loop header names the install by its SMTP hostname, the
		// name its queue greets with, not by the machine's.
		if !bytes.HasPrefix(header, []byte(rules.LoopHeader+": mx.test\r\n")) {
			t.Errorf("the forward does not start with %s: mx.test:\n%s", rules.LoopHeader, header)
		}
		if !bytes.Contains(header, []byte("\r\nSubject: "+subject+"\r\n")) {
			t.Errorf("the forward lacks the original's subject %q:\n%s", subject, m.Raw)
		}
	}

	receive("", "Quarterly report")
	got := waitForwarded(t, smarthost, 1)
	check(got[0], "Quarterly report")

	// An automatic reply matches the rule too, but no forward job is made
	// for it. A third, ordinary message is forwarded after it: once that
	// arrives, the auto-reply would have too, had it been queued.
	auto := receive("Auto-Submitted: auto-replied\r\n", "Out of office")
	if jobs, err := a.Store.Jobs(ctx, store.JobFilter{MessageID: auto, Kind: service.JobForward}); err != nil || len(jobs) != 0 {
		t.Errorf("forward jobs of the auto-reply: %+v %v", jobs, err)
	}
	// A forward of this install that came back (through another install
	// that forwards to here) is its own loop: not forwarded again.
	back := receive("X-Pochta-Loop: relay.other.test\r\nX-Pochta-Loop: MX.test\r\n", "Came back")
	if jobs, err := a.Store.Jobs(ctx, store.JobFilter{MessageID: back, Kind: service.JobForward}); err != nil || len(jobs) != 0 {
		t.Errorf("forward jobs of the message that came back: %+v %v", jobs, err)
	}
	// Another install's forward goes on, with this install's name added.
	receive("X-Pochta-Loop: relay.other.test\r\n", "Second report")
	got = waitForwarded(t, smarthost, 2)
	if len(got) != 2 {
		t.Fatalf("the smarthost holds %d messages, want 2", len(got))
	}
	check(got[1], "Second report")
	if !bytes.Contains(got[1].Raw, []byte("\r\nX-Pochta-Loop: relay.other.test\r\n")) {
		t.Errorf("the other install's loop header was lost:\n%s", got[1].Raw)
	}
	for _, m := range got {
		if bytes.Contains(m.Raw, []byte("Out of office")) || bytes.Contains(m.Raw, []byte("Came back")) {
			t.Errorf("an automatic or looping message was forwarded:\n%s", m.Raw)
		}
	}
	outbound, err := a.Store.OutboundMessages(ctx, store.OutboundFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(outbound.Messages) != 2 {
		t.Errorf("outbound queue holds %d messages, want 2 (no auto-reply, no bounce)", len(outbound.Messages))
	}
}
