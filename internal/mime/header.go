package mime

import (
	"bytes"
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// rawField is one header field as split from the header block.
type rawField struct {
	name  string // raw bytes of the name
	value []byte // raw bytes after the colon, folding included
	raw   []byte // the whole field without its final line break
}

// nextLine returns the line starting at b[i:] without its line break and
// the index after the break.
func nextLine(b []byte, i int) (line []byte, next int) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		line = b[i:]
		next = len(b)
	} else {
		line = b[i : i+j]
		next = i + j + 1
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, next
}

// splitHeader splits an entity into its header fields and body. The
// header ends at the first empty line. A line that is neither a field nor
// a continuation also ends it (that line starts the body) and is noted.
// headerEnd is the length of the header block (without the blank line).
func splitHeader(b []byte) (fields []rawField, headerEnd, bodyStart int, problem string) {
	i := 0
	start, valStart := 0, 0 // of the current field
	for i < len(b) {
		line, next := nextLine(b, i)
		if len(line) == 0 {
			return fields, i, next, problem
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) == 0 {
				if len(bytes.TrimSpace(line)) == 0 {
					return fields, i, next, problem
				}
				problem = "header starts with a continuation line"
				i = next
				continue
			}
			f := &fields[len(fields)-1]
			f.raw = b[start : i+len(line)]
			f.value = b[valStart : i+len(line)]
			i = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(bytes.TrimRight(line[:colon], " \t")) {
			if len(fields) == 0 && i == 0 {
				return nil, 0, 0, "no header found"
			}
			return fields, i, i, "header ended without a blank line"
		}
		name := string(bytes.TrimRight(line[:colon], " \t"))
		start, valStart = i, i+colon+1
		fields = append(fields, rawField{name: name, value: line[colon+1:], raw: line})
		i = next
	}
	return fields, len(b), len(b), problem
}

func validFieldName(n []byte) bool {
	if len(n) == 0 || len(n) > 200 {
		return false
	}
	for _, c := range n {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// unfold removes line breaks from a folded header value and trims it.
func unfold(v []byte) []byte {
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return bytes.TrimSpace(v)
	}
	out := make([]byte, 0, len(v))
	for _, c := range v {
		if c == '\r' || c == '\n' {
			continue
		}
		out = append(out, c)
	}
	return bytes.TrimSpace(out)
}

// DecodeHeader decodes an unstructured header value to UTF-8: RFC 2047
// encoded words ("=?charset?B|Q?text?=") are decoded, whitespace between
// adjacent encoded words is dropped, and raw 8-bit bytes are read as
// UTF-8 when valid, else in the fallback charset ("" = windows-1252).
// Tabs become spaces. It is tolerant: encoded words run together without spaces, words split
// in the middle of a multi-byte character, broken base64 padding,
// unknown charset labels (read with the fallback) and stray "=?" are all
// accepted. Line breaks become spaces and NUL bytes are removed. It never
// fails.
func DecodeHeader(value, fallback string) string {
	d, _ := newCharsetDecoder(fallback)
	return decodeHeaderWith(d, []byte(value))
}

func decodeHeaderWith(d charsetDecoder, v []byte) string {
	if bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
		v = unfold(v)
	}
	v = bytes.TrimSpace(v)
	if !bytes.Contains(v, []byte("=?")) {
		return headerText(d.undeclared(v))
	}
	var sb strings.Builder
	sb.Grow(len(v))
	// pending collects decoded bytes of adjacent encoded words in one
	// charset, so that a character split across two words survives.
	var pending []byte
	pendingCharset := ""
	flush := func() {
		if pending != nil {
			s, _ := d.declared(pendingCharset, pending)
			sb.WriteString(s)
			pending, pendingCharset = nil, ""
		}
	}
	i := 0
	lastWasWord := false
	for i < len(v) {
		j := bytes.Index(v[i:], []byte("=?"))
		if j < 0 {
			flush()
			sb.WriteString(d.undeclared(v[i:]))
			break
		}
		between := v[i : i+j]
		cs, data, end, ok := parseEncodedWord(v, i+j)
		if !ok {
			// Not an encoded word: copy through "=?" and go on.
			flush()
			sb.WriteString(d.undeclared(v[i : i+j+2]))
			i += j + 2
			lastWasWord = false
			continue
		}
		if !(lastWasWord && len(bytes.TrimSpace(between)) == 0) {
			flush()
			sb.WriteString(d.undeclared(between))
		}
		if pending != nil && !strings.EqualFold(cs, pendingCharset) {
			flush()
		}
		if pending == nil {
			pending = []byte{}
		}
		pendingCharset = cs
		pending = append(pending, data...)
		i = end
		lastWasWord = true
	}
	flush()
	return headerText(sb.String())
}

