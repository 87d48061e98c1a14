package store

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PrepareSearch readies the message's full-text entry (its terms, folded
// and stemmed) and its snippet ahead of the insert, like CompressSource,
// which calls it, so that a bulk importer and the intake's workers do it on
// their parsing goroutines rather than inside the insert's transaction.
func (m *NewMessage) PrepareSearch() {
	if m.Snippet == "" {
		m.Snippet = Snippet(m.Text)
	}
	if m.search == nil {
		filenames := make([]string, 0, len(m.Attachments))
		for _, a := range m.Attachments {
			filenames = append(filenames, a.Filename)
		}
		entry := newSearchEntry(SearchText{Subject: m.Subject, Sender: senderText(&m.Message), Recipients: recipientText(&m.Message),
			Body: m.Text, Filenames: filenames})
		m.search = &entry
	}
}

// searchEntry is the message's full-text entry.
func (m *NewMessage) searchEntry() *searchEntry {
	m.PrepareSearch()
	return m.search
}

// SearchText is what the full-text index holds of a message, as text: its
// subject, sender (from, reply-to), recipients (to, cc, bcc), body text and
// attachment names.
type SearchText struct {
	Subject, Sender, Recipients, Body string
	Filenames                         []string
}

// searchEntry is a message's full-text entry as terms (see terms.go), each
// part its terms once, joined by spaces: the SQLite index's columns as
// they are, and what the PostgreSQL vector is built of.
type searchEntry struct {
	subject, sender, recipients, body, filenames string
}

func newSearchEntry(text SearchText) searchEntry {
	return searchEntry{
		subject:    indexTerms(text.Subject),
		sender:     indexTerms(text.Sender),
		recipients: indexTerms(text.Recipients),
		// The body's distinct pieces first: mail repeats its words, and
		// splitting, folding and stemming each piece once costs a
		// fraction of doing it in place (see distinctPieces).
		body:      indexTerms(distinctPieces(indexedText(text.Body))),
		filenames: indexTerms(strings.Join(text.Filenames, " ")),
	}
}

// maxIndexedText is how much of a body the full-text index takes: a
// PostgreSQL tsvector holds at most 1 MB, and the start of a message is
// what people search for.
const maxIndexedText = 256 << 10

func indexedText(text string) string {
	if len(text) <= maxIndexedText {
		return text
	}
	return strings.ToValidUTF8(text[:maxIndexedText], "")
}

// senderText and recipientText are what the full-text index holds of a
// message's addresses: the sender (from, reply-to) and the recipients (to,
// cc, bcc), apart, for the list's "from" and "to" filters.
func senderText(m *Message) string { return m.From + " " + m.ReplyTo }

func recipientText(m *Message) string { return strings.Join([]string{m.To, m.Cc, m.Bcc}, " ") }

// indexBatch writes the SQLite full-text rows of a batch's new messages,
// after all its other statements. FTS5 flushes its pending terms to a new
// index segment whenever another statement of the transaction opens a
// savepoint; interleaved with the messages' own inserts, that made one
// segment per message and constant merging (135 messages/s at 20,000
// messages instead of thousands).
func (s *Store) indexBatch(ctx context.Context, tx *messageStatements) error {
	// One row a statement: a multi-row INSERT opens a statement savepoint,
	// and FTS5 writes a segment at each (a 100,000-message import spent
	// two thirds of its time merging them).
	for _, m := range tx.indexed {
		if err := s.writeSearchEntry(ctx, tx.exec, m.ID, m.searchEntry()); err != nil {
			return err
		}
	}
	tx.indexed = nil
	return nil
}

// writeSearchEntry writes a message's SQLite full-text row.
func (s *Store) writeSearchEntry(ctx context.Context, exec func(context.Context, string, ...any) error, id int64, e *searchEntry) error {
	if err := exec(ctx, insertSearchRow,
		id, e.subject, e.sender, e.recipients, e.body, e.filenames); err != nil {
		return fmt.Errorf("index message %d: %w", id, err)
	}
	return nil
}

// searchTable is the SQLite full-text table (migration 0022; messages_fts,
// its predecessor, is dropped by the reindex once it is done).
const searchTable = "messages_fts_terms"

