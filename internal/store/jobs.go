package store

import (
	"context"
	"database/sql"
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
