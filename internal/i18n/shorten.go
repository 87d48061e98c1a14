package i18n

import "unicode/utf8"

// Ellipsis ends a text that [Shorten] cut.
const Ellipsis = "…"

// Shorten gives text cut to at most limit characters (runes), the last of
// them an ellipsis, for lists and log lines where a subject or a name of
// any length must not make the line (or the page) as long: a megabyte
// subject is legal mail. Text of limit characters or fewer is given as it
// is. A cut never splits a character, and leaves no white space before the
// ellipsis.
func Shorten(text string, limit int) string {
	if limit < 1 {
		return ""
	}
	if len(text) <= limit || utf8.RuneCountInString(text) <= limit {
		return text
	}
	end, count := 0, 0
	for index := range text {
		if count == limit-1 {
			end = index
			break
		}
		count++
	}
	cut := text[:end]
	for len(cut) > 0 {
		last, size := utf8.DecodeLastRuneInString(cut)
		if last != ' ' && last != '\t' && last != '\n' && last != '\r' {
			break
		}
		cut = cut[:len(cut)-size]
	}
	return cut + Ellipsis
}
