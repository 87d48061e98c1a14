package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/store"
)

// importBench writes N generated messages (~4 KB, 30% Russian, 20% with an
// attachment) to an mbox file and times "pochta import" of it into a fresh
// data folder or database, then reports the disk used per message against
// its raw size.
func importBench(args []string) error {
	flags := flag.NewFlagSet("import", flag.ContinueOnError)
	binary := flags.String("binary", "./pochta", "the pochta binary")
	backend := flags.String("backend", "sqlite", "sqlite or postgres")
	messages := flags.Int("messages", 100000, "how many messages")
	size := flags.Int("size", 4096, "approximate size of a message in bytes")
	dsn := flags.String("db", "", "PostgreSQL DSN of an empty database (default: start a throwaway server)")
	judged := flags.Bool("judged", false, "20 rules on receipt and a trained spam filter in the database (see judgedSetup)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "pochta-bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mbox := filepath.Join(dir, "bench.mbox")
	rawTotal, err := writeMbox(mbox, *messages, *size)
	if err != nil {
		return err
	}
	fmt.Printf("generated %d messages, %.1f MB raw (%.0f bytes each on average)\n", *messages, float64(rawTotal)/1e6, float64(rawTotal)/float64(*messages))
	target, stop, err := benchTarget(*backend, *dsn, "bench_import")
	if err != nil {
		return err
	}
	defer stop()
	data := filepath.Join(dir, "data")
	mailboxID, err := benchMailbox(data, target, *judged)
	if err != nil {
		return err
	}
	before, err := databaseSize(data, target)
	if err != nil {
		return err
	}
	command := exec.Command(*binary, "import", "--data", data, "--db", target, "--mailbox", fmt.Sprint(mailboxID), "--quiet", mbox)
	var stdout bytes.Buffer
	command.Stdout, command.Stderr = &stdout, os.Stderr
	started := time.Now()
	err = command.Run()
	wall := time.Since(started)
	fmt.Print(stdout.String())
	if err != nil {
		return fmt.Errorf("pochta import: %w", err)
	}
	after, err := databaseSize(data, target)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d messages in %v wall time (process start and all): %.0f msg/s\n", *backend, *messages, wall.Round(time.Millisecond), float64(*messages)/wall.Seconds())
	fmt.Printf("%s: database grew by %.1f MB: %.0f bytes per message, %.2f x the raw size\n", *backend, float64(after-before)/1e6,
		float64(after-before)/float64(*messages), float64(after-before)/float64(rawTotal))
	return nil
}

// writeMbox writes n generated messages as an mboxrd file and gives their
// total raw size.
func writeMbox(path string, n, size int) (int64, error) {
	file, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	g := newGenerator(1)
	var total int64
	for i := range n {
		raw := g.message(i, size, "")
		total += int64(len(raw))
		fmt.Fprintf(w, "From bench@example.com Mon Jan  1 00:00:00 2024\n")
		w.Write(escapeMboxrd(raw))
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return total, file.Close()
}

// escapeMboxrd adds a ">" to every line that is ">*From ".
func escapeMboxrd(raw []byte) []byte {
	if !bytes.Contains(raw, []byte("From ")) {
		return raw
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	for i, line := range lines {
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			lines[i] = append([]byte(">"), line...)
		}
	}
	return bytes.Join(lines, nil)
}

// benchTarget gives the --db value for a backend: "" for SQLite in the data
// folder, the given DSN, or a database on a throwaway server.
func benchTarget(backend, dsn, name string) (string, func(), error) {
	switch backend {
	case "sqlite":
		return "", func() {}, nil
	case "postgres":
		if dsn != "" {
			return dsn, func() {}, nil
		}
		server, err := startBenchPostgres()
		if err != nil {
			return "", nil, err
		}
		target, err := server.database(name)
		if err != nil {
			server.stop()
			return "", nil, err
		}
		return target, server.stop, nil
	}
	return "", nil, fmt.Errorf("unknown backend %q", backend)
}

// benchMailbox opens the data (applying migrations, making the default
// site) and creates the mailbox to import into.
func benchMailbox(data, dsn string, judged bool) (int64, error) {
	ctx := context.Background()
	pochta, err := app.Open(ctx, app.Config{DataDir: data, DSN: dsn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return 0, err
	}
	defer pochta.Close()
	if _, err := pochta.Service.Bootstrap(ctx, "bench-password"); err != nil {
		return 0, err
	}
	sites, err := pochta.Store.Sites(ctx)
	if err != nil {
		return 0, err
	}
	mailbox := store.Mailbox{SiteID: sites[0].ID, Type: store.MailboxSMTP, Active: true, Name: "bench", Port: 2525}
	if err := pochta.Store.CreateMailbox(ctx, &mailbox); err != nil {
		return 0, err
	}
	if judged {
		if err := judgedSetup(ctx, pochta.Store, mailbox.ID); err != nil {
			return 0, err
		}
	}
	return mailbox.ID, nil
}

// databaseSize is the SQLite file with its WAL after a checkpoint, or
// pg_database_size.
func databaseSize(data, dsn string) (int64, error) {
	if strings.HasPrefix(dsn, "postgres") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return 0, err
		}
		defer db.Close()
		var size int64
		err = db.QueryRow(`SELECT pg_database_size(current_database())`).Scan(&size)
		return size, err
	}
	path := filepath.Join(data, app.SQLiteFileName)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return 0, err
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		db.Close()
		return 0, err
	}
	db.Close()
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		if info, err := os.Stat(path + suffix); err == nil {
			total += info.Size()
		}
	}
	return total, nil
}
