package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Work log levels. The web admin colours each one.
const (
	LevelInfo    = "info"
	LevelRequest = "request" // a command sent to a server
	LevelReply   = "reply"   // what the server answered
	LevelError   = "error"
)

// LogEntry is one row of the work log.
type LogEntry struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Level     string    `json:"level"`
	Type      string    `json:"type"`
	Text      string    `json:"text"`
	MailboxID int64     `json:"mailbox_id,omitempty"`
	RuleID    int64     `json:"rule_id,omitempty"`
	MessageID int64     `json:"message_id,omitempty"`
	// Parts is the line in pieces a front end says in its reader's
	// language (see worklog.Say); nil for text as a server or an error
	// said it. A line read back with parts has no Text: the service says
	// it (service.Log, worklog.Text).
	Parts []LogPart `json:"-"`

	// Filled by [Store.Log] for display, not stored: the mailbox's name, and
	// the message's subject and mailbox (0 when the message is gone).
	MailboxName      string `json:"-"`
	MessageSubject   string `json:"-"`
	MessageMailboxID int64  `json:"-"`
}

// LogPart is one piece of a log line: a message catalog key and its
// arguments, or, with no key, its one argument as literal text.
type LogPart struct {
	Key  string
	Args []string
}

// encodeLogParts writes parts as JSON arrays of strings, the key first:
// [["log.receive","Subject","3.4 KB"],["","\n"]].
func encodeLogParts(parts []LogPart) string {
	if len(parts) == 0 {
		return ""
	}
	rows := make([][]string, len(parts))
	for i, part := range parts {
		rows[i] = append([]string{part.Key}, part.Args...)
	}
	encoded, err := json.Marshal(rows)
	if err != nil { // strings always encode
		return ""
	}
	return string(encoded)
}

// decodeLogParts reads encodeLogParts' form; anything else is no parts
// (the line is then shown as its text).
func decodeLogParts(encoded string) []LogPart {
	if encoded == "" {
		return nil
	}
	var rows [][]string
	if err := json.Unmarshal([]byte(encoded), &rows); err != nil {
		return nil
	}
	parts := make([]LogPart, 0, len(rows))
	for _, row := range rows {
		if len(row) == 0 {
			return nil
		}
		part := LogPart{Key: row[0]}
		if len(row) > 1 {
			part.Args = row[1:]
		}
		parts = append(parts, part)
	}
	return parts
}

// AddLog appends entries to the work log in one transaction. An entry with a
// zero time gets the current time.
func (s *Store) AddLog(ctx context.Context, entries ...LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.insertLog(ctx, tx, entries)
	})
}

// logColumns are the values of a work log row as stored.
type logColumns struct {
	time                   int64
	level, kind, text      string
	parts                  string
	mailbox, rule, message int64 // 0: NULL
}

// logRow gives the stored values of an entry; now is the time of an entry
// without one.
func logRow(entry LogEntry, now int64) logColumns {
	at := now
	if !entry.Time.IsZero() {
		at = micros(entry.Time)
	}
	// A line with parts is kept as its parts alone: its text is theirs in
	// English, said again when read (worklog.Text), and keeping both held a
	// received message's subject twice.
	text := entry.Text
	if len(entry.Parts) > 0 {
		text = ""
	}
	return logColumns{time: at, level: entry.Level, kind: entry.Type, text: text, parts: encodeLogParts(entry.Parts),
		mailbox: entry.MailboxID, rule: entry.RuleID, message: entry.MessageID}
}

// insertLog writes entries within a transaction, many rows a statement.
func (s *Store) insertLog(ctx context.Context, tx *sql.Tx, entries []LogEntry) error {
	now := micros(s.clock())
	values := make([]any, 0, 8*len(entries))
	for _, entry := range entries {
		row := logRow(entry, now)
		values = append(values, row.time, row.level, row.kind, row.text, row.parts,
			optionalID(row.mailbox), optionalID(row.rule), optionalID(row.message))
	}
	return inRows(values, 8, func(rows int, values []any) error {
		if _, err := s.execOn(ctx, tx, insertLogRows(rows), values...); err != nil {
			return fmt.Errorf("add log: %w", mapError(err))
		}
		return nil
	})
}

