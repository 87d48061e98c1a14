package store

import (
	"context"
	"fmt"
)

type uidKey struct {
	mailbox int64
	uid     UID
}

// KnownUIDs gives the UIDs recorded for a mailbox folder.
func (s *Store) KnownUIDs(ctx context.Context, mailboxID int64, folder string) (map[string]bool, error) {
	rows, err := s.query(ctx, `SELECT uid FROM mailbox_uids WHERE mailbox_id = ? AND folder = ?`, mailboxID, folder)
	if err != nil {
		return nil, fmt.Errorf("known uids of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return nil, err
		}
		known[uid] = true
	}
	return known, rows.Err()
}

// PruneUIDs forgets the UIDs of a folder that are not in present (messages
// gone from the server), and reports how many went.
func (s *Store) PruneUIDs(ctx context.Context, mailboxID int64, folder string, present map[string]bool) (int, error) {
	known, err := s.KnownUIDs(ctx, mailboxID, folder)
	if err != nil {
		return 0, err
	}
	var gone []any
	for uid := range known {
		if !present[uid] {
			gone = append(gone, uid)
		}
	}
	for start := 0; start < len(gone); start += 500 {
		batch := gone[start:min(start+500, len(gone))]
		args := append([]any{mailboxID, folder}, batch...)
		if _, err := s.exec(ctx, `DELETE FROM mailbox_uids WHERE mailbox_id = ? AND folder = ? AND uid IN (`+placeholders(len(batch))+`)`, args...); err != nil {
			return 0, fmt.Errorf("prune uids of mailbox %d: %w", mailboxID, err)
		}
	}
	return len(gone), nil
}
