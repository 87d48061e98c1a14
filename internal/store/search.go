package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// PrepareSearch readies the body's text for the full-text index ahead of
// the insert, like CompressSource, so that a bulk importer does it on its
// parsing goroutines rather than inside the insert's transaction.
func (m *NewMessage) PrepareSearch() {
	if m.searchBody == nil {
		body := distinctPieces(indexedText(m.Text))
		m.searchBody = &body
	}
}

// searchText is the body as the full-text index takes it: each piece once
// (see distinctPieces; PostgreSQL's vector keeps no count either).
func (m *NewMessage) searchText() string {
	m.PrepareSearch()
	return *m.searchBody
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
		if err := tx.exec(ctx, `INSERT INTO messages_fts (rowid, subject, sender, recipients, body) VALUES (?, ?, ?, ?, ?)`,
			m.ID, m.Subject, senderText(&m.Message), recipientText(&m.Message), m.searchText()); err != nil {
			return fmt.Errorf("index message: %w", err)
		}
	}
	tx.indexed = nil
	return nil
}

// ftsQuery turns words a person typed into a full-text query that matches
// messages holding every word (each as a prefix), in one column or all.
func (s *Store) ftsQuery(text, column string) string {
	words := searchWords(text)
	if len(words) == 0 {
		return ""
	}
	parts := make([]string, 0, len(words))
	for _, word := range words {
		if s.dialect == SQLite {
			// Quoted, so that no word is read as an FTS5 operator.
			part := `"` + word + `"*`
			if column != "" {
				part = column + ": " + part
			}
			parts = append(parts, part)
		} else {
			weight := map[string]string{"subject": "A", "sender": "B", "recipients": "C", "body": "D"}[column]
			parts = append(parts, quoteLexeme(strings.ToLower(word))+":*"+weight)
		}
	}
	if s.dialect == SQLite {
		return strings.Join(parts, " AND ")
	}
	return strings.Join(parts, " & ")
}

// searchWords splits text into the words the full-text index knows:
// runs of letters and digits, lower-cased by Go.
func searchWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

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

// tsvectorLiteral builds the PostgreSQL search vector in Go: subject words
// weighted A, sender B, recipients C, body D. Building it here rather than with
// to_tsvector makes the index independent of the server's locale: under the
// C locale PostgreSQL's parser neither splits nor lower-cases Cyrillic words.
// Each word keeps one position per weight: the index answers "which
// messages hold these words", not phrase queries. A word found only in the
// body has no position at all (a third less space): such a lexeme matches
// a query of any weight, so the subject, sender and recipient filters
// recheck with ts_filter (see Messages), while the body's weight D matches
// it as it should.
//
// It is on the commit's path of every PostgreSQL batch, so it allocates
// little: one index a word, positions appended as bytes.
func tsvectorLiteral(subject, sender, recipients, body string) string {
	type entry struct {
		word      string
		positions []byte // "1A,5B"
	}
	var entries []entry
	index := make(map[string]int, 64)
	lastPart := make(map[string]int, 64) // the part (1-4) that last saw a word
	position := 0
	size := 0
	for part, text := range [...]string{subject, sender, recipients, body} {
		weight := byte('A' + part)
		for _, word := range searchWords(text) {
			// PostgreSQL refuses lexemes over 2 KB; no one searches for them.
			if len(word) > 200 || lastPart[word] == part+1 {
				continue
			}
			lastPart[word] = part + 1
			position = min(position+1, 16383)
			at, ok := index[word]
			if !ok {
				at = len(entries)
				index[word] = at
				entries = append(entries, entry{word: word})
				size += len(word) + 3
				if weight == 'D' {
					// A word of the body alone goes in without a position:
					// positions are four bytes a word, and only the
					// columns' weights need them (see ftsQuery).
					continue
				}
			}
			e := &entries[at]
			if len(e.positions) > 0 {
				e.positions = append(e.positions, ',')
			}
			e.positions = append(strconv.AppendInt(e.positions, int64(position), 10), weight)
			size += len(e.positions) + 1
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

// SearchVector is the PostgreSQL search vector (a tsvector literal) the
// store writes for a message, for tools that fill a database in bulk, such
// as the benchmarks.
func SearchVector(subject, sender, recipients, body string) string {
	return tsvectorLiteral(subject, sender, recipients, indexedText(body))
}

// frequentMatches is the number of full-text matches from which a search
// walks the date index instead of sorting its matches: SQLite fetches and
// sorts every match (73 ms for 10,000 of them at 1,000,000 messages), while
// walking the list's own order and testing each row against the matches
// stops at the page's end, which for a frequent word comes soon. For a rare
// word the walk would read the whole table, so the matches are counted
// first, up to this number. A variable for the tests.
var frequentMatches = 2000

// walkIndex gives the index a frequent-word search of the message list
// walks (SQLite), or "" to sort the matches: only for the date order with
// no filter but the search and at most one mailbox, where the walk is
// known to end early.
func (s *Store) walkIndex(ctx context.Context, filter MessageFilter, column, match string) string {
	if column != "m.date" || len(filter.IDs) > 0 || filter.Spam != "" || filter.Read != nil || !filter.Since.IsZero() ||
		!filter.Until.IsZero() || len(filter.MailboxIDs) > 1 {
		return ""
	}
	var matches int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)`, match, frequentMatches).Scan(&matches)
	if err != nil || matches < frequentMatches {
		return ""
	}
	if len(filter.MailboxIDs) == 1 {
		return "messages_mailbox_date"
	}
	return "messages_date"
}
