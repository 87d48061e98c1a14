package imapsync

import (
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/protoline"
	"pochta.dev/pochta/internal/receive"
)

// Reason classifies the error of a sync or connection test (see
// [receive.Reason]; "" for nil): by the server's reply when it gave one,
// else by what the network, DNS and TLS said.
func Reason(err error) receive.Reason {
	if err == nil {
		return ""
	}
	// An error already marked (the OAuth2 token source's "sign in
	// again") keeps its reason.
	var known *receive.Error
	if errors.As(err, &known) {
		return known.Reason
	}
	var reply *imap.Error
	generic := receive.Classify(err)
	switch {
	case generic == receive.Blocked, generic == receive.Certificate:
		return generic
	case errors.Is(err, ErrLogin):
		if errors.As(err, &reply) {
			switch reply.Code {
			case imap.ResponseCodeUnavailable:
				return receive.Temporary
			case imap.ResponseCodeInUse:
				return receive.InUse
			}
		}
		return receive.Login
	case errors.As(err, &reply):
		switch {
		case reply.Code == imap.ResponseCodeInUse:
			return receive.InUse
		case reply.Code == imap.ResponseCodeUnavailable:
			return receive.Temporary
		case reply.Code == imap.ResponseCodeAuthenticationFailed, reply.Code == imap.ResponseCodeAuthorizationFailed:
			return receive.Login
		case reply.Type == imap.StatusResponseTypeBye:
			return receive.Closed
		}
		return receive.Server
	case errors.Is(err, ErrNotIMAP):
		return receive.Protocol
	case errors.Is(err, intake.ErrTooLarge):
		return receive.TooLarge
	case errors.Is(err, protoline.ErrUnsafe):
		return receive.Other
	case strings.Contains(err.Error(), "STARTTLS") && generic == receive.Other:
		// go-imap says a missing STARTTLS capability in words only.
		if strings.Contains(strings.ToLower(err.Error()), "not support") || strings.Contains(err.Error(), "STARTTLS not") {
			return receive.NoSTARTTLS
		}
		return receive.TLS
	case strings.HasPrefix(err.Error(), "TLS with") && generic == receive.Other:
		return receive.TLS
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
