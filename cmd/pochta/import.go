package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/mailfile"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// Import batching: a batch is stored in one transaction, so that a bulk
// import pays one disk sync per batch rather than per message. A batch
// closes at importBatchMessages messages or importBatchBytes bytes, so that
// a few huge messages do not pile up in memory.
const (
	importBatchMessages = 1000
	importBatchBytes    = 16 << 20
	importMaxErrors     = 5
)

// importCommand is "pochta import --mailbox ID PATH...".
func importCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("import", stderr)
	var common commonFlags
	common.register(flags)
	mailboxID := flags.Int64("mailbox", 0, "ID of the mailbox to import into (required)")
	quiet := flags.Bool("quiet", false, "no progress, only the summary")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	paths := flags.Args()
	if *mailboxID <= 0 {
		return usagef("import: --mailbox is required")
	}
	if len(paths) == 0 {
		return usagef("import: give one or more files, Maildir folders or mbox files")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	importer, err := newImporter(ctx, pochta.Service, *mailboxID)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	// A soft memory limit makes the collector return a large message's
	// parse garbage before the next one arrives (unless GOMEMLIMIT says
	// otherwise); batches of small messages stay far below it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
	progress := newProgress(stderr, *quiet)
	summary := importer.run(ctx, paths, progress)
	progress.finish()
	summary.write(stdout)
	if ctx.Err() != nil {
		return fmt.Errorf("import: interrupted: %w", ctx.Err())
	}
	if summary.failed > 0 {
		return fmt.Errorf("import: %d failed", summary.failed)
	}
	return nil
}

// importer feeds messages from files to the service's batch intake, the
// path every receiver takes.
type importer struct {
	service *service.Service
	mailbox store.Mailbox
}

