package pop3

import (
	"errors"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/protoline"
)

// recordingServer greets with an APOP timestamp, answers every command
// +OK and records it; the lines come on the channel once the client has
// closed the connection.
func recordingServer(t *testing.T) (string, <-chan []string) {
	t.Helper()
	recorded := make(chan []string, 1)
	addr := fakeServer(t, func(f *fakeConn) {
		f.send("+OK ready <1896.697170952@pop.example.com>")
		var lines []string
		for {
			line, err := f.r.ReadString('\n')
			if line != "" {
				lines = append(lines, line)
				f.send("+OK")
			}
			if err != nil {
				break
			}
		}
		recorded <- lines
	})
	return addr, recorded
}

// A login or password with a line break or NUL is refused before a byte is
// written, whichever way of logging in is asked for, and the session stays
// usable: the server's first line is the NOOP that follows.
func TestAuthRefusesLineBreaks(t *testing.T) {
	const password = "s3cret-Pw"
	tests := []struct {
		name            string
		login, password string
		method          string
		argument        string
	}{
		{"USER with CRLF", "u\r\nDELE 1\r\nX", password, AuthUser, "login"},
		{"USER with LF", "u\nDELE 1", password, AuthUser, "login"},
		{"PASS with CRLF", "u", password + "\r\nDELE 1", AuthUser, "password"},
		{"PASS with NUL", "u", password + "\x00", AuthUser, "password"},
		{"APOP login", "u\r\nDELE 1", password, AuthAPOP, "login"},
		{"APOP password", "u", password + "\r\n", AuthAPOP, "password"},
		{"AUTH PLAIN login with NUL", "u\x00admin", password, AuthPlain, "login"},
		{"AUTH PLAIN password", "u", password + "\nDELE 1", AuthPlain, "password"},
		{"auto", "u\rDELE 1", password, AuthAuto, "login"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			addr, recorded := recordingServer(t)
			var trace traceLog
			c := dial(t, addr, Options{Trace: trace.trace})
			err := c.Auth(t.Context(), test.login, test.password, test.method)
			var unsafe *protoline.UnsafeError
			if !errors.Is(err, ErrUnsafeArgument) || !errors.As(err, &unsafe) || unsafe.Argument != test.argument {
				t.Fatalf("Auth: %v, want ErrUnsafeArgument for the %s", err, test.argument)
			}
			if IsTemporary(err) {
				t.Error("the error is temporary: a retry cannot mend a setting")
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "DELE") {
				t.Errorf("the error shows the value: %v", err)
			}
			if err := c.Noop(t.Context()); err != nil {
				t.Fatalf("NOOP after the refusal: %v", err)
			}
			c.Close()
			if lines := <-recorded; len(lines) != 1 || lines[0] != "NOOP\r\n" {
				t.Errorf("the server received %q, want only NOOP", lines)
			}
			if strings.Contains(trace.String(), password) {
				t.Errorf("the trace shows the password:\n%s", trace.String())
			}
		})
	}
}

// Whatever builds a command, a line with CR, LF or NUL inside never goes
// out: the last guard is where every command is written.
func TestCommandRefusesLineBreaks(t *testing.T) {
	for _, command := range []string{"RETR 1\r\nDELE 1", "DELE 1\nQUIT", "TOP 1 0\x00"} {
		t.Run(command, func(t *testing.T) {
			addr, recorded := recordingServer(t)
			c := dial(t, addr, Options{})
			login(t, c, "u", "p", AuthUser)
			if err := c.simple(t.Context(), command); !errors.Is(err, ErrUnsafeArgument) {
				t.Fatalf("%q: %v, want ErrUnsafeArgument", command, err)
			}
			if err := c.Noop(t.Context()); err != nil {
				t.Fatalf("NOOP after the refusal: %v", err)
			}
			c.Close()
			if lines := <-recorded; strings.Join(lines, "") != "USER u\r\nPASS p\r\nNOOP\r\n" {
				t.Errorf("the server received %q", lines)
			}
		})
	}
}
