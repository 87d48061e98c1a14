package pop3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"pochta.dev/pochta/internal/protoline"
)

// Sentinel errors. Errors returned by a [Client] wrap them (test with
// errors.Is) after a "pop3 ADDR:" prefix, so their own text has no prefix.
var (
	// ErrTimeout is returned when one I/O step (connect, a write, one read
	// from the connection) took longer than [Options.Timeout]. It wraps
	// os.ErrDeadlineExceeded. The connection is closed.
	ErrTimeout error = timeoutError{}

	// ErrLineTooLong is returned when a reply line is longer than
	// [Options.MaxReplyLine] or a line inside a message is longer than
	// [Options.MaxMessageLine]. The connection is closed: the rest of the
	// line is never read into memory.
	ErrLineTooLong = errors.New("line too long")

	// ErrProtocol is returned for replies that are not POP3: a greeting or
	// status line that is neither +OK nor -ERR, a malformed STAT, LIST or
	// UIDL line, data after STLS. The connection is closed. A line that is
	// not POP3 at all (another service's banner) is not quoted in the
	// error: [Options.Trace] sees it.
	ErrProtocol = errors.New("protocol error")

	// ErrNoUIDL is returned by [Client.UIDL] when the server does not
	// support UIDL (not in CAPA, or CAPA unsupported, and UIDL answered
	// -ERR). The *Error with the reply is wrapped too.
	ErrNoUIDL = errors.New("server does not support UIDL")

	// ErrNoSTLS is returned when security "starttls" was asked for and the
	// server does not offer STLS. Nothing secret has been sent.
	ErrNoSTLS = errors.New("server does not offer STLS")

	// ErrTLS wraps errors of the TLS handshake (implicit TLS or STLS),
	// including certificate verification errors
	// (*tls.CertificateVerificationError).
	ErrTLS = errors.New("tls")

	// ErrClosed is returned by operations on a Client whose connection was
	// closed: by Quit, Close, or after an I/O or protocol error, which is
	// wrapped too.
	ErrClosed = errors.New("connection closed")

	// ErrBusy is returned when a command is issued while the reader
	// returned by [Client.Retr] or [Client.Top] has not been read to its
	// end or closed.
	ErrBusy = errors.New("previous message not read to the end or closed")

	// ErrUnsupported is returned for an authentication method the client
	// does not know, or STLS on a connection that already uses TLS.
	ErrUnsupported = errors.New("unsupported")

	// ErrUnsafeArgument is returned, before anything is written, when a
	// login, a password or another argument of a command holds CR, LF or
	// NUL: sent, it would end the command and start another ("USER
	// u\r\nDELE 1"). It is [protoline.ErrUnsafe]; the error is a
	// [*protoline.UnsafeError] that names the argument, never its value.
	// The session stays usable.
	ErrUnsafeArgument = protoline.ErrUnsafe
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

// Error is a -ERR reply to a command. It does not close the connection.
type Error struct {
	// Command is the command as sent, with secrets masked ("PASS ***").
	Command string
	// Line is the server's reply line, e.g. "-ERR [IN-USE] Mailbox locked".
	Line string
	// Code is the RFC 2449 response code without brackets, upper case:
	// "AUTH", "IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM"; "" if none.
	Code string
	// Temporary reports whether trying again later may work: codes IN-USE,
	// LOGIN-DELAY and SYS/TEMP. A failed login without a code (a wrong
	// password) and [AUTH] or [SYS/PERM] are not temporary.
	Temporary bool
}

func (e *Error) Error() string {
	return e.Command + ": " + e.Line
}

func newError(command, line, code string) *Error {
	return &Error{Command: command, Line: line, Code: code, Temporary: temporaryCode(code)}
}

// temporaryCode reports whether a RESP-CODE says "try again later".
// Codes are hierarchical (RFC 2449 section 8): SYS/TEMP/whatever is SYS/TEMP.
func temporaryCode(code string) bool {
	for _, c := range []string{"IN-USE", "LOGIN-DELAY", "SYS/TEMP"} {
		if code == c || strings.HasPrefix(code, c+"/") {
			return true
		}
	}
	return false
}

// IsTemporary reports whether the operation that returned err may succeed
// when tried again later without changing the settings: network errors,
// timeouts, dropped connections and -ERR replies with a temporary code are;
// wrong passwords, certificate errors, missing STLS or UIDL, protocol
// garbage, arguments with line breaks and cancellation by the caller are not.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Temporary
	}
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &ci):
		return false
	case errors.Is(err, context.Canceled),
		errors.Is(err, ErrProtocol), errors.Is(err, ErrLineTooLong),
		errors.Is(err, ErrNoUIDL), errors.Is(err, ErrNoSTLS), errors.Is(err, ErrUnsupported),
		errors.Is(err, ErrBusy), errors.Is(err, ErrUnsafeArgument):
		return false
	}
	return true
}

// protocolErrorf returns an error wrapping ErrProtocol.
func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}
