package intake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testmail"
	"pochta.dev/pochta/internal/testpeer"
	"pochta.dev/pochta/internal/worklog"
)

// recorder keeps the work log lines; it says it is enabled, so the sink
// writes them in its transactions and also hands them here.
type recorder struct {
	mu      sync.Mutex
	entries []store.LogEntry
}

func (r *recorder) Record(_ context.Context, entries ...store.LogEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entries...)
}

func (r *recorder) lines() []store.LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.LogEntry{}, r.entries...)
}

// backends runs a test on SQLite and on PostgreSQL (skipped without a
// server, except where the peers are required).
func backends(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, "") })
	t.Run("postgres", func(t *testing.T) { test(t, testpeer.PostgresDSN(t)) })
}

// newStore opens a fresh store with one site and two mailboxes: SQLite
// for an empty dsn.
func newStore(t *testing.T, dsn ...string) (*store.Store, store.Mailbox, store.Mailbox) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pochta.db")
	if len(dsn) > 0 && dsn[0] != "" {
		path = dsn[0]
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	site := store.Site{Code: "s1", Name: "s1"}
	if err := st.CreateSite(ctx, &site); err != nil {
		t.Fatal(err)
	}
	var boxes []store.Mailbox
	for i := range 2 {
		mailbox := store.Mailbox{SiteID: site.ID, Type: store.MailboxSMTP, Active: true, Name: fmt.Sprintf("box%d", i), Port: 2525 + i}
		if err := st.CreateMailbox(ctx, &mailbox); err != nil {
			t.Fatal(err)
		}
		boxes = append(boxes, mailbox)
	}
	return st, boxes[0], boxes[1]
}

var keepAll = intake.Options{SaveSource: true, SaveAttachments: true}

// newSink starts a sink over st that keeps everything, with judges.
func newSink(t *testing.T, st *store.Store, log worklog.Recorder, judges ...intake.Judge) *intake.Sink {
	t.Helper()
	sink := intake.NewSink(intake.SinkConfig{
		Store:   st,
		Log:     log,
		Options: func(context.Context, store.Mailbox) (intake.Options, error) { return keepAll, nil },
		Judges:  judges,
		TempDir: t.TempDir(),
	})
	t.Cleanup(func() { sink.Close() })
	return sink
}

// deliver adds one message and waits for its results.
func deliver(t *testing.T, sink *intake.Sink, raw []byte, delivery intake.Delivery) []intake.Result {
	t.Helper()
	done := make(chan []intake.Result, 1)
	if err := sink.Add(context.Background(), bytes.NewReader(raw), delivery, func(results []intake.Result) { done <- results }); err != nil {
		t.Fatalf("add: %v", err)
	}
	return <-done
}

func to(mailboxes ...store.Mailbox) intake.Delivery {
	delivery := intake.Delivery{Origin: "test"}
	for _, m := range mailboxes {
		delivery.Targets = append(delivery.Targets, intake.Target{Mailbox: m})
	}
	return delivery
}

func TestSinkStores(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, mailbox, _ := newStore(t, dsn)
		log := &recorder{}
		sink := newSink(t, st, log)
		one := []byte("From: a@example.com\r\nSubject: one\r\n\r\nhello\r\n")
		broken := []byte("Subject: broken\nContent-Type: multipart/mixed\n\nno boundary\n")

		first := deliver(t, sink, one, to(mailbox))[0]
		if first.Err != nil || first.Duplicate || first.Subject != "one" || first.Size != len(one) || first.ID == 0 || first.MailboxID != mailbox.ID {
			t.Errorf("first: %+v", first)
		}
		if r := deliver(t, sink, broken, to(mailbox))[0]; r.Err != nil || r.Duplicate || len(r.ParseErrors) == 0 {
			t.Errorf("broken: %+v", r)
		}
		withUID := to(mailbox)
		withUID.Targets[0].UID = &store.UID{UID: "u1"}
		if r := deliver(t, sink, bytes.Clone(one), withUID)[0]; r.Err != nil || !r.Duplicate || r.ID != first.ID {
			t.Errorf("repeat: %+v", r)
		}
		lines := log.lines()
		if len(lines) != 3 || !strings.Contains(lines[2].Text, "already stored") || !strings.Contains(lines[1].Text, "parse notes") {
			t.Errorf("log lines: %+v", lines)
		}
		if known, _ := st.KnownUIDs(ctx, mailbox.ID, ""); !known["u1"] {
			t.Errorf("UID of the repeat not recorded")
		}
		source, err := st.MessageSource(ctx, first.ID)
		if err != nil || !bytes.Equal(source, one) {
			t.Errorf("source: %q, %v", source, err)
		}
	})
}

