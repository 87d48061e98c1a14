// Package intake is the one way a received message enters Pochta. The POP3
// fetcher, the SMTP server, the IMAP sync, the API upload and "pochta import"
// all hand their bytes to a [Sink]; none of them writes messages to the
// store itself.
//
// The sink reads a message as a stream (in memory up to [MaxInMemory], else
// spooled to a file), parses it with the tolerant parser (a message that
// fails to parse is kept raw, with notes), passes it through the verdict
// stage (the [Judge]s: the storage settings first, then the rules and the
// spam filter), and stores it, with its server UID, its follow-up jobs and
// its work log lines, in one transaction shared with the other messages
// ready at that moment. Only after that commit does it tell the caller: the
// moment a POP3 fetcher may send DELE or an SMTP server answer 250.
package intake

import (
	"slices"
	"strings"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// Options are the storage settings of a mailbox (SPEC.md "Module
// settings"), which the sink applies as its first judge.
type Options struct {
	SaveSource      bool
	SaveAttachments bool
	// MaxAttachmentBytes drops attachment bodies above it (0: no limit
	// beyond the storage's); the message keeps their names and sizes and a
	// note says they were dropped.
	MaxAttachmentBytes int64
	// Charset is the fallback for parts and headers that declare none or
	// an unknown one (the mailbox's charset, else the site's).
	Charset string
}

// Result says what became of a message in one mailbox.
type Result struct {
	MailboxID int64
	ID        int64
	Duplicate bool // a byte-identical message was already in the mailbox
	// Dropped: a judge dropped it (stored nowhere, its UID recorded).
	Dropped bool
	// Refused: a judge refused it and the caller may refuse (see
	// [Delivery.MayRefuse]); Refusal is the reply to give.
	Refused     bool
	Refusal     *Refusal
	Subject     string
	Size        int
	ParseErrors []string
	// Err is set when the message was not stored in this mailbox.
	Err error
}

// newMessage is what the store keeps of a parsed message in a mailbox,
// before the judges. Attachments the parser left in the spool file (Open)
// are streamed into the store.
func newMessage(mailbox store.Mailbox, parsed *mime.Message, options Options) *store.NewMessage {
	message := &store.NewMessage{
		Message: store.Message{
			MailboxID:   mailbox.ID,
			MessageID:   parsed.MessageID,
			InReplyTo:   parsed.InReplyTo,
			References:  parsed.References,
			Subject:     parsed.Subject,
			From:        joinAddresses(parsed.From),
			ReplyTo:     joinAddresses(parsed.ReplyTo),
			To:          joinAddresses(parsed.To),
			Cc:          joinAddresses(parsed.Cc),
			Bcc:         joinAddresses(hiddenRecipients(parsed)),
			Date:        parsed.Date,
			Size:        int64(parsed.Size),
			Priority:    parsed.Priority,
			ParseErrors: slices.Clone(parsed.ParseErrors), // judges may add to it, per mailbox
		},
		Content:    store.Content{Header: parsed.HeaderText, Text: parsed.Text, HTML: parsed.HTML},
		SaveSource: options.SaveSource,
	}
	for _, part := range parsed.Attachments {
		message.Attachments = append(message.Attachments, store.Attachment{Filename: part.Filename, ContentType: part.ContentType,
			ContentID: part.ContentID, Size: int64(part.Size), Data: part.Data, Body: part.Open})
	}
	return message
}

// knownOrigins are the ways in that the catalog names in words ("by
// import", "при импорте"); another origin is named as it is.
var knownOrigins = map[string]bool{"log.receive_via_pop3": true, "log.receive_via_api": true, "log.receive_via_import": true}

// logLine is SPEC.md's "Receiving mail: subject (size)".
func logLine(mailbox store.Mailbox, result Result, origin string) store.LogEntry {
	parts := make([]store.LogPart, 1, 4)
	if result.Subject == "" {
		parts[0] = worklog.Part("log.receive_no_subject", worklog.Size(result.Size))
	} else {
		parts[0] = worklog.Part("log.receive", result.Subject, worklog.Size(result.Size))
	}
	switch key := "log.receive_via_" + strings.ToLower(origin); {
	case knownOrigins[key]:
		parts = append(parts, worklog.Part(key))
	case origin != "":
		parts = append(parts, worklog.Part("log.receive_via", origin))
	}
	if result.Duplicate {
		parts = append(parts, worklog.Part("log.receive_duplicate"))
	}
	if len(result.ParseErrors) > 0 {
		parts = append(parts, worklog.Part("log.receive_notes", len(result.ParseErrors)))
	}
	return worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "receive", MailboxID: mailbox.ID, MessageID: result.ID}, parts...)
}

// hiddenRecipients are the recipients the message itself does not show to
// others: Bcc, and the envelope recipients a delivering server recorded in
// X-Original-To or Delivered-To when they are not among To and Cc.
func hiddenRecipients(m *mime.Message) []mime.Address {
	shown := map[string]bool{}
	for _, list := range [][]mime.Address{m.To, m.Cc} {
		for _, a := range list {
			shown[strings.ToLower(a.Address)] = true
		}
	}
	hidden := append([]mime.Address{}, m.Bcc...)
	for _, a := range m.Bcc {
		shown[strings.ToLower(a.Address)] = true
	}
	for _, list := range [][]mime.Address{m.XOriginalTo, m.DeliveredTo} {
		for _, a := range list {
			key := strings.ToLower(a.Address)
			if key != "" && !shown[key] {
				shown[key] = true
				hidden = append(hidden, a)
			}
		}
	}
	return hidden
}

func joinAddresses(list []mime.Address) string {
	parts := make([]string, 0, len(list))
	for _, a := range list {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ", ")
}
