package queue_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// newMXEnv is a queue that delivers every domain directly to host as its
// MX, loopback allowed.
func newMXEnv(t *testing.T, host *testpeer.Smarthost) *env {
	t.Helper()
	e := newEnv(t, "", nil, func(c *queue.Config) {
		c.Resolver, c.MXPort = mxResolver{"127.0.0.1"}, host.Port
	})
	e.settings.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	return e
}

func fallbackLines(lines []store.LogEntry) []store.LogEntry {
	var out []store.LogEntry
	for _, line := range lines {
		for _, part := range line.Parts {
			if part.Key == "log.outbound_tls_fallback" {
				out = append(out, line)
			}
		}
	}
	return out
}

// An MX whose STARTTLS works gets the message encrypted, and nothing is
// said about a fallback.
func TestOpportunisticTLSToMX(t *testing.T) {
	host := testpeer.StartSmarthostTLS(t, testpeer.SmarthostTLSWorks)
	e := newMXEnv(t, host)
	if err := e.queue.Enqueue(context.Background(), "alice@sender.test", []string{"bob@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 1 || !got[0].TLS || !bytes.Equal(got[0].Raw, original) || e.all(t)[0].State != store.OutboundSent {
		t.Fatalf("delivered %+v, %+v", got, e.all(t))
	}
	if lines := fallbackLines(e.log.lines()); len(lines) != 0 {
		t.Errorf("a fallback was logged: %+v", lines)
	}
}

// An MX that offers STARTTLS and then fails the handshake gets the message
// in plain text (RFC 7435), and the work log says so before the "sent"
// line.
func TestOpportunisticTLSFallsBackToPlain(t *testing.T) {
	host := testpeer.StartSmarthostTLS(t, testpeer.SmarthostTLSBroken)
	e := newMXEnv(t, host)
	if err := e.queue.Enqueue(context.Background(), "alice@sender.test", []string{"bob@example.test", "carol@example.test"},
		bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 1 || got[0].TLS || !bytes.Equal(got[0].Raw, original) || e.all(t)[0].State != store.OutboundSent {
		t.Fatalf("delivered %+v, %+v", got, e.all(t))
	}
	lines := e.log.lines()
	fallbacks := fallbackLines(lines)
	if len(fallbacks) != 1 || !strings.HasPrefix(fallbacks[0].Text, "STARTTLS with 127.0.0.1 failed (") ||
		!strings.Contains(fallbacks[0].Text, "without TLS") {
		t.Fatalf("fallback lines: %+v", fallbacks)
	}
	if len(lines) != 3 || lines[0].Parts[0].Key != "log.outbound_tls_fallback" || lines[1].Parts[0].Key != "log.outbound_sent" {
		t.Errorf("work log: %+v", lines)
	}
}

// An MX that offers STARTTLS and refuses it when asked (454) gets the
// message in plain text on the same connection, and the work log says so.
func TestOpportunisticTLSRefusedGoesOnPlain(t *testing.T) {
	host := testpeer.StartSmarthostTLS(t, testpeer.SmarthostTLSRefused)
	e := newMXEnv(t, host)
	if err := e.queue.Enqueue(context.Background(), "alice@sender.test", []string{"bob@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 1 || got[0].TLS || !bytes.Equal(got[0].Raw, original) || e.all(t)[0].State != store.OutboundSent {
		t.Fatalf("delivered %+v, %+v", got, e.all(t))
	}
	fallbacks := fallbackLines(e.log.lines())
	if len(fallbacks) != 1 || !strings.Contains(fallbacks[0].Text, "(refused: 454 4.7.0 TLS not available)") {
		t.Fatalf("fallback lines: %+v", fallbacks)
	}
}

// A smarthost whose TLS mode is STARTTLS never gets the message in plain
// text: not when its handshake fails, not when it offers no STARTTLS.
func TestSmarthostTLSRequiredNeverFallsBack(t *testing.T) {
	for _, test := range []struct {
		name  string
		host  *testpeer.Smarthost
		reply string
	}{
		{"handshake fails", testpeer.StartSmarthostTLS(t, testpeer.SmarthostTLSBroken), "TLS handshake"},
		{"no STARTTLS offered", testpeer.StartSmarthost(t), "no STARTTLS offered"},
		{"STARTTLS refused", testpeer.StartSmarthostTLS(t, testpeer.SmarthostTLSRefused), "454 4.7.0 TLS not available"},
	} {
		t.Run(test.name, func(t *testing.T) {
			e := newEnv(t, "", test.host, nil)
			e.settings.Smarthost.TLS = queue.TLSStartTLS
			if err := e.queue.Enqueue(context.Background(), "alice@sender.test", []string{"bob@example.test"}, bytes.NewReader(original)); err != nil {
				t.Fatal(err)
			}
			e.runOnce(t)
			m := e.all(t)[0]
			if m.State != store.OutboundQueued || !strings.Contains(m.LastReply, test.reply) || len(test.host.Messages(t)) != 0 {
				t.Fatalf("smarthost with STARTTLS required: %+v, %d received", m, len(test.host.Messages(t)))
			}
			if lines := fallbackLines(e.log.lines()); len(lines) != 0 {
				t.Errorf("a fallback was logged: %+v", lines)
			}
		})
	}
}
