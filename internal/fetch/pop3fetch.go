package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/pop3"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// traceLog collects protocol lines for the work log and writes them in
// batches: a fetch of thousands of messages would otherwise pay a database
// transaction per command.
type traceLog struct {
	mu      sync.Mutex
	log     func(context.Context, ...store.LogEntry)
	mailbox int64
	pending []store.LogEntry
	lines   int // lines in the last pending row
}

// failed logs the error that ended a check. The client has usually traced
// the same failure already (a refused connection, a dropped line); that
// line, still pending and last, becomes this one, which says the same with
// its context, rather than the log saying it twice.
func (t *traceLog) failed(err error) {
	line := t.line(store.LevelError, worklog.Part("log.check_failed", err.Error()))
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.pending); n > 0 {
		if last := &t.pending[n-1]; last.Level == store.LevelError && strings.Contains(err.Error(), last.Text) {
			*last = line
			return
		}
	}
	t.pending = append(t.pending, line)
	t.lines = 1
}

// line makes one of the fetch's own log lines.
func (t *traceLog) line(level string, parts ...store.LogPart) store.LogEntry {
	return worklog.Say(store.LogEntry{Level: level, Type: "pop3", MailboxID: t.mailbox}, parts...)
}

// Trace lines of one level in a row (a pipelined burst of commands, a
// reply and the summary of its message) share a log row, up to
// traceLinesPerRow lines: a fetch of thousands of messages wrote four rows
// a message, and the work log was a tenth of its time.
const traceLinesPerRow = 64

func (t *traceLog) add(level string, parts ...store.LogPart) {
	line := t.line(level, parts...)
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.pending); n > 0 && level != store.LevelError {
		last := &t.pending[n-1]
		if last.Level == level && t.lines < traceLinesPerRow {
			*last = worklog.Join(*last, line)
			t.lines++
			return
		}
	}
	t.pending = append(t.pending, line)
	t.lines = 1
}

func (t *traceLog) trace(direction, line string) {
	switch direction {
	case pop3.TraceConnect:
		t.add(store.LevelInfo, connectPart(line))
	case pop3.TraceSend:
		t.add(store.LevelRequest, worklog.Literal(line))
	case pop3.TraceRecv:
		// The client's summary of a message's lines is Pochta's own
		// words, said in each reader's language.
		if count, ok := strings.CutPrefix(line, ". ("); ok {
			if n, ok := strings.CutSuffix(count, " lines)"); ok {
				if _, err := strconv.Atoi(n); err == nil {
					t.add(store.LevelReply, worklog.Part("log.pop3_lines", n))
					return
				}
			}
		}
		t.add(store.LevelReply, worklog.Literal(line))
	case pop3.TraceError:
		t.add(store.LevelError, worklog.Literal(line))
	}
}

// connectPart says a connect trace line of the POP3 client: "ADDR
// (SECURITY)" as it connects, "TLS VERSION SUITE" once the handshake is done.
func connectPart(line string) store.LogPart {
	if suite, ok := strings.CutPrefix(line, "TLS "); ok {
		return worklog.Part("log.pop3_secured", suite)
	}
	if address, security, ok := strings.Cut(line, " ("); ok {
		switch strings.TrimSuffix(security, ")") {
		case pop3.SecurityTLS:
			return worklog.Part("log.pop3_connecting_tls", address)
		case pop3.SecurityStartTLS:
			return worklog.Part("log.pop3_connecting_starttls", address)
		case pop3.SecurityNone, "":
			return worklog.Part("log.pop3_connecting_plain", address)
		}
	}
	return worklog.Part("log.pop3_connecting", line)
}

// flush writes what was collected; it keeps order with entries written
// directly after it.
func (t *traceLog) flush(ctx context.Context) {
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	if len(pending) > 0 {
		t.log(ctx, pending...)
	}
}

