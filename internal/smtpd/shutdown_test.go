package smtpd_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A stopping server lets a session in DATA finish: its message is committed
// and answered 250, then the connection closes; an idle session is closed
// at once, and the listener takes no one new.
func TestShutdownFinishesDataInFlight(t *testing.T) {
	e := newEnv(t, options{})
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", e.addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(60 * time.Second))
		return c, bufio.NewReader(c)
	}
	reply := func(r *bufio.Reader) string {
		t.Helper()
		var last string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply: %v (%q)", err, line)
			}
			last = line
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimSpace(last)
			}
		}
	}
	say := func(c net.Conn, r *bufio.Reader, command, want string) {
		t.Helper()
		if _, err := io.WriteString(c, command+"\r\n"); err != nil {
			t.Fatal(err)
		}
		if got := reply(r); !strings.HasPrefix(got, want) {
			t.Fatalf("%s: %q, want %s", command, got, want)
		}
	}
	busy, busyReader := dial()
	reply(busyReader)
	say(busy, busyReader, "EHLO client.test", "250")
	say(busy, busyReader, "MAIL FROM:<a@far.test>", "250")
	say(busy, busyReader, "RCPT TO:<bob@example.test>", "250")
	say(busy, busyReader, "DATA", "354")
	io.WriteString(busy, "Subject: in flight\r\n\r\nthe first half\r\n")

	idle, idleReader := dial()
	reply(idleReader)
	say(idle, idleReader, "EHLO client.test", "250")
	say(idle, idleReader, "MAIL FROM:<a@far.test>", "250")

	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	// The idle session is closed at once: the sign that the stop began.
	if line, err := idleReader.ReadString('\n'); err == nil {
		t.Fatalf("the idle session got %q, want it closed", line)
	}
	if c, err := net.Dial("tcp", e.addr()); err == nil {
		c.Close()
		t.Error("the listener still takes connections")
	}
	io.WriteString(busy, "the second half\r\n.\r\n")
	if got := reply(busyReader); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("end of data: %q, want 250", got)
	}
	if _, err := busyReader.ReadString('\n'); err == nil {
		t.Error("the session stayed open after its reply")
	}
	<-stopped
	e.ctx = context.Background() // the server's ended with the stop
	sources := e.messages(e.mailbox)
	if len(sources) != 1 || !strings.Contains(sources[0], "the second half") {
		t.Fatalf("stored %d messages", len(sources))
	}
}
