package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"pochta.dev/pochta/internal/intake"
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
	// large are messages too large to hold in memory: each is streamed
	// into the intake on its own.
	large []largeMessage
}

// largeMessage is a message too large to hold in memory: a file of its
// own, or a message of an mbox file copied to a temporary file (removed
// once it is imported).
type largeMessage struct {
	name, path string
	temporary  bool
}

// removeTemporary removes the batch's temporary files.
func (b *importBatch) removeTemporary() {
	for _, large := range b.large {
		if large.temporary {
			os.Remove(large.path)
		}
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
	sources, total := expandPaths(paths)
	progress.total = total

	// A message of an mbox file larger than intake.MaxInMemory is copied
	// to a temporary file where the intake spools.
	spoolDir, _, err := im.service.SpoolOptions(ctx)
	if err != nil {
		summary.fail("import", err)
		return summary
	}

	read := make(chan *importBatch, 1)
	parsed := make(chan *importBatch, 1)
	go func() {
		defer close(read)
		batch := &importBatch{}
		var size int64
		flush := func() bool {
			if len(batch.items) == 0 && len(batch.problems) == 0 && batch.bytes == 0 && len(batch.large) == 0 {
				return true
			}
			select {
			case read <- batch:
			case <-ctx.Done():
				batch.removeTemporary()
				return false
			}
			batch, size = &importBatch{}, 0
			return true
		}
		for _, source := range sources {
			if source.err != nil {
				batch.problems = append(batch.problems, importProblem{source.path, source.err})
				continue
			}
			if source.size > intake.MaxInMemory && !isMbox(source.path) {
				batch.large = append(batch.large, largeMessage{name: source.path, path: source.path})
				batch.bytes += source.size
				if !flush() {
					return
				}
				continue
			}
			err := readMessages(source.path, spoolDir, func(name string, raw []byte, consumed int64) bool {
				batch.bytes += consumed
				if raw != nil {
					batch.items = append(batch.items, intake.Item{Raw: raw})
					batch.names = append(batch.names, name)
					size += int64(len(raw))
				}
				if len(batch.items) >= importBatchMessages || size >= importBatchBytes {
					return flush()
				}
				return ctx.Err() == nil
			}, func(name, path string, consumed int64) bool {
				batch.bytes += consumed
				batch.large = append(batch.large, largeMessage{name: name, path: path, temporary: true})
				return flush()
			}, func(name string, err error) {
				batch.problems = append(batch.problems, importProblem{name, err})
			})
			if err != nil {
				batch.problems = append(batch.problems, importProblem{source.path, err})
			}
			if ctx.Err() != nil {
				return
			}
		}
		flush()
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
				batch.removeTemporary()
				for batch := range read {
					batch.removeTemporary()
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
		for _, large := range batch.large {
			summary.count(large.name, im.importLarge(ctx, large.path))
		}
		batch.removeTemporary()
		progress.add(len(batch.items)+len(batch.large), batch.bytes)
		if ctx.Err() != nil {
			break
		}
	}
	// Drain, so that the reader and parser goroutines end.
	for batch := range parsed {
		batch.removeTemporary()
	}
	summary.elapsed = time.Since(started)
	return summary
}

// importLarge streams one large message file into the intake, which spools
// and parses it without holding it in memory.
func (im *importer) importLarge(ctx context.Context, path string) intake.Result {
	file, err := os.Open(path)
	if err != nil {
		return intake.Result{Err: err}
	}
	defer file.Close()
	result, err := im.service.DeliverReader(ctx, im.mailbox, bufio.NewReaderSize(file, 64<<10), nil, "import")
	if err != nil {
		result.Err = err
	}
	return result
}

// isMbox reports whether a file starts as an mbox file does ("From ").
func isMbox(path string) bool {
	file, err := os.Open(path)
	if err != nil {
		return false
	}
	defer file.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(file, head)
	return string(head[:n]) == "From "
}

// importSource is one file to read, or a path that could not be read.
type importSource struct {
	path string
	size int64
	err  error
}

// expandPaths turns the command line's paths into files: a Maildir gives
// the files of cur/ and new/, another folder its files, a file itself. It
// also sums their sizes for the percentage.
func expandPaths(paths []string) ([]importSource, int64) {
	var sources []importSource
	var total int64
	add := func(path string) {
		info, err := os.Stat(path)
		if err != nil {
			sources = append(sources, importSource{path: path, err: err})
			return
		}
		sources = append(sources, importSource{path: path, size: info.Size()})
		total += info.Size()
	}
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			sources = append(sources, importSource{path: path, err: err})
			continue
		}
		if !info.IsDir() {
			add(path)
			continue
		}
		var folders []string
		for _, sub := range []string{"cur", "new"} {
			if fi, err := os.Stat(filepath.Join(path, sub)); err == nil && fi.IsDir() {
				folders = append(folders, filepath.Join(path, sub))
			}
		}
		if len(folders) == 0 {
			folders = []string{path} // a folder of .eml files
		}
		for _, folder := range folders {
			entries, err := os.ReadDir(folder)
			if err != nil {
				sources = append(sources, importSource{path: folder, err: err})
				continue
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
			for _, entry := range entries {
				if strings.HasPrefix(entry.Name(), ".") || !entry.Type().IsRegular() {
					continue
				}
				add(filepath.Join(folder, entry.Name()))
			}
		}
	}
	return sources, total
}

// readMessages reads one file: an mbox file (its first line starts with
// "From ") gives its messages one by one, streamed; any other file is one
// message. emit gets each message with a name for error lines and the input
// bytes it took; raw is nil when only bytes were consumed (an mbox's
// separators). A message of an mbox larger than intake.MaxInMemory goes to
// large instead, copied to a temporary file in dir that the callee removes.
// emit and large return false to stop. problem reports a message that is
// not one (an empty file).
func readMessages(path, dir string, emit func(name string, raw []byte, consumed int64) bool, large func(name, path string, consumed int64) bool, problem func(name string, err error)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	reader := bufio.NewReaderSize(file, 64<<10)
	head, err := reader.Peek(5)
	if err != nil && err != io.EOF {
		return err
	}
	if string(head) == "From " {
		return splitMboxSpilling(reader, &mboxSpill{dir: dir, limit: intake.MaxInMemory, large: func(n int, spilled string, consumed int64) bool {
			return large(fmt.Sprintf("%s (message %d)", path, n), spilled, consumed)
		}}, func(n int, raw []byte, consumed int64) bool {
			return emit(fmt.Sprintf("%s (message %d)", path, n), raw, consumed)
		})
	}
	// One allocation of the file's size: io.ReadAll's doubling would hold
	// up to twice a large message.
	var size int64
	if info, err := file.Stat(); err == nil {
		size = info.Size()
	}
	buffer := bytes.NewBuffer(make([]byte, 0, size+1))
	if _, err := buffer.ReadFrom(reader); err != nil {
		return err
	}
	raw := buffer.Bytes()
	if len(raw) == 0 {
		problem(path, errors.New("empty file, not a message"))
		return nil
	}
	emit(path, raw, int64(len(raw)))
	return nil
}

// splitMbox streams the messages of an mbox: a "From " line at the start of
// the file or after a blank line begins a message and is not part of it;
// the blank line before it ends the previous one and is not part of it
// either; ">From ", ">>From " ... lines lose one ">" (mboxrd). Only one
// message is in memory at a time.
func splitMbox(reader *bufio.Reader, emit func(n int, raw []byte, consumed int64) bool) error {
	return splitMboxSpilling(reader, nil, emit)
}

// mboxSpill says where a message of an mbox larger than limit bytes goes
// rather than memory: a temporary file in dir, given to large (which owns
// it from then on).
type mboxSpill struct {
	dir   string
	limit int
	large func(n int, path string, consumed int64) bool
}

// mboxMessage is the message splitMbox is reading: in memory, or once it
// is larger than its spill's limit, in a temporary file.
type mboxMessage struct {
	spill  *mboxSpill
	memory bytes.Buffer
	file   *os.File
	writer *bufio.Writer
	err    error
}

func (m *mboxMessage) Write(p []byte) {
	switch {
	case m.err != nil || len(p) == 0:
		return
	case m.file == nil && m.spill != nil && m.memory.Len()+len(p) > m.spill.limit:
		if m.file, m.err = os.CreateTemp(m.spill.dir, intake.SpoolPrefix()+"*.eml"); m.err != nil {
			return
		}
		m.writer = bufio.NewWriterSize(m.file, 64<<10)
		m.writer.Write(m.memory.Bytes())
		m.memory = bytes.Buffer{} // let the large buffer go
	}
	if m.file != nil {
		_, m.err = m.writer.Write(p)
		return
	}
	m.memory.Write(p)
}

// spilled ends a message written to a temporary file and gives the file's
// name; the caller owns the file.
func (m *mboxMessage) spilled() (string, error) {
	file := m.file
	m.file = nil
	err := m.err
	if err == nil {
		err = m.writer.Flush()
	}
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	m.writer, m.err = nil, nil
	if err != nil {
		os.Remove(file.Name())
		return "", fmt.Errorf("copy a large message of an mbox file: %w", err)
	}
	return file.Name(), nil
}

// discard removes a temporary file that was not handed over.
func (m *mboxMessage) discard() {
	if m.file != nil {
		m.file.Close()
		os.Remove(m.file.Name())
		m.file = nil
	}
}

// splitMboxSpilling is splitMbox that hands a message larger than
// spill.limit to spill.large as a temporary file (spill nil: never).
func splitMboxSpilling(reader *bufio.Reader, spill *mboxSpill, emit func(n int, raw []byte, consumed int64) bool) (err error) {
	message := &mboxMessage{spill: spill}
	defer message.discard()
	var consumed int64
	n := 0
	inMessage := false
	previousBlank := true // the file's start counts as after a blank line
	// pendingBlank is a blank line held back: it is the separator when a
	// "From " line follows, else part of the message.
	var pendingBlank []byte
	finish := func() (bool, error) {
		if !inMessage {
			return true, nil
		}
		n++
		if message.err != nil && message.file == nil {
			return false, fmt.Errorf("copy a large message of an mbox file: %w", message.err)
		}
		if message.file != nil {
			path, err := message.spilled()
			if err != nil {
				return false, err
			}
			ok := spill.large(n, path, consumed)
			consumed = 0
			return ok, nil
		}
		raw := bytes.Clone(message.memory.Bytes())
		message.memory.Reset()
		ok := emit(n, raw, consumed)
		consumed = 0
		return ok, nil
	}
	for {
		line, err := reader.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: take it in pieces; none of
			// them is a separator or a blank line.
			consumed += int64(len(line))
			message.Write(pendingBlank)
			pendingBlank = nil
			message.Write(line)
			previousBlank = false
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = reader.ReadSlice('\n')
				consumed += int64(len(line))
				message.Write(line)
			}
			if err != nil && err != io.EOF {
				return err
			}
			if err == io.EOF {
				break
			}
			continue
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return err
		}
		consumed += int64(len(line))
		blank := len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
		switch {
		case previousBlank && bytes.HasPrefix(line, []byte("From ")):
			pendingBlank = nil
			if ok, err := finish(); !ok {
				return err
			}
			inMessage = true
		case blank:
			message.Write(pendingBlank)
			pendingBlank = append(pendingBlank[:0:0], line...)
		default:
			message.Write(pendingBlank)
			pendingBlank = nil
			if unescaped, ok := mboxrdUnescape(line); ok {
				line = unescaped
			}
			message.Write(line)
		}
		previousBlank = blank
		if err == io.EOF {
			break
		}
	}
	// The blank line at the end of the file closes the last message.
	_, err = finish()
	return err
}

// mboxrdUnescape removes one ">" from a line of the form ">+From ".
func mboxrdUnescape(line []byte) ([]byte, bool) {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	if i == 0 || !bytes.HasPrefix(line[i:], []byte("From ")) {
		return nil, false
	}
	return line[1:], true
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
