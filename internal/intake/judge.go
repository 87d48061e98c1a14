package intake

import (
	"context"
	"fmt"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/store"
)

// Judge looks at a parsed message bound for one mailbox before it is
// stored, and may change what is stored or whether it is: the verdict stage
// every received message passes, on every path. Judges run on the sink's
// workers, in parallel for different messages; a judge that keeps state
// guards it itself. A judge must not write to the store: what it wants
// written goes into the Candidate (row fields, jobs, log lines), which the
// sink stores in the message's own transaction.
type Judge interface {
	Judge(ctx context.Context, candidate *Candidate)
}

// JudgeFunc adapts a function to [Judge].
type JudgeFunc func(ctx context.Context, candidate *Candidate)

// Judge calls f.
func (f JudgeFunc) Judge(ctx context.Context, candidate *Candidate) { f(ctx, candidate) }

// Candidate is a message bound for one mailbox, as the judges see it.
type Candidate struct {
	Mailbox  store.Mailbox
	Delivery *Delivery // how it came (read only)
	Options  Options   // the mailbox's storage settings
	Parsed   *mime.Message
	// Message is the row to be stored. A judge may set its flags (Read,
	// Spam), its spam rating and words, SaveSource, and drop attachments;
	// the sink fills its hash, compressed source and index text after the
	// judges.
	Message *store.NewMessage
	Verdict Verdict
}

// Verdict is what the judges decided about a candidate.
type Verdict struct {
	// Drop stores the message nowhere (its server UID is still recorded,
	// so that it is not fetched again); DropReason says why in the log.
	Drop       bool
	DropReason string
	// Refuse asks for the message to be refused: an SMTP server answers
	// it instead of 250 and stores nothing (Delivery.MayRefuse); on other
	// paths the message is kept and the request logged.
	Refuse *Refusal
	// Jobs are follow-up work (forward, webhook) written in the message's
	// own transaction: never a message without its jobs, never a job for
	// a message that was not stored. A dropped message has none.
	Jobs []store.NewJob
	// Log lines are written with the message (the rules' "Processing with
	// rule" lines).
	Log []store.LogEntry
}

// Refusal is an SMTP reply to give instead of 250, and why.
type Refusal struct {
	Code         int    // e.g. 550
	EnhancedCode string // e.g. "5.7.1"
	Message      string // the reply's text
	Reason       string // for the work log
}

// storageSettings is the first judge: the module's storage settings
// (SPEC.md "Module settings": save source, save attachments, max attachment
// size). The charset setting acts earlier, as the parser's fallback.
func storageSettings(_ context.Context, c *Candidate) {
	m := c.Message
	m.SaveSource = c.Options.SaveSource
	for i := range m.Attachments {
		a := &m.Attachments[i]
		switch {
		case !c.Options.SaveAttachments:
			a.Dropped, a.Data, a.Body = true, nil, nil
		case c.Options.MaxAttachmentBytes > 0 && a.Size > c.Options.MaxAttachmentBytes:
			a.Dropped, a.Data, a.Body = true, nil, nil
			m.ParseErrors = append(m.ParseErrors, fmt.Sprintf("attachment %q (%d bytes) was not kept: it is larger than the limit of %d bytes",
				a.Filename, a.Size, c.Options.MaxAttachmentBytes))
		}
	}
}
