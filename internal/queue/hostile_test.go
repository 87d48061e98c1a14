package queue_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// A smarthost that answers with a malformed greeting of raw bytes (NUL,
// invalid UTF-8): no real SMTP server sends one, so this peer is a mock.
// The attempt is recorded with the reply made one valid line, on
// PostgreSQL too (which refuses NUL and invalid UTF-8 in text): else the
// outcome would never be written and the message tried for ever.
func TestMalformedReplyRecorded(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testMalformedReplyRecorded(t, "") })
	t.Run("postgres", func(t *testing.T) { testMalformedReplyRecorded(t, testpeer.PostgresDSN(t)) })
}

func testMalformedReplyRecorded(t *testing.T, dsn string) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("2\x00\xff\xfe hostile greeting\r\n"))
			conn.Close()
		}
	}()
	e := newEnv(t, dsn, nil, nil)
	e.settings.Smarthost = queue.Smarthost{Host: "127.0.0.1", Port: listener.Addr().(*net.TCPAddr).Port, TLS: queue.TLSNone}
	ctx := context.Background()
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"bob@example.test"}, bytes.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	e.runOnce(t)
	m := e.all(t)[0]
	if m.State != store.OutboundQueued || m.Attempts != 1 {
		t.Fatalf("after a malformed greeting: state %s, attempts %d, reply %q", m.State, m.Attempts, m.LastReply)
	}
	if !utf8.ValidString(m.LastReply) || strings.ContainsAny(m.LastReply, "\x00\r\n") || m.LastReply == "" {
		t.Errorf("recorded reply %q", m.LastReply)
	}
}
