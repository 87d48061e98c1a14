package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/protoline"
	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll()
	os.Exit(code)
}

// clock is a stopped clock that tests move by hand, shared by the queue
// and the store so that "due" means the same to both.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	log      *recorder
	store    *store.Store
	queue    *queue.Queue
	clock    *clock
	settings queue.Settings
}

func newEnv(t *testing.T, dsn string, host *testpeer.Smarthost, configure func(*queue.Config)) *env {
	t.Helper()
	if dsn == "" {
		dsn = filepath.Join(t.TempDir(), "pochta.db")
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, clock: &clock{now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}}
	st.SetClock(e.clock.Now)
	e.settings.Timeout = 10 * time.Second
	if host != nil {
		e.settings.Smarthost = queue.Smarthost{Host: "127.0.0.1", Port: host.Port, TLS: queue.TLSNone}
	}
	e.log = &recorder{}
	config := queue.Config{Store: st, Log: e.log, Logger: slog.New(slog.DiscardHandler), Hostname: "mx.pochta.test", Now: e.clock.Now, Random: func() float64 { return 0.5 },
		Settings: func(context.Context) (queue.Settings, error) { return e.settings, nil }}
	if configure != nil {
		configure(&config)
	}
	e.queue = queue.New(config)
	return e
}

func (e *env) runOnce(t *testing.T) int {
	t.Helper()
	n, err := e.queue.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) all(t *testing.T) []store.OutboundMessage {
	t.Helper()
	page, err := e.store.OutboundMessages(context.Background(), store.OutboundFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first reads better in tests.
	for i, j := 0, len(page.Messages)-1; i < j; i, j = i+1, j-1 {
		page.Messages[i], page.Messages[j] = page.Messages[j], page.Messages[i]
	}
	return page.Messages
}

// A message with what a careless transport would change: a line starting
// with a dot, 8-bit text, a long line, a header with trailing spaces.
var original = []byte("From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: =?utf-8?q?=D0=9F=D1=80=D0=B8=D0=B2=D0=B5=D1=82?=  \r\n" +
	"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
	"Привет, Боб.\r\n.\r\n..two dots\r\n" + strings.Repeat("x", 990) + "\r\n\r\nend\r\n")

func TestDeliveredByteForByte(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	ctx := context.Background()
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"bob@example.test", "carol@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	queued := e.all(t)
	if len(queued) != 1 || queued[0].State != store.OutboundQueued || queued[0].Subject != "Привет" {
		t.Fatalf("queued: %+v", queued)
	}
	if n := e.runOnce(t); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	got := host.Messages(t)
	if len(got) != 1 {
		t.Fatalf("smarthost got %d messages", len(got))
	}
	if got[0].From != "alice@sender.test" || strings.Join(got[0].To, ",") != "bob@example.test,carol@example.test" {
		t.Errorf("envelope %+v", got[0])
	}
	if !bytes.Equal(got[0].Raw, original) {
		t.Errorf("bytes differ:\n%q\n%q", got[0].Raw, original)
	}
	done := e.all(t)[0]
	if done.State != store.OutboundSent || done.Attempts != 1 || !strings.HasPrefix(done.Recipients[0].LastReply, "250") {
		t.Errorf("after delivery: %+v", done)
	}
	if n := e.runOnce(t); n != 0 || len(host.Messages(t)) != 1 {
		t.Errorf("a sent message was claimed again (%d)", n)
	}
	lines := e.log.lines()
	if len(lines) != 2 || lines[0].Type != "outbound" || lines[0].Parts[0].Key != "log.outbound_sent" ||
		!strings.HasPrefix(lines[0].Text, "Sent to bob@example.test via 127.0.0.1: 250") {
		t.Errorf("work log: %+v", lines)
	}
}

// recorder keeps the work log lines written.
type recorder struct {
	mu      sync.Mutex
	entries []store.LogEntry
}

func (r *recorder) Record(_ context.Context, entries ...store.LogEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entries...)
}

func (r *recorder) lines() []store.LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.LogEntry(nil), r.entries...)
}

