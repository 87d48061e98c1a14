package rules

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCompile compiles a condition of every operator from the fuzzer's
// string and runs it on the fuzzer's text: Compile either refuses with a
// field error or gives a rule that Evaluate runs without panicking; a
// regular expression's literal prefilter never skips a text the
// expression matches; contains agrees with a plain fold-and-search; the
// reasons' excerpts are valid UTF-8.
func FuzzCompile(f *testing.F) {
	seeds := [][2]string{
		{`\d+`, "Order 12345"},
		{`(карт[аы]|card)\s+(№\s*)?\d{4}`, "КАРТА № 1234"},
		{`bitcoin wallet [13][a-km-zA-HJ-NP-Z1-9]{25,34}`, "BITCOIN WALLET 1BoatSLRHtKNngkdXEeobR76b53LETtpyT"},
		{`(?-i)Счёт`, "счёт"},
		{`a(b`, "ab"},
		{`foo(?=bar)`, "foobar"},
		{`ΣΟΦΟΣ`, "σοφος"},
		{`(?i)K+elvin`, "kkelvin"},
		{`x{2,1000}`, strings.Repeat("x", 100)},
		{"ПРИВЕТ", "привет, мир"},
		{"a\nb", "b"},
		{"", ""},
		{`\x{10FFFF}`, "\U0010FFFF"},
		{`(?s).*`, "\xff\xfe"},
		{`\border\s+#?\d{6}\b`, "reorder 123456, ORDER #654321"},
		{`^invoice`, "an invoice"},
		{`(?m)^итого`, "сумма\nИТОГО: 5"},
		{`aaab`, "aaaab"},
		{`(invoice|счёт)\s+№?\d+`, "Счёт №42 and INVOICE 7"},
		{`\Bcard`, "scard card"},
	}
	for _, seed := range seeds {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, value, text string) {
		if !utf8.ValidString(text) {
			text = strings.ToValidUTF8(text, "\uFFFD")
		}
		v := &View{Subject: text, Body: text, HeaderText: text, From: []string{text}, Attachments: []string{text},
			Headers: map[string][]string{"x-test": {text}}}
		for _, op := range Ops {
			rule := Rule{ID: 1, Active: true, OnReceive: true, Conditions: []Condition{{Field: FieldBody, Op: op, Values: []string{value}}}}
			c, err := Compile(rule)
			if err != nil {
				invalid, ok := err.(*InvalidError)
				if !ok || len(invalid.Fields) == 0 {
					t.Fatalf("%s %q: error %v is not a field error", op, value, err)
				}
				continue
			}
			for _, field := range Fields {
				rule.Conditions[0].Field, rule.Conditions[0].Header = field, ""
				if field == FieldHeader {
					rule.Conditions[0].Header = "X-Test"
				}
				if c, err = Compile(rule); err != nil {
					t.Fatalf("%s %s %q: %v", field, op, value, err)
				}
				for _, match := range Evaluate([]*Compiled{c}, v, EventReceive).Matches {
					for _, reason := range match.Reasons {
						if !utf8.ValidString(reason.Text) || !utf8.ValidString(reason.Value) {
							t.Fatalf("reason %+v", reason)
						}
					}
				}
			}
			matched := len(Evaluate([]*Compiled{c}, v, EventReceive).Matches) == 1
			switch op {
			case OpContains:
				want := false
				for _, line := range c.Rule().Conditions[0].Values {
					want = want || strings.Contains(fold(text), fold(line))
				}
				if matched != want {
					t.Fatalf("contains %q in %q: %v, want %v", value, text, matched, want)
				}
			case OpRegex:
				for _, line := range c.Rule().Conditions[0].Values {
					re := regexp.MustCompile("(?i)" + line)
					literals := requiredLiterals("(?i)" + line)
					if re.MatchString(text) && literals != nil && !containsAny(fold(text), literals) {
						t.Fatalf("%q matches %q, but none of its literals %q is in it", line, text, literals)
					}
					if re.MatchString(text) && !matched {
						t.Fatalf("%q matches %q, the rule did not", line, text)
					}
					// One value: the rule matches exactly when it does
					// (the prefilters and the anchored runs lose nothing
					// and find nothing more).
					if len(c.Rule().Conditions[0].Values) == 1 && re.MatchString(text) != matched {
						t.Fatalf("%q on %q: the rule matched %v, the pattern %v", line, text, matched, re.MatchString(text))
					}
				}
			}
		}
		if folded := fold(text); utf8.RuneCountInString(folded) != utf8.RuneCountInString(text) || fold(folded) != folded {
			t.Fatalf("fold %q = %q", text, folded)
		}
	})
}
