package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/netguard"
	"pochta.dev/pochta/internal/pop3"
)

// Failure reasons: what went wrong with a check, in the terms an admin
// acts on. The front ends say each in plain words from the catalog
// ("fetch_error." + reason), with the error's own text beside it for
// whoever needs the detail.
const (
	ReasonRefused     = "refused"      // nothing listens at that address and port
	ReasonUnreachable = "unreachable"  // no route to the server
	ReasonUnknownHost = "unknown_host" // the name does not resolve
	ReasonBlocked     = "blocked"      // an internal address, not for users' connections (netguard)
	ReasonTimeout     = "timeout"      // the server did not answer within the connection timeout
	ReasonCertificate = "certificate"  // the server's certificate did not verify
	ReasonTLS         = "tls"          // the TLS handshake failed otherwise
	ReasonNoSTLS      = "no_stls"      // STARTTLS asked for, not offered
	ReasonLogin       = "login"        // the login or password was not accepted
	ReasonInUse       = "in_use"       // the mailbox is locked by another session
	ReasonTemporary   = "temporary"    // the server asked to come back later
	ReasonClosed      = "closed"       // the connection was dropped
	ReasonProtocol    = "protocol"     // the replies are not POP3
	ReasonServer      = "server"       // the server refused a command
	ReasonTooLarge    = "too_large"    // a message is larger than Pochta takes
	ReasonOther       = "other"
)

// FailureReason classifies the error of a fetch or a connection test as
// one of the Reason constants ("" for nil).
func FailureReason(err error) string {
	if err == nil {
		return ""
	}
	var reply *pop3.Error
	var dns *net.DNSError
	var verification *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, netguard.ErrBlocked):
		return ReasonBlocked
	case errors.As(err, &reply):
		return replyReason(reply)
	case errors.Is(err, intake.ErrTooLarge):
		return ReasonTooLarge
	case errors.As(err, &verification), errors.As(err, &authority), errors.As(err, &hostname), errors.As(err, &invalid):
		return ReasonCertificate
	case errors.Is(err, pop3.ErrNoSTLS):
		return ReasonNoSTLS
	case errors.Is(err, pop3.ErrTLS):
		return ReasonTLS
	case errors.As(err, &dns):
		if dns.IsTimeout {
			return ReasonTimeout
		}
		return ReasonUnknownHost
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return ReasonUnreachable
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return ReasonTimeout
	case errors.Is(err, pop3.ErrProtocol), errors.Is(err, pop3.ErrLineTooLong):
		return ReasonProtocol
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, pop3.ErrClosed):
		return ReasonClosed
	}
	return ReasonOther
}

// replyReason classifies a -ERR reply: by its RFC 2449 response code when
// there is one, else by the command it answered.
func replyReason(reply *pop3.Error) string {
	code := reply.Code
	switch {
	case code == "IN-USE" || strings.HasPrefix(code, "IN-USE/"):
		return ReasonInUse
	case reply.Temporary:
		return ReasonTemporary
	case code == "AUTH" || strings.HasPrefix(code, "AUTH/"):
		return ReasonLogin
	}
	command, _, _ := strings.Cut(reply.Command, " ")
	switch strings.ToUpper(command) {
	case "USER", "PASS", "APOP", "AUTH":
		return ReasonLogin
	}
	return ReasonServer
}

func isTimeout(err error) bool {
	var timeout interface{ Timeout() bool }
	return errors.As(err, &timeout) && timeout.Timeout()
}
