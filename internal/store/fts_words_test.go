package store

import (
	"database/sql"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDistinctPieces(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct{ name, text, want string }{
		{"empty", "", ""},
		{"separators only", " .,;\r\n\t-- ", ""},
		{"ASCII capitals fold", "Hello hello HELLO hElLo", "hello"},
		{"order of first sight", "b a b c a", "b a c"},
		{"addresses split at ASCII punctuation", "Anna.Petrova@example.com anna", "anna petrova example com"},
		{"digits", "Invoice 2024-17, invoice 17", "invoice 2024 17"},
		{"non-ASCII kept as it is", "Привет привет ПРИВЕТ café Café", "Привет привет ПРИВЕТ café"},
		{"non-ASCII separators stay inside pieces", "a\u00a0b a\u00a0b", "a\u00a0b"},
		{"a piece too long for a slot each time", long + " " + long, long + " " + long},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := distinctPieces(test.text); got != test.want {
				t.Errorf("distinctPieces(%.40q) = %.60q, want %.60q", test.text, got, test.want)
			}
		})
	}
}

// TestDistinctPiecesKeepsIndexTerms checks the promise distinctPieces is
// built on, the body's terms are those of the text, and that both backends
// index the same terms: SQLite's tokenizer keeps every term Go made, and the
// PostgreSQL vector holds exactly those.
func TestDistinctPiecesKeepsIndexTerms(t *testing.T) {
	checker := newTermChecker(t)
	texts := []string{
		"Dear Anna,\r\nthe invoice INV-2024/17 is attached. Regards, Boris.\r\n-- \r\nBoris Ivanov, boris@example.com",
		"Добрый день! Отчёт за квартал во вложении. ОТЧЁТ, отчёт, Отчет — ёлка Ёлка.",
		"Café CAFÉ café naïve NAÏVE straße STRASSE e\u0301te\u0301 ÉTÉ",
		"東京都 の 会議 meeting 会議 😀 smile😀smile 😀",
		"word_with_underscores and-hyphens, o'clock O'CLOCK, 3.14 3,14 v2.0.1",
		"mixed\u00a0nbsp\u2009thin\u200bzero-width x\u2028y",
		"ǅemal Ǆemal ǆemal İstanbul ISTANBUL ıstanbul",
		strings.Repeat("repeat Repeat REPEAT ", 200),
	}
	texts = append(texts, peerCorpusTexts(t)...)
	for _, text := range texts {
		checker.check(t, text)
	}
}

func FuzzDistinctPieces(f *testing.F) {
	for _, seed := range []string{"Hello hello", "Привет, привет!", "a.b@c.d a.b@c.d", "e\u0301 É é", "\x00\xff\xfe"} {
		f.Add(seed)
	}
	checker := newTermChecker(f)
	f.Fuzz(func(t *testing.T, text string) {
		checker.check(t, strings.ToValidUTF8(text, "\ufffd"))
	})
}

type termChecker struct{ db *sql.DB }

func newTermChecker(tb testing.TB) *termChecker {
	tb.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one in-memory database
	tb.Cleanup(func() { db.Close() })
	// The tokenizer of messages_fts_terms (migrations/sqlite/0022).
	for _, statement := range []string{
		`CREATE VIRTUAL TABLE terms USING fts5(body, content='', contentless_delete=1, tokenize='ascii')`,
		`CREATE VIRTUAL TABLE terms_vocabulary USING fts5vocab(terms, row)`,
	} {
		if _, err := db.Exec(statement); err != nil {
			tb.Fatal(err)
		}
	}
	return &termChecker{db: db}
}

