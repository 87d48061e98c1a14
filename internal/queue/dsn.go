package queue

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"pochta.dev/pochta/internal/store"
)

// failure is a recipient a notice speaks of.
type failure struct {
	address string
	result  result
}

// maxReturnedHeader caps the original's header returned in a notice.
const maxReturnedHeader = 64 << 10

// notice writes the delivery status notification (RFC 3464) of message to
// its sender: failed recipients (delayed false) or delayed ones. It is
// sent from the null sender, so that no notice is ever answered by
// another.
func (q *Queue) notice(message store.OutboundMessage, raw *content, recipients []failure, delayed bool, now time.Time) store.NewOutbound {
	var random [12]byte
	rand.Read(random[:])
	boundary := "=_" + hex.EncodeToString(random[:])
	host := q.config.Hostname
	date := now.UTC().Format(time.RFC1123Z)
	var b bytes.Buffer
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	subject, action, kind := "Undelivered Mail Returned to Sender", "failed", store.OutboundBounce
	if delayed {
		subject, action, kind = "Delayed Mail (still being retried)", "delayed", store.OutboundDelay
	}
	line("From: Mail Delivery System <MAILER-DAEMON@%s>", host)
	line("To: <%s>", message.Sender)
	line("Subject: %s", subject)
	line("Date: %s", date)
	line("Message-ID: <%s.%s@%s>", hex.EncodeToString(random[:6]), action, host)
	line("Auto-Submitted: auto-replied")
	line("MIME-Version: 1.0")
	line("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	line("")
	line("This is a MIME-encapsulated message.")
	line("")
	line("--%s", boundary)
	line("Content-Type: text/plain; charset=utf-8")
	line("Content-Description: Notification")
	line("")
	line("This is the mail system at host %s.", host)
	line("")
	if delayed {
		line("Your message has not been delivered yet to the recipients below.")
		line("It will be retried until %s; you need do nothing now.", message.CreatedAt.Add(MaxAge).UTC().Format(time.RFC1123Z))
	} else {
		line("Your message could not be delivered to the recipients below.")
	}
	line("")
	for _, r := range recipients {
		line("<%s>: %s", r.address, oneLine(r.result.reply))
	}
	line("")
	line("--%s", boundary)
	line("Content-Type: message/delivery-status")
	line("Content-Description: Delivery report")
	line("")
	line("Reporting-MTA: dns; %s", host)
	line("Arrival-Date: %s", message.CreatedAt.UTC().Format(time.RFC1123Z))
	for _, r := range recipients {
		line("")
		line("Final-Recipient: rfc822; %s", r.address)
		line("Action: %s", action)
		line("Status: %s", statusOf(r.result, delayed))
		if r.result.server != "" {
			line("Remote-MTA: dns; %s", r.result.server)
		}
		if r.result.code != 0 {
			line("Diagnostic-Code: smtp; %s", oneLine(r.result.reply))
		} else if r.result.reply != "" {
			line("Diagnostic-Code: X-Pochta; %s", oneLine(r.result.reply))
		}
		line("Last-Attempt-Date: %s", date)
		if delayed {
			line("Will-Retry-Until: %s", message.CreatedAt.Add(MaxAge).UTC().Format(time.RFC1123Z))
		}
	}
	line("")
	line("--%s", boundary)
	line("Content-Type: text/rfc822-headers")
	line("Content-Description: Undelivered message's header")
	line("")
	b.Write(raw.header())
	line("")
	line("--%s--", boundary)
	return store.NewOutbound{Kind: kind, Sender: "", Recipients: []string{message.Sender}, Raw: b.Bytes(), Subject: subject, ForUser: true}
}

// statusOf is a recipient's RFC 3463 status: the server's enhanced code
// when it gave one of the right class, else a general one.
func statusOf(r result, delayed bool) string {
	switch {
	case delayed && strings.HasPrefix(r.enhanced, "4."):
		return r.enhanced
	case delayed:
		return "4.0.0"
	case r.permanent && strings.HasPrefix(r.enhanced, "5."):
		return r.enhanced
	case r.permanent:
		return "5.0.0"
	default:
		return "5.4.7" // delivery time expired
	}
}

// oneLine keeps a server's reply (which may span lines) on one line, in
// valid UTF-8 without NUL and at most 900 bytes: it is stored, logged and
// written into notices, and the store refuses what PostgreSQL cannot keep
// (an outcome never recorded would be delivered again and again).
func oneLine(text string) string {
	text = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, text)
	text = strings.ToValidUTF8(text, "?")
	if len(text) > 900 {
		text = strings.ToValidUTF8(text[:900], "")
	}
	return text
}

// headerOf gives a message's header with its line ends as CRLF, up to
// maxReturnedHeader.
func headerOf(raw []byte) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	header := raw[:min(end, maxReturnedHeader)]
	header = bytes.ReplaceAll(header, []byte("\r\n"), []byte("\n"))
	header = bytes.ReplaceAll(header, []byte("\r"), []byte("\n"))
	header = bytes.ReplaceAll(header, []byte("\n"), []byte("\r\n"))
	if len(header) > 0 {
		header = append(header, "\r\n"...)
	}
	return header
}
