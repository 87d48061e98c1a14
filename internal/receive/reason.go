package receive

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"pochta.dev/pochta/internal/netguard"
)

// Reason is the kind of a failed check or connection test, in the terms an
// admin acts on. The front ends say each in plain words from the catalog
// ("fetch_error." + reason), with the error's own text beside it for
// whoever needs the detail; a mailbox keeps the reason of its last error.
type Reason string

// The reasons.
const (
	Refused     Reason = "refused"      // nothing listens at that address and port
	Unreachable Reason = "unreachable"  // no route to the server
	UnknownHost Reason = "unknown_host" // the name does not resolve
	Blocked     Reason = "blocked"      // an internal address, not for users' connections (netguard)
	Timeout     Reason = "timeout"      // the server did not answer within the connection timeout
	Certificate Reason = "certificate"  // the server's certificate did not verify
	TLS         Reason = "tls"          // the TLS handshake failed otherwise
	NoSTARTTLS  Reason = "no_stls"      // STARTTLS asked for, not offered
	Login       Reason = "login"        // the login or password was not accepted
	SignIn      Reason = "sign_in"      // the OAuth2 grant was revoked or expired: the owner signs in again
	InUse       Reason = "in_use"       // the mailbox is locked by another session
	Temporary   Reason = "temporary"    // the server asked to come back later
	Closed      Reason = "closed"       // the connection was dropped
	Protocol    Reason = "protocol"     // the replies are not the protocol's
	Server      Reason = "server"       // the server refused a command
	TooLarge    Reason = "too_large"    // a message is larger than Pochta takes
	Other       Reason = "other"
)

// Error is an error a receiver has classified.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap gives the classified error.
func (e *Error) Unwrap() error { return e.Err }

// Mark wraps err with its reason (nil stays nil): a receiver marks the
// errors it returns with what it knows of its protocol's replies.
func Mark(reason Reason, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Reason: reason, Err: err}
}

// ReasonOf gives the reason of an error: the one a receiver marked it
// with, else what [Classify] finds ("" for nil).
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var marked *Error
	if errors.As(err, &marked) {
		return marked.Reason
	}
	return Classify(err)
}

// Classify finds the reasons that do not depend on the protocol: the
// network guard's refusal, the network's, DNS's and TLS certificates'
// errors, and a dropped connection;
// anything else is Other. Receivers use it for what their own replies do
// not explain.
func Classify(err error) Reason {
	var dns *net.DNSError
	var verification *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, netguard.ErrBlocked):
		return Blocked
	case errors.As(err, &verification), errors.As(err, &authority), errors.As(err, &hostname), errors.As(err, &invalid):
		return Certificate
	case errors.As(err, &dns):
		if dns.IsTimeout {
			return Timeout
		}
		return UnknownHost
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return Unreachable
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return Timeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Closed
	}
	return Other
}

func isTimeout(err error) bool {
	var timeout interface{ Timeout() bool }
	return errors.As(err, &timeout) && timeout.Timeout()
}
