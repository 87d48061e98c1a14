package i18n

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShorten(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  string
	}{
		{"short", "Invoice 7", 20, "Invoice 7"},
		{"exactly the limit", "abcde", 5, "abcde"},
		{"one over", "abcdef", 5, "abcd…"},
		{"Cyrillic counts characters, not bytes", "Счёт на оплату", 6, "Счёт…"},
		{"no space before the ellipsis", "one two three", 5, "one…"},
		{"emoji kept whole", "ab😀cdef", 4, "ab😀…"},
		{"limit one", "abc", 1, "…"},
		{"limit zero", "abc", 0, ""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := Shorten(test.text, test.limit)
			if got != test.want {
				t.Errorf("Shorten(%q, %d) = %q, want %q", test.text, test.limit, got, test.want)
			}
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > max(test.limit, 0) {
				t.Errorf("Shorten(%q, %d) = %q: not valid or too long", test.text, test.limit, got)
			}
		})
	}
	megabyte := strings.Repeat("Тема ", 200_000)
	if got := Shorten(megabyte, 200); utf8.RuneCountInString(got) != 200 || !strings.HasSuffix(got, Ellipsis) {
		t.Errorf("a megabyte subject gives %d characters: %q", utf8.RuneCountInString(got), got[:40])
	}
}
