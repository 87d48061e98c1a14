package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NewJob is follow-up work on a new message (its rules, its spam rating, a
// webhook...), written in the transaction that stores the message (see
// [NewMessage.Jobs]), so that a stored message never lacks the work it was
// due, whatever crashes.
type NewJob struct {
	Kind    string
	Payload []byte    // JSON chosen by the caller for its kind
	RunAt   time.Time // not before; zero: at once
}

// Job is a stored job.
type Job struct {
	ID          int64
	Kind        string
	MailboxID   int64 // 0: none
	MessageID   int64 // 0: none, or the message was deleted
	Payload     []byte
	State       string // "pending" when written
	Attempts    int
	RunAt       time.Time
	LeaseHolder string
	LeaseUntil  time.Time
	LastError   string
	CreatedAt   time.Time
}

// JobFilter narrows [Store.Jobs]. Zero fields do not filter.
type JobFilter struct {
	Kind      string
	MailboxID int64
	MessageID int64
}

// Jobs lists jobs in the order they were written. It is the minimal read
// that tests need; the runner that takes and leases jobs comes later.
func (s *Store) Jobs(ctx context.Context, filter JobFilter) ([]Job, error) {
	var where []string
	var args []any
	if filter.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, filter.Kind)
	}
	if filter.MailboxID != 0 {
		where, args = append(where, "mailbox_id = ?"), append(args, filter.MailboxID)
	}
	if filter.MessageID != 0 {
		where, args = append(where, "message_id = ?"), append(args, filter.MessageID)
	}
	query := `SELECT id, kind, mailbox_id, message_id, payload, state, attempts, run_at, lease_holder, lease_until, last_error, created_at FROM jobs`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.query(ctx, query+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		var job Job
		var mailbox, message, leaseUntil sql.NullInt64
		var runAt, createdAt int64
		if err := rows.Scan(&job.ID, &job.Kind, &mailbox, &message, &job.Payload, &job.State, &job.Attempts, &runAt,
			&job.LeaseHolder, &leaseUntil, &job.LastError, &createdAt); err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		job.MailboxID, job.MessageID = mailbox.Int64, message.Int64
		job.RunAt, job.LeaseUntil, job.CreatedAt = fromMicros(runAt), nullMicros(leaseUntil), fromMicros(createdAt)
		jobs = append(jobs, job)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, nil
}

// Job states.
const (
	JobPending = "pending" // waiting for its run time
	JobRunning = "running" // claimed by a runner until its lease ends
	JobDone    = "done"
	JobFailed  = "failed" // given up: LastError says why
)

// AddJobs writes jobs about a stored message (rules applied by hand), in
// one transaction.
func (s *Store) AddJobs(ctx context.Context, mailboxID, messageID int64, jobs []NewJob) error {
	if len(jobs) == 0 {
		return nil
	}
	now := s.clock()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, job := range jobs {
			if err := checkText([]any{job.Kind}); err != nil {
				return fmt.Errorf("add job: %w", err)
			}
			runAt := job.RunAt
			if runAt.IsZero() {
				runAt = now
			}
			if _, err := s.execOn(ctx, tx, `INSERT INTO jobs (kind, mailbox_id, message_id, payload, run_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				job.Kind, optionalID(mailboxID), optionalID(messageID), job.Payload, micros(runAt), micros(now)); err != nil {
				return fmt.Errorf("add job: %w", foreignKeyNotFound(mapError(err)))
			}
		}
		return nil
	})
}

const jobColumnsRead = `id, kind, mailbox_id, message_id, payload, state, attempts, run_at, lease_holder, lease_until, last_error, created_at`

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var job Job
	var mailbox, message, leaseUntil sql.NullInt64
	var runAt, createdAt int64
	if err := row.Scan(&job.ID, &job.Kind, &mailbox, &message, &job.Payload, &job.State, &job.Attempts, &runAt,
		&job.LeaseHolder, &leaseUntil, &job.LastError, &createdAt); err != nil {
		return job, mapError(err)
	}
	job.MailboxID, job.MessageID = mailbox.Int64, message.Int64
	job.RunAt, job.LeaseUntil, job.CreatedAt = fromMicros(runAt), nullMicros(leaseUntil), fromMicros(createdAt)
	return job, nil
}

// ClaimJob takes the next job that is due (pending with its run time
// come, or running under a lease that expired: its runner died) for holder
// until now+lease, counting an attempt, and gives it; ok is false when
// none is due. Claiming is one statement, so two runners, in one process
// or in several sharing the database, never hold the same job: on SQLite
// the write transaction serialises them, on PostgreSQL the row is locked
// and others skip it (SKIP LOCKED).
func (s *Store) ClaimJob(ctx context.Context, holder string, lease time.Duration) (job Job, ok bool, err error) {
	now := s.clock()
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	row := s.queryRow(ctx, `UPDATE jobs SET state = 'running', lease_holder = ?, lease_until = ?, attempts = attempts + 1
		WHERE id = (SELECT id FROM jobs WHERE (state = 'pending' AND run_at <= ?) OR (state = 'running' AND lease_until <= ?)
			ORDER BY run_at, id LIMIT 1`+lock+`)
		AND ((state = 'pending' AND run_at <= ?) OR (state = 'running' AND lease_until <= ?))
		RETURNING `+jobColumnsRead, holder, micros(now.Add(lease)), micros(now), micros(now), micros(now), micros(now))
	job, err = scanJob(row)
	if errors.Is(err, ErrNotFound) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	return job, true, nil
}

// FinishJob records the end of a job holder holds: done, failed (given up)
// or pending again at runAt (a retry), with the error of the attempt. A
// job whose lease holder lost it (it expired and another runner took it)
// is not changed: ErrNotFound.
func (s *Store) FinishJob(ctx context.Context, id int64, holder, state string, runAt time.Time, lastError string) error {
	switch state {
	case JobDone, JobFailed, JobPending:
	default:
		return fmt.Errorf("finish job %d: state %q", id, state)
	}
	if runAt.IsZero() {
		runAt = s.clock()
	}
	if !storableText(lastError) {
		lastError = strings.ToValidUTF8(strings.ReplaceAll(lastError, "\x00", ""), "?")
	}
	result, err := s.exec(ctx, `UPDATE jobs SET state = ?, run_at = ?, last_error = ?, lease_holder = '', lease_until = NULL
		WHERE id = ? AND state = 'running' AND lease_holder = ?`, state, micros(runAt), lastError, id, holder)
	if err != nil {
		return fmt.Errorf("finish job %d: %w", id, err)
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("finish job %d: %w", id, ErrNotFound)
	}
	return nil
}

// UnfinishedJobs counts a message's jobs that are pending or running,
// other than those of kind except.
func (s *Store) UnfinishedJobs(ctx context.Context, messageID int64, except string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM jobs WHERE message_id = ? AND kind <> ? AND state IN ('pending', 'running')`,
		messageID, except).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unfinished jobs of message %d: %w", messageID, err)
	}
	return n, nil
}