// fetchPOP3 is one session with the server. See the package comment for
// why its order loses nothing.
func (f *Fetcher) fetchPOP3(ctx context.Context, mailbox store.Mailbox) (result Result, err error) {
	trace := &traceLog{log: f.config.Log.Record, mailbox: mailbox.ID}
	defer func() {
		if err != nil {
			trace.failed(err)
		}
		trace.flush(context.WithoutCancel(ctx))
	}()
	password, err := f.config.Password(mailbox)
	if err != nil {
		return result, err
	}
	options := pop3.Options{
		Security:           mailbox.Security,
		InsecureSkipVerify: !mailbox.VerifyCert,
		Trace:              trace.trace,
		Dialer:             f.config.Dialer,
	}
	if f.config.DialerFor != nil {
		options.Dialer = f.config.DialerFor(ctx, mailbox)
	}
	if f.config.Timeout != nil {
		options.Timeout = f.config.Timeout(ctx)
	}
	address := net.JoinHostPort(mailbox.Server, strconv.Itoa(mailbox.Port))
	client, err := pop3.Dial(ctx, address, options)
	if err != nil {
		return result, err
	}
	defer client.Close()
	method := pop3.AuthAuto
	if mailbox.APOP {
		method = pop3.AuthAPOP
	}
	if err := client.Auth(ctx, mailbox.Login, password, method); err != nil {
		return result, err
	}
	sizes, err := client.List(ctx)
	if err != nil {
		return result, err
	}
	uids, err := client.UIDL(ctx)
	withoutUIDL := errors.Is(err, pop3.ErrNoUIDL)
	if err != nil && !withoutUIDL {
		return result, err
	}
	known, err := f.config.Store.KnownUIDs(ctx, mailbox.ID, "")
	if err != nil {
		return result, err
	}

	plan := planPOP3(sizes, uids, withoutUIDL, known, mailboxLimits{
		maxBytes: int64(mailbox.MaxMessageSizeKB) * 1024, maxMessages: mailbox.MaxMessages})
	if withoutUIDL {
		trace.add(store.LevelInfo, worklog.Part("log.pop3_no_uidl"))
	}
	for _, large := range plan.tooLarge {
		trace.add(store.LevelInfo, worklog.Part("log.pop3_too_large", large.Number, large.Size, mailbox.MaxMessageSizeKB))
	}
	if plan.ignored > 0 {
		trace.add(store.LevelError, worklog.Part("log.pop3_listing_ignored", plan.ignored))
	}
	result.TooLarge = len(plan.tooLarge)
	result.LeftOver = plan.leftOver
	if plan.leftOver > 0 {
		trace.add(store.LevelInfo, worklog.Part("log.pop3_left_over", plan.leftOver, mailbox.MaxMessages))
	}
	keyOf, present := plan.keyOf, plan.present

	// Fetch and store, each message durably with its UID before anything
	// is deleted.
	var deletable []int
	if mailbox.DeleteFromServer {
		deletable = append(deletable, plan.storedOnServer...)
	}
	trace.flush(ctx)
	stored := &storedSet{}
	err = client.RetrPipelined(ctx, plan.fetch, f.config.Window, func(n int, r io.Reader) error {
		// After a message could not be stored, nothing more is stored or
		// deleted this time.
		if err := stored.failed(); err != nil {
			return err
		}
		target := intake.Target{Mailbox: mailbox, UID: &store.UID{UID: keyOf[n]}, UIDFromContent: withoutUIDL}
		delivery := intake.Delivery{Targets: []intake.Target{target}, Origin: "POP3", MaxBytes: maxMessageBytes}
		stored.add()
		err := f.config.Intake.Add(ctx, r, delivery, func(results []intake.Result) { stored.record(n, results[0]) })
		if err != nil {
			stored.cancel()
			return fmt.Errorf("message %d: %w", n, err)
		}
		return nil
	})
	// Messages read whole before a failure are stored all the same; wait
	// for their commits before anything is deleted.
	stored.wait()
	if storeErr := stored.failed(); err == nil {
		err = storeErr
	}
	result.Received += stored.received
	result.Duplicates += stored.duplicates
	if mailbox.DeleteFromServer {
		deletable = append(deletable, stored.numbers...)
	}
	if err != nil {
		// What was stored stays stored; nothing is deleted this time. The
		// session is closed without QUIT, so the server deletes nothing.
		return result, err
	}
	if len(deletable) > 0 {
		if err := client.DelePipelined(ctx, deletable); err != nil {
			return result, err
		}
	}
	if err := client.Quit(ctx); err != nil {
		return result, err
	}
	result.Deleted = len(deletable)
	if !withoutUIDL {
		// Forget the UIDLs that are gone from the server (deleted by us
		// at this QUIT, or by someone else), so the table does not grow.
		for _, n := range deletable {
			delete(present, keyOf[n])
		}
		if _, err := f.config.Store.PruneUIDs(ctx, mailbox.ID, "", present); err != nil {
			return result, err
		}
	}
	trace.add(store.LevelInfo, worklog.Part("log.pop3_received", result.Received))
	return result, nil
}