// terms gives the index terms SQLite makes of text.
func (c *termChecker) terms(t *testing.T, text string) []string {
	t.Helper()
	if _, err := c.db.Exec(`DELETE FROM terms`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.Exec(`INSERT INTO terms (rowid, body) VALUES (1, ?)`, text); err != nil {
		t.Fatal(err)
	}
	rows, err := c.db.Query(`SELECT term FROM terms_vocabulary ORDER BY term`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var terms []string
	for rows.Next() {
		var term string
		if err := rows.Scan(&term); err != nil {
			t.Fatal(err)
		}
		terms = append(terms, term)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return terms
}

func (c *termChecker) check(t *testing.T, text string) {
	t.Helper()
	var want []string // the text's terms, each once, sorted
	for _, word := range searchWords(text) {
		if len(word) <= maxTermLength {
			want = append(want, word)
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	entry := newSearchEntry(SearchText{Body: text})
	if got := strings.Fields(entry.body); !slices.Equal(sorted(got), want) {
		t.Errorf("body terms of %.60q:\n got %.200q\nwant %.200q", text, sorted(got), want)
	}
	if got := c.terms(t, entry.body); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("SQLite terms of %.60q:\n got %.200q\nwant %.200q", text, got, want)
	}
	var lexemes []string
	for _, lexeme := range strings.Split(tsvectorLiteral(&entry), " ") {
		if lexeme != "" {
			lexemes = append(lexemes, strings.ReplaceAll(strings.Trim(lexeme, "'"), "''", "'"))
		}
	}
	if got := sorted(lexemes); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("PostgreSQL lexemes of %.60q:\n got %.200q\nwant %.200q", text, got, want)
	}
}

func sorted(words []string) []string {
	words = slices.Clone(words)
	slices.Sort(words)
	return words
}

// peerCorpusTexts reads the messages of other projects' test suites (at
// test time; they are not copied into the repository) as text.
func peerCorpusTexts(t *testing.T) []string {
	t.Helper()
	var texts []string
	filepath.WalkDir("../../../shared/peer-corpus", func(path string, entry os.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err == nil && len(raw) < 1<<20 {
			texts = append(texts, strings.ToValidUTF8(string(raw), "\ufffd"))
		}
		return nil
	})
	if len(texts) == 0 {
		t.Log("no peer corpus beside the repository: generated texts only")
	}
	return texts
}

// BenchmarkDistinctPieces measures the cost that distinctPieces adds to
// preparing a message (about 3 KB of English and Russian text) for storage.
func BenchmarkDistinctPieces(b *testing.B) {
	words := strings.Fields("the of and to in is for on that with invoice meeting report server Backup quarterly budget " +
		"release review schedule customer contract delivery update Please regards thanks отчёт встреча счёт договор Доставка")
	random := rand.New(rand.NewPCG(1, 2))
	var text strings.Builder
	for text.Len() < 3000 {
		text.WriteString(words[random.IntN(len(words))])
		if random.IntN(12) == 0 {
			text.WriteString(".\r\n")
		} else {
			text.WriteByte(' ')
		}
	}
	b.SetBytes(int64(text.Len()))
	for b.Loop() {
		distinctPieces(text.String())
	}
}

// BenchmarkSearchEntry measures preparing a message's full-text entry
// (distinct pieces, then terms folded and stemmed), against
// BenchmarkDistinctPieces, which was all of it before stemming.
func BenchmarkSearchEntry(b *testing.B) {
	words := strings.Fields("the of and to in is for on that with invoice meeting report server Backup quarterly budget " +
		"release review schedule customer contract delivery update Please regards thanks отчёт встреча счёт договор Доставка " +
		"лицензии поставки оплаты квитанция документы согласовать")
	random := rand.New(rand.NewPCG(1, 2))
	var text strings.Builder
	for text.Len() < 3000 {
		text.WriteString(words[random.IntN(len(words))])
		if random.IntN(12) == 0 {
			text.WriteString(".\r\n")
		} else {
			text.WriteByte(' ')
		}
	}
	b.SetBytes(int64(text.Len()))
	for b.Loop() {
		newSearchEntry(SearchText{Subject: "Re: Квартальный отчёт", Sender: "Anna Petrova <anna@example.com>", Recipients: "team@example.com", Body: text.String()})
	}
}
