package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/store"
)

// The search words of the list benchmark: one in 1% of the messages, one
// in ten of them.
const (
	commonSearchWord = "квитанция"
	rareSearchWord   = "zanzibar"
)

// listBench fills a database with N messages and times the store calls
// behind the message list: the first page, a page 10,000 rows deep, and
// full-text searches, each as a median of repeated runs.
func listBench(args []string) error {
	flags := flag.NewFlagSet("list", flag.ContinueOnError)
	backend := flags.String("backend", "sqlite", "sqlite or postgres")
	messages := flags.Int("messages", 1000000, "how many messages")
	dsn := flags.String("db", "", "PostgreSQL DSN of an empty database (default: start a throwaway server)")
	depth := flags.Int("depth", 10000, "rows deep for the deep page")
	runs := flags.Int("runs", 21, "timed runs per query")
	data := flags.String("data", "", "data folder to fill and keep (SQLite's database is there; default: a temporary one, removed)")
	reuse := flags.Bool("reuse", false, "with --db (PostgreSQL) or --data (SQLite): time the queries on the messages a previous run left there, without filling")
	if err := flags.Parse(args); err != nil {
		return err
	}
	dataDir := *data
	if dataDir == "" {
		if *reuse && *backend == "sqlite" {
			return fmt.Errorf("--reuse on SQLite needs --data, the folder a previous run filled")
		}
		dir, err := os.MkdirTemp("", "pochta-bench-list-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dataDir = filepath.Join(dir, "data")
	} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	target, stop, err := benchTarget(*backend, *dsn, "bench_list")
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	pochta, err := app.Open(ctx, app.Config{DataDir: dataDir, DSN: target, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer pochta.Close()
	if _, err := pochta.Service.Bootstrap(ctx, "bench-password"); err != nil {
		return err
	}
	st := pochta.Store
	if *reuse {
		return listQueries(ctx, st, *backend, *depth, *runs)
	}
	sites, err := st.Sites(ctx)
	if err != nil {
		return err
	}
	var boxes []int64
	for i := range 4 {
		mailbox := store.Mailbox{SiteID: sites[0].ID, Type: store.MailboxSMTP, Active: true, Name: fmt.Sprintf("bench %d", i), Port: 2525 + i}
		if err := st.CreateMailbox(ctx, &mailbox); err != nil {
			return err
		}
		boxes = append(boxes, mailbox.ID)
	}
	started := time.Now()
	if err := fillMessages(ctx, st, boxes, *messages); err != nil {
		return err
	}
	// The rows went in by SQL, past the store's counting: count them once,
	// as migration 0007 does.
	if _, err := st.DB().ExecContext(ctx, `UPDATE mailboxes SET messages_total = (SELECT COUNT(*) FROM messages WHERE mailbox_id = mailboxes.id),
		messages_unread = (SELECT COUNT(*) FROM messages WHERE mailbox_id = mailboxes.id AND is_read = FALSE)`); err != nil {
		return err
	}
	fmt.Printf("%s: filled %d messages in %v\n", *backend, *messages, time.Since(started).Round(time.Second))
	started = time.Now()
	if err := st.Optimize(ctx); err != nil {
		return err
	}
	if st.Dialect() == store.Postgres {
		if _, err := st.DB().ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			return err
		}
	}
	fmt.Printf("%s: statistics (store.Optimize / VACUUM ANALYZE) in %v\n", *backend, time.Since(started).Round(time.Millisecond))
	return listQueries(ctx, st, *backend, *depth, *runs)
}

// listQueries times the list's store calls on a filled database.
func listQueries(ctx context.Context, st *store.Store, backend string, depth, runs int) error {
	page, err := st.Messages(ctx, store.MessageFilter{}, store.MessageSort{Column: "id", Ascending: true}, "", 1)
	if err != nil || len(page.Items) == 0 {
		return fmt.Errorf("no messages to list (%v)", err)
	}
	boxes := []int64{page.Items[0].MailboxID}
	type query struct {
		name   string
		filter store.MessageFilter
		deep   bool
	}
	one := []int64{boxes[0]}
	queries := []query{
		{"first page, all mailboxes", store.MessageFilter{}, false},
		{fmt.Sprintf("page %d rows deep, all mailboxes", depth), store.MessageFilter{}, true},
		{"first page, one mailbox", store.MessageFilter{MailboxIDs: one}, false},
		{fmt.Sprintf("page %d rows deep, one mailbox", depth), store.MessageFilter{MailboxIDs: one}, true},
		{fmt.Sprintf("search %q (1%% of messages)", commonSearchWord), store.MessageFilter{Query: commonSearchWord}, false},
		{fmt.Sprintf("search %q (10 messages)", rareSearchWord), store.MessageFilter{Query: rareSearchWord}, false},
		{fmt.Sprintf("search %q, one mailbox", commonSearchWord), store.MessageFilter{Query: commonSearchWord, MailboxIDs: one}, false},
		// Another word form of the 1% word, OR and an operator.
		{"search \"квитанции OR " + rareSearchWord + "\"", store.MessageFilter{Query: "квитанции OR " + rareSearchWord}, false},
		{"search \"" + commonSearchWord + " is:unread\"", store.MessageFilter{Query: commonSearchWord + " is:unread"}, false},
		{"search \"" + commonSearchWord + " is:unread\", one mailbox", store.MessageFilter{Query: commonSearchWord + " is:unread", MailboxIDs: one}, false},
		{"search \"" + commonSearchWord + " has:attachment\"", store.MessageFilter{Query: commonSearchWord + " has:attachment"}, false},
		{"search \"" + commonSearchWord + " from:anna\"", store.MessageFilter{Query: commonSearchWord + " from:anna"}, false},
		{"search \"" + commonSearchWord + " to:anna\", one mailbox", store.MessageFilter{Query: commonSearchWord + " to:anna", MailboxIDs: one}, false},
		{"search \"" + commonSearchWord + " -from:anna\"", store.MessageFilter{Query: commonSearchWord + " -from:anna"}, false},
		{"search \"" + commonSearchWord + " after:2024-06-01 before:2024-07-01\"", store.MessageFilter{Query: commonSearchWord + " after:2024-06-01 before:2024-07-01"}, false},
		{"search \"from:anna\" (8% of messages)", store.MessageFilter{Query: "from:anna"}, false},
		{"search \"has:attachment is:unread\"", store.MessageFilter{Query: "has:attachment is:unread"}, false},
	}
	for _, q := range queries {
		cursor := ""
		if q.deep {
			for walked := 0; walked < depth; walked += 50 {
				page, err := st.Messages(ctx, q.filter, store.MessageSort{}, cursor, 50)
				if err != nil {
					return err
				}
				cursor = page.NextCursor
			}
		}
		var times []time.Duration
		var rows int
		for range runs {
			t := time.Now()
			page, err := st.Messages(ctx, q.filter, store.MessageSort{}, cursor, 50)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			times = append(times, time.Since(t))
			rows = len(page.Items)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		fmt.Printf("%s: %-45s median %8.2f ms  (min %.2f, max %.2f; %d rows)\n", backend, q.name,
			ms(times[len(times)/2]), ms(times[0]), ms(times[len(times)-1]), rows)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fillMessages inserts n messages with multi-row INSERTs, many to a
// transaction: rows as the intake writes them (subject, addresses, the
// full-text entry of the body), without sources or attachments.
func fillMessages(ctx context.Context, st *store.Store, boxes []int64, n int) error {
	g := newGenerator(7)
	const perStatement = 250
	const perTransaction = 20000
	columns := []string{"id", "mailbox_id", "message_id", "thread_id", "subject", "from_addr", "to_addr", "date", "received_at",
		"size", "raw_sha256", "is_read", "attachment_count"}
	if st.Dialect() == store.Postgres {
		columns = append(columns, "search")
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	if st.Dialect() == store.Postgres {
		row = strings.TrimSuffix(row, "?)") + "CAST(? AS tsvector))"
	}
	var offset int64
	if err := st.DB().QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&offset); err != nil {
		return err
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += perTransaction {
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		end := min(n, start+perTransaction)
		for chunk := start; chunk < end; chunk += perStatement {
			var args, fts []any
			count := min(perStatement, end-chunk)
			for i := chunk; i < chunk+count; i++ {
				id := offset + int64(i) + 1
				russian := i%10 < 3
				list := englishWords
				if russian {
					list = russianWords
				}
				subject := strings.TrimSuffix(strings.ReplaceAll(g.words(list, 3+i%5), ".\n", " "), " ")
				from, to := g.address(), g.address()
				body := g.words(list, 60+i%40)
				if i%100 == 50+i/100%4 {
					body = commonSearchWord + " " + body
				}
				if i%(n/10+1) == 7 {
					body += " " + rareSearchWord
				}
				// Dates mostly rise with the id, with some out of order, as
				// when old mail is imported.
				date := base.Add(time.Duration(i)*30*time.Second + time.Duration(g.rng.IntN(3600))*time.Second)
				header := fmt.Sprintf("Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d@bench.example.com>\r\n",
					date.Format(time.RFC1123Z), from, to, subject, i)
				sum := sha256.Sum256([]byte(header + body))
				args = append(args, id, boxes[i%len(boxes)], fmt.Sprintf("%d@bench.example.com", i), id, subject, from, to,
					date.UnixMicro(), date.UnixMicro()+1000000, len(header)+len(body)+2, hex.EncodeToString(sum[:]),
					// One message in 7 unread, one in 9 with a file: the
					// operators is:unread and has:attachment narrow.
					i%7 != 0, 1-min(1, i%9))
				text := store.SearchText{Subject: subject, Sender: from, Recipients: to, Body: body}
				if st.Dialect() == store.Postgres {
					args = append(args, store.SearchVector(text))
				} else {
					row := store.SearchRow(text)
					fts = append(fts, id, row[0], row[1], row[2], row[3], row[4])
				}
			}
			rows := strings.TrimSuffix(strings.Repeat(row+", ", count), ", ")
			if _, err := tx.ExecContext(ctx, st.Rebind(`INSERT INTO messages (`+strings.Join(columns, ", ")+`) VALUES `+rows), args...); err != nil {
				tx.Rollback()
				return err
			}
			if len(fts) > 0 {
				rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", count), ", ")
				if _, err := tx.ExecContext(ctx, `INSERT INTO `+store.SearchTable+` (rowid, subject, sender, recipients, body, filenames) VALUES `+rows, fts...); err != nil {
					tx.Rollback()
					return err
				}
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if end%200000 == 0 {
			fmt.Fprintf(os.Stderr, "filled %d\n", end)
		}
	}
	if st.Dialect() == store.Postgres {
		_, err := st.DB().ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT MAX(id) FROM messages))`)
		return err
	}
	return nil
}
