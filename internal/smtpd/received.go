package smtpd

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"
)

// TraceInfo is what the trace header fields say of one transaction.
type TraceInfo struct {
	Helo          string // the client's EHLO/HELO name
	ClientIP      string // the client's address
	Hostname      string // this server's name
	TLS           *tls.ConnectionState
	Authenticated string    // the login, "" when none
	ID            string    // the transaction's id
	From          string    // MAIL FROM, "" for the null path
	Recipients    []string  // the local recipients
	Time          time.Time // when the message arrived
	// Relay: the copy is sent on, not delivered here. It gets the
	// Received field alone, as a relaying server adds it (RFC 5321 4.4:
	// Return-Path is added at the final delivery), and never names the
	// local recipients, whom the outside copy must not tell (a Bcc).
	Relay bool
}

// TraceHeader gives the fields a receiving server adds at the top of a
// message (RFC 5321 4.4): Return-Path, X-Original-To (the envelope's local
// recipients, which the message's own To may not show) and Received, with
// the TLS version and the authenticated user when there are.
//
// Every value that comes from the client is cleaned of line breaks and
// control characters first, so that a HELO name cannot add a header field.
func TraceHeader(info TraceInfo) []byte {
	var b strings.Builder
	if info.Relay {
		info.Recipients = nil
	} else {
		fmt.Fprintf(&b, "Return-Path: <%s>\r\n", clean(info.From))
	}
	if len(info.Recipients) > 0 {
		recipients := make([]string, len(info.Recipients))
		for i, r := range info.Recipients {
			recipients[i] = clean(r)
		}
		b.WriteString(fold("X-Original-To: ", recipients))
	}
	protocol := "ESMTP"
	if info.TLS != nil {
		protocol += "S"
	}
	if info.Authenticated != "" {
		protocol += "A"
	}
	fmt.Fprintf(&b, "Received: from %s (%s)\r\n\tby %s (Pochta) with %s id %s", clean(info.Helo), bracketIP(info.ClientIP),
		clean(info.Hostname), protocol, clean(info.ID))
	if info.TLS != nil {
		fmt.Fprintf(&b, "\r\n\t(using %s with cipher %s)", tls.VersionName(info.TLS.Version), tls.CipherSuiteName(info.TLS.CipherSuite))
	}
	if info.Authenticated != "" {
		fmt.Fprintf(&b, "\r\n\t(authenticated as %s)", clean(info.Authenticated))
	}
	if len(info.Recipients) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", clean(info.Recipients[0]))
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", info.Time.Format(time.RFC1123Z))
	return []byte(b.String())
}

// fold writes a header field of comma-separated items, folding its lines
// before 78 characters where it can.
func fold(name string, items []string) string {
	var b strings.Builder
	b.WriteString(name)
	line := len(name)
	for i, item := range items {
		if i > 0 {
			b.WriteString(",")
			line++
			if line+len(item)+1 > 78 {
				b.WriteString("\r\n\t")
				line = 1
			} else {
				b.WriteString(" ")
				line++
			}
		}
		b.WriteString(item)
		line += len(item)
	}
	b.WriteString("\r\n")
	return b.String()
}

// clean drops control characters (CR, LF, NUL...) and caps the length.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	return s
}

func bracketIP(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil {
		return "[" + parsed.String() + "]"
	}
	return "[unknown]"
}
