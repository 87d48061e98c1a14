package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/pop3"
	"pochta.dev/pochta/internal/receive"
)

// TestFailureReason classifies the errors a check meets. The network ones
// come from real connections on loopback; replies and DNS answers are
// built, as no peer here gives them on demand.
func TestFailureReason(t *testing.T) {
	ctx := context.Background()
	// A port nothing listens on: listen, note the port, close.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := listener.Addr().String()
	listener.Close()
	_, refused := pop3.Dial(ctx, closedPort, pop3.Options{Timeout: 5 * time.Second})

	// A server that accepts and says nothing: the greeting times out.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	t.Cleanup(func() {
		silent.Close()
		if conn := <-accepted; conn != nil {
			conn.Close()
		}
	})
	go func() {
		conn, _ := silent.Accept() // held open, silent, until the test ends
		accepted <- conn
	}()
	_, timedOut := pop3.Dial(ctx, silent.Addr().String(), pop3.Options{Timeout: 100 * time.Millisecond})

	// A server that greets with something that is not POP3.
	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { garbage.Close() })
	go func() {
		conn, err := garbage.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "220 mail.example.com ESMTP\r\n")
		io.Copy(io.Discard, conn)
	}()
	_, notPOP3 := pop3.Dial(ctx, garbage.Addr().String(), pop3.Options{Timeout: 5 * time.Second})

	tests := []struct {
		name string
		err  error
		want receive.Reason
	}{
		{"nil", nil, ""},
		{"connection refused", refused, receive.Refused},
		{"no greeting in time", timedOut, receive.Timeout},
		{"an SMTP server on the port", notPOP3, receive.Protocol},
		{"unknown host", fmt.Errorf("pop3 nowhere.invalid:110: %w", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}), receive.UnknownHost},
		{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: "slow.example", IsTimeout: true}, receive.Timeout},
		{"wrong password", fmt.Errorf("pop3 x: %w", &pop3.Error{Command: "PASS ***", Line: "-ERR [AUTH] Authentication failed."}), receive.Login},
		{"wrong APOP digest, no code", &pop3.Error{Command: "APOP alice ***", Line: "-ERR bad digest"}, receive.Login},
		{"mailbox locked", &pop3.Error{Command: "PASS ***", Line: "-ERR [IN-USE] locked", Code: "IN-USE", Temporary: true}, receive.InUse},
		{"come back later", &pop3.Error{Command: "PASS ***", Line: "-ERR [SYS/TEMP] busy", Code: "SYS/TEMP", Temporary: true}, receive.Temporary},
		{"RETR refused", &pop3.Error{Command: "RETR 3", Line: "-ERR no such message"}, receive.Server},
		{"no STLS", fmt.Errorf("pop3 x: %w", pop3.ErrNoSTLS), receive.NoSTARTTLS},
		{"TLS handshake", fmt.Errorf("pop3 x: %w: %w", pop3.ErrTLS, errors.New("first record does not look like a TLS handshake")), receive.TLS},
		{"dropped", fmt.Errorf("pop3 x: %w: %w", pop3.ErrClosed, io.ErrUnexpectedEOF), receive.Closed},
		{"anything else", errors.New("disk full"), receive.Other},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := fetch.Reason(test.err); got != test.want {
				t.Errorf("FailureReason(%v) = %q, want %q", test.err, got, test.want)
			}
		})
	}
}
