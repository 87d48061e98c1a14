package store

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A search as people type it in other mail tools: words (each found as a
// word form, by its stem, and as the start of a longer word), "quoted
// phrases" (their words whole, in any order: the index keeps no word
// positions), OR between two items, -item for "not", and the operators
// from:, to:, subject:, filename:, has:attachment, is:unread, is:read,
// is:spam, before:DATE and after:DATE (YYYY-MM-DD, a day in the reader's
// zone, UTC unless told; before is the start of that day, after that day's
// start too, so after:D before:E is D up to E). Items side by side must all hold; OR binds tighter ("a b OR c" is a
// and either b or c). Whatever is not an operator is text: an unknown
// operator or a bad date is searched as its words.

// SearchQuery is a parsed search: every group must hold, and a group holds
// when one of its items does.
type SearchQuery struct {
	Groups [][]SearchItem
}

// SearchItem is one condition of a search.
type SearchItem struct {
	Negated bool
	// Field is "" (any text: subject, addresses, body, attachment names),
	// "from", "to", "subject", "body", "filename", "has" (attachment),
	// "is" (Value "unread", "read" or "spam"), "before" or "after" (Time).
	Field string
	Words []string // the terms a text item looks for, folded and stemmed
	// Whole: every term is looked up whole, not also as the start of
	// longer ones (a quoted item, and from: and to:, whose words are
	// names and addresses: a prefix of a common name was a bitmap of
	// 160,000 messages at 1,000,000).
	Whole bool
	Value string
	Time  time.Time
}

// maxSearchItems bounds the work of one search: a query of thousands of
// items would make a statement the databases take long to plan.
const maxSearchItems = 32

// maxSearchWords bounds the terms of one text item.
const maxSearchWords = 16

// ParseSearch reads a search as a person typed it. It never fails: what it
// cannot read as an operator it searches as text, and items with no words
// (punctuation alone) are left out.
func ParseSearch(text string) SearchQuery { return ParseSearchIn(text, time.UTC) }

// ParseSearchIn is [ParseSearch] with the days of before: and after: read
// in location (the reader's zone: a Moscow reader's after:2026-12-07 starts
// at 00:00 Moscow time, 21:00 UTC the day before).
func ParseSearchIn(text string, location *time.Location) SearchQuery {
	if location == nil {
		location = time.UTC
	}
	var query SearchQuery
	items := 0
	joinNext := false
	for _, token := range searchTokens(text) {
		if token.text == "OR" && !token.quoted && !token.negated {
			joinNext = len(query.Groups) > 0
			continue
		}
		item, ok := parseItem(token, location)
		if !ok {
			continue
		}
		if items++; items > maxSearchItems {
			break
		}
		if joinNext {
			last := len(query.Groups) - 1
			query.Groups[last] = append(query.Groups[last], item)
		} else {
			query.Groups = append(query.Groups, []SearchItem{item})
		}
		joinNext = false
	}
	return query
}

// searchToken is one item of the typed text: "-"? (field ":")? value.
type searchToken struct {
	negated bool
	field   string
	text    string
	quoted  bool
}

// searchTokens splits typed text into items: runs of non-space, with
// quoted parts (which may hold spaces) kept whole; "-" before an item
// negates it, "field:" before a value names its field.
func searchTokens(text string) []searchToken {
	text = strings.ToValidUTF8(text, " ")
	var tokens []searchToken
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) || r == '(' || r == ')' {
			i += size
			continue
		}
		var token searchToken
		if text[i] == '-' && i+1 < len(text) {
			token.negated = true
			i++
		}
		// A field name: ASCII letters then a colon.
		j := i
		for j < len(text) && ('a' <= text[j] && text[j] <= 'z' || 'A' <= text[j] && text[j] <= 'Z') {
			j++
		}
		if j > i && j < len(text) && text[j] == ':' && j+1 < len(text) {
			token.field = strings.ToLower(text[i:j])
			i = j + 1
		}
		if i < len(text) && text[i] == '"' {
			end := strings.IndexByte(text[i+1:], '"')
			if end < 0 {
				end = len(text) - i - 1
			}
			token.text, token.quoted = text[i+1:i+1+end], true
			i = min(len(text), i+end+2)
		} else {
			start := i
			for i < len(text) {
				r, size := utf8.DecodeRuneInString(text[i:])
				if unicode.IsSpace(r) || r == '(' || r == ')' {
					break
				}
				i += size
			}
			token.text = text[start:i]
		}
		tokens = append(tokens, token)
	}
	return tokens
}

// searchFields maps an operator to its item's field.
var searchFields = map[string]string{"from": "from", "to": "to", "subject": "subject", "filename": "filename", "body": "body"}

