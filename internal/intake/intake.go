// Package intake is the one way a received message enters Pochta. The POP3
// fetcher, the SMTP server, the IMAP sync, the API upload and "pochta import"
// all hand their bytes to [Deliver]; none of them writes messages to the
// store itself.
//
// Deliver parses with the tolerant parser (a message that fails to parse is
// kept raw, with notes), applies the module's storage settings (source,
// attachments and their size limit), and stores everything, with the
// message's server UID when it has one, in one transaction. When Deliver
// returns nil the message is durable: only then may a POP3 fetcher send DELE
// or an SMTP server answer 250.
package intake

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// Options carry the settings that decide what is kept.
type Options struct {
	SaveSource      bool
	SaveAttachments bool
	// MaxAttachmentBytes drops attachment bodies above it (0: no limit
	// beyond the storage's); the message keeps their names and sizes and a
	// note says they were dropped.
	MaxAttachmentBytes int64
	// Charset is the fallback for parts and headers that declare none or
	// an unknown one (the mailbox's charset, else the site's).
	Charset    string
	ReceivedAt time.Time  // zero: now
	UID        *store.UID // the message's identity on the server it came from
	// Origin names the path in the work log line, e.g. "POP3" or "API".
	Origin string
	// TempDir is where a large message is spooled ("": the system's
	// temporary folder).
	TempDir string
}

// Result says what Deliver stored.
type Result struct {
	ID          int64
	Duplicate   bool // a byte-identical message was already in the mailbox
	Subject     string
	Size        int
	ParseErrors []string
	// Err is set by DeliverBatch and StoreBatch for a message that was not
	// stored; Deliver returns it as its error instead.
	Err error
}

// Deliver stores one received message in a mailbox.
func Deliver(ctx context.Context, st *store.Store, log worklog.Recorder, mailbox store.Mailbox, raw []byte, options Options) (Result, error) {
	prepared := Prepare(mailbox, raw, options)
	prepared.message.UID = options.UID
	results := StoreBatch(ctx, st, log, mailbox, []*Prepared{prepared})
	if results[0].Err != nil {
		return Result{}, results[0].Err
	}
	return results[0], nil
}

// Item is one message of a batch: its bytes and, when it was fetched, its
// identity on the server.
type Item struct {
	Raw []byte
	UID *store.UID
}

// Prepared is a parsed message ready to be stored by [StoreBatch].
type Prepared struct {
	message *store.NewMessage
	origin  string
}

// Prepare parses a message and applies the storage settings; it touches no
// database, so callers may prepare in parallel.
func Prepare(mailbox store.Mailbox, raw []byte, options Options) *Prepared {
	parsed := mime.Parse(raw, mime.Options{FallbackCharset: options.Charset})
	message := newMessage(mailbox, parsed, options)
	// Hash and compress now (on the caller's goroutine, in parallel for a
	// batch) and let go of the raw bytes.
	message.Raw = raw
	message.RawSHA256 = store.RawHash(raw)
	message.CompressSource()
	message.PrepareSearch()
	message.Raw = nil
	return &Prepared{message: message, origin: options.Origin}
}

// newMessage is what the store keeps of a parsed message under the storage
// settings. Attachments the parser left in the spool file (Open) are
// streamed into the store.
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
			ReceivedAt:  options.ReceivedAt,
			Size:        int64(parsed.Size),
			Priority:    parsed.Priority,
			ParseErrors: parsed.ParseErrors,
		},
		Content:    store.Content{Header: parsed.HeaderText, Text: parsed.Text, HTML: parsed.HTML},
		SaveSource: options.SaveSource,
		UID:        options.UID,
	}
	for _, part := range parsed.Attachments {
		attachment := store.Attachment{Filename: part.Filename, ContentType: part.ContentType, ContentID: part.ContentID,
			Size: int64(part.Size), Data: part.Data, Body: part.Open}
		switch {
		case !options.SaveAttachments:
			attachment.Dropped, attachment.Data, attachment.Body = true, nil, nil
		case options.MaxAttachmentBytes > 0 && attachment.Size > options.MaxAttachmentBytes:
			attachment.Dropped, attachment.Data, attachment.Body = true, nil, nil
			message.ParseErrors = append(message.ParseErrors, fmt.Sprintf("attachment %q (%d bytes) was not kept: it is larger than the limit of %d bytes",
				part.Filename, part.Size, options.MaxAttachmentBytes))
		}
		message.Attachments = append(message.Attachments, attachment)
	}
	return message
}

