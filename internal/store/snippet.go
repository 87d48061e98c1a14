package store

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SnippetLength is how many characters of a message's text the message
// list shows under its subject.
const SnippetLength = 120

// snippetScan is how much of a text Snippet reads at most.
const snippetScan = 64 << 10

// Snippet is the start of a message's text body as the message list shows
// it under the subject: at most SnippetLength characters, whitespace
// collapsed, quoted lines ("> ...") and the "On ... wrote:" line before
// them skipped, and nothing from the signature ("-- " line) on. It is
// stored with the message (the list must not parse sources) and made anew
// by the background reindex for mail stored before it had one.
func Snippet(text string) string {
	// The snippet comes from the text's start: a text that gives none in
	// its first 64 KB (all quoted, say) gives none, rather than having
	// every line of a huge body split and read.
	if len(text) > snippetScan {
		text = text[:snippetScan]
	}
	var b strings.Builder
	n := 0
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		line = strings.TrimRight(line, "\r")
		if line == "-- " || line == "--" {
			break // the signature
		}
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, ">") {
			continue
		}
		if strings.HasSuffix(trimmed, ":") && nextQuoted(lines[i+1:]) {
			continue // "On Mon, ... wrote:" introducing a quote
		}
		for _, word := range strings.FieldsFunc(line, isSnippetSpace) {
			if n > 0 {
				b.WriteByte(' ')
				n++
			}
			for _, r := range word {
				if n >= SnippetLength {
					return strings.TrimSpace(b.String()) + "…"
				}
				if r == utf8.RuneError || unicode.IsControl(r) {
					continue
				}
				b.WriteRune(r)
				n++
			}
		}
		if n >= SnippetLength {
			break
		}
	}
	return strings.TrimSpace(b.String())
}

// nextQuoted tells whether the first non-blank line of lines is quoted.
func nextQuoted(lines []string) bool {
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		return strings.HasPrefix(trimmed, ">")
	}
	return false
}

func isSnippetSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\u00a0' || r == '\u200b' || r == '\ufeff'
}
