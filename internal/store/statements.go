package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlitecodes "modernc.org/sqlite/lib"
)

// querier is what a statement runs on: the database, or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// execOn runs a statement on the database or a transaction: its text
// arguments checked (the same refusal on both backends, inside a
// transaction as outside) and its placeholders rebound.
// A statement the store prepared at open (prepareInsertStatements) runs
// prepared, on the connection it runs on; any other is parsed each time.
func (s *Store) execOn(ctx context.Context, on querier, query string, args ...any) (sql.Result, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	query = s.rebind(query)
	if prepared := s.preparedOn(ctx, on, query); prepared != nil {
		return prepared.ExecContext(ctx, args...)
	}
	return on.ExecContext(ctx, query, args...)
}

// queryOn is execOn for a query that gives rows.
func (s *Store) queryOn(ctx context.Context, on querier, query string, args ...any) (*sql.Rows, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	query = s.rebind(query)
	if prepared := s.preparedOn(ctx, on, query); prepared != nil {
		return prepared.QueryContext(ctx, args...)
	}
	return on.QueryContext(ctx, query, args...)
}

// queryRowOn is execOn for a query of one row. A text argument that cannot
// be stored cannot match a stored row either, so it gives sql.ErrNoRows.
func (s *Store) queryRowOn(ctx context.Context, on querier, query string, args ...any) rowScanner {
	if checkText(args) != nil {
		return failedRow{err: sql.ErrNoRows}
	}
	query = s.rebind(query)
	if prepared := s.preparedOn(ctx, on, query); prepared != nil {
		return prepared.QueryRowContext(ctx, args...)
	}
	return on.QueryRowContext(ctx, query, args...)
}

// preparedOn gives the store's statement prepared at open for query, as it
// runs on the database or in the transaction (database/sql prepares it on
// a connection the first time it runs there, and closes a transaction's
// use of it with the transaction), or nil when the store has none. It never
// prepares: preparing on the pool inside a transaction could wait for a
// connection that writers waiting for this transaction's lock hold.
func (s *Store) preparedOn(ctx context.Context, on querier, query string) *sql.Stmt {
	prepared := s.statements.lookup(query)
	if prepared == nil {
		return nil
	}
	switch on := on.(type) {
	case *sql.Tx:
		return on.StmtContext(ctx, prepared)
	case *sql.DB:
		if on == s.db {
			return prepared
		}
	}
	return nil
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.execOn(ctx, s.db, query, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.queryOn(ctx, s.db, query, args...)
}

// queryCustomPlan is query for a statement whose right plan depends on its
// arguments' values. On PostgreSQL it runs as an unnamed statement, planned
// for the values it is given each time: pgx otherwise prepares and caches
// every statement, and after five executions PostgreSQL may plan a cached
// one once for any values (a generic plan). A search that walks a date index
// is such a statement: the walk is right for a frequent word only, and a
// generic plan does not know the word (auto_explain showed "квитанция
// is:unread" in one mailbox planned as a BitmapAnd of 10,000 GIN matches with
// 35,715 unread rows from its sixth run on, 30-65 ms against the walk's 8).
// The cost is a parse and a plan each time, a fraction of a millisecond.
func (s *Store) queryCustomPlan(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s.dialect == Postgres {
		// The first argument of a pgx query may be its mode; the stdlib
		// driver passes it through to pgx.
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	return s.query(ctx, query, args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	return s.queryRowOn(ctx, s.db, query, args...)
}

// queryPrepared is query for a statement run so often that parsing it
// each time shows (the spam rating's word counts on every received
// message: SQLite's parser was a third of that query's CPU). The
// statement is prepared once per store; database/sql prepares it again on
// each connection it runs on, once.
func (s *Store) queryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	statement, err := s.statements.get(ctx, s.db, s.rebind(query))
	if err != nil {
		return nil, err
	}
	return statement.QueryContext(ctx, args...)
}

// preparedStatements are a store's statements prepared once, by text.
type preparedStatements struct {
	mu     sync.Mutex
	byText map[string]*sql.Stmt
}

func (p *preparedStatements) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	statement, ok := p.byText[query]
	p.mu.Unlock()
	if ok {
		return statement, nil
	}
	// Prepared without the lock: preparing takes a pooled connection,
	// which may wait (for a writer's transaction, say), and the other
	// callers must not queue behind it on a lock that ignores their
	// contexts.
	statement, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if earlier, ok := p.byText[query]; ok {
		statement.Close() // another caller's came first
		return earlier, nil
	}
	if p.byText == nil {
		p.byText = make(map[string]*sql.Stmt)
	}
	p.byText[query] = statement
	return statement, nil
}

// lookup gives the statement prepared for query, or nil when there is none
// yet (it prepares nothing, so it never waits for a connection).
func (p *preparedStatements) lookup(query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byText[query]
}

func (p *preparedStatements) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, statement := range p.byText {
		statement.Close()
	}
	p.byText = nil
}

// rowScanner is what queryRow gives: a *sql.Row, or a row that fails.
type rowScanner interface{ Scan(dest ...any) error }

type failedRow struct{ err error }

func (r failedRow) Scan(...any) error { return r.err }

// insert runs an INSERT ... RETURNING id and gives the new id. Both SQLite
// (3.35 and later) and PostgreSQL support RETURNING.
func (s *Store) insert(ctx context.Context, query string, args ...any) (int64, error) {
	if err := checkText(args); err != nil {
		return 0, err
	}
	var id int64
	err := s.db.QueryRowContext(ctx, s.rebind(query+" RETURNING id"), args...).Scan(&id)
	return id, mapError(err)
}

// inTx runs fn in a transaction, committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapError(err))
	}
	return nil
}

// postgresUniqueViolation is PostgreSQL's SQLSTATE for a broken unique or
// primary key constraint.
const postgresUniqueViolation = "23505"

// mapError turns driver errors into the store's sentinel errors, by the
// drivers' error codes (their texts change between versions and locales).
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// isUniqueViolation tells whether err is a driver's refusal of a row that
// would break a unique or primary key constraint.
func isUniqueViolation(err error) bool {
	var postgresError *pgconn.PgError
	if errors.As(err, &postgresError) {
		return postgresError.Code == postgresUniqueViolation
	}
	var sqliteError *sqlite.Error
	if errors.As(err, &sqliteError) {
		// The connection reports extended result codes.
		code := sqliteError.Code()
		return code == sqlitecodes.SQLITE_CONSTRAINT_UNIQUE || code == sqlitecodes.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// postgresForeignKeyViolation is PostgreSQL's SQLSTATE for a row that names
// a missing row of another table.
const postgresForeignKeyViolation = "23503"

// foreignKeyNotFound turns the drivers' refusal of a row that names a
// missing row (a rule of a deleted mailbox) into ErrNotFound; other errors
// pass as they are.
func foreignKeyNotFound(err error) error {
	if err == nil {
		return nil
	}
	var postgresError *pgconn.PgError
	if errors.As(err, &postgresError) && postgresError.Code == postgresForeignKeyViolation {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var sqliteError *sqlite.Error
	if errors.As(err, &sqliteError) && sqliteError.Code() == sqlitecodes.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
