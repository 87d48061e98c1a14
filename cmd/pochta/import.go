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
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/mailfile"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// importMaxErrors is how many failures the summary names.
const importMaxErrors = 5

// importCommand is "pochta import --mailbox ID PATH...".
func importCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("import", stderr)
	var common commonFlags
	common.register(flags)
	mailboxID := flags.Int64("mailbox", 0, "ID of the mailbox to import into (required)")
	quiet := flags.Bool("quiet", false, "no progress, only the summary")
	noRules := flags.Bool("no-rules", false, "run no rules on the imported messages (the spam rating still applies)")
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
	importer.skipRules = *noRules
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

// importer feeds messages from files to the service's intake sink, the
// door every receiver uses.
type importer struct {
	service   *service.Service
	mailbox   store.Mailbox
	skipRules bool // --no-rules
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
	// deletedByRules: a rule's delete on receipt stored nothing of these
	// (intake.Result.Dropped; the rules are the only judge that drops).
	deletedByRules int
	errors         []string
	elapsed        time.Duration
}

// count adds what became of one message.
func (s *importSummary) count(name string, result intake.Result) {
	s.read++
	switch {
	case result.Err != nil:
		s.fail(name, result.Err)
	case result.Duplicate:
		s.duplicates++
	case result.Dropped:
		s.deletedByRules++
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
	fmt.Fprintf(w, "  deleted by rules:   %d\n", s.deletedByRules)
	fmt.Fprintf(w, "  failed:             %d\n", s.failed)
	for _, e := range s.errors {
		fmt.Fprintf(w, "    %s\n", e)
	}
	if s.failed > len(s.errors) {
		fmt.Fprintf(w, "    ... and %d more\n", s.failed-len(s.errors))
	}
}

// run adds every message of the paths to the intake's sink as it reads
// them, and counts what the sink reports once each is stored: reading goes
// on while earlier messages are parsed and committed.
func (im *importer) run(ctx context.Context, paths []string, progress *progress) importSummary {
	started := time.Now()
	var summary importSummary
	var mu sync.Mutex // summary and progress: the sink reports on its own goroutine
	var pending sync.WaitGroup
	sources, total := mailfile.Expand(paths)
	progress.total = total
	sink := im.service.Intake()
	delivery := intake.Delivery{Targets: []intake.Target{{Mailbox: im.mailbox}}, Origin: "import", SkipRules: im.skipRules}
	take := func(name string, message io.Reader, _ int64) error {
		// An mbox file's empty entry (a separator, nothing after it) is
		// not a message.
		var first [1]byte
		n, err := io.ReadFull(message, first[:])
		if n == 0 {
			if err == io.EOF {
				return ctx.Err()
			}
			return err
		}
		pending.Add(1)
		err = sink.Add(ctx, io.MultiReader(bytes.NewReader(first[:]), message), delivery, func(results []intake.Result) {
			defer pending.Done()
			mu.Lock()
			defer mu.Unlock()
			summary.count(name, results[0])
			progress.add(1, 0)
		})
		if err != nil {
			pending.Done()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// This message could not be read or taken; the file goes on.
			mu.Lock()
			summary.read++
			summary.fail(name, err)
			mu.Unlock()
			return nil
		}
		return ctx.Err()
	}
	readSources(ctx, sources, take, func(consumed int64) {
		mu.Lock()
		progress.add(0, consumed)
		mu.Unlock()
	}, func(name string, err error) {
		mu.Lock()
		summary.fail(name, err)
		mu.Unlock()
	})
	// What was added is stored whatever stopped the reading.
	pending.Wait()
	summary.elapsed = time.Since(started)
	return summary
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
