package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSnippet(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"collapsed", "  Hello,\r\n\r\n  world\tand\u00a0all  ", "Hello, world and all"},
		{"quote skipped", "Yes, agreed.\n\nOn Mon, 7 Dec 2026, Ivan wrote:\n> the plan\n> is fine\n\nThanks", "Yes, agreed. Thanks"},
		{"signature cut", "Счёт во вложении.\n-- \nИван Петров\n+7 900", "Счёт во вложении."},
		{"empty", "\n\n", ""},
		{"colon kept when not a quote", "Agenda:\n1. budget", "Agenda: 1. budget"},
		// Only the text's start is read: a body quoted past 64 KB gives none.
		{"long quote first", strings.Repeat("> quoted line\n", 10000) + "reply at the end", ""},
		{"long body", "Short start.\n" + strings.Repeat("word ", 1<<20), "Short start. " + strings.TrimSpace(strings.Repeat("word ", 21)) + " wo…"},
	}
	for _, c := range cases {
		if got := Snippet(c.text); got != c.want {
			t.Errorf("%s: Snippet = %q, want %q", c.name, got, c.want)
		}
	}
	long := Snippet(strings.Repeat("слово ", 100))
	if n := utf8.RuneCountInString(long); n > SnippetLength+1 || !strings.HasSuffix(long, "…") {
		t.Errorf("long text: %d characters %q", n, long)
	}
	if !utf8.ValidString(long) {
		t.Errorf("long text cut inside a character")
	}
}
