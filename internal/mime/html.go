package mime

import (
	"html"
	"strings"
)

// htmlToText makes plain text from HTML for search and preview: script,
// style, head and comments are dropped, block elements become line
// breaks, list items get "- ", links keep their text, entities are
// decoded, runs of spaces collapse. It is not a renderer and never
// executes anything; it does not need well-formed input.
func htmlToText(h string) string {
	var sb strings.Builder
	sb.Grow(len(h) / 2)
	i := 0
	lower := asciiLower(h) // same length as h, so indexes agree
	for i < len(h) {
		lt := strings.IndexByte(h[i:], '<')
		if lt < 0 {
			writeHTMLText(&sb, h[i:])
			break
		}
		writeHTMLText(&sb, h[i:i+lt])
		i += lt
		if strings.HasPrefix(h[i:], "<!--") {
			e := strings.Index(h[i+4:], "-->")
			if e < 0 {
				break
			}
			i += 4 + e + 3
			continue
		}
		gt := strings.IndexByte(h[i:], '>')
		if gt < 0 {
			break
		}
		tag := lower[i+1 : i+gt]
		i += gt + 1
		name := tag
		if k := strings.IndexAny(name, " \t\r\n/"); k >= 0 {
			if k == 0 && strings.HasPrefix(name, "/") {
				name = "/" + strings.TrimLeft(name[1:], " ")
				if k2 := strings.IndexAny(name[1:], " \t\r\n/"); k2 >= 0 {
					name = name[:k2+1]
				}
			} else if k > 0 {
				name = name[:k]
			}
		}
		switch name {
		case "script", "style", "head", "title", "xml":
			end := strings.Index(lower[i:], "</"+name)
			if end < 0 {
				i = len(h)
				continue
			}
			i += end
			if gt := strings.IndexByte(h[i:], '>'); gt >= 0 {
				i += gt + 1
			} else {
				i = len(h)
			}
		case "br", "br/":
			sb.WriteString("\n")
		case "p", "/p", "div", "/div", "tr", "/tr", "table", "/table", "h1", "h2", "h3", "h4", "h5", "h6",
			"/h1", "/h2", "/h3", "/h4", "/h5", "/h6", "blockquote", "/blockquote", "pre", "/pre", "hr", "ul", "/ul", "ol", "/ol":
			sb.WriteString("\n")
		case "li":
			sb.WriteString("\n- ")
		case "td", "th":
			sb.WriteString(" ")
		}
	}
	return tidyLines(html.UnescapeString(sb.String()))
}

func writeHTMLText(sb *strings.Builder, s string) {
	if s == "" {
		return
	}
	// whitespace in HTML text collapses to one space
	prevSpace := false
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' {
			if !prevSpace {
				sb.WriteByte(' ')
			}
			prevSpace = true
			continue
		}
		prevSpace = false
		sb.WriteRune(r)
	}
}

// tidyLines trims each line, turns non-breaking spaces into spaces and
// keeps at most one blank line in a row.
func tidyLines(s string) string {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// asciiLower lower-cases ASCII letters only, keeping the byte length.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