// headerText is cleanText for header values: tabs (left by unfolding)
// become spaces too.
func headerText(s string) string {
	s = cleanText(s)
	if strings.IndexByte(s, '\t') >= 0 {
		s = strings.ReplaceAll(s, "\t", " ")
	}
	return s
}

// parseEncodedWord parses an encoded word starting at v[start] ("=?").
// It returns the charset, the decoded bytes and the index after "?=".
func parseEncodedWord(v []byte, start int) (charset string, data []byte, end int, ok bool) {
	p := start + 2
	q := bytes.IndexByte(v[p:], '?')
	if q <= 0 || q > 75 {
		return "", nil, 0, false
	}
	charset = string(v[p : p+q])
	if bytes.ContainsAny(v[p:p+q], " \t=") {
		return "", nil, 0, false
	}
	p += q + 1
	if p+1 >= len(v) || v[p+1] != '?' {
		return "", nil, 0, false
	}
	enc := v[p] | 0x20
	if enc != 'b' && enc != 'q' {
		return "", nil, 0, false
	}
	p += 2
	// Look for the end within a bounded window (words are at most 75
	// characters by RFC 2047; broken mailers write longer ones), so a
	// header full of "=?" cannot make decoding quadratic.
	window := v[p:]
	if len(window) > 4096 {
		window = window[:4096]
	}
	e := bytes.Index(window, []byte("?="))
	if e < 0 {
		return "", nil, 0, false
	}
	text := v[p : p+e]
	end = p + e + 2
	// Q-encoded text may itself contain "?=" in broken mail only rarely;
	// a base64 text never does.
	if enc == 'b' {
		data = decodeBase64Loose(text)
		if !utf8.Valid(data) && isUTF8Label(charset) && !base64Text(text) {
			// Not base64 at all ("=?utf-8?B?broken!!!?="): decoding it
			// loosely would show bytes no one wrote. RFC 2047 leaves a
			// malformed encoded word as it is written.
			return "", nil, 0, false
		}
	} else {
		data = decodeQWord(text)
	}
	return charset, data, end, true
}

// base64Text reports whether text is made of base64 only: the alphabet,
// its URL-safe variant, padding, and the spaces broken mailers leave in.
func base64Text(text []byte) bool {
	for _, c := range text {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '-', c == '_', c == '=',
			c == ' ', c == '\t':
		default:
			return false
		}
	}
	return true
}

// isUTF8Label reports whether an encoded word's charset label (with an
// optional RFC 2231 "*language") names UTF-8.
func isUTF8Label(label string) bool {
	label, _, _ = strings.Cut(label, "*")
	return strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8")
}

// decodeBase64Loose decodes base64, ignoring characters outside the
// alphabet and any padding, and keeping what decodes before an error.
func decodeBase64Loose(text []byte) []byte {
	clean := make([]byte, 0, len(text))
	for _, c := range text {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

func decodeQWord(text []byte) []byte {
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
			out = append(out, unhex(text[i+1])<<4|unhex(text[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// cleanText removes NUL bytes and other C0 controls except tab, turns
// line breaks into spaces and guarantees valid UTF-8.
func cleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\r' || r == '\n':
			sb.WriteByte(' ')
		case r == 0 || r < ' ' && r != '\t' || r == 0x7f:
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
