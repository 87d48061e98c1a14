package spam

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"

	"pochta.dev/pochta/internal/mime"
)

func parse(t *testing.T, raw string) *mime.Message {
	t.Helper()
	return mime.Parse([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), mime.Options{})
}

func TestTokenize(t *testing.T) {
	m := parse(t, `From: "Иван Петров" <Ivan@Example.RU>
To: me@pochta.test
Subject: Ёлка SALE
Received: from relay.bad.example ([203.0.113.9]) by mx.pochta.test; Mon, 1 Jan 2024 10:00:00 +0000
X-Spam-Status: Yes, score=99
X-Mailer: Outlook Express
Message-ID: <0000531f3b6e$000009ef@[192.0.2.7]>
Content-Type: text/plain; charset=utf-8

Ёжик купил ЁЛКУ. Visit http://Shop.Example.COM/path?x=1 or www.deals.example.net now!
Don't pay $100 for e-mail. aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
`)
	tokens := Tokenizer{Pairs: true}.Tokenize(m)
	for _, want := range []string{
		"subject:елка", "subject:sale", "subject:елка sale",
		"from:ivan@example.ru", "from:@example.ru", "to:me@pochta.test",
		"h:relay.bad.example", "h:203.0.113.9", "h:outlook", "h:express", "h:type:text/plain", "h:charset:utf-8",
		"ежик", "купил", "елку", "ежик купил", "купил елку",
		"url:shop.example.com", "url:example.com", "url:www.deals.example.net", "url:deals.example.net",
		"don't", "$100", "e-mail", "pay $100", "h:message-id@ip", "skip:a40",
	} {
		if !slices.Contains(tokens, want) {
			t.Errorf("no token %q in %q", want, tokens)
		}
	}
	for _, unwanted := range []string{"h:yes", "h:score", "h:99", "h:mon", "h:2024", "елку visit"} {
		if slices.Contains(tokens, unwanted) {
			t.Errorf("token %q should not be there", unwanted)
		}
	}
	if plain := Tokenize(m); slices.Contains(plain, "ежик купил") || !slices.Contains(plain, "ежик") {
		t.Errorf("default tokenizer: %q", plain)
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			t.Errorf("token %q twice", tok)
		}
		seen[tok] = true
	}
}

// A huge message gives at most MaxTokens tokens.
func TestTokenizeBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: many\n\n")
	for i := 0; b.Len() < 1<<20; i++ {
		b.WriteString("w")
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%7))
		b.WriteString(string(rune('a' + (i/26)%26)))
		b.WriteString(string(rune('a' + (i/676)%26)))
		b.WriteString(" ")
	}
	if n := len(Tokenize(parse(t, b.String()))); n != MaxTokens {
		t.Errorf("%d tokens, want %d", n, MaxTokens)
	}
	if n := len(Tokenize(nil)); n != 0 {
		t.Errorf("nil message: %d tokens", n)
	}
}