func TestTemporaryFailureThenSuccess(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	ctx := context.Background()
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"flaky@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	m := e.all(t)[0]
	if m.State != store.OutboundQueued || m.Attempts != 1 || !strings.HasPrefix(m.LastReply, "451 4.3.0") || len(host.Messages(t)) != 0 {
		t.Fatalf("after a 451: %+v", m)
	}
	if wait := m.NextAttemptAt.Sub(e.clock.Now()); wait != 7*time.Minute+30*time.Second {
		t.Errorf("next try in %v, want 7.5 min (no jitter at 0.5)", wait)
	}
	if n := e.runOnce(t); n != 0 {
		t.Fatalf("claimed %d before it was due", n)
	}
	e.clock.Add(8 * time.Minute)
	e.runOnce(t)
	m = e.all(t)[0]
	if m.State != store.OutboundSent || m.Attempts != 2 || len(host.Messages(t)) != 1 || !bytes.Equal(host.Messages(t)[0].Raw, original) {
		t.Fatalf("after the retry: %+v", m)
	}
	if len(e.all(t)) != 1 {
		t.Error("a notice was written for a temporary failure")
	}
}

// dsn reads a delivery status notification: its delivery-status part's
// recipient fields, by Final-Recipient.
func dsn(t *testing.T, raw []byte) (*mail.Message, map[string]textproto.MIMEHeader) {
	t.Helper()
	message, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mediaType, params, err := mime.ParseMediaType(message.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("not a DSN: %q %v", message.Header.Get("Content-Type"), err)
	}
	parts := multipart.NewReader(message.Body, params["boundary"])
	recipients := map[string]textproto.MIMEHeader{}
	var types []string
	for {
		part, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, part.Header.Get("Content-Type"))
		if part.Header.Get("Content-Type") != "message/delivery-status" {
			continue
		}
		reader := textproto.NewReader(bufio.NewReader(part))
		if _, err := reader.ReadMIMEHeader(); err != nil { // the per-message fields
			t.Fatal(err)
		}
		for {
			fields, err := reader.ReadMIMEHeader()
			if len(fields) > 0 {
				recipients[strings.TrimPrefix(fields.Get("Final-Recipient"), "rfc822; ")] = fields
			}
			if err != nil {
				break
			}
		}
	}
	if strings.Join(types, ",") != "text/plain; charset=utf-8,message/delivery-status,text/rfc822-headers" {
		t.Errorf("parts %v", types)
	}
	return message, recipients
}

func TestPermanentFailureBouncesOnce(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	ctx := context.Background()
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"bob@example.test", "reject@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	all := e.all(t)
	if len(all) != 2 || all[0].State != store.OutboundFailed || all[1].Kind != store.OutboundBounce || all[1].Sender != "" ||
		all[1].Recipients[0].Address != "alice@sender.test" {
		t.Fatalf("after a 550: %+v", all)
	}
	if all[0].Recipients[0].State != store.OutboundSent || all[0].Recipients[1].State != store.OutboundFailed {
		t.Errorf("recipients %+v", all[0].Recipients)
	}
	e.runOnce(t) // the bounce goes through the same queue
	e.clock.Add(6 * 24 * time.Hour)
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 2 {
		t.Fatalf("smarthost got %d messages, want the message and one bounce", len(got))
	}
	bounce := got[1]
	if bounce.From != "<>" || strings.Join(bounce.To, ",") != "alice@sender.test" {
		t.Errorf("bounce envelope %+v", bounce)
	}
	message, recipients := dsn(t, bounce.Raw)
	if message.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Error("no Auto-Submitted")
	}
	failed, ok := recipients["reject@example.test"]
	if len(recipients) != 1 || !ok || failed.Get("Action") != "failed" || failed.Get("Status") != "5.1.1" ||
		!strings.Contains(failed.Get("Diagnostic-Code"), "550 5.1.1 no such user here") {
		t.Errorf("delivery status %v", recipients)
	}
	if !bytes.Contains(bounce.Raw, []byte("Subject: =?utf-8?q?")) {
		t.Error("the original's header is not returned")
	}
}

