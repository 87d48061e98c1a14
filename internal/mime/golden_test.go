package mime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// golden is the expectation file NNN-name.json next to NNN-name.eml in
// testdata/golden. Fields left out are not checked. The files are written
// once by TestWriteGolden (from the hand-written table in
// golden_cases_test.go) and reviewed; nothing rewrites them silently.
type golden struct {
	Comment            string      `json:"comment,omitempty"`
	FallbackCharset    string      `json:"fallback_charset,omitempty"`
	Subject            *string     `json:"subject,omitempty"`
	From               []string    `json:"from,omitempty"`
	To                 []string    `json:"to,omitempty"`
	Cc                 []string    `json:"cc,omitempty"`
	ReplyTo            []string    `json:"reply_to,omitempty"`
	DeliveredTo        []string    `json:"delivered_to,omitempty"`
	MessageID          *string     `json:"message_id,omitempty"`
	InReplyTo          *string     `json:"in_reply_to,omitempty"`
	References         []string    `json:"references,omitempty"`
	Date               string      `json:"date,omitempty"` // RFC 3339, or "zero"
	Priority           int         `json:"priority,omitempty"`
	TextEquals         *string     `json:"text_equals,omitempty"`
	TextContains       []string    `json:"text_contains,omitempty"`
	TextNotContains    []string    `json:"text_not_contains,omitempty"`
	HTMLContains       []string    `json:"html_contains,omitempty"`
	HTMLEmpty          bool        `json:"html_empty,omitempty"`
	Attachments        *[]goldenAt `json:"attachments,omitempty"`  // exact list when present ([] = none)
	ParseErrors        string      `json:"parse_errors,omitempty"` // "0" or ">0"
	ParseErrorContains []string    `json:"parse_error_contains,omitempty"`
	HeaderContains     []string    `json:"header_contains,omitempty"` // in HeaderText
}

type goldenAt struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	ContentID   string `json:"content_id,omitempty"`
}

const goldenDir = "testdata/golden"

// eachGolden runs test on every message of the golden corpus with its
// expectations, each in a subtest named after the file.
func eachGolden(t *testing.T, test func(t *testing.T, name string, raw []byte, g *golden)) {
	t.Helper()
	emls, err := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(emls) < 60 {
		t.Fatalf("golden corpus has %d messages, want at least 60", len(emls))
	}
	for _, eml := range emls {
		name := strings.TrimSuffix(filepath.Base(eml), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(eml)
			if err != nil {
				t.Fatal(err)
			}
			js, err := os.ReadFile(strings.TrimSuffix(eml, ".eml") + ".json")
			if err != nil {
				t.Fatalf("expectations missing: %v", err)
			}
			var g golden
			dec := json.NewDecoder(strings.NewReader(string(js)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&g); err != nil {
				t.Fatalf("bad expectations: %v", err)
			}
			test(t, name, raw, &g)
		})
	}
}

func TestGolden(t *testing.T) {
	eachGolden(t, func(t *testing.T, name string, raw []byte, g *golden) {
		m := Parse(raw, Options{FallbackCharset: g.FallbackCharset})
		checkClean(t, name, m)
		checkGolden(t, m, g)
		if t.Failed() {
			t.Logf("parse errors: %q", m.ParseErrors)
		}
	})
}

func addrStrings(l []Address) []string {
	var s []string
	for _, a := range l {
		s = append(s, a.String())
	}
	return s
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkGolden(t *testing.T, m *Message, g *golden) {
	t.Helper()
	if g.Subject != nil && m.Subject != *g.Subject {
		t.Errorf("subject %q, want %q", m.Subject, *g.Subject)
	}
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"from", addrStrings(m.From), g.From},
		{"to", addrStrings(m.To), g.To},
		{"cc", addrStrings(m.Cc), g.Cc},
		{"reply_to", addrStrings(m.ReplyTo), g.ReplyTo},
		{"delivered_to", addrStrings(m.DeliveredTo), g.DeliveredTo},
		{"references", m.References, g.References},
	} {
		if c.want != nil && !eqStrings(c.got, c.want) {
			t.Errorf("%s %q, want %q", c.name, c.got, c.want)
		}
	}
	if g.MessageID != nil && m.MessageID != *g.MessageID {
		t.Errorf("message_id %q, want %q", m.MessageID, *g.MessageID)
	}
	if g.InReplyTo != nil && m.InReplyTo != *g.InReplyTo {
		t.Errorf("in_reply_to %q, want %q", m.InReplyTo, *g.InReplyTo)
	}
	switch {
	case g.Date == "zero":
		if !m.Date.IsZero() {
			t.Errorf("date %v, want zero", m.Date)
		}
	case g.Date != "":
		want, err := time.Parse(time.RFC3339, g.Date)
		if err != nil {
			t.Fatalf("bad date in expectations: %v", err)
		}
		if !m.Date.Equal(want) {
			t.Errorf("date %v, want %v", m.Date, want)
		}
	}
	if g.Priority != 0 && m.Priority != g.Priority {
		t.Errorf("priority %d, want %d", m.Priority, g.Priority)
	}
	if g.TextEquals != nil && m.Text != *g.TextEquals {
		t.Errorf("text %q, want %q", m.Text, *g.TextEquals)
	}
	for _, s := range g.TextContains {
		if !strings.Contains(m.Text, s) {
			t.Errorf("text %q does not contain %q", m.Text, s)
		}
	}
	for _, s := range g.TextNotContains {
		if strings.Contains(m.Text, s) {
			t.Errorf("text %q contains %q", m.Text, s)
		}
	}
	for _, s := range g.HTMLContains {
		if !strings.Contains(m.HTML, s) {
			t.Errorf("html %q does not contain %q", m.HTML, s)
		}
	}
	if g.HTMLEmpty && m.HTML != "" {
		t.Errorf("html %q, want empty", m.HTML)
	}
	for _, s := range g.HeaderContains {
		if !strings.Contains(m.HeaderText, s) {
			t.Errorf("header text does not contain %q", s)
		}
	}
	if g.Attachments != nil {
		want := *g.Attachments
		if len(m.Attachments) != len(want) {
			var got []string
			for _, a := range m.Attachments {
				got = append(got, a.Filename+" "+a.ContentType)
			}
			t.Errorf("%d attachments %q, want %d", len(m.Attachments), got, len(want))
		} else {
			for i, w := range want {
				a := m.Attachments[i]
				if a.Filename != w.Filename || a.ContentType != w.ContentType || a.Size != w.Size || a.ContentID != w.ContentID {
					t.Errorf("attachment %d = {%q %q %d %q}, want {%q %q %d %q}", i+1,
						a.Filename, a.ContentType, a.Size, a.ContentID, w.Filename, w.ContentType, w.Size, w.ContentID)
				}
			}
		}
	}
	switch g.ParseErrors {
	case "0":
		if len(m.ParseErrors) != 0 {
			t.Errorf("parse errors %q, want none", m.ParseErrors)
		}
	case ">0":
		if len(m.ParseErrors) == 0 {
			t.Errorf("no parse errors, want some")
		}
	case "":
	default:
		t.Fatalf("bad parse_errors %q in expectations", g.ParseErrors)
	}
	for _, s := range g.ParseErrorContains {
		found := false
		for _, e := range m.ParseErrors {
			if strings.Contains(e, s) {
				found = true
			}
		}
		if !found {
			t.Errorf("parse errors %q do not mention %q", m.ParseErrors, s)
		}
	}
}