// The "Receiving mail" line names the way in, in words where the catalog
// has them, and is said in each reader's language.
func TestReceiveLineOrigins(t *testing.T) {
	st, mailbox, _ := newStore(t)
	tests := []struct{ origin, english, russian string }{
		{"POP3", "Receiving mail: m0 (43 B) via POP3", "Получение письма: m0 (43 Б) по POP3"},
		{"import", "Receiving mail: m1 (43 B) by import", "Получение письма: m1 (43 Б) при импорте"},
		{"API", "Receiving mail: m2 (43 B) via the API", "Получение письма: m2 (43 Б) через API"},
		{"SMTP", "Receiving mail: m3 (43 B) via SMTP", "Получение письма: m3 (43 Б) через SMTP"},
	}
	for i, test := range tests {
		log := &recorder{}
		sink := newSink(t, st, log)
		raw := []byte(fmt.Sprintf("From: a@example.com\r\nSubject: m%d\r\n\r\nhello\r\n", i))
		delivery := to(mailbox)
		delivery.Origin = test.origin
		if r := deliver(t, sink, raw, delivery)[0]; r.Err != nil {
			t.Fatal(r.Err)
		}
		lines := log.lines()
		if len(lines) != 1 {
			t.Fatalf("%s: %d log lines", test.origin, len(lines))
		}
		if got := lines[0].Text; got != test.english {
			t.Errorf("%s: %q, want %q", test.origin, got, test.english)
		}
		if got := worklog.Text("ru", lines[0]); got != test.russian {
			t.Errorf("%s in Russian: %q, want %q", test.origin, got, test.russian)
		}
	}
}

// Many callers at once: every message is stored once, each done is called
// once, and they share transactions.
func TestSinkConcurrentCallers(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, mailbox, other := newStore(t, dsn)
		sink := newSink(t, st, &recorder{})
		const callers, each = 8, 50
		var wait sync.WaitGroup
		var mu sync.Mutex
		calls := map[string]int{}
		for c := range callers {
			wait.Add(1)
			go func() {
				defer wait.Done()
				for i := range each {
					raw := fmt.Sprintf("Subject: c%d m%d\r\n\r\nbody %d %d\r\n", c, i, c, i)
					box := mailbox
					if i%2 == 1 {
						box = other
					}
					wait.Add(1)
					err := sink.Add(ctx, strings.NewReader(raw), to(box), func(results []intake.Result) {
						defer wait.Done()
						mu.Lock()
						defer mu.Unlock()
						if results[0].Err != nil || results[0].ID == 0 {
							t.Errorf("%q: %+v", raw, results[0])
						}
						calls[raw]++
					})
					if err != nil {
						wait.Done()
						t.Error(err)
					}
				}
			}()
		}
		wait.Wait()
		if len(calls) != callers*each {
			t.Errorf("%d messages reported, want %d", len(calls), callers*each)
		}
		for raw, n := range calls {
			if n != 1 {
				t.Errorf("%q reported %d times", raw, n)
			}
		}
		// Every done came after its commit, so the counters hold them all.
		if counters := sink.Counters(); counters.Messages != callers*each || counters.Commits < 1 || counters.Commits > counters.Messages {
			t.Errorf("counters %+v, want %d messages in 1 to %d commits", counters, callers*each, callers*each)
		}
		for _, box := range []store.Mailbox{mailbox, other} {
			page, err := st.Messages(ctx, store.MessageFilter{MailboxIDs: []int64{box.ID}}, store.MessageSort{}, "", 1000)
			if err != nil || len(page.Items) != callers*each/2 {
				t.Errorf("mailbox %d holds %d messages (%v), want %d", box.ID, len(page.Items), err, callers*each/2)
			}
		}
	})
}

