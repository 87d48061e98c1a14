package store

import (
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestParseSearch(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	tests := []struct {
		text string
		want SearchQuery
	}{
		{"", SearchQuery{}},
		{"Счёт", SearchQuery{Groups: [][]SearchItem{{{Words: []string{"счет"}}}}}},
		{"лицензии invoices", SearchQuery{Groups: [][]SearchItem{{{Words: []string{"лиценз"}}}, {{Words: []string{"invoic"}}}}}},
		{"a OR b c", SearchQuery{Groups: [][]SearchItem{{{Words: []string{"a"}}, {Words: []string{"b"}}}, {{Words: []string{"c"}}}}}},
		{"OR a OR", SearchQuery{Groups: [][]SearchItem{{{Words: []string{"a"}}}}}},
		{"a or b", SearchQuery{Groups: [][]SearchItem{{{Words: []string{"a"}}}, {{Words: []string{"or"}}}, {{Words: []string{"b"}}}}}},
		{"-spam", SearchQuery{Groups: [][]SearchItem{{{Negated: true, Words: []string{"spam"}}}}}},
		{`"Anna Petrova"`, SearchQuery{Groups: [][]SearchItem{{{Whole: true, Words: []string{"anna", "petrova"}}}}}},
		{`from:"Anna P" TO:boris@example.com`, SearchQuery{Groups: [][]SearchItem{
			{{Field: "from", Whole: true, Words: []string{"anna", "p"}}},
			{{Field: "to", Whole: true, Words: []string{"bori", "exampl", "com"}}}}}},
		{"subject:счёт filename:report.pdf body:x", SearchQuery{Groups: [][]SearchItem{
			{{Field: "subject", Words: []string{"счет"}}}, {{Field: "filename", Words: []string{"report", "pdf"}}}, {{Field: "body", Words: []string{"x"}}}}}},
		{"has:attachment -is:unread is:spam is:read", SearchQuery{Groups: [][]SearchItem{
			{{Field: "has"}}, {{Field: "is", Value: "unread", Negated: true}}, {{Field: "is", Value: "spam"}}, {{Field: "is", Value: "read"}}}}},
		{"before:2026-03-01 after:2026/02/01", SearchQuery{Groups: [][]SearchItem{
			{{Field: "before", Time: day("2026-03-01")}}, {{Field: "after", Time: day("2026-02-01")}}}}},
		{"has:cat is:big before:yesterday foo:bar", SearchQuery{Groups: [][]SearchItem{
			{{Words: []string{"has", "cat"}}}, {{Words: []string{"is", "big"}}}, {{Words: []string{"befor", "yesterday"}}}, {{Words: []string{"foo", "bar"}}}}}},
		{"(a) - :", SearchQuery{Groups: [][]SearchItem{{{Words: []string{"a"}}}}}},
	}
	for _, test := range tests {
		if got := ParseSearch(test.text); !equalQueries(got, test.want) {
			t.Errorf("ParseSearch(%q) =\n %+v\nwant %+v", test.text, got, test.want)
		}
	}
	if got := ParseSearch(strings.Repeat("a ", 1000)); len(got.Groups) != maxSearchItems {
		t.Errorf("%d groups of a long query, want %d", len(got.Groups), maxSearchItems)
	}
}

// Every word is looked up also as the start of longer terms, but quoted
// words and the words of from: and to:, which are whole.
func TestSearchWordsWholeOrPrefix(t *testing.T) {
	tests := []struct {
		text   string
		prefix []bool
	}{
		{"квитанция квитан", []bool{true, true}},
		{`"лиценз" subject:лиценз`, []bool{false, true}},
		{"from:ann to:bor", []bool{false, false}},
	}
	for _, test := range tests {
		var got []bool
		for _, group := range ParseSearch(test.text).Groups {
			for _, item := range group {
				for range item.Words {
					got = append(got, item.prefix())
				}
			}
		}
		if !slices.Equal(got, test.prefix) {
			t.Errorf("%q: prefixes %v, want %v", test.text, got, test.prefix)
		}
	}
}

func equalQueries(a, b SearchQuery) bool {
	return slices.EqualFunc(a.Groups, b.Groups, func(x, y []SearchItem) bool {
		return slices.EqualFunc(x, y, func(i, j SearchItem) bool {
			return i.Negated == j.Negated && i.Field == j.Field && i.Whole == j.Whole && i.Value == j.Value && i.Time.Equal(j.Time) &&
				slices.Equal(i.Words, j.Words)
		})
	})
}

// FuzzParseSearch holds the parser to its promises whatever is typed: it
// never fails, its items are bounded, every text item has terms of letters
// and digits only, and the SQLite MATCH made of it is never a syntax
// error. The corpus is in testdata/fuzz/FuzzParseSearch.
func FuzzParseSearch(f *testing.F) {
	for _, seed := range []string{"счет", `from:"Anna P" -is:unread OR has:attachment`, `a OR OR -"`, "before:2026-01-01 after:x",
		`NEAR(a b) "x"* ^y {subject}: z`, "\x00\xff-", "filename:отчёт.pdf subject:Re: body:\"a b\""} {
		f.Add(seed)
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	f.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE VIRTUAL TABLE ` + searchTable + ` USING fts5(subject, sender, recipients, body, filenames, content='', contentless_delete=1, tokenize='ascii')`); err != nil {
		f.Fatal(err)
	}
	sqlite, postgres := &Store{dialect: SQLite}, &Store{dialect: Postgres}
	f.Fuzz(func(t *testing.T, text string) {
		query := ParseSearch(text)
		if !equalQueries(query, ParseSearch(text)) {
			t.Fatalf("%q parses two ways", text)
		}
		items := 0
		for _, group := range query.Groups {
			if len(group) == 0 {
				t.Fatalf("%q: an empty group", text)
			}
			for _, item := range group {
				items++
				if !textItem(item) {
					continue
				}
				if len(item.Words) == 0 || len(item.Words) > maxSearchWords {
					t.Fatalf("%q: %d words in an item", text, len(item.Words))
				}
				for _, word := range item.Words {
					if word == "" || len(word) > maxTermLength || word != strings.ToLower(word) || strings.IndexFunc(word, func(r rune) bool {
						return !unicode.IsLetter(r) && !unicode.IsDigit(r)
					}) >= 0 {
						t.Fatalf("%q: term %q", text, word)
					}
				}
			}
		}
		if items > maxSearchItems {
			t.Fatalf("%q: %d items", text, items)
		}
		clause := sqlite.searchSQL(query)
		_, matches := joinConditions(clause.where)
		if clause.match != "" {
			matches = append(matches, clause.match)
		}
		for _, match := range matches {
			if match, ok := match.(string); ok {
				if _, err := db.Exec(`SELECT rowid FROM `+searchTable+` WHERE `+searchTable+` MATCH ?`, match); err != nil {
					t.Fatalf("%q: MATCH %q: %v", text, match, err)
				}
			}
		}
		postgres.searchSQL(query)
	})
}