func TestWordScoreString(t *testing.T) {
	for _, tc := range []struct {
		score WordScore
		want  string
	}{
		{WordScore{"viagra", 0.9999, 40, 0}, "viagra = 99.9% (spam 40, ham 0)"},
		{WordScore{"meeting", 0.02, 1, 30}, "meeting = 2% (spam 1, ham 30)"},
		{WordScore{"the", 0.5, 10, 10}, "the = 50% (spam 10, ham 10)"},
		{WordScore{"rare", 0.0001, 0, 90}, "rare = 0.01% (spam 0, ham 90)"},
	} {
		if got := tc.score.String(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

// trained gives counts learned from a few messages of each class.
func trained(t *testing.T) *Memory {
	t.Helper()
	ctx := context.Background()
	var counts Memory
	for i := 0; i < 10; i++ {
		if err := Train(ctx, &counts, []string{"cheap", "pills", "winner", "the"}, Spam); err != nil {
			t.Fatal(err)
		}
		if err := Train(ctx, &counts, []string{"meeting", "agenda", "the", "report"}, Ham); err != nil {
			t.Fatal(err)
		}
	}
	return &counts
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	classifier := NewClassifier(Params{}, trained(t))
	for _, tc := range []struct {
		name   string
		tokens []string
		spam   bool
	}{
		{"spam", []string{"cheap", "pills", "the", "unknown"}, true},
		{"ham", []string{"meeting", "agenda", "report"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := classifier.Classify(ctx, tc.tokens)
			if err != nil {
				t.Fatal(err)
			}
			if (r.Probability > 0.9) != tc.spam || (r.Probability < 0.1) == tc.spam {
				t.Errorf("probability %v", r.Probability)
			}
			for _, w := range r.Words {
				if w.Word == "unknown" {
					t.Errorf("word %s used: it was never learned", w)
				}
			}
			if len(r.Words) == 0 || !strings.Contains(r.String(), " = ") {
				t.Errorf("no explanation: %q", r)
			}
		})
	}
	// Nothing learned: undecided.
	r, err := NewClassifier(Params{}, &Memory{}).Classify(ctx, []string{"cheap"})
	if err != nil || r.Probability != 0.5 || r.Rating() != 50 {
		t.Errorf("empty counts: %+v, %v", r, err)
	}
}

// Every telling word is used, however seldom seen; WordsUsed is a floor
// that the most telling of the other words fill up to, when seen at least
// MinCount times.
func TestParamsHonoured(t *testing.T) {
	counts := trained(t)
	tokens := []string{"cheap", "pills", "winner", "the"}
	used := func(p Params) []string {
		t.Helper()
		r := NewClassifier(p, counts).Rate(tokens, Count{Spam: 10, Ham: 10}, Words(mustWords(t, counts, tokens)))
		var words []string
		for _, w := range r.Words {
			words = append(words, w.Word)
		}
		slices.Sort(words)
		return words
	}
	for _, tc := range []struct {
		params Params
		want   []string
	}{
		// Three telling words, more than the floor: "the" (50%) is not
		// needed.
		{Params{WordsUsed: 2}, []string{"cheap", "pills", "winner"}},
		// A floor of 4: "the", seen 20 times, fills.
		{Params{WordsUsed: 4}, []string{"cheap", "pills", "the", "winner"}},
		// Seen fewer than the minimum count, "the" does not fill; the
		// telling words, seen 10 times each, are used all the same.
		{Params{WordsUsed: 4, MinCount: 21}, []string{"cheap", "pills", "winner"}},
	} {
		if got := used(tc.params); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: words used %q, want %q", tc.params, got, tc.want)
		}
	}
}

func mustWords(t *testing.T, c Counts, words []string) map[string]Count {
	t.Helper()
	m, err := c.Words(context.Background(), words)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Re-marking moves a message's counts from one class to the other once.
func TestMove(t *testing.T) {
	ctx := context.Background()
	counts := trained(t)
	tokens := []string{"cheap", "newword"}
	steps := []struct {
		from, to    Class
		cheap, new_ Count
		totals      Count
	}{
		{None, Ham, Count{10, 1}, Count{0, 1}, Count{10, 11}},
		{Ham, Spam, Count{11, 0}, Count{1, 0}, Count{11, 10}},
		{Spam, Spam, Count{11, 0}, Count{1, 0}, Count{11, 10}},
		{Spam, None, Count{10, 0}, Count{}, Count{10, 10}},
	}
	for _, s := range steps {
		if err := counts.Apply(ctx, Move(tokens, s.from, s.to)); err != nil {
			t.Fatal(err)
		}
		got := mustWords(t, counts, tokens)
		totals, _ := counts.Totals(ctx)
		if got["cheap"] != s.cheap || got["newword"] != s.new_ || totals != s.totals {
			t.Errorf("%q -> %q: %v, totals %v", s.from, s.to, got, totals)
		}
	}
	if _, ok := mustWords(t, counts, tokens)["newword"]; ok {
		t.Error("a word back to zero is kept")
	}
	// Untraining more than was trained stops at zero.
	if err := Untrain(ctx, counts, []string{"winner"}, Ham); err != nil {
		t.Fatal(err)
	}
	if c := mustWords(t, counts, []string{"winner"})["winner"]; c != (Count{Spam: 10}) {
		t.Errorf("winner: %v", c)
	}
	if err := Train(ctx, counts, nil, None); err == nil {
		t.Error("training as no class succeeded")
	}
}

func FuzzTokenize(f *testing.F) {
	f.Add([]byte("From: a@b.c\r\nSubject: Ёлка\r\n\r\nhttp://x.y/ слово word"))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<a href='http://1.2.3.4/'>Купить</a> <img src=\"HTTPS://Z.example\">"))
	f.Add([]byte("Subject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\nReceived: from [::1]\r\n\r\n$$$ don't-stop ...."))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := mime.Parse(raw, mime.Options{})
		tokens := Tokenizer{Pairs: true}.Tokenize(m)
		if len(tokens) > MaxTokens {
			t.Fatalf("%d tokens", len(tokens))
		}
		seen := make(map[string]bool, len(tokens))
		for _, tok := range tokens {
			if tok == "" || seen[tok] {
				t.Fatalf("empty or repeated token %q", tok)
			}
			seen[tok] = true
		}
	})
}

