package rules

import (
	"strings"
)

// LoopHeader is the header Pochta adds to every message it forwards: its
// value names the forwarding install by its SMTP hostname (the name its
// outbound queue greets with). Mail that carries this install's own name
// there is never forwarded again: a forward to an address that forwards
// back ends after one round, and so does a ring of installs forwarding to
// one another (each sees its own name come back). Another install's name
// does not block: mail forwarded once may be forwarded on, up to MaxHops.
const LoopHeader = "X-Pochta-Loop"

// MaxHops is the most servers (Received fields) a message may have passed
// and still be forwarded. Mail that has travelled more is in a loop
// somewhere; RFC 5321 section 6.3 counts hops the same way.
const MaxHops = 30

// LoopReason says why a message must not be forwarded.
type LoopReason string

// The reasons a forward is blocked.
const (
	LoopNone          LoopReason = ""
	LoopAutoSubmitted LoopReason = "auto_submitted" // an automatic message (RFC 3834): a bounce, an auto-reply
	LoopPochta        LoopReason = "pochta"         // Pochta forwarded it already
	LoopHops          LoopReason = "hops"           // it has passed more than MaxHops servers
)

// AutoSubmitted reports whether the message says it was sent by a program
// (RFC 3834): an Auto-Submitted field other than "no". Forwarding such mail
// is how two autoresponders start talking to each other.
func AutoSubmitted(v *View) bool {
	for _, value := range v.Headers["auto-submitted"] {
		keyword, _, _ := strings.Cut(value, ";")
		if keyword = strings.ToLower(strings.TrimSpace(keyword)); keyword != "no" {
			return true
		}
	}
	return false
}

// Hops counts the servers the message has passed: its Received fields.
func Hops(v *View) int { return len(v.Headers["received"]) }

// ForwardedBy reports whether the message carries a loop header naming
// host (any case), or, with host empty (this install's name unknown), any
// loop header at all.
func ForwardedBy(v *View, host string) bool {
	for _, value := range v.Headers[strings.ToLower(LoopHeader)] {
		if host == "" || strings.EqualFold(strings.TrimSpace(value), host) {
			return true
		}
	}
	return false
}

// ForwardLoop says why the message must not be forwarded, or LoopNone.
// The loop header counts when it names v.LoopHost.
func ForwardLoop(v *View) LoopReason {
	switch {
	case ForwardedBy(v, v.LoopHost):
		return LoopPochta
	case AutoSubmitted(v):
		return LoopAutoSubmitted
	case Hops(v) > MaxHops:
		return LoopHops
	}
	return LoopNone
}