func parseItem(token searchToken, location *time.Location) (SearchItem, bool) {
	item := SearchItem{Negated: token.negated, Whole: token.quoted}
	value := strings.ToLower(token.text)
	switch token.field {
	case "":
	case "has":
		if value == "attachment" || value == "attachments" {
			item.Field = "has"
			return item, true
		}
	case "is":
		switch value {
		case "unread", "read", "spam":
			item.Field, item.Value = "is", value
			return item, true
		}
	case "before", "after":
		for _, layout := range []string{"2006-01-02", "2006/01/02"} {
			if day, err := time.ParseInLocation(layout, value, location); err == nil {
				item.Field, item.Time = token.field, day
				return item, true
			}
		}
	default:
		item.Field = searchFields[token.field]
	}
	text := token.text
	if item.Field == "" && token.field != "" {
		// An unknown operator, or a known one with a value it does not
		// take, is text: its name is a word too.
		text = token.field + " " + text
	}
	item.Words = searchTerms(text)
	if item.Field == "from" || item.Field == "to" {
		item.Whole = true
	}
	return item, len(item.Words) > 0
}

// searchTerms are the terms a text item looks for: at most
// maxSearchWords, none longer than maxTermLength.
func searchTerms(text string) []string {
	var terms []string
	for _, term := range searchWords(text) {
		if len(term) > maxTermLength {
			continue
		}
		if terms = append(terms, term); len(terms) == maxSearchWords {
			break
		}
	}
	return terms
}

// prefix tells whether the item's words are looked up also as the start
// of longer terms. Every word of an unquoted item is, even a whole word
// form the stemmer shortened ("квитанция", "квитанц"): looking such a
// stem up exactly was tried and is not the same search, since the
// stemmer also shortens a word being typed ("квитан" is "квита", which
// only as a prefix finds "квитанция"), and at 1,000,000 messages it
// was not measurably faster (the GIN scan of "квитанц" and of "квитанц:*"
// with "^anna" took the same).
func (item SearchItem) prefix() bool { return !item.Whole }

// searchClause is a search as SQL: match is the one full-text expression
// of its text groups (SQLite: an FTS5 MATCH that gives exactly them;
// PostgreSQL: a tsquery whose GIN lookup gives at least them, the "hits"),
// where the conditions that go beside it.
type searchClause struct {
	match string
	where []condition
}

// condition is one condition of a message list's statement with its
// arguments, and what it tests, so that the plans that serve some
// conditions from an index (frequentSearch, walkSearch) tell them by kind,
// not by reading their SQL.
type condition struct {
	sql  string
	args []any
	kind conditionKind
}

// conditionKind says what a condition tests, where a plan cares.
type conditionKind int

const (
	otherCondition      conditionKind = iota
	mailboxCondition                  // the message is in one of some mailboxes
	dateCondition                     // a bound of the message's date
	unreadCondition                   // is:unread, which a partial date index serves
	attachmentCondition               // has:attachment, which a partial date index serves
	cursorCondition                   // the list's position past the cursor
)

// joinConditions gives conditions joined with AND, and their arguments in
// order.
func joinConditions(conditions []condition) (string, []any) {
	parts := make([]string, len(conditions))
	var args []any
	for i, c := range conditions {
		parts[i] = c.sql
		args = append(args, c.args...)
	}
	return strings.Join(parts, " AND "), args
}

// searchColumns are the SQLite index's columns of the text fields ("" is
// every column).
var searchColumns = map[string]string{"": "", "from": "sender", "to": "recipients", "subject": "subject", "body": "body", "filename": "filenames"}

// searchWeights are the PostgreSQL vector's weights of the fields looked
// up by weight (see tsvectorLiteral; the sender and the recipients have
// lexemes of their own).
var searchWeights = map[string]string{"subject": "a"}

func textItem(item SearchItem) bool {
	_, ok := searchColumns[item.Field]
	return ok
}