// The tokenizer's Cyrillic fold and word test without the tables give what
// the tables give, for every character of the two-byte range.
func TestFoldFastPath(t *testing.T) {
	tok := newTokenizer()
	for r := rune(0x80); r < 0x800; r++ {
		word := "Zz" + string(r) + "Q"
		want := strings.Map(foldRune, word)
		if got := tok.fold(word); got != want {
			t.Errorf("fold(%q) = %q, want %q", word, got, want)
		}
		if r >= 0x400 && r <= 0x4FF {
			table := unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
			if got := isWordRune(r); got != table {
				t.Errorf("isWordRune(%U) = %v, want %v", r, got, table)
			}
		}
	}
}

// The explanation names the most telling words only, however many were
// used.
func TestExplanationBounded(t *testing.T) {
	var r Result
	for i := range ExplainedWords + 12 {
		r.Words = append(r.Words, WordScore{Word: fmt.Sprintf("w%d", i), Probability: 0.99, Spam: 5})
	}
	lines := strings.Split(r.String(), "\n")
	if len(lines) != ExplainedWords+1 || lines[ExplainedWords] != "… (+12)" || !strings.HasPrefix(lines[0], "w0 = ") {
		t.Errorf("explanation of %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// The explanation's percentages without fmt are fmt's, to the character.
func TestPercentAsFmt(t *testing.T) {
	fmtPercent := func(p float64) string {
		v := p * 100
		switch {
		case v > 0 && v < 1:
			return fmt.Sprintf("%.2g", v)
		case v > 99 && v < 100:
			return fmt.Sprintf("%.3g", math.Floor(v*10)/10)
		}
		return fmt.Sprintf("%.0f", v)
	}
	values := []float64{0, 1, 0.5, 0.0001, 0.9999, 0.005, 0.995, 0.00999, 0.99001, 0.0099999, 0.125, 0.015, 0.025, 1e-9, math.NaN(), math.Inf(1), -0.01, -0.003, 0.405, 0.445, 0.625, 0.875, 1e13, 1e20}
	rnd := rand.New(rand.NewPCG(1, 4))
	for range 200000 {
		values = append(values, rnd.Float64(), rnd.Float64()/100, 0.99+rnd.Float64()/100, float64(rnd.IntN(100001))/100000)
	}
	for _, p := range values {
		if got, want := percent(p), fmtPercent(p); got != want {
			t.Fatalf("percent(%v) = %q, fmt gives %q", p, got, want)
		}
		w := WordScore{Word: "слово", Probability: p, Spam: int64(rnd.IntN(1000)), Ham: -3}
		if got, want := w.String(), fmt.Sprintf("%s = %s%% (spam %d, ham %d)", w.Word, fmtPercent(p), w.Spam, w.Ham); got != want {
			t.Fatalf("String() = %q, want %q", got, want)
		}
	}
}

// An address whose fold changes its length (Kelvin signs fold to "k", İ
// to two characters) gives its domain whole: cut at the field's offset of
// the '@' it was "@e.com", or bytes that are not UTF-8.
func TestTokenizeDomainAfterFold(t *testing.T) {
	for from, want := range map[string]string{
		"\u212a\u212a\u212a@example.com": "from:@example.com",
		"\u212ax@ab.com":                 "from:@ab.com",
		"\u0130x@ыы.рф":                  "from:@ыы.рф",
	} {
		tokens := Tokenize(parse(t, "From: "+from+"\nSubject: hi\n\nhello there\n"))
		if !slices.Contains(tokens, want) {
			t.Errorf("From %q: tokens %q; want %s", from, tokens, want)
		}
	}
}