// A message larger than MaxInMemory is spooled, stored byte for byte, and
// its spool files are gone once it is stored; one over MaxBytes is refused
// before anything is stored.
func TestSinkLargeMessage(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, mailbox, _ := newStore(t, dsn)
		spoolDir := t.TempDir()
		sink := intake.NewSink(intake.SinkConfig{Store: st, TempDir: spoolDir,
			Options: func(context.Context, store.Mailbox) (intake.Options, error) { return keepAll, nil }})
		defer sink.Close()
		raw, attachment := testmail.Large(1, "large", 12<<20)
		result := deliver(t, sink, raw, to(mailbox))[0]
		if result.Err != nil || result.Size != len(raw) || result.Subject != "large" {
			t.Fatalf("large: %+v", result)
		}
		source, err := st.MessageSource(ctx, result.ID)
		if err != nil || !bytes.Equal(source, raw) {
			t.Errorf("source not byte-exact (%d bytes, %v)", len(source), err)
		}
		attachments, err := st.Attachments(ctx, result.ID)
		if err != nil || len(attachments) != 1 || attachments[0].Size != int64(len(attachment)) {
			t.Errorf("attachments: %+v, %v", attachments, err)
		}
		if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
			t.Errorf("spool files left: %v", left)
		}
		limited := to(mailbox)
		limited.MaxBytes = 1 << 20
		err = sink.Add(ctx, bytes.NewReader(raw), limited, func([]intake.Result) { t.Error("done called for a refused message") })
		if !errors.Is(err, intake.ErrTooLarge) {
			t.Errorf("over MaxBytes: %v", err)
		}
		if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
			t.Errorf("spool files left after a refusal: %v", left)
		}
	})
}

// One message to several mailboxes: parsed once, stored in each with its
// own UID.
func TestSinkSeveralMailboxes(t *testing.T) {
	ctx := context.Background()
	st, mailbox, other := newStore(t)
	parses := 0
	var mu sync.Mutex
	count := intake.JudgeFunc(func(_ context.Context, c *intake.Candidate) {
		mu.Lock()
		defer mu.Unlock()
		if c.Parsed != nil {
			parses++
		}
	})
	sink := newSink(t, st, &recorder{}, count)
	delivery := to(mailbox, other)
	delivery.Targets[0].UID = &store.UID{UID: "a"}
	delivery.Targets[1].UID = &store.UID{UID: "b"}
	results := deliver(t, sink, []byte("Subject: both\r\n\r\nhi\r\n"), delivery)
	if len(results) != 2 || results[0].Err != nil || results[1].Err != nil || results[0].ID == results[1].ID ||
		results[0].MailboxID != mailbox.ID || results[1].MailboxID != other.ID {
		t.Fatalf("results: %+v", results)
	}
	for i, box := range []store.Mailbox{mailbox, other} {
		known, _ := st.KnownUIDs(ctx, box.ID, "")
		if want := []string{"a", "b"}[i]; !known[want] || len(known) != 1 {
			t.Errorf("mailbox %d UIDs %v, want %s", box.ID, known, want)
		}
	}
	if parses != 2 {
		t.Errorf("judged %d times, want once per mailbox", parses)
	}
}