// PrepareBatch prepares items in parallel, on up to workers goroutines (0:
// one per CPU), keeping their order. options.UID is ignored: each item
// carries its own.
func PrepareBatch(mailbox store.Mailbox, items []Item, options Options, workers int) []*Prepared {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(items)))
	prepared := make([]*Prepared, len(items))
	var next atomic.Int64
	var wait sync.WaitGroup
	for range workers {
		wait.Add(1)
		go func() {
			defer wait.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					return
				}
				itemOptions := options
				itemOptions.UID = items[i].UID
				prepared[i] = Prepare(mailbox, items[i].Raw, itemOptions)
			}
		}()
	}
	wait.Wait()
	return prepared
}

// StoreBatch stores prepared messages of one mailbox in one transaction and
// writes their work log lines. Every message whose result has no Err is
// durable when StoreBatch returns. When the batch's transaction fails, the
// messages are stored one by one, so that one bad message costs only
// itself.
func StoreBatch(ctx context.Context, st *store.Store, log worklog.Recorder, mailbox store.Mailbox, batch []*Prepared) []Result {
	messages := make([]*store.NewMessage, len(batch))
	for i, p := range batch {
		messages[i] = p.message
	}
	// The log lines go into the batch's own transaction when the work log
	// allows it: one disk sync for both.
	var inline func([]store.InsertResult) []store.LogEntry
	if enabled, ok := log.(interface{ Enabled(context.Context) bool }); ok && enabled.Enabled(ctx) {
		inline = func(stored []store.InsertResult) []store.LogEntry {
			_, entries := batchResults(mailbox, batch, stored, nil)
			return entries
		}
	}
	stored, err := st.InsertMessagesLogged(ctx, messages, inline)
	logged := err == nil && inline != nil
	if err != nil && len(batch) > 1 && ctx.Err() == nil {
		stored = make([]store.InsertResult, len(batch))
		for i, m := range messages {
			one, err := st.InsertMessages(ctx, []*store.NewMessage{m})
			if err != nil {
				stored[i].Err = err
				continue
			}
			stored[i] = one[0]
		}
		err = nil
	}
	results, entries := batchResults(mailbox, batch, stored, err)
	if !logged {
		log.Record(ctx, entries...)
	}
	return results
}

// batchResults says what became of each message of a batch, and makes its
// work log lines.
func batchResults(mailbox store.Mailbox, batch []*Prepared, stored []store.InsertResult, err error) ([]Result, []store.LogEntry) {
	results := make([]Result, len(batch))
	entries := make([]store.LogEntry, 0, len(batch))
	for i, p := range batch {
		m := p.message
		result := Result{Subject: m.Subject, Size: int(m.Size), ParseErrors: m.ParseErrors}
		switch {
		case err != nil:
			result.Err = err
		case stored[i].Err != nil:
			result.Err = stored[i].Err
		default:
			result.ID, result.Duplicate = stored[i].ID, stored[i].Duplicate
		}
		if result.Err != nil {
			result.Err = fmt.Errorf("deliver to mailbox %d: %w", mailbox.ID, result.Err)
			entries = append(entries, worklog.Say(store.LogEntry{Level: store.LevelError, Type: "intake", MailboxID: mailbox.ID},
				worklog.Part("log.store_failed", m.Size, result.Err)))
		} else {
			entries = append(entries, logLine(mailbox, result, p.origin))
		}
		results[i] = result
	}
	return results, entries
}

// DeliverBatch stores several received messages of one mailbox: it parses
// them in parallel and stores them in one transaction (see [StoreBatch]).
// A bulk import calls it with batches of a few hundred messages.
func DeliverBatch(ctx context.Context, st *store.Store, log worklog.Recorder, mailbox store.Mailbox, items []Item, options Options) []Result {
	return StoreBatch(ctx, st, log, mailbox, PrepareBatch(mailbox, items, options, 0))
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
		parts[0] = worklog.Part("log.receive", worklog.Subject(result.Subject), worklog.Size(result.Size))
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
