// Package store keeps Pochta's state in a SQL database: SQLite (the embedded
// default, through a pure-Go driver) or PostgreSQL (through pgx).
//
// One implementation serves both backends. Queries are written once with "?"
// placeholders and rewritten for PostgreSQL; the few statements that differ
// between the dialects live beside each other in this package. The schema is
// applied by numbered migrations embedded in the binary (migrations/<dialect>).
//
// Times are kept as Unix microseconds in BIGINT columns so that both dialects
// compare, index and round-trip them identically.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect names a SQL backend.
type Dialect string

// The supported backends.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Errors returned by the store. Callers test them with [errors.Is].
var (
	// ErrNotFound is returned when the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write would break a uniqueness rule.
	ErrConflict = errors.New("conflict")
	// ErrInvalidText is returned for a text argument with a NUL character or
	// invalid UTF-8. PostgreSQL refuses both and SQLite keeps them, so the
	// store refuses them on both, before the database sees them.
	ErrInvalidText = errors.New("text holds a NUL character or invalid UTF-8")
)

// checkText fails with ErrInvalidText when a string argument could not be
// stored the same way on both backends.
func checkText(args []any) error {
	for _, arg := range args {
		switch value := arg.(type) {
		case string:
			if !storableText(value) {
				return ErrInvalidText
			}
		case []string: // an array of a PostgreSQL batch
			for _, text := range value {
				if !storableText(text) {
					return ErrInvalidText
				}
			}
		}
	}
	return nil
}

func storableText(text string) bool { return strings.IndexByte(text, 0) < 0 && utf8.ValidString(text) }

//go:embed migrations
var migrations embed.FS

// Store is a handle to the database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	// statements are the statements prepared once (queryPrepared).
	statements preparedStatements
	// estimates are PostgreSQL's recent row estimates of searches
	// (estimatedMatches).
	estimates estimateMemo
}

// Open connects to the database named by dsn and applies pending migrations.
// A dsn starting with postgres:// or postgresql:// selects PostgreSQL; anything
// else is taken as the path of a SQLite database file, created when missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, 0)
}

// open is Open, applying the migrations up to version upTo (0: all); tests
// of a migration start from the schema before it.
func open(ctx context.Context, dsn string, upTo int) (*Store, error) {
	var s *Store
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
		s = &Store{db: db, dialect: Postgres, now: time.Now}
	} else {
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("open sqlite: %w", err)
			}
		}
		if err := restrictSQLiteFiles(dsn); err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		// WAL lets readers work beside the one writer; synchronous(FULL)
		// makes a committed transaction survive a crash, which the "nothing
		// lost" promise needs; BEGIN IMMEDIATE (txlock) takes the write lock
		// up front so that concurrent writers wait instead of failing.
		// The WAL is copied into the database every 4,000 pages (16 MB)
		// rather than SQLite's 1,000: small commits write the same pages
		// again and again (an index's last leaf, the mailbox's counts, the
		// full-text index's structure), and a longer WAL copies each of
		// them once for more commits (a commit of five messages 6% less
		// CPU, BenchmarkInsertFiveLogged).
		params := "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(15000)&_pragma=wal_autocheckpoint(4000)&_txlock=immediate"
		db, err := sql.Open("sqlite", "file:"+dsn+"?"+params)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		db.SetMaxOpenConns(8)
		// Idle connections kept as many as open ones (database/sql keeps
		// 2): a connection closed on its return loses the statements
		// prepared on it, which queryPrepared would prepare again.
		db.SetMaxIdleConns(8)
		s = &Store{db: db, dialect: SQLite, now: time.Now}
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connect %s: %w", s.dialect, err)
	}
	if err := s.migrate(ctx, upTo); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.Optimize(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if s.dialect == SQLite {
		s.prepareInsertStatements(ctx)
	}
	return s, nil
}

// restrictSQLiteFiles makes the database file at path readable by its owner
// alone, whatever the folder's mode and the umask: it holds mail and
// password hashes. A missing file is created with mode 0600 before SQLite
// opens it (SQLite's own default is 0644), and SQLite gives its -wal and
// -shm files the database file's mode. A database an older version made
// loses group and other access, in all three files; a file of another owner
// keeps what its owner chose, as Pochta may not change it.
func restrictSQLiteFiles(path string) error {
	if path == ":memory:" {
		return nil
	}
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("database file mode: %w", err)
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			if err := os.Chmod(name, mode&^0o077); err != nil && !errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("database file mode: %w", err)
			}
		}
	}
	return nil
}

// Optimize refreshes the query planner's statistics where they are stale.
// SQLite has no background ANALYZE: without statistics it sorts a whole
// table for a list ordered by an indexed column (a page of 10,000 mailboxes
// by name took 3.4 ms instead of 0.05 ms). PostgreSQL's autovacuum does this
// by itself. Run at start and then hourly.
func (s *Store) Optimize(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	// 0x10002: also analyse tables that were never analysed (the first run
	// on a database that grew before this pragma was ever run).
	if _, err := s.db.ExecContext(ctx, `PRAGMA optimize=0x10002`); err != nil {
		return fmt.Errorf("optimize: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.statements.close()
	return s.db.Close()
}

// Dialect reports which backend the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the underlying database handle, for packages of later issues
// that add their own queries and for tests.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SetClock replaces the time source; tests use it.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// migrate applies the embedded migrations that the database has not seen yet,
// each in its own transaction, recording them in schema_migrations.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	dir := "migrations/" + string(s.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %q", name)
		}
		if upTo > 0 && version > upTo {
			break
		}
		var seen int
		if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&seen); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if seen > 0 {
			continue
		}
		body, err := migrations.ReadFile(dir + "/" + name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			for _, statement := range splitStatements(string(body)) {
				if _, err := tx.ExecContext(ctx, statement); err != nil {
					return fmt.Errorf("%s: %w\n%s", name, err, statement)
				}
			}
			_, err := s.execOn(ctx, tx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, micros(s.clock()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// splitStatements splits a migration file on semicolons at line ends. The
// migrations hold no semicolons inside literals, so this is enough.
func splitStatements(body string) []string {
	var out []string
	var current strings.Builder
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		current.WriteString(line)
		current.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(current.String()), ";"))
			current.Reset()
		}
	}
	if strings.TrimSpace(current.String()) != "" {
		out = append(out, current.String())
	}
	return out
}

// rebind rewrites "?" placeholders as $1, $2, ... for PostgreSQL. Queries in
// this package never hold a literal question mark.
func (s *Store) rebind(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// Rebind is [Store.rebind] for packages that add their own queries.
func (s *Store) Rebind(query string) string { return s.rebind(query) }

// micros converts a time to the stored representation.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts a stored time back; zero stays the zero time.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// nullMicros converts a nullable stored time.
func nullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// optionalMicros stores the zero time as NULL.
func optionalMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// optionalID stores 0 as NULL.
func optionalID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// clock gives the current time as the database keeps it: UTC, whole
// microseconds, so that what a create returns equals what a later read gives.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
