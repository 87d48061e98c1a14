package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// ErrClosed is returned by [Sink.Add] after [Sink.Close].
var ErrClosed = errors.New("intake: sink closed")

// ErrTooLarge is returned by [Sink.Add] for a message larger than its
// delivery's MaxBytes. The reader has been read up to just past the limit.
var ErrTooLarge = errors.New("message too large")

// SinkConfig is what a [Sink] needs. Store and Options are required.
type SinkConfig struct {
	Store *store.Store
	// Log receives the "Receiving mail" lines and the judges' lines; when
	// it has an Enabled(ctx) bool method that answers true, they are
	// written in the transaction that stores the messages.
	Log worklog.Recorder
	// Options gives the storage settings for a mailbox. It is called once
	// per mailbox per message, on the caller's goroutine in [Sink.Add], so
	// it should be cheap (the service's reads a cache).
	Options func(ctx context.Context, mailbox store.Mailbox) (Options, error)
	// Judges run on every message after the storage settings, in order.
	Judges []Judge
	// TempDir is where a large message is spooled ("": the system's
	// temporary folder).
	TempDir string
	// Workers is how many goroutines parse and judge (0: one per CPU).
	Workers int
	// MaxBatchMessages and MaxBatchBytes bound one transaction (0: 1,000
	// messages, 16 MB of sources).
	MaxBatchMessages int
	MaxBatchBytes    int64
	// MaxPendingBytes bounds the bytes read but not yet stored; Add waits
	// while they are over it (0: 8 MB: a parsed message takes a few times
	// its size until it is stored, and a fetch reading ahead of the commits
	// needs no more than a batch or two in hand). A spooled message counts as
	// [MaxInMemory], the most its parse keeps in memory.
	MaxPendingBytes int64
}

// Sink is the one door through which received mail goes into the store:
// the POP3 fetch, the API upload and "pochta import" (and the SMTP server
// and the IMAP sync) all [Sink.Add] their messages to one.
//
// Add reads a message to its end on the caller's goroutine, keeping it in
// memory up to [MaxInMemory] bytes and spooling a larger one to a file;
// from there the message is parsed once and judged (see [Judge]) on the
// sink's workers, while earlier messages commit; the committer stores every
// message that is ready, from one caller or many, in one transaction (group
// commit: with synchronous=FULL a commit costs a disk sync, whatever its
// size), in the order the messages were added. Only after that commit is a
// message's done function called: the moment a POP3 fetcher may send DELE
// and an SMTP server may answer 250.
type Sink struct {
	config  SinkConfig
	parse   chan *pending
	ordered chan *pending
	budget  *budget
	judges  []Judge

	mu     sync.RWMutex // held for reading while adding; Close takes it to close the channels
	closed bool
	done   sync.WaitGroup

	// commits and committed count the batches stored and their messages
	// (see [Sink.Counters]).
	commits, committed atomic.Int64
}

// Counters are what a sink has committed since it started: how well group
// commit shares a disk sync among messages (Messages / Commits).
type Counters struct {
	// Commits is the number of transactions that stored a batch.
	Commits int64
	// Messages is the number of messages those transactions stored (a
	// message stored in several mailboxes counts once).
	Messages int64
}

// Counters gives the sink's commit counters (zero for a nil sink).
func (s *Sink) Counters() Counters {
	if s == nil {
		return Counters{}
	}
	return Counters{Commits: s.commits.Load(), Messages: s.committed.Load()}
}

// Target is one mailbox a message goes into.
type Target struct {
	Mailbox store.Mailbox
	// UID is the message's identity on the server it came from (nil:
	// none); it is recorded with the message, or alone when a judge drops
	// the message, so that the message is not fetched again.
	UID *store.UID
	// UIDFromContent makes the UID "sha256:" and the SHA-256 of the
	// message's bytes (a POP3 server without UIDL).
	UIDFromContent bool
	// Read stores the message as read (the IMAP \Seen flag on the server);
	// a judge may still change it.
	Read bool
	// Tombstoned, when set, is asked with the SHA-256 of the message's
	// bytes before the judges: true drops the message, its UID still
	// recorded (the IMAP sync's messages deleted in Pochta, which must not
	// come back from the server's Trash or after a UIDVALIDITY change). It
	// is called on the sink's workers.
	Tombstoned func(sha256 string) bool
}

