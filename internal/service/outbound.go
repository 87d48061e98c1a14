package service

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"pochta.dev/pochta/internal/netguard"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/store"
)

// Outbound connections. A connection Pochta makes because a user said where
// (testing or receiving a user's mailbox; later OAuth token URLs and
// webhooks) must not reach what only trusts the local network, so it goes
// through netguard: loopback, private and the other internal addresses are
// refused unless the "allowed networks" setting lists them. Admins' system
// mailboxes are theirs to point anywhere and are not limited.

// forUser reports whether a connection to mailbox's server, asked for by
// actor, is made for a user: a non-admin's, or one to a mailbox that has an
// owner (a user's own account, whoever asks).
func forUser(actor *Actor, mailbox store.Mailbox) bool {
	return !actor.IsAdmin() || mailbox.OwnerID != 0
}

// mailDialer gives the dialer of one connection to a mail server: the
// service's own (nil: TCP) for Pochta's and admins' connections, guarded
// for a user's. The guard wraps the service's dialer, so a test's
// loopback-only dialer still opens the connections, and the guard still
// decides where.
func (s *Service) mailDialer(ctx context.Context, user bool) receive.Dialer {
	if !user {
		return s.dialer
	}
	return s.guardedDialer(ctx)
}

// guardedDialer gives a dialer that keeps off internal networks other than
// the allowed ones. It is made per connection, so a changed setting applies
// to the next connection.
func (s *Service) guardedDialer(ctx context.Context) *netguard.Dialer {
	guard := &netguard.Dialer{Policy: s.networkPolicy(ctx)}
	if s.dialer != nil {
		guard.Dialer = s.dialer
	}
	return guard
}

// networkPolicy is the "allowed networks" setting as a netguard policy.
// When the settings cannot be read, nothing internal is allowed: the safe
// side.
func (s *Service) networkPolicy(ctx context.Context) netguard.Policy {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		s.logger.Error("read settings for the network policy", "error", err)
		return netguard.Policy{}
	}
	var allowed []netip.Prefix
	for _, entry := range settings.AllowedNetworks {
		// Entries were checked when saved; one that no longer reads is
		// skipped rather than allowing more than was meant.
		if prefix, err := netguard.ParseNetwork(entry); err == nil {
			allowed = append(allowed, prefix)
		}
	}
	return netguard.Policy{Allowed: allowed}
}

// networkEntry checks and tidies one entry of the allowed networks: a
// network reduced to its base address ("10.0.0.0/8"), or a single address
// as it is ("192.168.1.5").
func networkEntry(entry string) (string, bool) {
	prefix, err := netguard.ParseNetwork(entry)
	if err != nil {
		return "", false
	}
	if prefix.IsSingleIP() && !strings.Contains(entry, "/") {
		return prefix.Addr().String(), true
	}
	return prefix.String(), true
}

// Connection tests are limited per user: each one dials where the form
// says and reports how the other side answered, which unlimited would make
// "Test connection" a port scanner.
const (
	connectionTestsPerWindow = 10
	connectionTestWindow     = time.Minute
)

// ErrTooManyTests is returned by [Service.TestConnection] when the actor has
// tested connections connectionTestsPerWindow times within the last minute.
var ErrTooManyTests = errors.New("too many connection tests; wait a minute and try again")

// ConnectionTestWindow is how long ErrTooManyTests lasts at most, for a
// Retry-After header.
const ConnectionTestWindow = connectionTestWindow

// testLimiter counts each user's recent connection tests. Its zero value is
// ready.
type testLimiter struct {
	mu     sync.Mutex
	recent map[int64][]time.Time // by user ID, oldest first, within the window
}

// allow records a test by user at now and reports whether it is within the
// limit; a refused test is not recorded.
func (l *testLimiter) allow(user int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recent == nil {
		l.recent = map[int64][]time.Time{}
	}
	since := now.Add(-connectionTestWindow)
	// Forget every user's expired tests, so that the map holds only those
	// who tested in the last minute.
	for id, times := range l.recent {
		kept := times[:0]
		for _, at := range times {
			if at.After(since) {
				kept = append(kept, at)
			}
		}
		if len(kept) == 0 {
			delete(l.recent, id)
		} else {
			l.recent[id] = kept
		}
	}
	if len(l.recent[user]) >= connectionTestsPerWindow {
		return false
	}
	l.recent[user] = append(l.recent[user], now)
	return true
}
