package receive_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"pochta.dev/pochta/internal/receive"
)

func TestReasonOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want receive.Reason
	}{
		{"nil", nil, ""},
		{"marked by a receiver", fmt.Errorf("imap x: %w", receive.Mark(receive.Login, errors.New("NO [AUTHENTICATIONFAILED]"))), receive.Login},
		{"marked wins over the network's", receive.Mark(receive.Protocol, io.EOF), receive.Protocol},
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, receive.Refused},
		{"unreachable", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, receive.Unreachable},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}, receive.UnknownHost},
		{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: "slow.example", IsTimeout: true}, receive.Timeout},
		{"deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), receive.Timeout},
		{"context deadline", context.DeadlineExceeded, receive.Timeout},
		{"dropped", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), receive.Closed},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, receive.Closed},
		{"anything else", errors.New("disk full"), receive.Other},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := receive.ReasonOf(test.err); got != test.want {
				t.Errorf("ReasonOf(%v) = %q, want %q", test.err, got, test.want)
			}
		})
	}
	if receive.Mark(receive.Login, nil) != nil {
		t.Error("Mark(reason, nil) is not nil")
	}
}
