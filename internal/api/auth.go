package api

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"pochta.dev/pochta/internal/service"
)

// authChallenge is the challenge header of failed authentication.
const authChallenge = `Basic realm="pochta", charset="UTF-8"`

// authenticate finds the caller from an "Authorization: Bearer TOKEN" or an
// HTTP Basic login and password. It fails with [service.ErrUnauthenticated]
// when neither is given or they are wrong, and with a
// [*service.ThrottledError] while sign-in attempts from the client's address
// must wait.
func (a *api) authenticate(r *http.Request) (*service.Actor, error) {
	header := r.Header.Get("Authorization")
	if scheme, token, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Bearer") {
		actor, err := a.svc.TokenActor(r.Context(), strings.TrimSpace(token))
		if err != nil {
			return nil, fmt.Errorf("bearer token: %w", err)
		}
		return actor, nil
	}
	login, password, ok := r.BasicAuth()
	if !ok {
		return nil, fmt.Errorf("no credentials: %w", service.ErrUnauthenticated)
	}
	if badText(login) {
		// No user has such a login, and the database could not even look
		// it up (see text.go).
		return nil, fmt.Errorf("login is not text: %w", service.ErrUnauthenticated)
	}
	actor, err := a.svc.Login(r.Context(), login, password, clientIP(r))
	if err != nil {
		return nil, fmt.Errorf("basic login: %w", err)
	}
	return actor, nil
}

// clientIP gives the address of the connection's peer, without the port, for
// throttling. Forwarding headers are ignored: trusting them would let a
// client pick its own address and escape the per-address limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