// Delivery says where a message goes and how it came.
type Delivery struct {
	// Targets are the mailboxes the message goes into (at least one): it is
	// parsed once and stored in each, with each mailbox's settings. The
	// fallback charset is the first target's.
	Targets []Target
	// Origin names the way in for the work log: "POP3", "SMTP", "API",
	// "import".
	Origin string
	// Envelope is the SMTP envelope, for judges (nil on other paths).
	Envelope *Envelope
	// MayRefuse says the caller can still refuse the message (an SMTP
	// server before its reply to DATA): a verdict that refuses it stores it
	// nowhere. Elsewhere such a verdict is logged and the message kept.
	MayRefuse bool
	// MaxBytes refuses a larger message with [ErrTooLarge] (0: no limit).
	MaxBytes int64
	// ReceivedAt is when the message arrived (zero: the store's now).
	ReceivedAt time.Time
	// SkipRules asks the judges to run no rules on the message ("pochta
	// import --no-rules": an archive brought in as it is); the storage
	// settings and the spam rating still apply.
	SkipRules bool
}

// Envelope is the SMTP envelope of a message.
type Envelope struct {
	From       string
	Recipients []string
	// Client is the sending client's address; Authenticated the login it
	// authenticated as ("" if none).
	Client        string
	Authenticated string
}

// pending is a message between Add and its commit.
type pending struct {
	delivery Delivery
	options  []Options // per target
	raw      []byte
	spool    *Spool
	cost     int64
	done     func([]Result)

	ready chan struct{} // closed when parsed and judged
	// Set by the worker before ready is closed:
	candidates []*Candidate // per target
	refused    *Refusal     // a verdict refused it and the caller may refuse
	err        error        // it could not be prepared

	barrier chan struct{} // a Flush marker instead of a message
}

// NewSink starts a sink's workers. Close stops them.
func NewSink(config SinkConfig) *Sink {
	if config.Log == nil {
		config.Log = worklog.Discard{}
	}
	if config.Workers <= 0 {
		config.Workers = runtime.GOMAXPROCS(0)
	}
	if config.MaxBatchMessages <= 0 {
		config.MaxBatchMessages = 1000
	}
	if config.MaxBatchBytes <= 0 {
		config.MaxBatchBytes = 16 << 20
	}
	if config.MaxPendingBytes <= 0 {
		config.MaxPendingBytes = 8 << 20
	}
	s := &Sink{
		config:  config,
		parse:   make(chan *pending, config.MaxBatchMessages),
		ordered: make(chan *pending, config.MaxBatchMessages),
		budget:  newBudget(config.MaxPendingBytes),
		judges:  append([]Judge{JudgeFunc(storageSettings)}, config.Judges...),
	}
	for range config.Workers {
		s.done.Add(1)
		go s.work()
	}
	s.done.Add(1)
	go s.commit()
	return s
}

// Add reads one message from r to its end and queues it to be parsed,
// judged and stored. When Add returns nil, done will be called exactly once,
// from the sink's goroutine, with one [Result] per target in order, after
// the transaction that made the message durable (or with each result's Err
// set when it could not be stored); done must not block for long. When Add
// returns an error (reading r failed, [ErrTooLarge], [ErrClosed], the
// options could not be read, ctx ended while waiting for room), the message
// was not taken and done is not called.
func (s *Sink) Add(ctx context.Context, r io.Reader, delivery Delivery, done func([]Result)) error {
	if len(delivery.Targets) == 0 {
		return errors.New("intake: a delivery without a mailbox")
	}
	options := make([]Options, len(delivery.Targets))
	compress := false
	for i, target := range delivery.Targets {
		var err error
		if options[i], err = s.config.Options(ctx, target.Mailbox); err != nil {
			return fmt.Errorf("settings of mailbox %d: %w", target.Mailbox.ID, err)
		}
		compress = compress || options[i].SaveSource
	}
	p := &pending{delivery: delivery, options: options, done: done, ready: make(chan struct{})}
	if err := s.read(p, r, compress); err != nil {
		return err
	}
	if err := s.budget.acquire(ctx, p.cost); err != nil {
		p.release()
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.budget.release(p.cost)
		p.release()
		return ErrClosed
	}
	// The committer takes messages in this order, the workers in any.
	s.ordered <- p
	s.parse <- p
	return nil
}