// insertLogRows is the statement that writes rows work log rows.
func insertLogRows(rows int) string {
	return `INSERT INTO log (time, level, type, text, parts, mailbox_id, rule_id, message_id) VALUES ` + rowsOf("(?, ?, ?, ?, ?, ?, ?, ?)", rows)
}

// LogFilter narrows [Store.Log]. Zero fields do not filter.
type LogFilter struct {
	MailboxID int64
	RuleID    int64
	MessageID int64
	Level     string
	// Levels, when not empty, limits the log to any of these levels (the
	// web admin's filter takes several).
	Levels []string
	Since  time.Time
	Until  time.Time
	// MailboxIDs, when not nil, limits the log to these mailboxes (a user's
	// own); an empty non-nil slice matches nothing.
	MailboxIDs []int64
	BeforeID   int64 // keyset paging: entries older than this ID
	Limit      int   // 0 means 100
}

// Log lists work log entries, newest first.
func (s *Store) Log(ctx context.Context, filter LogFilter) ([]LogEntry, error) {
	var where []string
	var args []any
	add := func(clause string, value any) { where, args = append(where, clause), append(args, value) }
	if filter.MailboxID != 0 {
		add("mailbox_id = ?", filter.MailboxID)
	}
	if filter.RuleID != 0 {
		add("rule_id = ?", filter.RuleID)
	}
	if filter.MessageID != 0 {
		add("message_id = ?", filter.MessageID)
	}
	if filter.Level != "" {
		add("level = ?", filter.Level)
	}
	if len(filter.Levels) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(filter.Levels)), ", ")
		where = append(where, "level IN ("+marks+")")
		for _, level := range filter.Levels {
			args = append(args, level)
		}
	}
	if !filter.Since.IsZero() {
		add("time >= ?", micros(filter.Since))
	}
	if !filter.Until.IsZero() {
		add("time < ?", micros(filter.Until))
	}
	if filter.BeforeID != 0 {
		add("id < ?", filter.BeforeID)
	}
	if filter.MailboxIDs != nil {
		if len(filter.MailboxIDs) == 0 {
			return nil, nil
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(filter.MailboxIDs)), ", ")
		where = append(where, "mailbox_id IN ("+marks+")")
		for _, id := range filter.MailboxIDs {
			args = append(args, id)
		}
	}
	page := `SELECT id, time, level, type, text, parts, mailbox_id, rule_id, message_id FROM log`
	if len(where) > 0 {
		page += " WHERE " + strings.Join(where, " AND ")
	}
	limit := filter.Limit
	if limit <= 0 {
		limit = 100
	}
	page += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	// The page is picked first (keyset, by the log's own indexes); only its
	// rows are then joined to the names they show, by primary key.
	query := `SELECT l.id, l.time, l.level, l.type, l.text, l.parts, l.mailbox_id, l.rule_id, l.message_id, mb.name, m.subject, m.mailbox_id
		FROM (` + page + `) l
		LEFT JOIN mailboxes mb ON mb.id = l.mailbox_id
		LEFT JOIN messages m ON m.id = l.message_id
		ORDER BY l.id DESC`
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list log: %w", err)
	}
	defer rows.Close()
	var entries []LogEntry
	for rows.Next() {
		var entry LogEntry
		var at int64
		var mailbox, rule, message, messageMailbox sql.NullInt64
		var mailboxName, subject sql.NullString
		var parts string
		if err := rows.Scan(&entry.ID, &at, &entry.Level, &entry.Type, &entry.Text, &parts, &mailbox, &rule, &message,
			&mailboxName, &subject, &messageMailbox); err != nil {
			return nil, fmt.Errorf("list log: %w", err)
		}
		entry.Time, entry.MailboxID, entry.RuleID, entry.MessageID = fromMicros(at), mailbox.Int64, rule.Int64, message.Int64
		entry.Parts = decodeLogParts(parts)
		entry.MailboxName, entry.MessageSubject, entry.MessageMailboxID = mailboxName.String, subject.String, messageMailbox.Int64
		entries = append(entries, entry)
	}
	return entries, rows.Err()
}

// PurgeLog deletes work log entries older than before and reports how many.
func (s *Store) PurgeLog(ctx context.Context, before time.Time) (int64, error) {
	result, err := s.exec(ctx, `DELETE FROM log WHERE time < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("purge log: %w", err)
	}
	return result.RowsAffected()
}
