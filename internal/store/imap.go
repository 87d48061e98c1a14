package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// IMAPFolder is the sync cursor of one folder of an IMAP mailbox.
type IMAPFolder struct {
	Name          string
	Role          string // special-use role without the backslash ("Sent", "Trash"...), "" for none
	UIDValidity   uint32
	LastUID       uint32 // the highest UID fetched (or skipped) so far
	HighestModSeq uint64 // CONDSTORE: the folder's HIGHESTMODSEQ when last synced (0: not offered)
	SyncedSince   time.Time
	// SyncedAll: the folder's messages were fetched whatever their date
	// (SyncedSince is then zero).
	SyncedAll bool
}

// IMAPFolders gives the cursors of a mailbox's folders by name.
func (s *Store) IMAPFolders(ctx context.Context, mailboxID int64) (map[string]IMAPFolder, error) {
	rows, err := s.query(ctx, `SELECT name, role, uidvalidity, last_uid, highest_modseq, synced_since FROM imap_folders WHERE mailbox_id = ?`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("imap folders of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	folders := map[string]IMAPFolder{}
	for rows.Next() {
		var f IMAPFolder
		var validity, last, modseq, since int64
		if err := rows.Scan(&f.Name, &f.Role, &validity, &last, &modseq, &since); err != nil {
			return nil, err
		}
		f.UIDValidity, f.LastUID, f.HighestModSeq = uint32(validity), uint32(last), uint64(modseq)
		if since < 0 {
			f.SyncedAll = true
		} else if since > 0 {
			f.SyncedSince = fromMicros(since)
		}
		folders[f.Name] = f
	}
	return folders, rows.Err()
}

// SaveIMAPFolder records a folder's cursor.
func (s *Store) SaveIMAPFolder(ctx context.Context, mailboxID int64, f IMAPFolder) error {
	since := int64(0)
	switch {
	case f.SyncedAll:
		since = -1
	case !f.SyncedSince.IsZero():
		since = micros(f.SyncedSince)
	}
	_, err := s.exec(ctx, `INSERT INTO imap_folders (mailbox_id, name, role, uidvalidity, last_uid, highest_modseq, synced_since)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (mailbox_id, name) DO UPDATE SET role = excluded.role, uidvalidity = excluded.uidvalidity,
		last_uid = excluded.last_uid, highest_modseq = excluded.highest_modseq, synced_since = excluded.synced_since`,
		mailboxID, f.Name, f.Role, int64(f.UIDValidity), int64(f.LastUID), int64(f.HighestModSeq), since)
	if err != nil {
		return fmt.Errorf("save imap folder %q of mailbox %d: %w", f.Name, mailboxID, mapError(err))
	}
	return nil
}

// ResetIMAPFolder forgets a folder's UIDs and cursor (its UIDVALIDITY
// changed, so its UIDs name other messages now). The messages stay: a
// resync finds them again by their content.
func (s *Store) ResetIMAPFolder(ctx context.Context, mailboxID int64, name string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.execOn(ctx, tx, `DELETE FROM mailbox_uids WHERE mailbox_id = ? AND folder = ?`, mailboxID, name); err != nil {
			return err
		}
		_, err := s.execOn(ctx, tx, `DELETE FROM imap_folders WHERE mailbox_id = ? AND name = ?`, mailboxID, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset imap folder %q of mailbox %d: %w", name, mailboxID, err)
	}
	return nil
}

// IMAPUID is a server UID of an IMAP folder as Pochta knows it.
type IMAPUID struct {
	UID       uint32
	MessageID int64 // 0: no message (deleted in Pochta, or dropped by a judge)
	Seen      bool  // the \Seen flag last agreed with the server
	Deleted   bool  // the message was deleted in Pochta
	Read      bool  // the message's read flag (when MessageID is set)
}

// IMAPUIDs gives the known UIDs of a folder.
func (s *Store) IMAPUIDs(ctx context.Context, mailboxID int64, folder string) (map[uint32]IMAPUID, error) {
	return s.imapUIDs(ctx, mailboxID, folder, "")
}

// IMAPPendingUIDs gives the UIDs of a folder with a change made in Pochta
// that the server has not had yet: a message read or unread since the flag
// last agreed, or deleted. A sync that finds the folder unchanged on the
// server reads only these.
func (s *Store) IMAPPendingUIDs(ctx context.Context, mailboxID int64, folder string) (map[uint32]IMAPUID, error) {
	return s.imapUIDs(ctx, mailboxID, folder, ` AND (u.deleted = TRUE OR (m.id IS NOT NULL AND m.is_read <> u.seen))`)
}

func (s *Store) imapUIDs(ctx context.Context, mailboxID int64, folder, condition string) (map[uint32]IMAPUID, error) {
	rows, err := s.query(ctx, `SELECT u.uid, COALESCE(m.id, 0), u.seen, u.deleted, COALESCE(m.is_read, FALSE)
		FROM mailbox_uids u LEFT JOIN messages m ON m.id = u.message_id WHERE u.mailbox_id = ? AND u.folder = ?`+condition, mailboxID, folder)
	if err != nil {
		return nil, fmt.Errorf("imap uids of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	known := map[uint32]IMAPUID{}
	for rows.Next() {
		var text string
		var u IMAPUID
		if err := rows.Scan(&text, &u.MessageID, &u.Seen, &u.Deleted, &u.Read); err != nil {
			return nil, err
		}
		uid, err := strconv.ParseUint(text, 10, 32)
		if err != nil || uid == 0 {
			continue // not an IMAP UID
		}
		u.UID = uint32(uid)
		known[u.UID] = u
	}
	return known, rows.Err()
}

// SetIMAPSeen records the \Seen flag agreed with the server for UIDs of a
// folder (the messages' own read flags are set with SetMessagesRead).
func (s *Store) SetIMAPSeen(ctx context.Context, mailboxID int64, folder string, uids []uint32, seen bool) error {
	for start := 0; start < len(uids); start += 500 {
		chunk := uids[start:min(start+500, len(uids))]
		args := []any{seen, mailboxID, folder}
		for _, uid := range chunk {
			args = append(args, strconv.FormatUint(uint64(uid), 10))
		}
		if _, err := s.exec(ctx, `UPDATE mailbox_uids SET seen = ? WHERE mailbox_id = ? AND folder = ? AND uid IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return fmt.Errorf("imap seen flags of mailbox %d: %w", mailboxID, mapError(err))
		}
	}
	return nil
}

// ForgetIMAPUIDs forgets UIDs gone from a folder (expunged on the server,
// or moved to Trash by Pochta) and deletes the messages that no other
// folder holds any more, leaving no tombstone: the server deleted them, not
// the owner in Pochta. It reports how many messages were deleted.
func (s *Store) ForgetIMAPUIDs(ctx context.Context, mailboxID int64, folder string, uids []uint32) (int64, error) {
	var deleted int64
	for start := 0; start < len(uids); start += 500 {
		chunk := uids[start:min(start+500, len(uids))]
		args := []any{mailboxID, folder}
		for _, uid := range chunk {
			args = append(args, strconv.FormatUint(uint64(uid), 10))
		}
		in := `uid IN (` + placeholders(len(chunk)) + `)`
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			rows, err := s.queryOn(ctx, tx, `SELECT DISTINCT message_id FROM mailbox_uids WHERE mailbox_id = ? AND folder = ? AND message_id IS NOT NULL AND `+in, args...)
			if err != nil {
				return err
			}
			var messages []any
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				messages = append(messages, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if _, err := s.execOn(ctx, tx, `DELETE FROM mailbox_uids WHERE mailbox_id = ? AND folder = ? AND `+in, args...); err != nil {
				return err
			}
			if len(messages) == 0 {
				return nil
			}
			// A message another folder still holds (a copy, or the new
			// place of a moved message) stays.
			rows, err = s.queryOn(ctx, tx, `SELECT DISTINCT message_id FROM mailbox_uids WHERE message_id IN (`+placeholders(len(messages))+`)`, messages...)
			if err != nil {
				return err
			}
			held := map[int64]bool{}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				held[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			var orphans []any
			for _, id := range messages {
				if !held[id.(int64)] {
					orphans = append(orphans, id)
				}
			}
			if len(orphans) == 0 {
				return nil
			}
			n, err := s.deleteMessagesOn(ctx, tx, orphans)
			deleted += n
			return err
		})
		if err != nil {
			return deleted, fmt.Errorf("forget imap uids of mailbox %d: %w", mailboxID, err)
		}
	}
	return deleted, nil
}

// IMAPTombstones gives the content hashes of the messages deleted in
// Pochta from an IMAP mailbox.
func (s *Store) IMAPTombstones(ctx context.Context, mailboxID int64) (map[string]bool, error) {
	rows, err := s.query(ctx, `SELECT raw_sha256 FROM imap_tombstones WHERE mailbox_id = ?`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("tombstones of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	hashes := map[string]bool{}
	for rows.Next() {
		var hash string
		if err := rows.Scan(&hash); err != nil {
			return nil, err
		}
		hashes[hash] = true
	}
	return hashes, rows.Err()
}

// tombstone records, for the messages of IMAP mailboxes among ids about to
// be deleted, their content hashes and that their server UIDs were deleted
// in Pochta.
func (s *Store) tombstone(ctx context.Context, tx *sql.Tx, ids []any) error {
	args := append([]any{micros(s.clock()), MailboxIMAP}, ids...)
	if _, err := s.execOn(ctx, tx, `INSERT INTO imap_tombstones (mailbox_id, raw_sha256, created_at)
		SELECT DISTINCT m.mailbox_id, m.raw_sha256, CAST(? AS BIGINT) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
		WHERE b.type = ? AND m.raw_sha256 <> '' AND m.id IN (`+placeholders(len(ids))+`)
		ON CONFLICT (mailbox_id, raw_sha256) DO NOTHING`, args...); err != nil {
		return err
	}
	_, err := s.execOn(ctx, tx, `UPDATE mailbox_uids SET deleted = TRUE WHERE message_id IN (`+placeholders(len(ids))+`)`, ids...)
	return err
}

// DueSyncMailboxes lists the active mailboxes of a type whose next check
// is due or was never planned, whatever their check interval (the IMAP
// sync plans every mailbox: by its interval while its owner is active,
// daily otherwise).
func (s *Store) DueSyncMailboxes(ctx context.Context, kind string, now time.Time) ([]Mailbox, error) {
	list, err := s.mailboxList(ctx, `WHERE m.type = ? AND m.active = TRUE
		AND (m.next_check_at IS NULL OR m.next_check_at <= ?) ORDER BY m.next_check_at, m.id`, kind, micros(now))
	if err != nil {
		return nil, fmt.Errorf("due mailboxes: %w", err)
	}
	return list, nil
}

// UserLastSeen is when a user was last seen: the latest of their sign-in
// and their sessions' last requests (zero: never).
func (s *Store) UserLastSeen(ctx context.Context, userID int64) (time.Time, error) {
	var session, login sql.NullInt64
	err := s.queryRow(ctx, `SELECT (SELECT MAX(last_seen_at) FROM sessions WHERE user_id = ?), (SELECT last_login_at FROM users WHERE id = ?)`,
		userID, userID).Scan(&session, &login)
	if err != nil {
		return time.Time{}, fmt.Errorf("last seen of user %d: %w", userID, mapError(err))
	}
	latest := max(session.Int64, login.Int64)
	if latest == 0 {
		return time.Time{}, nil
	}
	return fromMicros(latest), nil
}

// WatchedMailboxes lists the active mailboxes of a type checked at least
// once, with their last outcome (LastErrorReason, FailureStreak): those the
// IMAP sync may hold an IDLE connection for. Which of them it does (those
// that succeeded, or failed for a passing reason) is its decision.
func (s *Store) WatchedMailboxes(ctx context.Context, kind string) ([]Mailbox, error) {
	list, err := s.mailboxList(ctx, `WHERE m.type = ? AND m.active = TRUE AND m.last_check_at IS NOT NULL ORDER BY m.id`, kind)
	if err != nil {
		return nil, fmt.Errorf("watched mailboxes: %w", err)
	}
	return list, nil
}