// quoteLexeme writes a word as a tsvector or tsquery lexeme literal.
func quoteLexeme(word string) string {
	var b strings.Builder
	appendLexeme(&b, word)
	return b.String()
}

// appendLexeme writes a word as a lexeme literal: quoted, with its quotes
// and backslashes doubled.
func appendLexeme(b *strings.Builder, word string) {
	b.WriteByte('\'')
	for i := 0; i < len(word); i++ {
		if word[i] == '\'' || word[i] == '\\' {
			b.WriteByte(word[i])
		}
		b.WriteByte(word[i])
	}
	b.WriteByte('\'')
}

// tsvectorLiteral builds the PostgreSQL search vector of an entry in Go:
// subject terms weighted A, sender B, recipients C, body D, and the terms of
// the attachment names after an "@" (no term holds one), which filename:
// looks for and a plain word looks for beside its own lexeme; the sender's
// terms again after "^" and the recipients' after "~", for from: and to:. Building it here
// rather than with to_tsvector makes the index independent of the server's
// locale and gives it the terms SQLite's index holds (terms.go). Each term
// keeps one position per weight: the index answers "which messages hold
// these words", not phrase queries. A term found only in the body or the
// attachment names has no position at all (a third less space): such a
// lexeme matches a query of any weight, so the subject, sender and
// recipient operators recheck with ts_filter (see searchSQL), while the
// body's weight D matches it as it should.
//
// It is on the commit's path of every PostgreSQL batch, so it allocates
// little: one index a term, positions appended as bytes.
func tsvectorLiteral(e *searchEntry) string {
	type entry struct {
		word      string
		positions []byte // "1A,5B"
	}
	var entries []entry
	index := make(map[string]int, 64)
	lastPart := make(map[string]int, 64) // the part (1-5) that last saw a word
	position := 0
	size := 0
	// add takes a term of a part (0-3 subject to body; 4 attachment
	// names, never positioned).
	add := func(word string, part int) {
		if len(word) > maxTermLength || lastPart[word] == part+1 {
			return
		}
		lastPart[word] = part + 1
		position = min(position+1, 16383)
		at, ok := index[word]
		if !ok {
			at = len(entries)
			index[word] = at
			entries = append(entries, entry{word: word})
			size += len(word) + 3
			if part >= 3 {
				// A term of the body alone goes in without a position:
				// positions are four bytes a term, and only the
				// columns' weights need them.
				return
			}
		}
		if part > 3 {
			return
		}
		e := &entries[at]
		if len(e.positions) > 0 {
			e.positions = append(e.positions, ',')
		}
		e.positions = append(strconv.AppendInt(e.positions, int64(position), 10), byte('A'+part))
		size += len(e.positions) + 1
	}
	for part, terms := range [...]string{e.subject, e.sender, e.recipients, e.body} {
		for word := range strings.SplitSeq(terms, " ") {
			if word != "" {
				add(word, part)
			}
		}
	}
	for _, part := range [...]struct{ mark, terms string }{{filenameMark, e.filenames}, {senderMark, e.sender}, {recipientMark, e.recipients}} {
		for word := range strings.SplitSeq(part.terms, " ") {
			if word != "" {
				add(part.mark+word, 4)
			}
		}
	}
	var b strings.Builder
	b.Grow(size)
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(' ')
		}
		appendLexeme(&b, e.word)
		if len(e.positions) > 0 {
			b.WriteByte(':')
			b.Write(e.positions)
		}
	}
	return b.String()
}

// filenameMark starts the PostgreSQL lexemes of attachment-name terms,
// senderMark those of the sender's and recipientMark those of the
// recipients' (no term holds any of them). from: and to: look their words
// up as these lexemes, which the GIN index answers exactly: as the weights
// B and C of the plain lexemes, every match had its vector read again and
// filtered (ts_filter), 300 ms for the 1,540 messages holding "квитанция"
// and "anna" anywhere at 1,000,000 (migration 0032 indexes mail anew).
const (
	filenameMark  = "@"
	senderMark    = "^"
	recipientMark = "~"
)

