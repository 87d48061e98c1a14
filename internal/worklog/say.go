package worklog

import (
	"fmt"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/store"
)

// Part is a piece of a log line said through the message catalog: key
// with its arguments (each written with fmt's %v; the catalog's texts for
// log lines take %s).
func Part(key string, args ...any) store.LogPart {
	texts := make([]string, len(args))
	for i, arg := range args {
		texts[i] = fmt.Sprint(arg)
	}
	return store.LogPart{Key: key, Args: texts}
}

// Size is an argument of a Part that each reader sees as a size in their
// own language ("3.4 KB", "3,4 КБ"). It is marked by a NUL byte, which no
// stored text has (the store refuses it), so no subject can pass for one.
func Size(bytes int) string { return sizeMark + strconv.Itoa(bytes) }

const sizeMark = "\x00size:"

// MaxSubject is the most characters of a subject (or another text from
// outside: a name, a file name) that a log line keeps.
const MaxSubject = 200

// Subject is an argument of a Part that carries a text of any length from
// a message, such as its subject, shortened to MaxSubject characters: a
// megabyte subject is legal mail, and the log line would keep it all and
// show it on every log page. The message itself keeps the whole text.
func Subject(text string) string { return i18n.Shorten(text, MaxSubject) }

// Literal is a piece of a log line said as it is in every language: a
// subject, an error's own text, a server's reply.
func Literal(text string) store.LogPart {
	return store.LogPart{Args: []string{text}}
}

// Say sets entry's text from parts: its Parts, which the store keeps and
// the front ends say in each reader's language, and its Text in English
// for whoever reads the entry before it is stored.
func Say(entry store.LogEntry, parts ...store.LogPart) store.LogEntry {
	entry.Text = Render(i18n.Fallback, parts)
	entry.Parts = nil
	for _, part := range parts {
		if part.Key != "" {
			entry.Parts = parts
			break
		}
	}
	// Literal pieces alone read the same in every language: Text is all.
	return entry
}

// Join appends line to entry as a line of its own (the fetcher's trace
// keeps lines of one level in one row), keeping both translatable.
func Join(entry, line store.LogEntry) store.LogEntry {
	if len(entry.Parts) == 0 && len(line.Parts) == 0 {
		entry.Text += "\n" + line.Text
		return entry
	}
	parts := entry.Parts
	if len(parts) == 0 {
		parts = []store.LogPart{Literal(entry.Text)}
	}
	parts = append(parts, Literal("\n"))
	if len(line.Parts) == 0 {
		parts = append(parts, Literal(line.Text))
	} else {
		parts = append(parts, line.Parts...)
	}
	entry.Text += "\n" + line.Text
	entry.Parts = parts
	return entry
}

// Render says parts in language.
func Render(language string, parts []store.LogPart) string {
	var text strings.Builder
	for _, part := range parts {
		if part.Key == "" {
			text.WriteString(strings.Join(part.Args, ""))
			continue
		}
		args := make([]any, len(part.Args))
		for i, arg := range part.Args {
			args[i] = arg
			if digits, ok := strings.CutPrefix(arg, sizeMark); ok {
				if bytes, err := strconv.ParseInt(digits, 10, 64); err == nil {
					args[i] = i18n.Default.Size(language, bytes)
				}
			}
		}
		text.WriteString(i18n.Default.T(language, part.Key, args...))
	}
	return text.String()
}

// Text says entry in language: its parts when it has them, else its text
// as it was written.
func Text(language string, entry store.LogEntry) string {
	if len(entry.Parts) == 0 {
		return entry.Text
	}
	return Render(language, entry.Parts)
}