func newImporter(ctx context.Context, svc *service.Service, mailboxID int64) (*importer, error) {
	// The CLI acts as Pochta itself; reading the mailbox through the
	// service checks that it exists the way every front end does.
	if _, err := svc.Mailbox(ctx, service.System, mailboxID); err != nil {
		return nil, err
	}
	mailbox, err := svc.Store().MailboxByID(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	return &importer{service: svc, mailbox: mailbox}, nil
}

// importSummary counts what an import did.
type importSummary struct {
	read, stored, duplicates, withNotes, failed int
	errors                                      []string
	elapsed                                     time.Duration
}

// count adds what became of one message.
func (s *importSummary) count(name string, result intake.Result) {
	s.read++
	switch {
	case result.Err != nil:
		s.fail(name, result.Err)
	case result.Duplicate:
		s.duplicates++
	default:
		s.stored++
		if len(result.ParseErrors) > 0 {
			s.withNotes++
		}
	}
}

func (s *importSummary) fail(name string, err error) {
	s.failed++
	if len(s.errors) < importMaxErrors {
		s.errors = append(s.errors, fmt.Sprintf("%s: %v", name, err))
	}
}

func (s *importSummary) write(w io.Writer) {
	rate := 0.0
	if s.elapsed > 0 {
		rate = float64(s.read) / s.elapsed.Seconds()
	}
	fmt.Fprintf(w, "imported %d messages in %s (%.0f msg/s)\n", s.read, s.elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(w, "  stored:             %d\n", s.stored)
	fmt.Fprintf(w, "  with parse notes:   %d\n", s.withNotes)
	fmt.Fprintf(w, "  duplicates skipped: %d\n", s.duplicates)
	fmt.Fprintf(w, "  failed:             %d\n", s.failed)
	for _, e := range s.errors {
		fmt.Fprintf(w, "    %s\n", e)
	}
	if s.failed > len(s.errors) {
		fmt.Fprintf(w, "    ... and %d more\n", s.failed-len(s.errors))
	}
}

// importBatch is a batch of messages read from files, with their names for
// the error lines.
type importBatch struct {
	items    []intake.Item
	names    []string
	bytes    int64 // input bytes consumed, for the percentage
	problems []importProblem
	store    func() []intake.Result // stores the parsed items
	// large is a message too large to hold in memory, after the items: the
	// storing side streams it into the intake while the reading side
	// waits.
	large *largeMessage
}

// largeMessage is a message larger than intake.MaxInMemory, read from its
// file by the storing side (the intake spools it); done lets the reading
// side, which waits for it, read on.
type largeMessage struct {
	name   string
	reader io.Reader
	done   chan struct{}
}

// release lets the reading side read on past the batch's large message,
// stored or not. Whoever holds a batch last releases it: otherwise the
// reading side waits for ever.
func (b *importBatch) release() {
	if b.large != nil {
		close(b.large.done)
		b.large = nil
	}
}

// importProblem is a path or message that could not be read.
type importProblem struct {
	name string
	err  error
}

// run reads the paths, parses on one stage and stores on the next, so that
// parsing the next batch overlaps the commit of this one.
func (im *importer) run(ctx context.Context, paths []string, progress *progress) importSummary {
	started := time.Now()
	var summary importSummary
	sources, total := mailfile.Expand(paths)
	progress.total = total

	read := make(chan *importBatch, 1)
	parsed := make(chan *importBatch, 1)
	go func() {
		defer close(read)
		reading := &importReading{ctx: ctx, batches: read, batch: &importBatch{}}
		readSources(ctx, sources, reading.take, func(consumed int64) {
			reading.batch.bytes += consumed
		}, func(name string, err error) {
			reading.batch.problems = append(reading.batch.problems, importProblem{name, err})
		})
		reading.flush()
	}()
	go func() {
		defer close(parsed)
		for batch := range read {
			batch.store = im.service.PrepareMessages(ctx, im.mailbox, batch.items, "import")
			for i := range batch.items {
				batch.items[i].Raw = nil // prepared: hashed and compressed
			}
			select {
			case parsed <- batch:
			case <-ctx.Done():
				batch.release()
				for batch := range read {
					batch.release()
				}
				return
			}
		}
	}()
	for batch := range parsed {
		for _, problem := range batch.problems {
			summary.fail(problem.name, problem.err)
		}
		if len(batch.items) > 0 {
			for i, result := range batch.store() {
				summary.count(batch.names[i], result)
			}
		}
		messages := len(batch.items)
		if batch.large != nil {
			summary.count(batch.large.name, im.deliverLarge(ctx, batch.large.reader))
			messages++
		}
		batch.release()
		progress.add(messages, batch.bytes)
		if ctx.Err() != nil {
			break
		}
	}
	// Drain, so that the reader and parser goroutines end.
	for batch := range parsed {
		batch.release()
	}
	summary.elapsed = time.Since(started)
	return summary
}

// deliverLarge streams one large message into the intake, which spools
// and parses it without holding it in memory.
func (im *importer) deliverLarge(ctx context.Context, message io.Reader) intake.Result {
	result, err := im.service.DeliverReader(ctx, im.mailbox, message, nil, "import")
	if err != nil {
		result.Err = err
	}
	return result
}

// readSources reads the messages of sources in order (see mailfile.Read)
// and gives each to take with its name, a stream of its bytes (valid
// until take returns) and its size when known (else -1). consumed gets the
// input bytes taken, for the percentage; problem the paths that could not
// be read and the files whose reading failed. An error of take ends its
// file (a read error: the file's problem); once ctx is done, readSources
// stops.
func readSources(ctx context.Context, sources []mailfile.Source, take func(name string, message io.Reader, size int64) error, consumed func(int64), problem func(name string, err error)) {
	for _, source := range sources {
		if source.Err != nil {
			problem(source.Path, source.Err)
			continue
		}
		var taken int64
		err := mailfile.Read(source.Path, func(message mailfile.Message) error {
			if err := take(message.Name, message.Reader, message.Size); err != nil {
				return err
			}
			taken += message.Consumed()
			consumed(message.Consumed())
			return nil
		})
		// The bytes of a file no message took (what a failed read left)
		// count as read: the percentage reaches 100.
		if rest := source.Size - taken; rest > 0 {
			consumed(rest)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			problem(source.Path, err)
		}
	}
}

// importReading is the reading side of an import: it collects small
// messages into batches and hands each large one to the storing side.
type importReading struct {
	ctx     context.Context
	batches chan<- *importBatch
	batch   *importBatch
	size    int64  // bytes of the batch's messages
	buffer  []byte // the message being read, reused
}

// take reads one message: into the batch when the intake keeps it in
// memory, else as a stream for the storing side, waiting until it is
// stored.
func (r *importReading) take(name string, message io.Reader, size int64) error {
	if size > intake.MaxInMemory {
		return r.handOver(name, message)
	}
	// One byte more than the intake keeps in memory tells the two apart.
	head, err := readHead(r.buffer, message, intake.MaxInMemory+1)
	r.buffer = head
	if err != nil {
		return err
	}
	if len(head) > intake.MaxInMemory {
		// The stream gets the buffer; let it go once read.
		r.buffer = nil
		return r.handOver(name, io.MultiReader(bytes.NewReader(head), message))
	}
	if len(head) == 0 {
		// An mbox file's empty entry (a separator, nothing after it): not
		// a message.
		return r.ctx.Err()
	}
	r.batch.items = append(r.batch.items, intake.Item{Raw: bytes.Clone(head)})
	r.batch.names = append(r.batch.names, name)
	r.size += int64(len(head))
	if len(r.batch.items) >= importBatchMessages || r.size >= importBatchBytes {
		r.flush()
	}
	return r.ctx.Err()
}

// handOver gives a large message's stream to the storing side in a batch
// of its own and waits until it has been read: the file's reader must not
// move on before.
func (r *importReading) handOver(name string, message io.Reader) error {
	large := &largeMessage{name: name, reader: message, done: make(chan struct{})}
	r.batch.large = large
	if !r.flush() {
		return r.ctx.Err() // not sent: nobody reads it
	}
	<-large.done
	return r.ctx.Err()
}

// flush sends the batch on (if it holds anything) and starts the next; it
// is false when the import was interrupted before the batch could go.
func (r *importReading) flush() bool {
	batch := r.batch
	if len(batch.items) == 0 && len(batch.problems) == 0 && batch.bytes == 0 && batch.large == nil {
		return true
	}
	select {
	case r.batches <- batch:
	case <-r.ctx.Done():
		return false
	}
	r.batch, r.size = &importBatch{}, 0
	return true
}

// readHead reads message into buffer (reused) up to limit bytes, growing
// it only as the message needs: most messages are small.
func readHead(buffer []byte, message io.Reader, limit int) ([]byte, error) {
	buffer = buffer[:0]
	for len(buffer) < limit {
		if len(buffer) == cap(buffer) {
			buffer = slices.Grow(buffer, min(max(cap(buffer), 64<<10), limit-len(buffer)))
		}
		n, err := message.Read(buffer[len(buffer):min(cap(buffer), limit)])
		buffer = buffer[:len(buffer)+n]
		if err == io.EOF {
			return buffer, nil
		}
		if err != nil {
			return buffer, err
		}
	}
	return buffer, nil
}

// progress shows how an import goes: a bar redrawn in place on a terminal,
// a line every few seconds otherwise.
type progress struct {
	out      io.Writer
	terminal bool
	quiet    bool
	total    int64 // input bytes, 0 when unknown
	done     int64
	count    int
	started  time.Time
	last     time.Time
	drawn    bool
}

func newProgress(stderr io.Writer, quiet bool) *progress {
	p := &progress{out: stderr, quiet: quiet, started: time.Now()}
	p.last = p.started
	if file, ok := stderr.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		p.terminal = true
	}
	return p
}

func (p *progress) add(messages int, consumed int64) {
	p.count += messages
	p.done += consumed
	if p.quiet {
		return
	}
	now := time.Now()
	interval := 10 * time.Second
	if p.terminal {
		interval = 200 * time.Millisecond
	}
	if now.Sub(p.last) < interval {
		return
	}
	p.last = now
	p.draw(now)
}

func (p *progress) draw(now time.Time) {
	elapsed := now.Sub(p.started).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.count) / elapsed
	}
	percent := -1.0
	if p.total > 0 {
		percent = min(100, 100*float64(p.done)/float64(p.total))
	}
	if !p.terminal {
		if percent >= 0 {
			fmt.Fprintf(p.out, "import: %d messages, %.0f msg/s, %.0f%%\n", p.count, rate, percent)
		} else {
			fmt.Fprintf(p.out, "import: %d messages, %.0f msg/s\n", p.count, rate)
		}
		return
	}
	const width = 30
	bar := strings.Repeat(" ", width)
	if percent >= 0 {
		filled := int(percent / 100 * width)
		bar = strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		if filled < width {
			bar = strings.Repeat("=", filled) + ">" + strings.Repeat(" ", width-filled-1)
		}
		fmt.Fprintf(p.out, "\r[%s] %3.0f%%  %d messages  %.0f msg/s ", bar, percent, p.count, rate)
	} else {
		fmt.Fprintf(p.out, "\r%d messages  %.0f msg/s ", p.count, rate)
	}
	p.drawn = true
}

// finish draws the bar at its end and leaves the line.
func (p *progress) finish() {
	if p.quiet || !p.terminal {
		return
	}
	p.draw(time.Now())
	if p.drawn {
		fmt.Fprintln(p.out)
	}
}
