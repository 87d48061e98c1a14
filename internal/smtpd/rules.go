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

// pathForm gives an address as a path writes it (RFC 5321 4.1.2), its local
// part quoted when it is not a dot-string. go-smtp hands a quoted local part
// over unquoted ("john doe"@example.com as john doe@example.com): written
// back so into Return-Path or an outgoing MAIL FROM it would name another
// mailbox or none, and a bounce would go astray.
func pathForm(address string) string {
	at := strings.LastIndexByte(address, '@')
	if at <= 0 || dotString(address[:at]) {
		return address
	}
	var b strings.Builder
	b.Grow(len(address) + 4)
	b.WriteByte('"')
	for i := 0; i < at; i++ {
		if c := address[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(address[i])
	}
	b.WriteByte('"')
	b.WriteString(address[at:])
	return b.String()
}

// dotString says whether a local part can go unquoted: atoms of atext (and
// UTF-8, RFC 6531) joined by single dots.
func dotString(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c >= 0x80, 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isControl says whether r is a control character, which no address has.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