// SearchVector is the PostgreSQL search vector (a tsvector literal) the
// store writes for a message, for tools that fill a database in bulk, such
// as the benchmarks.
func SearchVector(text SearchText) string {
	entry := newSearchEntry(text)
	return tsvectorLiteral(&entry)
}

// SearchRow is the SQLite full-text row the store writes for a message
// (subject, sender, recipients, body, filenames: the columns of the table
// SearchTable names), for tools that fill a database in bulk.
func SearchRow(text SearchText) [5]string {
	e := newSearchEntry(text)
	return [5]string{e.subject, e.sender, e.recipients, e.body, e.filenames}
}

// SearchTable is the SQLite full-text table, for tools that fill a database
// in bulk.
const SearchTable = searchTable

// frequentMatches is the number of full-text matches from which a search
// walks the date index instead of sorting its matches: SQLite fetches and
// sorts every match (73 ms for 10,000 of them at 1,000,000 messages), while
// walking the list's own order and testing each row against the matches
// stops at the page's end, which for a frequent word comes soon. For a rare
// word the walk would read the whole table, so the matches are counted
// first, up to this number. A variable for the tests.
var frequentMatches = 2000

// frequentSearch tells whether a search of the message list should walk
// the list's date index, testing each row, rather than sort its matches:
// only for the date order with at most one mailbox and no filter but the
// search and the conditions the walk's index serves (dates, is:unread,
// has:attachment), where the walk is known to end early, and only for a
// search with at least frequentMatches matches. SQLite counts them from its index
// alone (about a millisecond). PostgreSQL cannot count from a GIN index
// without reading each match's row (or, asked for a few, scanning the
// table: 0.8-2.5 s at 1,000,000 messages), so there the planner's estimate
// of the terms as whole lexemes decides: ANALYZE keeps the frequencies of
// the most common lexemes, which is what a frequent word is, while its
// estimate of a prefix is a fixed guess. "@@" is a lexeme no message has.
func (s *Store) frequentSearch(ctx context.Context, filter MessageFilter, column string, search searchClause) bool {
	if column != "m.date" || len(filter.IDs) > 0 || filter.Spam != "" || filter.Read != nil || len(filter.MailboxIDs) > 1 {
		return false
	}
	if s.dialect == Postgres {
		// A lexeme ANALYZE did not find common is estimated at a floor
		// (half the least common one's frequency, about 0.1-0.2% of the
		// rows): only well above it is the estimate a count.
		words := s.estimatedMatches(ctx, search.match, nil, nil)
		if words < frequentMatches || words < 4*s.estimatedMatches(ctx, "'"+filenameMark+filenameMark+"'", nil, nil) {
			return false
		}
		// The search's other conditions are tested on each row the walk
		// meets, so they count, but for those the walk's index serves:
		// dates bound the walk of the date order (the walk starts at the
		// range's end and finds the word as often as anywhere), and one of
		// is:unread and has:attachment has a partial date index of its own
		// (migration 0027) whose rows alone the walk meets.
		var rowWhere []string
		var rowArgs []any
		served := false
		for _, c := range search.where {
			switch {
			case c.kind == dateCondition:
			case !served && (c.kind == unreadCondition || c.kind == attachmentCondition):
				served = true
			default:
				rowWhere, rowArgs = append(rowWhere, c.sql), append(rowArgs, c.args...)
			}
		}
		return len(rowWhere) == 0 || s.estimatedMatches(ctx, search.match, rowWhere, rowArgs) >= frequentMatches
	}
	if _, _, ok := sqliteWalkIndex(filter, search); !ok {
		return false
	}
	var matches int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT rowid FROM `+searchTable+` WHERE `+searchTable+` MATCH ? LIMIT ?) AS matches`,
		search.match, frequentMatches).Scan(&matches)
	return err == nil && matches >= frequentMatches
}

// estimatedMatches is PostgreSQL's estimate of the rows a tsquery matches,
// its prefixes taken as whole lexemes, with the conditions where (0 when it
// cannot tell). An estimate is kept for estimateLifetime: the EXPLAIN costs
// 0.3 ms and more under load, a good part of a search's 5 ms, and it
// changes only when ANALYZE runs (every few hours at most on a mail
// database), while people repeat their searches and page through them.
func (s *Store) estimatedMatches(ctx context.Context, match string, where []string, args []any) int {
	whole := prefixMark.ReplaceAllStringFunc(match, func(mark string) string {
		if mark == ":*" {
			return ""
		}
		return ":" + mark[2:] // a weight stays
	})
	statement := `EXPLAIN (FORMAT JSON) SELECT 1 FROM messages m WHERE m.search @@ CAST(? AS tsquery)`
	for _, condition := range where {
		statement += " AND " + condition
	}
	args = append([]any{whole}, args...)
	key := fmt.Sprint(statement, args)
	now := s.now()
	if rows, ok := s.estimates.get(key, now); ok {
		return rows
	}
	var plan string
	if err := s.queryRow(ctx, statement, args...).Scan(&plan); err != nil {
		return 0
	}
	var explained []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &explained); err != nil || len(explained) == 0 {
		return 0
	}
	rows := int(explained[0].Plan.Rows)
	s.estimates.put(key, rows, now)
	return rows
}

// estimateLifetime is how long an estimate of estimatedMatches is used.
const estimateLifetime = 10 * time.Minute

// maxEstimates bounds the estimates kept; a full memo is emptied and
// fills again with the searches in use.
const maxEstimates = 4096

// estimateMemo keeps PostgreSQL's row estimates of searches by their
// statement and arguments. It changes only which of two plans a search
// takes, never what it finds.
type estimateMemo struct {
	mu      sync.Mutex
	entries map[string]estimate
}

type estimate struct {
	rows  int
	taken time.Time
}

func (m *estimateMemo) get(key string, now time.Time) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || now.Sub(e.taken) >= estimateLifetime || now.Before(e.taken) {
		return 0, false
	}
	return e.rows, true
}

func (m *estimateMemo) put(key string, rows int, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || len(m.entries) >= maxEstimates {
		m.entries = make(map[string]estimate)
	}
	m.entries[key] = estimate{rows: rows, taken: now}
}

// prefixMark is a tsquery's prefix mark with the weights after it (a term
// holds letters and digits only, so it never occurs inside a lexeme).
var prefixMark = regexp.MustCompile(`:\*[A-D]*`)

// sqliteWalkIndex gives the index a frequent-word search walks on SQLite,
// and whether the walk serves the search's conditions: dates bound the
// walk (it starts at the range's end), and is:unread and has:attachment
// walk a partial date index of their own (migration 0033), whose rows
// alone the walk meets, with the word as often among them as anywhere
// (the other of the two, when both are asked for, is tested on the rows
// the word's matches leave). Any other condition could leave so few rows
// that the walk read the whole index: those searches sort their matches.
func sqliteWalkIndex(filter MessageFilter, search searchClause) (index string, served conditionKind, ok bool) {
	served = otherCondition
	for _, c := range search.where {
		switch c.kind {
		case dateCondition:
		case unreadCondition:
			index, served = "unread_", unreadCondition
		case attachmentCondition:
			if served == otherCondition {
				index, served = "attached_", attachmentCondition
			}
		default:
			return "", otherCondition, false
		}
	}
	if served == otherCondition && filter.HasAttachments != nil && *filter.HasAttachments {
		index, served = "attached_", attachmentCondition
	}
	if len(filter.MailboxIDs) == 1 {
		return "messages_" + index + "mailbox_date", served, true
	}
	return "messages_" + index + "date", served, true
}

// firstWalkChunk is how many entries of the date index the first chunk of
// a walk on SQLite takes (see walkSearch); each next chunk takes twice as
// many. A variable for the tests.
var firstWalkChunk = 2048

// walkSearch lists a page of a frequent search on SQLite (frequentSearch)
// by walking the date index in chunks: a chunk is the next entries of the
// index (those of the walk's own conditions: the mailbox, the dates, the
// partial index's condition, the cursor), read from the index alone for
// its least and greatest ID and its last entry, and the page's rows of it
// are the full-text matches whose IDs lie between those two (which FTS5
// seeks to) and whose rows meet the walk's conditions up to that last
// entry. Testing the walk against all the matches instead made SQLite
// gather every one of them first: 80,000 for the 8% of messages from:anna
// finds at 1,000,000 (33 ms at 550,000 against 7 for a chunk); testing
// the matches against the chunk's IDs gathered into a table of their own
// cost about 3 µs an entry (20 ms for 4,096).
// Dates mostly rise with IDs, so a chunk's IDs span about as many
// messages as it holds; where they do not (old mail imported late), a
// chunk costs what gathering all the matches did, and the chunks double,
// so that a walk takes a few of them. The conditions the index does not
// serve are tested on the matched rows alone.
func (s *Store) walkSearch(ctx context.Context, index string, served conditionKind, where []condition, match string, direction, compare string, limit int) (MessagePage, error) {
	var page MessagePage
	within := ">="
	if compare == ">" {
		within = "<="
	}
	var inner, outer []condition
	for _, c := range where {
		if c.kind == mailboxCondition || c.kind == dateCondition || c.kind == cursorCondition || (served != otherCondition && c.kind == served) {
			inner = append(inner, c)
		} else {
			outer = append(outer, c)
		}
	}
	order := " ORDER BY m.date " + direction + ", m.id " + direction
	var sortValues []int64
	for chunk := firstWalkChunk; ; chunk *= 2 {
		walk := "SELECT m.id AS id, m.date AS date FROM messages m INDEXED BY " + index
		innerSQL, innerArgs := joinConditions(inner)
		if innerSQL != "" {
			walk += " WHERE " + innerSQL
		}
		walk += order
		// The chunk's range of IDs and its last entry, from the index
		// alone; a chunk short of its size is the end of the walk.
		var low, high, walked int64
		if err := s.queryRow(ctx, `SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), -1), COUNT(*) FROM (`+walk+` LIMIT ?)`,
			append(append([]any{}, innerArgs...), chunk)...).Scan(&low, &high, &walked); err != nil {
			return page, fmt.Errorf("list messages: %w", err)
		}
		var endDate, endID int64
		full := walked == int64(chunk)
		if full {
			if err := s.queryRow(ctx, walk+" LIMIT 1 OFFSET ?", append(append([]any{}, innerArgs...), chunk-1)...).Scan(&endID, &endDate); err != nil {
				return page, fmt.Errorf("list messages: %w", err)
			}
		}
		// The chunk's matches: those in its range of IDs that meet the
		// walk's conditions and lie no further than its last entry. The
		// matches come first (CROSS JOIN keeps them there): each is read
		// from the table, about as many rows as the page needs.
		conditions := append([]condition{{sql: "hits." + searchTable + " MATCH ?", args: []any{match}},
			{sql: "hits.rowid BETWEEN ? AND ?", args: []any{low, high}}, {sql: "m.id = hits.rowid"}}, inner...)
		if full {
			conditions = append(conditions, condition{sql: "(m.date, m.id) " + within + " (?, ?)", args: []any{endDate, endID}})
		}
		conditionSQL, statementArgs := joinConditions(append(conditions, outer...))
		statement := `SELECT ` + messageColumns + `, m.date FROM ` + searchTable + ` AS hits CROSS JOIN messages m WHERE ` +
			conditionSQL + order + " LIMIT ?"
		rows, err := s.query(ctx, statement, append(statementArgs, limit+1-len(page.Items))...)
		if err != nil {
			return page, fmt.Errorf("list messages: %w", err)
		}
		for rows.Next() {
			var value int64
			m, err := scanMessage(rows, false, &value)
			if err != nil {
				rows.Close()
				return page, fmt.Errorf("list messages: %w", err)
			}
			page.Items, sortValues = append(page.Items, m), append(sortValues, value)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return page, fmt.Errorf("list messages: %w", err)
		}
		if len(page.Items) > limit || !full {
			break
		}
		// The next chunk starts after this one's last entry: the cursor's
		// condition, if any, gives way to it.
		inner = slices.DeleteFunc(inner, func(c condition) bool { return c.kind == cursorCondition })
		inner = append(inner, condition{sql: "(m.date, m.id) " + compare + " (?, ?)", args: []any{endDate, endID}, kind: cursorCondition})
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = encodeMessageCursor(sortValues[limit-1], page.Items[limit-1].ID)
	}
	return page, nil
}