func TestNullSenderNeverBounced(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	if err := e.queue.Enqueue(context.Background(), "", []string{"reject@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	e.clock.Add(6 * 24 * time.Hour)
	e.runOnce(t)
	all := e.all(t)
	if len(all) != 1 || all[0].State != store.OutboundFailed || len(host.Messages(t)) != 0 {
		t.Fatalf("a message from the null sender was bounced: %+v", all)
	}
}

func TestDelayNoticeThenExpiry(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	if err := e.queue.Enqueue(context.Background(), "alice@sender.test", []string{"defer@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for range 40 {
		e.runOnce(t)
		m := e.all(t)[0]
		if m.State != store.OutboundQueued {
			break
		}
		wait := m.NextAttemptAt.Sub(e.clock.Now())
		waits = append(waits, wait)
		e.clock.Add(wait)
	}
	want := []time.Duration{7*time.Minute + 30*time.Second, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
		8 * time.Hour, 16 * time.Hour}
	for i, w := range want {
		if i >= len(waits) || waits[i] != w {
			t.Fatalf("waits %v, want them to start %v", waits, want)
		}
	}
	all := e.all(t)
	if all[0].State != store.OutboundFailed {
		t.Fatalf("never given up: %+v", all[0])
	}
	if age := all[0].LastAttemptAt.Sub(all[0].CreatedAt); age < queue.MaxAge || age > queue.MaxAge+17*time.Hour {
		t.Errorf("given up after %v", age)
	}
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 2 {
		t.Fatalf("smarthost got %d notices, want a delay notice and a bounce", len(got))
	}
	_, delayed := dsn(t, got[0].Raw)
	if d := delayed["defer@example.test"]; d.Get("Action") != "delayed" || d.Get("Status") != "4.4.1" || d.Get("Will-Retry-Until") == "" {
		t.Errorf("delay notice %v", delayed)
	}
	_, failed := dsn(t, got[1].Raw)
	if f := failed["defer@example.test"]; f.Get("Action") != "failed" || f.Get("Status") != "5.4.7" {
		t.Errorf("bounce %v", failed)
	}
}

func TestRetryDelay(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: 450 * time.Second, 2: 15 * time.Minute, 5: 2 * time.Hour, 8: 16 * time.Hour,
		9: 16 * time.Hour, 1000: 16 * time.Hour, 0: 450 * time.Second} {
		if got := queue.RetryDelay(attempts); got != want {
			t.Errorf("RetryDelay(%d) = %v, want %v", attempts, got, want)
		}
	}
}

// CR, LF or NUL in any argument would end an SMTP command and start
// another: refused when enqueued and, for the settings, before a byte of
// the command is written.
func TestUnsafeArgumentsRefused(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	ctx := context.Background()
	for _, envelope := range [][2]string{
		{"alice@sender.test\r\nRCPT TO:<victim@example.test>", "bob@example.test"},
		{"alice@sender.test", "bob@example.test\r\nDATA"},
		{"alice@sender.test", "bob@example.test\nRSET"},
		{"alice@sender.test", "bob\x00@example.test"},
	} {
		err := e.queue.Enqueue(ctx, envelope[0], []string{envelope[1]}, bytes.NewReader(original))
		if !errors.Is(err, protoline.ErrUnsafe) {
			t.Errorf("Enqueue(%q, %q) = %v, want ErrUnsafe", envelope[0], envelope[1], err)
		}
	}
	for _, bad := range []string{"<x@y>", "a b@c", "", "nobody", "b\xffob@example.test", strings.Repeat("a", 300) + "@b",
		`"a b"c@d`, `"open@example.test`, `"a b"@c d`, "\"a\tb\"@c", `"a\`, `"a b"`, `"a"@`} {
		if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{bad}, bytes.NewReader(original)); err == nil {
			t.Errorf("Enqueue to %q taken", bad)
		}
	}
	if len(e.all(t)) != 0 {
		t.Fatal("a refused message was queued")
	}
	e.settings.Smarthost.Login, e.settings.Smarthost.Password = "user", "secret\r\nRSET"
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"bob@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	m := e.all(t)[0]
	if m.State != store.OutboundQueued || !strings.Contains(m.LastReply, "password") || strings.Contains(m.LastReply, "secret") ||
		len(host.Messages(t)) != 0 {
		t.Errorf("a password with CRLF: %+v", m)
	}
}

func TestSmarthostLogin(t *testing.T) {
	host := testpeer.StartSmarthost(t, "relay-user", "relay-pass")
	e := newEnv(t, "", host, nil)
	ctx := context.Background()
	e.settings.Smarthost.Login, e.settings.Smarthost.Password = "relay-user", "wrong"
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"bob@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	m := e.all(t)[0]
	if m.State != store.OutboundQueued || !strings.Contains(m.LastReply, "535") || len(host.Messages(t)) != 0 {
		t.Fatalf("a wrong smarthost password: %+v", m)
	}
	// The admin's mistake waits for the admin, not bounced.
	e.settings.Smarthost.Password = "relay-pass"
	if err := e.store.RetryOutboundNow(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	if got := host.Messages(t); len(got) != 1 || !bytes.Equal(got[0].Raw, original) {
		t.Fatalf("delivered %d with login", len(got))
	}
}

// mxResolver points every domain's MX at one host.
type mxResolver struct{ host string }

func (r mxResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return []*net.MX{{Host: r.host + ".", Pref: 10}}, nil
}

// Direct delivery of mail relayed for users does not reach loopback unless
// the allowed networks list it.
func TestDirectDeliveryGuarded(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", nil, func(c *queue.Config) {
		c.Resolver, c.MXPort = mxResolver{"127.0.0.1"}, host.Port
	})
	ctx := context.Background()
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"bob@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	m := e.all(t)[0]
	if m.State != store.OutboundQueued || !strings.Contains(m.LastReply, "not allowed: loopback") || len(host.Messages(t)) != 0 {
		t.Fatalf("loopback reached: %+v", m)
	}
	e.settings.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if err := e.store.RetryOutboundNow(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	if got := host.Messages(t); len(got) != 1 || !bytes.Equal(got[0].Raw, original) || e.all(t)[0].State != store.OutboundSent {
		t.Fatalf("direct delivery with loopback allowed: %d messages, %+v", len(got), e.all(t)[0])
	}
}

// An address in UTF-8 goes with SMTPUTF8 to a server that offers it.
func TestUTF8Address(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	if err := e.queue.Enqueue(context.Background(), "алиса@отправитель.рф", []string{"боб@пример.рф"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 1 || got[0].From != "алиса@отправитель.рф" || got[0].To[0] != "боб@пример.рф" || e.all(t)[0].State != store.OutboundSent {
		t.Fatalf("delivered %+v, %+v", got, e.all(t))
	}
}

// A quoted local part with a space, as smtpd keeps it in the envelope, is
// taken and goes out quoted.
func TestQuotedLocalPart(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, nil)
	from, to := `"john doe"@sender.test`, `"mary \"m\" ann"@example.test`
	if err := e.queue.Enqueue(context.Background(), from, []string{to}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 1 || e.all(t)[0].State != store.OutboundSent {
		t.Fatalf("delivered %+v, %+v", got, e.all(t))
	}
	if got[0].From != from || len(got[0].To) != 1 || got[0].To[0] != to {
		t.Errorf("envelope %q %q, want %q %q", got[0].From, got[0].To, from, to)
	}
}

// A message deleted while its delivery hangs is given up by the process
// delivering it at its next lease renewal: the connection is dropped
// before the end of DATA, so the server keeps nothing.
func TestDeletedDuringDeliveryStops(t *testing.T) {
	host := testpeer.StartSmarthost(t)
	e := newEnv(t, "", host, func(c *queue.Config) { c.LeaseTTL = 300 * time.Millisecond })
	ctx := context.Background()
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"slow@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { e.runOnce(t); close(done) }()
	for {
		if _, err := os.Stat(filepath.Join(host.Dir, "waiting")); err == nil {
			break
		}
		select {
		case <-done:
			t.Fatal("the delivery ended before DATA")
		case <-time.After(20 * time.Millisecond):
		}
	}
	id := e.all(t)[0].ID
	if err := e.store.DeleteOutbound(ctx, id); err != nil {
		t.Fatal(err)
	}
	<-done
	if got := host.Messages(t); len(got) != 0 {
		t.Fatalf("the smarthost kept %d messages", len(got))
	}
}