// searchSQL turns a parsed search into SQL for this store's dialect.
func (s *Store) searchSQL(query SearchQuery) searchClause {
	var clause searchClause
	var positive, negative []string
	for _, group := range query.Groups {
		allText, anyNegated, anyWeighted := true, false, false
		for _, item := range group {
			allText = allText && textItem(item)
			anyNegated = anyNegated || item.Negated
			anyWeighted = anyWeighted || searchWeights[item.Field] != ""
		}
		switch {
		case allText && !anyNegated:
			parts := make([]string, len(group))
			for i, item := range group {
				parts[i] = s.textMatch(item)
			}
			separator := " OR "
			if s.dialect == Postgres {
				separator = " | "
			}
			positive = append(positive, "("+strings.Join(parts, separator)+")")
			if s.dialect == Postgres && anyWeighted {
				// The GIN lookup of a subject, sender or recipient word
				// also gives messages with it only in the body: recheck.
				s.addCondition(&clause, group)
			}
		case s.dialect == SQLite && allText && len(group) == 1:
			negative = append(negative, s.textMatch(group[0]))
		default:
			s.addCondition(&clause, group)
		}
	}
	if s.dialect == Postgres {
		clause.match = strings.Join(positive, " & ")
		return clause
	}
	switch {
	case len(positive) > 0:
		clause.match = strings.Join(positive, " AND ")
		for _, part := range negative {
			clause.match += " NOT " + part
		}
	case len(negative) > 0:
		clause.where = append(clause.where, condition{sql: "m.id NOT IN (SELECT rowid FROM " + searchTable + " WHERE " + searchTable + " MATCH ?)",
			args: []any{strings.Join(negative, " OR ")}})
	}
	return clause
}

// addCondition adds a group as a condition of its own: one of its items
// holds. A group of one item that a date index can serve (a date, is:unread,
// has:attachment) is marked so.
func (s *Store) addCondition(clause *searchClause, group []SearchItem) {
	parts := make([]string, len(group))
	var args []any
	kind := otherCondition
	for i, item := range group {
		var part string
		switch item.Field {
		case "has":
			part, kind = "m.attachment_count > 0", attachmentCondition
		case "is":
			switch item.Value {
			case "unread":
				part, kind = "m.is_read = FALSE", unreadCondition
			case "read":
				part = "m.is_read = TRUE"
			default:
				part = "m.spam = 'yes'"
			}
		case "before":
			part, kind = "m.date < ?", dateCondition
			args = append(args, micros(item.Time))
		case "after":
			part, kind = "m.date >= ?", dateCondition
			args = append(args, micros(item.Time))
		default:
			if s.dialect == SQLite {
				part = "m.id IN (SELECT rowid FROM " + searchTable + " WHERE " + searchTable + " MATCH ?)"
				args = append(args, s.textMatch(item))
			} else if weight := searchWeights[item.Field]; weight != "" {
				// Only the lexemes with a position of that weight: a
				// word of the body alone has none (tsvectorLiteral).
				part = `ts_filter(m.search, CAST(? AS "char"[])) @@ CAST(? AS tsquery)`
				args = append(args, "{"+weight+"}", lexemeQuery(item, "", ""))
			} else {
				part = "m.search @@ CAST(? AS tsquery)"
				args = append(args, s.textMatch(item))
			}
		}
		if item.Negated {
			part = "NOT (" + part + ")"
		}
		parts[i] = part
	}
	if len(group) != 1 || group[0].Negated {
		kind = otherCondition
	}
	clause.where = append(clause.where, condition{sql: "(" + strings.Join(parts, " OR ") + ")", args: args, kind: kind})
}

// textMatch is a text item as a full-text expression of the dialect: its
// words all present, each as a prefix unless the item is whole (quoted, from:, to:).
func (s *Store) textMatch(item SearchItem) string {
	if s.dialect == Postgres {
		switch item.Field {
		case "":
			return lexemeQuery(item, "", "") // with the attachment names' lexemes, below
		case "body":
			return lexemeQuery(item, "", "D")
		case "filename":
			return lexemeQuery(item, filenameMark, "")
		case "from":
			return lexemeQuery(item, senderMark, "")
		case "to":
			return lexemeQuery(item, recipientMark, "")
		default:
			return lexemeQuery(item, "", strings.ToUpper(searchWeights[item.Field]))
		}
	}
	column := searchColumns[item.Field]
	parts := make([]string, len(item.Words))
	for i, word := range item.Words {
		// Quoted, so that no word is read as an FTS5 operator (a term
		// holds letters and digits only).
		part := `"` + word + `"`
		if item.prefix() {
			part += "*"
		}
		if column != "" {
			part = column + " : " + part
		}
		parts[i] = part
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// lexemeQuery is a text item as a tsquery: each word a lexeme (after mark),
// a prefix unless the item is whole, of the given weight. A word of any
// text (no field) is also looked for among the attachment names' lexemes.
func lexemeQuery(item SearchItem, mark, weight string) string {
	parts := make([]string, len(item.Words))
	for i, word := range item.Words {
		suffix := ""
		if item.prefix() {
			suffix = "*"
		}
		suffix += weight
		if suffix != "" {
			suffix = ":" + suffix
		}
		part := quoteLexeme(mark+word) + suffix
		if item.Field == "" && mark == "" {
			part = "(" + part + " | " + quoteLexeme(filenameMark+word) + suffix + ")"
		}
		parts[i] = part
	}
	return "(" + strings.Join(parts, " & ") + ")"
}
