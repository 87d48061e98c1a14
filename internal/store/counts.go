package store

import (
	"context"
	"database/sql"
	"fmt"
)

// mailboxCounts is a change to a mailbox's message counts.
type mailboxCounts struct{ total, unread int64 }

// adjustCounts applies count changes to mailboxes within a transaction.
func (s *Store) adjustCounts(ctx context.Context, tx *sql.Tx, changes map[int64]*mailboxCounts) error {
	for mailbox, change := range changes {
		if change.total == 0 && change.unread == 0 {
			continue
		}
		if _, err := s.execOn(ctx, tx, addCounts, change.total, change.unread, mailbox); err != nil {
			return fmt.Errorf("mailbox counts: %w", err)
		}
	}
	return nil
}

// countsOf gives, per mailbox, how many of the messages ids (that match
// the condition, if any) there are and how many of them are unread.
func (s *Store) countsOf(ctx context.Context, tx *sql.Tx, ids []any, condition string, conditionArgs ...any) (map[int64]*mailboxCounts, error) {
	query := `SELECT mailbox_id, COUNT(*), COALESCE(SUM(CASE WHEN is_read THEN 0 ELSE 1 END), 0) FROM messages WHERE id IN (` + placeholders(len(ids)) + `)`
	if condition != "" {
		query += " AND " + condition
	}
	rows, err := s.queryOn(ctx, tx, query+` GROUP BY mailbox_id`, append(append([]any{}, ids...), conditionArgs...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[int64]*mailboxCounts{}
	for rows.Next() {
		var mailbox int64
		c := &mailboxCounts{}
		if err := rows.Scan(&mailbox, &c.total, &c.unread); err != nil {
			return nil, err
		}
		counts[mailbox] = c
	}
	return counts, rows.Err()
}