// The verdict stage: a judge's flags are stored with the message in one
// write, a dropped message is stored nowhere but its UID is recorded, a
// refusal refuses only where the caller may refuse, jobs commit with their
// message, and a judge that panics costs only its message.
func TestVerdictStage(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, mailbox, _ := newStore(t, dsn)
		judge := intake.JudgeFunc(func(_ context.Context, c *intake.Candidate) {
			subject := c.Parsed.Subject
			switch {
			case strings.HasPrefix(subject, "read"):
				c.Message.Read = true
				rating := 3
				c.Message.Spam, c.Message.SpamRating, c.Message.SpamWords = "no", &rating, "hello = 3%"
			case strings.HasPrefix(subject, "drop"):
				c.Verdict.Drop, c.Verdict.DropReason = true, "rule [1] drop"
				c.Verdict.Jobs = append(c.Verdict.Jobs, store.NewJob{Kind: "webhook", Payload: []byte(`{}`)})
			case strings.HasPrefix(subject, "refuse"):
				c.Verdict.Refuse = &intake.Refusal{Code: 550, EnhancedCode: "5.7.1", Message: "no", Reason: "rule [2] refuse"}
			case strings.HasPrefix(subject, "job"):
				c.Verdict.Jobs = append(c.Verdict.Jobs, store.NewJob{Kind: "webhook", Payload: []byte(`{"url":"x"}`)})
			case strings.HasPrefix(subject, "panic"):
				panic("judge broke")
			}
		})
		log := &recorder{}
		sink := newSink(t, st, log, judge)
		message := func(subject string) []byte { return []byte("Subject: " + subject + "\r\n\r\nhello\r\n") }

		read := deliver(t, sink, message("read me"), to(mailbox))[0]
		stored, err := st.MessageByID(ctx, read.ID)
		if err != nil || !stored.Read || stored.Spam != "no" || stored.SpamRating == nil || *stored.SpamRating != 3 || stored.SpamWords != "hello = 3%" {
			t.Errorf("judged flags not stored: %+v, %v", stored, err)
		}

		dropped := to(mailbox)
		dropped.Targets[0].UID = &store.UID{UID: "dropped-1"}
		if r := deliver(t, sink, message("drop me"), dropped)[0]; r.Err != nil || !r.Dropped || r.ID != 0 {
			t.Errorf("dropped: %+v", r)
		}
		if known, _ := st.KnownUIDs(ctx, mailbox.ID, ""); !known["dropped-1"] {
			t.Errorf("a dropped message's UID is not recorded: %v", known)
		}

		refusable := to(mailbox)
		refusable.MayRefuse = true
		if r := deliver(t, sink, message("refuse me"), refusable)[0]; !r.Refused || r.Refusal == nil || r.Refusal.Code != 550 || r.ID != 0 {
			t.Errorf("refused where the caller may refuse: %+v", r)
		}
		if r := deliver(t, sink, message("refuse me too"), to(mailbox))[0]; r.Refused || r.ID == 0 || r.Err != nil {
			t.Errorf("refusal where the caller cannot refuse should keep it: %+v", r)
		}

		job := deliver(t, sink, message("job"), to(mailbox))[0]
		if again := deliver(t, sink, message("job"), to(mailbox))[0]; !again.Duplicate {
			t.Errorf("second copy not a duplicate: %+v", again)
		}
		jobs, err := st.Jobs(ctx, store.JobFilter{MailboxID: mailbox.ID})
		if err != nil || len(jobs) != 1 || jobs[0].MessageID != job.ID || jobs[0].Kind != "webhook" {
			t.Errorf("jobs: %+v, %v (want one, for message %d; none for the dropped one or the duplicate)", jobs, err, job.ID)
		}

		// A panicking judge fails its own message; the next one is stored.
		done := make(chan []intake.Result, 2)
		for _, subject := range []string{"panic", "after the panic"} {
			if err := sink.Add(ctx, bytes.NewReader(message(subject)), to(mailbox), func(r []intake.Result) { done <- r }); err != nil {
				t.Fatal(err)
			}
		}
		if r := <-done; r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "judge broke") {
			t.Errorf("panicking judge: %+v", r[0])
		}
		if r := <-done; r[0].Err != nil || r[0].ID == 0 {
			t.Errorf("after the panic: %+v", r[0])
		}

		text := ""
		for _, line := range log.lines() {
			text += line.Text + "\n"
		}
		for _, want := range []string{"Not stored: drop me (rule [1] drop)", "Refused: refuse me (rule [2] refuse)", "Asked to refuse (rule [2] refuse), kept"} {
			if !strings.Contains(text, want) {
				t.Errorf("log lacks %q:\n%s", want, text)
			}
		}
	})
}

