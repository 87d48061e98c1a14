// Command pochta is the Pochta mail module: one binary that serves the web
// admin, the REST API and the mail protocols ("pochta serve"), and carries the
// admin subcommands that work on the same data folder or database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"pochta.dev/pochta/internal/app"
)

const usage = `Pochta: a self-hosted mail module.

Usage:
  pochta serve [--data DIR] [--http ADDR] [--db DSN] [--trusted-proxies LIST] [--public-url URL]
  pochta user add --login LOGIN [--password PASSWORD] [--role admin|auditor|user] [--email E] [--name N] [--site CODE]
  pochta token create --user LOGIN [--name NAME]
  pochta token list [--user LOGIN]
  pochta token revoke ID...
  pochta queue list [--status queued|sending|sent|failed] [--limit N]
  pochta queue retry ID...
  pochta queue delete ID...
  pochta import --mailbox ID [--quiet] [--no-rules] PATH...   (.eml files, Maildir folders, mbox files)
  pochta rules test [--mailbox ID] [--manual] [--rule ID] FILE.eml   (which rules would fire, and why)
  pochta rules apply [--rule ID] (--mailbox ID | MESSAGE-ID...)   (the manual rules, or one, on stored messages)
  pochta spam train [--spam PATH]... [--ham PATH]... [--quiet]   (bulk training from files, Maildir, mbox)

Every command takes --data DIR (default ./pochta-data, env POCHTA_DATA) and
--db DSN (postgres://... for PostgreSQL, env POCHTA_DB; default SQLite in DIR).
serve takes --http ADDR (default 127.0.0.1:8080, env POCHTA_HTTP) and
--trusted-proxies (env POCHTA_TRUSTED_PROXIES): the reverse proxies, e.g.
127.0.0.1,10.0.0.0/8, whose X-Forwarded-For and X-Forwarded-Proto count.
`

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	var usageErr usageError
	if errors.As(err, &usageErr) {
		fmt.Fprintf(os.Stderr, "pochta: %v\n\n%s", err, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pochta: %v\n", err)
		os.Exit(1)
	}
}

// usageError is a mistake in the command line.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run dispatches a command line; main and the tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("no command given")
	}
	switch {
	case args[0] == "serve":
		return serve(ctx, args[1:], stderr)
	case args[0] == "user" && len(args) > 1 && args[1] == "add":
		return userAdd(ctx, args[2:], stdin, stdout, stderr)
	case args[0] == "token" && len(args) > 1 && args[1] == "create":
		return tokenCreate(ctx, args[2:], stdout, stderr)
	case args[0] == "token" && len(args) > 1 && args[1] == "list":
		return tokenList(ctx, args[2:], stdout, stderr)
	case args[0] == "token" && len(args) > 1 && args[1] == "revoke":
		return tokenRevoke(ctx, args[2:], stdout, stderr)
	case args[0] == "queue" && len(args) > 1 && args[1] == "list":
		return queueList(ctx, args[2:], stdout, stderr)
	case args[0] == "queue" && len(args) > 1 && args[1] == "retry":
		return queueRetry(ctx, args[2:], stdout, stderr)
	case args[0] == "queue" && len(args) > 1 && args[1] == "delete":
		return queueDelete(ctx, args[2:], stdout, stderr)
	case args[0] == "import":
		return importCommand(ctx, args[1:], stdout, stderr)
	case args[0] == "rules" && len(args) > 1 && args[1] == "test":
		return rulesTest(ctx, args[2:], stdout, stderr)
	case args[0] == "rules" && len(args) > 1 && args[1] == "apply":
		return rulesApply(ctx, args[2:], stdout, stderr)
	case args[0] == "spam" && len(args) > 1 && args[1] == "train":
		return spamTrain(ctx, args[2:], stdout, stderr)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
}

// commonFlags are the flags every command takes.
type commonFlags struct {
	data, db string
}

func (c *commonFlags) register(flags *flag.FlagSet) {
	flags.StringVar(&c.data, "data", envOr("POCHTA_DATA", "pochta-data"), "data folder (SQLite database and secret key)")
	flags.StringVar(&c.db, "db", os.Getenv("POCHTA_DB"), "database DSN; postgres://... selects PostgreSQL (default: SQLite in the data folder)")
}

func (c *commonFlags) config(logger *slog.Logger) app.Config {
	return app.Config{DataDir: c.data, DSN: c.db, SecretKey: os.Getenv("POCHTA_SECRET_KEY"), Logger: logger}
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	return flags
}

func parse(flags *flag.FlagSet, args []string) error {
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if flags.NArg() > 0 {
		return usagef("%s: unexpected argument %q", flags.Name(), flags.Arg(0))
	}
	return nil
}

func newLogger(stderr io.Writer) *slog.Logger {
	options := &slog.HandlerOptions{Level: slog.LevelInfo}
	if os.Getenv("POCHTA_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(stderr, options))
	}
	return slog.New(slog.NewTextHandler(stderr, options))
}

// serve runs the server until SIGTERM or SIGINT.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlagSet("serve", stderr)
	var common commonFlags
	common.register(flags)
	httpAddr := flags.String("http", envOr("POCHTA_HTTP", "127.0.0.1:8080"), "address of the web admin and API")
	proxies := flags.String("trusted-proxies", os.Getenv("POCHTA_TRUSTED_PROXIES"), "reverse proxies whose X-Forwarded-For and -Proto are believed: addresses or prefixes, comma-separated")
	publicURL := flags.String("public-url", os.Getenv("POCHTA_PUBLIC_URL"), "where Pochta is reached from outside (https://mail.example.com), for the links webhooks carry")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for measurements)")
	if err := parse(flags, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		file, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(file); err != nil {
			file.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			file.Close()
		}()
	}
	trusted, err := app.ParseTrustedProxies(*proxies)
	if err != nil {
		return usageError{err}
	}
	app.TuneGC()
	logger := newLogger(stderr)
	config := common.config(logger)
	config.HTTPAddr = *httpAddr
	config.TrustedProxies = trusted
	config.PublicURL = *publicURL
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pochta, err := app.Open(ctx, config)
	if err != nil {
		return err
	}
	defer pochta.Close()
	password, err := pochta.Service.Bootstrap(ctx, os.Getenv("POCHTA_ADMIN_PASSWORD"))
	if err != nil {
		return err
	}
	if password != "" && os.Getenv("POCHTA_ADMIN_PASSWORD") == "" {
		fmt.Fprintf(stderr, "\nFirst start: sign in as user \"admin\" with password %q\n(shown only now; change it under Profile)\n\n", password)
	}
	// The first start hashed a password with argon2id (32 MB); hand that
	// memory back before idling.
	debug.FreeOSMemory()
	return pochta.Serve(ctx, nil)
}