// read takes the message's bytes: into memory up to MaxInMemory, else into
// a spool file.
func (s *Sink) read(p *pending, r io.Reader, compress bool) error {
	limit := p.delivery.MaxBytes
	head, err := io.ReadAll(io.LimitReader(r, MaxInMemory+1))
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	if limit > 0 && int64(len(head)) > limit {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if len(head) <= MaxInMemory {
		p.raw, p.cost = head, int64(len(head))
		return nil
	}
	rest := r
	if limit > 0 {
		rest = io.LimitReader(r, limit-int64(len(head))+1)
	}
	spool, err := NewSpool(io.MultiReader(bytes.NewReader(head), rest), s.config.TempDir, compress)
	if err != nil {
		return err
	}
	if limit > 0 && spool.Size() > limit {
		spool.Close()
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	p.spool, p.cost = spool, MaxInMemory
	return nil
}

// release lets go of a message's bytes and removes its spool files.
func (p *pending) release() {
	p.raw = nil
	if p.spool != nil {
		p.spool.Close()
		p.spool = nil
	}
}

// Flush waits until every message added before it has been stored (and its
// done called).
func (s *Sink) Flush(ctx context.Context) error {
	barrier := &pending{barrier: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.ordered <- barrier
	s.mu.RUnlock()
	select {
	case <-barrier.barrier:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stores what was added and stops the sink's goroutines. Add after
// Close returns [ErrClosed].
func (s *Sink) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.parse)
		close(s.ordered)
	}
	s.mu.Unlock()
	s.done.Wait()
	return nil
}

// work parses and judges messages.
func (s *Sink) work() {
	defer s.done.Done()
	for p := range s.parse {
		s.prepare(p)
		close(p.ready)
	}
}

// prepare parses a message once and makes, per target, the row to store and
// the verdict on it. A panic in a judge costs that message (its done gets
// the error), not the process.
func (s *Sink) prepare(p *pending) {
	defer func() {
		if recovered := recover(); recovered != nil {
			p.err = fmt.Errorf("intake: preparing the message failed: %v", recovered)
			p.candidates = nil
		}
	}()
	ctx := context.Background()
	var parsed *mime.Message
	var hash string
	if p.spool != nil {
		var err error
		if parsed, err = p.spool.Parse(p.options[0].Charset); err != nil {
			p.err = err
			return
		}
		hash = p.spool.SHA256()
	} else {
		parsed = mime.Parse(p.raw, mime.Options{FallbackCharset: p.options[0].Charset})
		hash = store.RawHash(p.raw)
	}
	p.candidates = make([]*Candidate, len(p.delivery.Targets))
	for i, target := range p.delivery.Targets {
		candidate := &Candidate{
			Mailbox:  target.Mailbox,
			Delivery: &p.delivery,
			Options:  p.options[i],
			Parsed:   parsed,
			Message:  newMessage(target.Mailbox, parsed, p.options[i]),
		}
		candidate.Message.ReceivedAt = p.delivery.ReceivedAt
		candidate.Message.UID = target.UID
		if target.UIDFromContent {
			candidate.Message.UID = &store.UID{UID: "sha256:" + hash}
		}
		candidate.Message.Read = target.Read
		if target.Tombstoned != nil && target.Tombstoned(hash) {
			candidate.Verdict.Drop, candidate.Verdict.DropReason = true, "deleted in Pochta before"
		}
		for _, judge := range s.judges {
			if candidate.Verdict.Drop {
				break
			}
			judge.Judge(ctx, candidate)
		}
		p.candidates[i] = candidate
		if candidate.Verdict.Refuse != nil && p.delivery.MayRefuse {
			p.refused = candidate.Verdict.Refuse
		}
	}
	if p.refused != nil {
		return
	}
	for _, candidate := range p.candidates {
		message := candidate.Message
		message.RawSHA256 = hash
		if candidate.Verdict.Drop {
			message.Dropped = true
			continue
		}
		message.Jobs = candidate.Verdict.Jobs
		if p.spool != nil {
			if message.SaveSource {
				compressed, size := p.spool.compressed, p.spool.compressedSize
				message.CompressedSource = func() (io.Reader, error) { return io.NewSectionReader(compressed, 0, size), nil }
			}
		} else {
			// Hash, compress and split the text for the index here, on
			// a worker, in parallel with other messages and the commit.
			message.Raw = p.raw
			message.CompressSource()
			message.Raw = nil
		}
		message.PrepareSearch()
	}
	if p.spool == nil {
		p.raw = nil // the compressed copies are what is stored
	}
	s.recount(p)
}

// recount makes the message's cost in the budget what its prepared rows
// hold (their text, index text, compressed source, attachments) instead of
// the source's size it was let in with, and lets the parse tree go: the
// judges are done with it. Without this the 8 MB bound counted about a third
// of what waited for the commit.
func (s *Sink) recount(p *pending) {
	var cost int64
	for _, candidate := range p.candidates {
		candidate.Parsed = nil
		if !candidate.Verdict.Drop {
			cost += candidate.Message.MemorySize()
		}
	}
	if p.spool != nil {
		cost = max(cost, MaxInMemory)
	}
	s.budget.adjust(cost - p.cost)
	p.cost = cost
}

// commit stores messages in the order they were added, as many at a time
// as are ready.
func (s *Sink) commit() {
	defer s.done.Done()
	var carried *pending
	for {
		first := carried
		carried = nil
		if first == nil {
			var ok bool
			if first, ok = <-s.ordered; !ok {
				return
			}
		}
		if first.barrier != nil {
			close(first.barrier)
			continue
		}
		<-first.ready
		batch := []*pending{first}
		size := first.cost
		var barrier *pending
	gather:
		for len(batch) < s.config.MaxBatchMessages && size < s.config.MaxBatchBytes {
			select {
			case next, ok := <-s.ordered:
				if !ok {
					break gather
				}
				if next.barrier != nil {
					barrier = next
					break gather
				}
				select {
				case <-next.ready:
					batch = append(batch, next)
					size += next.cost
				default:
					// Not parsed yet: it starts the next batch rather than
					// hold this one back.
					carried = next
					break gather
				}
			default:
				break gather
			}
		}
		s.store(batch)
		if barrier != nil {
			close(barrier.barrier)
		}
	}
}

// store commits a batch and reports each message's results.
func (s *Sink) store(batch []*pending) {
	ctx := context.Background()
	var messages []*store.NewMessage
	var owners []*Candidate
	var from []int // per row, the index in batch of the message it stores
	accepted := 0
	for b, p := range batch {
		if p.err != nil || p.refused != nil {
			continue
		}
		accepted++
		for _, candidate := range p.candidates {
			messages = append(messages, candidate.Message)
			owners = append(owners, candidate)
			from = append(from, b)
		}
	}
	logEnabled := false
	if enabled, ok := s.config.Log.(interface{ Enabled(context.Context) bool }); ok {
		logEnabled = enabled.Enabled(ctx)
	}
	var inline func([]store.InsertResult) []store.LogEntry
	if logEnabled {
		inline = func(stored []store.InsertResult) []store.LogEntry {
			return s.logLines(batch, owners, stored, nil)
		}
	}
	stored, err := s.config.Store.InsertMessagesLogged(ctx, messages, inline)
	logged := err == nil && inline != nil
	if err == nil && len(messages) > 0 {
		s.commits.Add(1)
		s.committed.Add(int64(accepted))
	}
	if err != nil && len(messages) > 1 {
		// One bad message must cost only itself: store them one by one,
		// each its own commit; a message counts as committed once, when
		// a row of it is stored.
		stored = make([]store.InsertResult, len(messages))
		counted := -1
		for i, m := range messages {
			one, err := s.config.Store.InsertMessages(ctx, []*store.NewMessage{m})
			if err != nil {
				stored[i].Err = err
				continue
			}
			stored[i] = one[0]
			s.commits.Add(1)
			if from[i] != counted {
				counted = from[i]
				s.committed.Add(1)
			}
		}
		err = nil
	}
	if !logged {
		s.config.Log.Record(ctx, s.logLines(batch, owners, stored, err)...)
	}
	// Results, in the batch's order.
	index := 0
	for _, p := range batch {
		results := make([]Result, len(p.delivery.Targets))
		for i, target := range p.delivery.Targets {
			results[i] = Result{MailboxID: target.Mailbox.ID, Size: int(p.size())}
			switch {
			case p.err != nil:
				results[i].Err = fmt.Errorf("deliver to mailbox %d: %w", target.Mailbox.ID, p.err)
			case p.refused != nil:
				results[i].Refused, results[i].Refusal = true, p.refused
			default:
				results[i] = s.result(p.candidates[i], stored, index, err)
				index++
			}
		}
		s.budget.release(p.cost)
		p.release()
		if p.done != nil {
			p.done(results)
		}
	}
}

// size is the message's size in bytes.
func (p *pending) size() int64 {
	if p.spool != nil {
		return p.spool.Size()
	}
	if len(p.candidates) > 0 {
		return p.candidates[0].Message.Size
	}
	return int64(len(p.raw))
}

// result says what became of one candidate, the index-th message of the
// batch's insert.
func (s *Sink) result(candidate *Candidate, stored []store.InsertResult, index int, err error) Result {
	m := candidate.Message
	result := Result{MailboxID: candidate.Mailbox.ID, Subject: m.Subject, Size: int(m.Size), ParseErrors: m.ParseErrors,
		Dropped: candidate.Verdict.Drop}
	switch {
	case err != nil:
		result.Err = err
	case index >= len(stored):
		result.Err = errors.New("intake: no result from the store")
	case stored[index].Err != nil:
		result.Err = stored[index].Err
	case !result.Dropped:
		result.ID, result.Duplicate = stored[index].ID, stored[index].Duplicate
	}
	if result.Err != nil {
		result.Err = fmt.Errorf("deliver to mailbox %d: %w", candidate.Mailbox.ID, result.Err)
	}
	return result
}

// logLines makes the work log lines of a batch: per message and mailbox the
// judges' lines and "Receiving mail" (or why it was not stored).
func (s *Sink) logLines(batch []*pending, owners []*Candidate, stored []store.InsertResult, err error) []store.LogEntry {
	var entries []store.LogEntry
	index := 0
	for _, p := range batch {
		switch {
		case p.err != nil:
			for _, target := range p.delivery.Targets {
				entries = append(entries, worklog.Say(store.LogEntry{Level: store.LevelError, Type: "intake", MailboxID: target.Mailbox.ID},
					worklog.Part("log.store_failed", p.size(), p.err)))
			}
			continue
		case p.refused != nil:
			for _, candidate := range p.candidates {
				entries = append(entries, candidate.Verdict.Log...)
				entries = append(entries, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "receive", MailboxID: candidate.Mailbox.ID},
					worklog.Part("log.receive_refused", worklog.Subject(candidate.Message.Subject), p.refused.Reason)))
			}
			continue
		}
		for _, candidate := range p.candidates {
			result := s.result(candidate, stored, index, err)
			index++
			for _, entry := range candidate.Verdict.Log {
				if result.Duplicate {
					// Nothing the judges decided was applied: the copy
					// already stored keeps its own flags and jobs.
					break
				}
				// The judges wrote their lines before the message had an
				// ID: they are about the stored message.
				if entry.MessageID == 0 && result.Err == nil {
					entry.MessageID = result.ID
				}
				entries = append(entries, entry)
			}
			switch {
			case result.Err != nil:
				entries = append(entries, worklog.Say(store.LogEntry{Level: store.LevelError, Type: "intake", MailboxID: candidate.Mailbox.ID},
					worklog.Part("log.store_failed", candidate.Message.Size, result.Err)))
			case candidate.Verdict.Drop:
				entries = append(entries, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "receive", MailboxID: candidate.Mailbox.ID},
					worklog.Part("log.receive_dropped", worklog.Subject(candidate.Message.Subject), candidate.Verdict.DropReason)))
			default:
				if candidate.Verdict.Refuse != nil {
					entries = append(entries, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "receive", MailboxID: candidate.Mailbox.ID, MessageID: result.ID},
						worklog.Part("log.receive_refusal_kept", candidate.Verdict.Refuse.Reason)))
				}
				entries = append(entries, logLine(candidate.Mailbox, result, p.delivery.Origin))
			}
		}
	}
	return entries
}

// budget bounds the bytes between Add and commit.
type budget struct {
	mu    sync.Mutex
	cond  chan struct{} // closed and replaced when bytes are released
	used  int64
	limit int64
}

func newBudget(limit int64) *budget { return &budget{limit: limit, cond: make(chan struct{})} }

// acquire waits until n bytes fit. A message larger than the whole budget
// is let in when nothing else is pending, so that it cannot wait forever.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		wait := b.cond
		b.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.cond)
	b.cond = make(chan struct{})
	b.mu.Unlock()
}

// adjust changes the bytes counted for messages already let in, without
// waiting: a message that grew while it was prepared is not held back (the
// committer, which frees bytes, may be waiting for it), the next Add is.
func (b *budget) adjust(delta int64) {
	if delta < 0 {
		b.release(-delta)
		return
	}
	b.mu.Lock()
	b.used += delta
	b.mu.Unlock()
}
