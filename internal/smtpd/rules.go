package smtpd

import (
	"strings"
)

// Decision is what RCPT decides about one recipient.
type Decision int

// The decisions of [Decide].
const (
	// Local: the recipient's domain is served (or every domain is): the
	// message goes into the listener's mailbox.
	Local Decision = iota
	// Relayed: the recipient is elsewhere and the relay rules let this
	// client send there: the message goes to the outbound queue.
	Relayed
	// Denied: elsewhere, and relaying is on but not for this client
	// (550 5.7.1).
	Denied
	// Unknown: elsewhere, and this listener relays nothing (550 5.1.1).
	Unknown
	// Invalid: not an address this server takes at all (a source route,
	// an empty or malformed path): 550 5.1.3.
	Invalid
)

func (d Decision) String() string {
	switch d {
	case Local:
		return "local"
	case Relayed:
		return "relayed"
	case Denied:
		return "denied"
	case Unknown:
		return "unknown domain"
	default:
		return "invalid"
	}
}

// Policy is the acceptance rules of one SMTP mailbox (SPEC.md "Mailboxes",
// SMTP fields).
type Policy struct {
	// Domains served, lower case, without a trailing dot; empty: every
	// domain is local and nothing is relayed.
	Domains []string
	// Relay lets mail for other domains go to the outbound queue (only
	// when Domains is set).
	Relay bool
	// RelayAuthOnly allows relaying to authenticated senders only.
	RelayAuthOnly bool
}

// Decide says what becomes of a recipient path (as RCPT TO gave it, angle
// brackets removed). authenticated says whether the client signed in.
//
// It is deliberately strict about what may be relayed: the domain is the
// text after the last "@", compared exactly (case aside) with the served
// ones, so that a percent hack ("user%other@local"), a bang path
// ("other!user@local") or a quoted local part with "@" ("\"user@other\"@local")
// is local mail for the served domain, stored here and never sent on, and
// anything that is not plainly a served domain (a subdomain, a trailing dot,
// an IP literal, another spelling) is not local.
func Decide(policy Policy, recipient string, authenticated bool) Decision {
	domain, ok := recipientDomain(recipient)
	if !ok {
		return Invalid
	}
	if len(policy.Domains) == 0 {
		return Local
	}
	for _, served := range policy.Domains {
		if domain == served {
			return Local
		}
	}
	switch {
	case !policy.Relay:
		return Unknown
	case policy.RelayAuthOnly && !authenticated:
		return Denied
	default:
		return Relayed
	}
}

// recipientDomain gives the lower-cased domain of a path, or false when the
// path is not one address: empty, a source route ("@a:b@c", which RFC 5321
// says to strip and which servers have been tricked by), without "@", with
// an empty part, or with characters no address has.
func recipientDomain(path string) (string, bool) {
	if path == "" || strings.HasPrefix(path, "@") || strings.ContainsAny(path, "\r\n\x00 \t<>,;") {
		return "", false
	}
	at := strings.LastIndexByte(path, '@')
	if at <= 0 || at == len(path)-1 {
		return "", false
	}
	return strings.ToLower(path[at+1:]), true
}

// ParseDomains tidies an SMTP mailbox's served domains: lower case, no
// trailing dot, no repeats.
func ParseDomains(domains []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	return out
}