// storedSet follows the messages of one fetch through the intake: which
// were stored (and may be deleted from the server), and the first that
// could not be.
type storedSet struct {
	pending    sync.WaitGroup
	mu         sync.Mutex
	err        error
	received   int
	duplicates int
	numbers    []int // message numbers stored
}

func (s *storedSet) add()    { s.pending.Add(1) }
func (s *storedSet) cancel() { s.pending.Done() }
func (s *storedSet) wait()   { s.pending.Wait() }

// record is a message's done function: message n is durable, or not.
func (s *storedSet) record(n int, result intake.Result) {
	defer s.pending.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case result.Err != nil:
		if s.err == nil {
			s.err = fmt.Errorf("message %d: %w", n, result.Err)
		}
		return
	case result.Duplicate:
		s.duplicates++
	case result.Dropped:
	default:
		s.received++
	}
	s.numbers = append(s.numbers, n)
}

func (s *storedSet) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// mailboxLimits are the mailbox settings that bound one fetch.
type mailboxLimits struct {
	maxBytes    int64 // a larger message is left on the server (0: no limit)
	maxMessages int   // the most messages fetched at a time (0: no limit)
}

// pop3Plan is what one fetch does with the server's messages, decided from
// LIST, UIDL and the UIDs already stored, before any message is read.
type pop3Plan struct {
	// fetch are the message numbers to read and store, in the server's
	// order.
	fetch []int
	// storedOnServer are the numbers of messages stored before (deleted
	// from the server when the mailbox says so).
	storedOnServer []int
	// tooLarge are the new messages over the size limit, left on the
	// server; leftOver counts the new ones past the per-fetch limit.
	tooLarge []pop3.MessageSize
	leftOver int
	// ignored are the lines of UIDL (or LIST) left out: a number said
	// again, or one UIDL gives and LIST does not (a broken server; read
	// as said, a message would be fetched twice, or one that is not there
	// asked for).
	ignored int
	// keyOf is each message's UID as stored (uidKey, a repeat told apart
	// by its place); present is the set of those keys, the UIDs to keep.
	keyOf   map[int]string
	present map[string]bool
}

// planPOP3 decides a fetch: which messages are new, which are stored and may
// be deleted, which are too large or over the limit. Without UIDL every
// message is new (the content hash keeps a message from being stored
// twice). A pure function of what the server said and what is stored.
func planPOP3(sizes []pop3.MessageSize, uids []pop3.MessageUID, withoutUIDL bool, known map[string]bool, limits mailboxLimits) pop3Plan {
	plan := pop3Plan{keyOf: map[int]string{}, present: map[string]bool{}}
	sizeOf := make(map[int]int64, len(sizes))
	var listed []int // LIST's numbers, each once, in its order
	for _, s := range sizes {
		if _, again := sizeOf[s.Number]; again {
			plan.ignored++
			continue
		}
		sizeOf[s.Number] = s.Size
		listed = append(listed, s.Number)
	}
	var fresh []int
	if withoutUIDL {
		fresh = listed
	} else {
		seen := map[string]int{}
		planned := make(map[int]bool, len(uids))
		for _, u := range uids {
			if _, inList := sizeOf[u.Number]; !inList || planned[u.Number] {
				plan.ignored++
				continue
			}
			planned[u.Number] = true
			base := uidKey(u.UID)
			// A UIDL the server repeats (a broken server) is told apart
			// by its place among the repeats; the content hash still
			// keeps a message from being stored twice.
			key := base
			if n := seen[base]; n > 0 {
				key = base + "#" + strconv.Itoa(n+1)
			}
			seen[base]++
			plan.keyOf[u.Number], plan.present[key] = key, true
			if known[key] {
				plan.storedOnServer = append(plan.storedOnServer, u.Number)
			} else {
				fresh = append(fresh, u.Number)
			}
		}
	}
	for _, n := range fresh {
		if limits.maxBytes > 0 && sizeOf[n] > limits.maxBytes {
			plan.tooLarge = append(plan.tooLarge, pop3.MessageSize{Number: n, Size: sizeOf[n]})
			continue
		}
		if limits.maxMessages > 0 && len(plan.fetch) >= limits.maxMessages {
			plan.leftOver++
			continue
		}
		plan.fetch = append(plan.fetch, n)
	}
	return plan
}
