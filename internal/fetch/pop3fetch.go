package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	sizeOf := make(map[int]int64, len(sizes))
	for _, s := range sizes {
		sizeOf[s.Number] = s.Size
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

	// Plan: which messages are new, which are stored and may be deleted,
	// which are too large.
	var fresh, storedOnServer []int
	keyOf := map[int]string{}
	present := map[string]bool{}
	maxBytes := int64(mailbox.MaxMessageSizeKB) * 1024
	if withoutUIDL {
		trace.add(store.LevelInfo, worklog.Part("log.pop3_no_uidl"))
		for _, s := range sizes {
			fresh = append(fresh, s.Number)
		}
	} else {
		seen := map[string]int{}
		for _, u := range uids {
			key := uidKey(u.UID)
			// A UIDL the server repeats (a broken server) is told apart
			// by its place among the repeats; the content hash still
			// keeps a message from being stored twice.
			if n := seen[key]; n > 0 {
				key = key + "#" + strconv.Itoa(n+1)
			}
			seen[uidKey(u.UID)]++
			keyOf[u.Number], present[key] = key, true
			if known[key] {
				storedOnServer = append(storedOnServer, u.Number)
			} else {
				fresh = append(fresh, u.Number)
			}
		}
	}
	var fetchList []int
	for _, n := range fresh {
		if maxBytes > 0 && sizeOf[n] > maxBytes {
			result.TooLarge++
			trace.add(store.LevelInfo, worklog.Part("log.pop3_too_large", n, sizeOf[n], mailbox.MaxMessageSizeKB))
			continue
		}
		if mailbox.MaxMessages > 0 && len(fetchList) >= mailbox.MaxMessages {
			result.LeftOver++
			continue
		}
		fetchList = append(fetchList, n)
	}
	if result.LeftOver > 0 {
		trace.add(store.LevelInfo, worklog.Part("log.pop3_left_over", result.LeftOver, mailbox.MaxMessages))
	}

	// Fetch and store, each message durably with its UID before anything
	// is deleted.
	var deletable []int
	if mailbox.DeleteFromServer {
		deletable = append(deletable, storedOnServer...)
	}
	trace.flush(ctx)
	var storer *batchStorer
	if batcher, ok := f.config.Deliver.(BatchDeliverer); ok {
		storer = newBatchStorer(ctx, batcher, mailbox)
	}
	spooler, _ := f.config.Deliver.(SpoolDeliverer)
	// stored counts a message stored on its own (not through the batch
	// storer) and makes it deletable.
	stored := func(n int, delivered intake.Result) {
		if delivered.Duplicate {
			result.Duplicates++
		} else {
			result.Received++
		}
		if mailbox.DeleteFromServer {
			deletable = append(deletable, n)
		}
	}
	err = client.RetrPipelined(ctx, fetchList, f.config.Window, func(n int, r io.Reader) error {
		limit := int64(maxMessageBytes)
		if spooler != nil {
			limit = intake.MaxInMemory
		}
		raw, err := readMessage(r, limit)
		if errors.Is(err, errTooLarge) && spooler != nil {
			// Larger than is held in memory: spool the rest of it to a
			// file and store it on its own.
			delivered, err := f.deliverSpooled(ctx, spooler, mailbox, io.MultiReader(bytes.NewReader(raw), r), keyOf[n], withoutUIDL)
			if err != nil {
				return fmt.Errorf("message %d: %w", n, err)
			}
			stored(n, delivered)
			return nil
		}
		if err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		key := keyOf[n]
		if withoutUIDL {
			sum := sha256.Sum256(raw)
			key = "sha256:" + hex.EncodeToString(sum[:])
		}
		if storer != nil {
			return storer.add(n, Incoming{Raw: raw, UID: &store.UID{UID: key}})
		}
		delivered, err := f.config.Deliver.Deliver(ctx, mailbox, raw, &store.UID{UID: key}, "POP3")
		if err != nil {
			return err
		}
		stored(n, delivered)
		return nil
	})
	if storer != nil {
		// Messages read whole before a failure are stored all the same.
		if storeErr := storer.finish(); err == nil {
			err = storeErr
		}
		result.Received += storer.received
		result.Duplicates += storer.duplicates
		if mailbox.DeleteFromServer {
			deletable = append(deletable, storer.stored...)
		}
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

// deliverSpooled spools one large message from r and stores it; key is its
// UIDL key, or made from its content when the server has no UIDL.
func (f *Fetcher) deliverSpooled(ctx context.Context, spooler SpoolDeliverer, mailbox store.Mailbox, r io.Reader, key string, withoutUIDL bool) (intake.Result, error) {
	dir, compress, err := spooler.SpoolOptions(ctx)
	if err != nil {
		return intake.Result{}, err
	}
	spool, err := intake.NewSpool(io.LimitReader(r, maxMessageBytes+1), dir, compress)
	if err != nil {
		return intake.Result{}, err
	}
	defer spool.Close()
	if spool.Size() > maxMessageBytes {
		return intake.Result{}, fmt.Errorf("%w: more than %d bytes", errTooLarge, maxMessageBytes)
	}
	if withoutUIDL {
		key = "sha256:" + spool.SHA256()
	}
	return spooler.DeliverSpool(ctx, mailbox, spool, &store.UID{UID: key}, "POP3")
}