// The storage settings are the first judge: no source, no attachments, or
// attachments over a limit dropped with a note.
func TestStorageSettingsJudge(t *testing.T) {
	ctx := context.Background()
	st, mailbox, _ := newStore(t)
	raw, _ := testmail.Large(2, "settings", 64<<10)
	tests := []struct {
		name            string
		options         intake.Options
		source, dropped bool
		note            bool
	}{
		{"everything", intake.Options{SaveSource: true, SaveAttachments: true}, true, false, false},
		{"no source", intake.Options{SaveAttachments: true}, false, false, false},
		{"no attachments", intake.Options{SaveSource: true}, true, true, false},
		{"over the limit", intake.Options{SaveSource: true, SaveAttachments: true, MaxAttachmentBytes: 1024}, true, true, true},
	}
	for i, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			sink := intake.NewSink(intake.SinkConfig{Store: st, TempDir: t.TempDir(),
				Options: func(context.Context, store.Mailbox) (intake.Options, error) { return test.options, nil }})
			defer sink.Close()
			message := append([]byte(fmt.Sprintf("X-Test: %d\r\n", i)), raw...)
			result := deliver(t, sink, message, to(mailbox))[0]
			if result.Err != nil {
				t.Fatal(result.Err)
			}
			_, err := st.MessageSource(ctx, result.ID)
			if hasSource := err == nil; hasSource != test.source {
				t.Errorf("source kept %v, want %v (%v)", hasSource, test.source, err)
			}
			attachments, _ := st.Attachments(ctx, result.ID)
			if len(attachments) != 1 || attachments[0].Dropped != test.dropped {
				t.Errorf("attachments: %+v", attachments)
			}
			if hasNote := strings.Contains(strings.Join(result.ParseErrors, "\n"), "was not kept"); hasNote != test.note {
				t.Errorf("notes %q", result.ParseErrors)
			}
		})
	}
}

// Flush waits for what was added; Add after Close is refused.
func TestSinkFlushAndClose(t *testing.T) {
	ctx := context.Background()
	st, mailbox, _ := newStore(t)
	sink := intake.NewSink(intake.SinkConfig{Store: st,
		Options: func(context.Context, store.Mailbox) (intake.Options, error) { return keepAll, nil }})
	var mu sync.Mutex
	done := 0
	for i := range 20 {
		raw := fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)
		if err := sink.Add(ctx, strings.NewReader(raw), to(mailbox), func([]intake.Result) { mu.Lock(); done++; mu.Unlock() }); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if done != 20 {
		t.Errorf("after Flush %d of 20 done", done)
	}
	mu.Unlock()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Add(ctx, strings.NewReader("Subject: late\r\n\r\n"), to(mailbox), nil); !errors.Is(err, intake.ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := sink.Add(ctx, strings.NewReader("x"), intake.Delivery{}, nil); err == nil {
		t.Errorf("a delivery without a mailbox was taken")
	}
}

// When a batch's transaction fails, its rows are stored one by one, each in
// a commit of its own, and the counters say so: a message counts once, when
// a row of it is stored.
func TestSinkCountersAfterFallback(t *testing.T) {
	st, mailbox, _ := newStore(t)
	sink := newSink(t, st, &recorder{})
	gone := mailbox
	gone.ID = mailbox.ID + 1000 // no such mailbox: its row fails the batch
	results := deliver(t, sink, []byte("Subject: half\r\n\r\nhi\r\n"), to(mailbox, gone))
	if len(results) != 2 || results[0].Err != nil || results[1].Err == nil {
		t.Fatalf("results: %+v", results)
	}
	if counters := sink.Counters(); counters != (intake.Counters{Commits: 1, Messages: 1}) {
		t.Errorf("counters %+v, want 1 commit of 1 message", counters)
	}
}
