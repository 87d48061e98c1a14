package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MessageFilter narrows [Store.Messages]. Zero fields do not filter.
type MessageFilter struct {
	IDs        []int64
	MailboxIDs []int64 // any of these; a non-nil empty slice matches nothing
	Query      string  // a search as people type it, operators included (ParseSearch)
	From       string  // words in the sender (from, reply-to)
	To         string  // words in the recipients (to, cc, bcc)
	Subject    string  // words in the subject
	Text       string  // words in the body
	Spam       string  // "yes", "no", "unknown"
	Read       *bool
	// HasAttachments: only messages with (true) or without (false) files
	// attached; inline images of HTML are not counted (AttachmentCount).
	HasAttachments *bool
	Since          time.Time
	Until          time.Time
	// Location is the zone the days of the search's before: and after:
	// are read in (the reader's); nil is UTC.
	Location *time.Location
}

// MessageSort orders [Store.Messages].
type MessageSort struct {
	Column    string // "date" (default), "received_at", "size", "id"
	Ascending bool
}

// direction is the order's SQL keyword.
func (o MessageSort) direction() string {
	if o.Ascending {
		return "ASC"
	}
	return "DESC"
}

// listStatementSeen, when a test sets it, is given each message list's
// statement (with ? placeholders) and its arguments before it runs.
var listStatementSeen func(statement string, args []any)

var messageSortColumns = map[string]string{"date": "m.date", "received_at": "m.received_at", "size": "m.size", "id": "m.id"}

// MessagePage is one page of messages.
type MessagePage struct {
	Items      []Message
	NextCursor string
}

func encodeMessageCursor(value, id int64) string {
	raw, _ := json.Marshal(messageCursor{Value: value, ID: id})
	return base64.RawURLEncoding.EncodeToString(raw)
}

// MessageCursor is the cursor of a list ordered by column that continues
// right after m: the next page of [Store.Messages] starts at the message
// that follows m (the previous one, with the order reversed).
func MessageCursor(m Message, column string) string {
	value := micros(m.Date)
	switch column {
	case "received_at":
		value = micros(m.ReceivedAt)
	case "size":
		value = m.Size
	case "id":
		value = m.ID
	}
	return encodeMessageCursor(value, m.ID)
}

type messageCursor struct {
	Value int64 `json:"v"`
	ID    int64 `json:"id"`
}

