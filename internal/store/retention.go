package store

import (
	"context"
	"fmt"
	"time"
)

// MessagesOlderThan lists the IDs of a mailbox's messages received before a
// time, at most limit of them (for retention, which deletes in batches).
func (s *Store) MessagesOlderThan(ctx context.Context, mailboxID int64, before time.Time, limit int) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT id FROM messages WHERE mailbox_id = ? AND received_at < ? ORDER BY id LIMIT ?`, mailboxID, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("old messages of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// MailboxesWithRetention lists the active and inactive mailboxes that keep
// messages for a limited number of days.
func (s *Store) MailboxesWithRetention(ctx context.Context) ([]Mailbox, error) {
	list, err := s.mailboxList(ctx, `WHERE m.keep_days > 0 ORDER BY m.id`)
	if err != nil {
		return nil, fmt.Errorf("mailboxes with retention: %w", err)
	}
	return list, nil
}
