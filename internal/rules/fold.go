package rules

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold gives s with each character case-folded, so that two strings equal
// ignoring case are equal after it. Folding is per character (simple case
// folding): the result has as many characters as s, which lets a match
// found in the folded text be mapped back to the text as written
// ([originalOffset]). ASCII text without capitals comes back as it is,
// without a copy.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return foldFrom(s, i)
		}
	}
	return s
}

func foldFrom(s string, start int) string {
	// A Builder, whose String is not a copy, and ASCII without capitals
	// and lower-case Cyrillic copied a run at a time: most of a body's bytes (byte by byte into a
	// slice, then copied into a string, folding was a third of the rules'
	// time on receipt, docs/benchmarks.md).
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:start])
	for i := start; i < len(s); {
		// A run of what folds to itself: ASCII but capitals, and
		// lower-case Cyrillic (D0 B0-BF, D1 80-9F), most of a Russian body.
		j := i
		for j < len(s) {
			if c := s[j]; c < utf8.RuneSelf {
				if 'A' <= c && c <= 'Z' {
					break
				}
				j++
			} else if j+1 < len(s) && (c == 0xD0 && s[j+1] >= 0xB0 && s[j+1] <= 0xBF || c == 0xD1 && s[j+1] >= 0x80 && s[j+1] <= 0x9F) {
				j += 2
			} else {
				break
			}
		}
		if j > i {
			b.WriteString(s[i:j])
			i = j
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b.WriteByte(c + 'a' - 'A') // a capital: the run stopped at it
			i++
			continue
		}
		// Cyrillic, two bytes each, byte by byte: А-П (D0 90-9F) become
		// а-п (D0 B0-BF), Р-Я (D0 A0-AF) р-я (D1 80-8F), Ѐ-Џ (D0 80-8F)
		// ѐ-џ (D1 90-9F); the lower-case letters (D0 B0-BF, D1 80-9F)
		// stay. The rest of D1 (Ѡ-ѿ, which have cases) takes the tables. A Russian body folds at about a nanosecond a byte.
		if i+1 < len(s) && (c == 0xD0 || (c == 0xD1 && s[i+1] < 0xA0)) && s[i+1]&0xC0 == 0x80 {
			d := s[i+1]
			switch {
			case c == 0xD0 && d >= 0x90 && d <= 0x9F:
				b.WriteByte(0xD0)
				b.WriteByte(d + 0x20)
			case c == 0xD0 && d >= 0xA0 && d <= 0xAF:
				b.WriteByte(0xD1)
				b.WriteByte(d - 0x20)
			case c == 0xD0 && d <= 0x8F:
				b.WriteByte(0xD1)
				b.WriteByte(d + 0x10)
			default:
				b.WriteString(s[i : i+2])
			}
			i += 2
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(foldRune(r))
		i += size
	}
	return b.String()
}

// foldRune maps r to the one character that stands for its case class: the
// lower case of its upper case, so that "ς", "σ" and "Σ" all give "σ", "K"
// (the Kelvin sign) gives "k", and "ẞ" gives "ß". Cyrillic, the common case
// of Pochta's mail, is done without the tables.
func foldRune(r rune) rune {
	switch {
	case r >= 0x0430 && r <= 0x045F: // а-я, ѐ-џ: already lower
		return r
	case r >= 0x0410 && r <= 0x042F: // А-Я
		return r + 0x20
	case r >= 0x0400 && r <= 0x040F: // Ѐ-Џ (Ё among them)
		return r + 0x50
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// originalOffset maps a byte offset of fold(original) to the offset of the
// same character in original.
func originalOffset(original, folded string, offset int) int {
	if len(original) == len(folded) && original == folded {
		return offset
	}
	characters := utf8.RuneCountInString(folded[:offset])
	i := 0
	for ; characters > 0 && i < len(original); characters-- {
		_, size := utf8.DecodeRuneInString(original[i:])
		i += size
	}
	return i
}

// Excerpts of matched text keep this many characters of context on each
// side, and at most maxMatch characters of the match itself.
const (
	excerptContext = 30
	maxMatch       = 100
)

// excerpt gives text[start:end] with a little context around it, on one
// line, cut with "…" where it is cut: what the dry run shows as the text
// that matched.
func excerpt(text string, start, end int) string {
	from := start
	for n := 0; n < excerptContext && from > 0; n++ {
		_, size := utf8.DecodeLastRuneInString(text[:from])
		from -= size
	}
	to, n := start, 0
	for ; to < end && n < maxMatch; n++ {
		_, size := utf8.DecodeRuneInString(text[to:])
		to += size
	}
	cut := to < end
	if !cut {
		for n := 0; n < excerptContext && to < len(text); n++ {
			_, size := utf8.DecodeRuneInString(text[to:])
			to += size
		}
	}
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	for _, r := range text[from:to] {
		if r == '\r' || r == '\n' || r == '\t' {
			r = ' '
		}
		b.WriteRune(r)
	}
	if to < len(text) {
		b.WriteString("…")
	}
	return b.String()
}
