package mime

import (
	"errors"
	"strings"
)

// ErrAddressSyntax is returned (wrapped in the error's text) by
// [ParseAddressList] when part of the value could not be read as an
// address; the addresses it could read are returned with it.
var ErrAddressSyntax = errors.New("address syntax")

// ParseAddressList reads an address-list header value (From, To, Cc, ...)
// as received: raw, unfolded or not, RFC 2047 words undecoded. It is
// tolerant and returns every address it could read, in order, with a
// non-nil error (wrapping [ErrAddressSyntax]) when it had to guess or skip
// something. Groups ("team: a@x, b@y;") are flattened; comments give the
// display name when there is none ("a@x (Alice)"); encoded words are
// decoded in names (also inside quotes, a common defect); 8-bit names are
// read as UTF-8 or in the fallback charset; a bare name with no address
// is kept as an Address with an empty Address field.
func ParseAddressList(value, fallback string) ([]Address, error) {
	d, _ := newCharsetDecoder(fallback)
	return parseAddressList(d, []byte(value))
}

func parseAddressList(d charsetDecoder, v []byte) ([]Address, error) {
	s := string(unfold(v))
	var out []Address
	var bad []string
	items := splitAddressItems(s)
	for i := 0; i < len(items); i++ {
		item := strings.TrimSpace(items[i])
		if item == "" {
			continue
		}
		// "Smith, John <j@x>": an unquoted comma in a display name.
		if i+1 < len(items) && !strings.ContainsAny(item, "@<\"(") && strings.Contains(items[i+1], "<") &&
			!strings.Contains(strings.SplitN(items[i+1], "<", 2)[0], "\"") {
			items[i+1] = item + "," + items[i+1]
			continue
		}
		a, ok := parseOneAddress(d, item)
		if !ok {
			bad = append(bad, item)
		}
		if a.Name == "" && a.Address == "" {
			continue
		}
		out = append(out, a)
		if len(out) >= 10000 {
			break
		}
	}
	if len(bad) > 0 {
		q := bad[0]
		if len(q) > 60 {
			q = q[:60]
		}
		return out, errors.Join(ErrAddressSyntax, errors.New("cannot read "+strings.ToValidUTF8(strings.TrimSpace(q), "?")))
	}
	return out, nil
}

// splitAddressItems splits at commas (and semicolons, and group colons)
// outside quotes, comments and angle brackets.
func splitAddressItems(s string) []string {
	var items []string
	depth, angle := 0, false
	quoted := false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"' && depth == 0:
			quoted = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case angle:
		case c == ',' || c == ';':
			items = append(items, s[start:i])
			start = i + 1
		case c == ':':
			// group name: drop it unless it is part of an encoded word or
			// looks like a route/scheme ("mailto:")
			if !strings.Contains(s[start:i], "=?") && !strings.HasSuffix(strings.ToLower(s[start:i]), "mailto") {
				start = i + 1
			}
		}
	}
	if i := len(s); start < i {
		items = append(items, s[start:i])
	}
	return items
}

// parseOneAddress reads one mailbox. ok is false when it guessed.
func parseOneAddress(d charsetDecoder, item string) (Address, bool) {
	var comment string
	// angle-addr
	if lt := lastUnquoted(item, '<'); lt >= 0 {
		gt := strings.IndexByte(item[lt:], '>')
		ok := gt >= 0
		var addr, rest string
		if gt < 0 {
			addr = item[lt+1:]
			rest = item[:lt]
		} else {
			addr = item[lt+1 : lt+gt]
			rest = item[:lt] + item[lt+gt+1:]
		}
		if k := strings.LastIndexByte(addr, ':'); k >= 0 && strings.HasPrefix(strings.TrimSpace(addr), "@") {
			addr = addr[k+1:] // source route
		}
		addr = strings.TrimPrefix(strings.TrimSpace(addr), "mailto:")
		rest, comment = stripComments(rest)
		name := strings.TrimSpace(rest)
		if name == "" {
			name = comment
		}
		a := Address{Name: decodeName(d, name), Address: cleanAddr(d, addr)}
		if a.Address != "" && !strings.Contains(a.Address, "@") {
			ok = false
		}
		return a, ok
	}
	rest, comment := stripComments(item)
	rest = strings.TrimSpace(rest)
	if strings.Contains(rest, "@") {
		fields := strings.Fields(rest)
		addr, name := rest, comment
		if len(fields) > 1 {
			// "Alice alice@x" or "alice@x Alice"
			for i, f := range fields {
				if strings.Contains(f, "@") {
					addr = f
					others := append(append([]string{}, fields[:i]...), fields[i+1:]...)
					if name == "" {
						name = strings.Join(others, " ")
					}
					break
				}
			}
			return Address{Name: decodeName(d, name), Address: cleanAddr(d, addr)}, false
		}
		return Address{Name: decodeName(d, name), Address: cleanAddr(d, addr)}, true
	}
	// A single word: a local address ("MAILER-DAEMON", "root").
	if rest != "" && !strings.ContainsAny(rest, " \t\"") && !strings.Contains(rest, "=?") {
		return Address{Name: decodeName(d, comment), Address: cleanAddr(d, rest)}, true
	}
	// no address at all: keep the name
	name := rest
	if name == "" {
		name = comment
	}
	return Address{Name: decodeName(d, name)}, false
}

func lastUnquoted(s string, ch byte) int {
	quoted, depth := false, 0
	pos := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0 && c == ch:
			if pos < 0 {
				pos = i
			}
		}
	}
	return pos
}

// stripComments removes (comments) outside quotes and returns the first
// comment's text.
func stripComments(s string) (rest, comment string) {
	if !strings.Contains(s, "(") {
		return s, ""
	}
	var sb, cb strings.Builder
	depth, quoted := 0, false
	first := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			sb.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				sb.WriteByte(s[i])
			} else if c == '"' {
				quoted = false
			}
		case depth == 0 && c == '"':
			quoted = true
			sb.WriteByte(c)
		case c == '(':
			depth++
			if depth > 1 && first {
				cb.WriteByte(c)
			}
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				first = false
			} else if first {
				cb.WriteByte(c)
			}
		case depth > 0:
			if first {
				cb.WriteByte(c)
			}
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), strings.TrimSpace(cb.String())
}

// decodeName unquotes a display name and decodes encoded words in it.
func decodeName(d charsetDecoder, name string) string {
	name = strings.TrimSpace(name)
	if strings.Contains(name, `"`) {
		var sb strings.Builder
		for i := 0; i < len(name); i++ {
			c := name[i]
			if c == '\\' && i+1 < len(name) {
				i++
				sb.WriteByte(name[i])
				continue
			}
			if c == '"' {
				continue
			}
			sb.WriteByte(c)
		}
		name = sb.String()
	}
	out := strings.TrimSpace(decodeHeaderWith(d, []byte(name)))
	out = strings.Trim(out, "'")
	return strings.TrimSpace(out)
}

func cleanAddr(d charsetDecoder, a string) string {
	a = strings.TrimSpace(a)
	a = strings.Trim(a, "<>\"' ")
	if strings.Contains(a, "=?") {
		a = decodeHeaderWith(d, []byte(a))
	} else {
		a = cleanText(d.undeclared([]byte(a)))
	}
	return strings.Join(strings.Fields(a), "")
}
