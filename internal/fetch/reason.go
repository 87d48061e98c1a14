package fetch

import (
	"errors"
	"strings"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/pop3"
	"pochta.dev/pochta/internal/receive"
)

// Reason classifies the error of a POP3 fetch or connection test (see
// [receive.Reason]; "" for nil): by the server's reply when it gave one,
// else by what the network, DNS and TLS said.
func Reason(err error) receive.Reason {
	if err == nil {
		return ""
	}
	var reply *pop3.Error
	generic := receive.Classify(err)
	switch {
	case generic == receive.Blocked:
		return generic
	case errors.As(err, &reply):
		return replyReason(reply)
	case errors.Is(err, intake.ErrTooLarge):
		return receive.TooLarge
	case generic == receive.Certificate:
		return generic
	case errors.Is(err, pop3.ErrNoSTLS):
		return receive.NoSTARTTLS
	case errors.Is(err, pop3.ErrTLS):
		return receive.TLS
	case generic == receive.UnknownHost, generic == receive.Refused, generic == receive.Unreachable, generic == receive.Timeout:
		return generic
	case errors.Is(err, pop3.ErrProtocol), errors.Is(err, pop3.ErrLineTooLong):
		return receive.Protocol
	case errors.Is(err, pop3.ErrClosed):
		return receive.Closed
	}
	return generic
}

// marked gives err with its reason, for the service and its front ends.
func marked(err error) error {
	if err == nil || errors.Is(err, receive.ErrBusy) {
		return err
	}
	return receive.Mark(Reason(err), err)
}

// replyReason classifies a -ERR reply: by its RFC 2449 response code when
// there is one, else by the command it answered.
func replyReason(reply *pop3.Error) receive.Reason {
	code := reply.Code
	switch {
	case code == "IN-USE" || strings.HasPrefix(code, "IN-USE/"):
		return receive.InUse
	case reply.Temporary:
		return receive.Temporary
	case code == "AUTH" || strings.HasPrefix(code, "AUTH/"):
		return receive.Login
	}
	command, _, _ := strings.Cut(reply.Command, " ")
	switch strings.ToUpper(command) {
	case "USER", "PASS", "APOP", "AUTH":
		return receive.Login
	}
	return receive.Server
}