// Messages lists a page of messages, newest first by default. Paging is by
// keyset (sort value, id), so a deep page costs what the first does.
func (s *Store) Messages(ctx context.Context, filter MessageFilter, order MessageSort, cursor string, limit int) (MessagePage, error) {
	var page MessagePage
	column, ok := messageSortColumns[order.Column]
	if !ok {
		column = "m.date"
	}
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	var where []condition
	if filter.MailboxIDs != nil {
		if len(filter.MailboxIDs) == 0 {
			return page, nil
		}
		c := condition{sql: "m.mailbox_id IN (" + placeholders(len(filter.MailboxIDs)) + ")", kind: mailboxCondition}
		for _, id := range filter.MailboxIDs {
			c.args = append(c.args, id)
		}
		where = append(where, c)
	}
	if len(filter.IDs) > 0 {
		c := condition{sql: "m.id IN (" + placeholders(len(filter.IDs)) + ")"}
		for _, id := range filter.IDs {
			c.args = append(c.args, id)
		}
		where = append(where, c)
	}
	if filter.Spam != "" {
		where = append(where, condition{sql: "m.spam = ?", args: []any{filter.Spam}})
	}
	if filter.Read != nil {
		where = append(where, condition{sql: "m.is_read = ?", args: []any{*filter.Read}})
	}
	if filter.HasAttachments != nil {
		if *filter.HasAttachments {
			where = append(where, condition{sql: "m.attachment_count > 0", kind: attachmentCondition})
		} else {
			where = append(where, condition{sql: "m.attachment_count = 0"})
		}
	}
	if !filter.Since.IsZero() {
		where = append(where, condition{sql: "m.date >= ?", args: []any{micros(filter.Since)}, kind: dateCondition})
	}
	if !filter.Until.IsZero() {
		where = append(where, condition{sql: "m.date < ?", args: []any{micros(filter.Until)}, kind: dateCondition})
	}
	query := ParseSearchIn(filter.Query, filter.Location)
	for _, part := range []struct{ text, field string }{{filter.From, "from"}, {filter.To, "to"}, {filter.Subject, "subject"}, {filter.Text, "body"}} {
		// The list's own fields: words in one part of the message, read
		// as the operators of the same names are.
		if words := searchTerms(part.text); len(words) > 0 {
			item := SearchItem{Field: part.field, Words: words, Whole: part.field == "from" || part.field == "to"}
			query.Groups = append(query.Groups, []SearchItem{item})
		}
	}
	search := s.searchSQL(query)
	where = append(where, search.where...)
	from := "messages m"
	var searchQuery string          // PostgreSQL: the tsquery of the hits CTE
	orderPrefix := ""               // PostgreSQL: leads the walk of a frequent word to the mailbox's date index
	customPlan := false             // PostgreSQL: the statement is planned for its values each time (queryCustomPlan)
	var walkIndex, walkMatch string // SQLite: the walk of a frequent search (walkSearch)
	var walkServed conditionKind    // SQLite: the condition its partial index serves
	if search.match != "" {
		frequent := s.frequentSearch(ctx, filter, column, search)
		switch {
		case s.dialect == SQLite:
			if frequent {
				walkIndex, walkServed, _ = sqliteWalkIndex(filter, search)
				walkMatch = search.match
			} else {
				where = append(where, condition{sql: "m.id IN (SELECT rowid FROM " + searchTable + " WHERE " + searchTable + " MATCH ?)", args: []any{search.match}})
			}
		case frequent:
			// PostgreSQL walks the date index by itself here, testing
			// each row's vector, as its statistics of the vectors'
			// lexemes tell it a frequent word fills the page soon.
			where = append(where, condition{sql: "m.search @@ CAST(? AS tsquery)", args: []any{search.match}})
			// The walk is right for this word and these dates only: a
			// generic plan of the cached statement would not know them
			// and takes the GIN matches (see queryCustomPlan).
			customPlan = true
			if len(filter.MailboxIDs) == 1 {
				// The mailbox as a range and first in the order, so that
				// the walk takes the mailbox's own date index and meets
				// only its rows: as an equality the planner drops it from
				// the order and walks all mailboxes' dates (four times
				// the rows at four mailboxes). The mailbox's condition is
				// the first (see above). The statement is planned for its
				// values (customPlan), so the planner sees the range is one
				// mailbox. The mailbox goes in the order's own direction:
				// the index is ascending (migration 0035), walked backwards
				// for newest first, and a mailbox ascending before dates
				// descending is an order no walk of it gives (a sort of the
				// mailbox's every match: 0.3-1.7 s at 1,000,000 messages).
				mailbox := filter.MailboxIDs[0]
				where[0] = condition{sql: "m.mailbox_id BETWEEN ? AND ?", args: []any{mailbox, mailbox}, kind: mailboxCondition}
				orderPrefix = "m.mailbox_id " + order.direction() + ", "
			}
		default:
			// The matches come from the GIN index first, behind a
			// materialized CTE: left to itself, PostgreSQL walks the date
			// index and tests every row, hoping to fill the page early,
			// which for a rare word reads the whole table (2 s at
			// 1,000,000 messages). The statement is made below. It too
			// is planned for its values: a generic plan does not know how
			// rare the word is, guesses 5,000 matches for any, and then
			// takes them with every entry of the mailbox's date index
			// (a BitmapAnd of 250,000 entries for a word of 823 matches in
			// one mailbox at 1,000,000 messages: 130 ms, against 7 ms
			// for its custom plan, which tests the mailbox on the matches).
			searchQuery = search.match
			customPlan = true
		}
	}
	direction, compare := order.direction(), "<"
	if order.Ascending {
		compare = ">"
	}
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		var position messageCursor
		if err == nil {
			err = json.Unmarshal(raw, &position)
		}
		if err != nil {
			return page, fmt.Errorf("messages: %w", ErrBadCursor)
		}
		// A row value, so that both backends seek the (column, id) index
		// to the cursor instead of walking it from the start.
		where = append(where, condition{sql: "(" + column + ", m.id) " + compare + " (?, ?)", args: []any{position.Value, position.ID}, kind: cursorCondition})
	}
	if walkIndex != "" {
		return s.walkSearch(ctx, walkIndex, walkServed, where, walkMatch, direction, compare, limit)
	}
	conditions, args := joinConditions(where)
	statement := `SELECT ` + messageColumns + `, ` + column + ` FROM ` + from
	if searchQuery != "" {
		// The GIN matches are tested against every other condition in the
		// one visit of their heap rows that the bitmap makes, and sorted
		// by their sort value and ID alone; only the page's rows are then
		// read whole. Joining all matches to the table by ID instead cost
		// a second lookup per match: 10,000 for a frequent word with a
		// condition that made it rare (is:unread), 200-1,700 ms.
		hits := "m.search @@ CAST(? AS tsquery)"
		if conditions != "" {
			hits += " AND " + conditions
		}
		statement = `WITH hits AS MATERIALIZED (SELECT m.id, ` + column + ` AS sort_value FROM messages m WHERE ` +
			hits + `), page AS (SELECT id, sort_value FROM hits ORDER BY sort_value ` + direction +
			`, id ` + direction + ` LIMIT ?) SELECT ` + messageColumns + `, ` + column + ` FROM page JOIN messages m ON m.id = page.id` +
			` ORDER BY page.sort_value ` + direction + `, page.id ` + direction
		args = append(append([]any{searchQuery}, args...), limit+1)
	} else {
		if conditions != "" {
			statement += " WHERE " + conditions
		}
		statement += " ORDER BY " + orderPrefix + column + " " + direction + ", m.id " + direction + " LIMIT ?"
		args = append(args, limit+1)
	}
	run := s.query
	if customPlan {
		run = s.queryCustomPlan
	}
	if listStatementSeen != nil {
		listStatementSeen(statement, args)
	}
	rows, err := run(ctx, statement, args...)
	if err != nil {
		return page, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var sortValues []int64
	for rows.Next() {
		var value int64
		m, err := scanMessage(rows, false, &value)
		if err != nil {
			return page, fmt.Errorf("list messages: %w", err)
		}
		page.Items, sortValues = append(page.Items, m), append(sortValues, value)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list messages: %w", err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = encodeMessageCursor(sortValues[limit-1], page.Items[limit-1].ID)
	}
	return page, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
