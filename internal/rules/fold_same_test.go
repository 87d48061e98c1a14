package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// refFoldFrom is foldFrom as it was before session 10 (byte by byte into
// a slice), kept to prove the reworked one folds the same.
func refFoldFrom(s string, start int) string {
	b := make([]byte, start, len(s)+8)
	copy(b, s[:start])
	for i := start; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		if i+1 < len(s) && (c == 0xD0 || (c == 0xD1 && s[i+1] < 0xA0)) && s[i+1]&0xC0 == 0x80 {
			d := s[i+1]
			switch {
			case c == 0xD0 && d >= 0x90 && d <= 0x9F:
				b = append(b, 0xD0, d+0x20)
			case c == 0xD0 && d >= 0xA0 && d <= 0xAF:
				b = append(b, 0xD1, d-0x20)
			case c == 0xD0 && d <= 0x8F:
				b = append(b, 0xD1, d+0x10)
			default:
				b = append(b, c, d)
			}
			i += 2
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, foldRune(r))
		i += size
	}
	return string(b)
}

// TestFoldSameAsBefore: random texts of ASCII runs, capitals, Cyrillic of
// both cases, other scripts and bad bytes fold as they did.
func TestFoldSameAsBefore(t *testing.T) {
	pieces := []string{"word", "Word", "WORD", " ", "\r\n", "@", "[", "`", "{", "Z", "слово", "СЛОВО", "Ёлка", "Ѡѡ", "ΣΊΣΥΦΟΣ", "K", "İ",
		"ß", "ẞ", "日本", "\xff", "\xd0", "\xd1\xa0", "\xd0A", "\xe2\x80", "\x00", "a\xd1"}
	rnd := rand.New(rand.NewPCG(10, 1))
	for i := range 20000 {
		var b strings.Builder
		for range rnd.IntN(30) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		text := b.String()
		for start := 0; start <= len(text); start++ {
			if got, want := foldFrom(text, start), refFoldFrom(text, start); got != want {
				t.Fatalf("case %d: fold of %q from %d is %q, was %q", i, text, start, got, want)
			}
			if start > 3 {
				break
			}
		}
	}
}
