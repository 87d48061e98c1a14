package mime

import (
	"sort"
	"strconv"
	"strings"
)

// parseMediaValue splits a Content-Type or Content-Disposition value into
// its lower-case token ("text/plain", "attachment") and parameters, with
// RFC 2231 continuations joined and decoded and RFC 2047 words in
// parameter values decoded. It is tolerant: missing semicolons, unquoted
// values with spaces, stray quotes and Windows paths with backslashes in
// quoted strings are accepted.
func parseMediaValue(v string, d charsetDecoder) (token string, params map[string]string) {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && v[i] != ';' && v[i] != ' ' && v[i] != '\t' {
		i++
	}
	token = strings.ToLower(strings.Trim(v[:i], "\"'"))
	raw := rawParams(v[i:])
	if len(raw) == 0 {
		return token, nil
	}
	return token, joinParams(raw, d)
}

type rawParam struct {
	name  string // lower case, including any "*N*" suffix
	value string
}

// rawParams reads name=value pairs from s.
func rawParams(s string) []rawParam {
	var out []rawParam
	i := 0
	for i < len(s) && len(out) < 100 {
		// skip separators
		for i < len(s) && (s[i] == ';' || s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		// name
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ';' {
			j++
		}
		if j >= len(s) || s[j] == ';' {
			i = j
			continue
		}
		name := strings.ToLower(strings.TrimSpace(s[i:j]))
		if k := strings.LastIndexAny(name, " \t"); k >= 0 {
			// "text/plain charset=x": keep the last word
			name = name[k+1:]
		}
		j++ // '='
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		var val string
		if j < len(s) && s[j] == '"' {
			var sb strings.Builder
			k := j + 1
			for ; k < len(s); k++ {
				c := s[k]
				if c == '"' {
					break
				}
				if c == '\\' && k+1 < len(s) {
					n := s[k+1]
					if n == '"' || n == '\\' {
						sb.WriteByte(n)
						k++
						continue
					}
					// A Windows path: keep the backslash.
				}
				sb.WriteByte(c)
			}
			val = sb.String()
			j = k + 1
			if j > len(s) {
				j = len(s)
			}
		} else {
			k := j
			for k < len(s) && s[k] != ';' {
				k++
			}
			val = strings.TrimSpace(s[j:k])
			// a value that runs into the next "name=": cut at the last space
			if sp := strings.LastIndexAny(val, " \t"); sp >= 0 && strings.Contains(val[sp:], "=") && !strings.Contains(val, "=?") {
				k = j + sp
				val = strings.TrimSpace(s[j:k])
			}
			val = strings.Trim(val, "\"")
			j = k
		}
		if name != "" {
			out = append(out, rawParam{name: name, value: val})
		}
		i = j
	}
	return out
}

// joinParams applies RFC 2231: "name*" is charset'lang'%XX, "name*N" and
// "name*N*" are continuations joined in order. Plain values are RFC 2047
// decoded and 8-bit bytes read as UTF-8 or the fallback. A name given
// both ways prefers the RFC 2231 form.
func joinParams(raw []rawParam, d charsetDecoder) map[string]string {
	params := make(map[string]string, len(raw))
	type piece struct {
		n       int
		encoded bool
		value   string
	}
	var conts map[string][]piece
	for _, p := range raw {
		star := strings.IndexByte(p.name, '*')
		if star < 0 {
			if _, ok := params[p.name]; !ok {
				params[p.name] = p.value
			}
			continue
		}
		base := p.name[:star]
		rest := p.name[star+1:]
		if conts == nil {
			conts = map[string][]piece{}
		}
		switch {
		case rest == "":
			conts[base] = append(conts[base], piece{n: -1, encoded: true, value: p.value})
		default:
			enc := strings.HasSuffix(rest, "*")
			n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
			if err != nil || n < 0 || n > 10000 {
				continue
			}
			conts[base] = append(conts[base], piece{n: n, encoded: enc, value: p.value})
		}
	}
	for name, v := range params {
		if _, ok := conts[name]; ok {
			continue
		}
		params[name] = decodeHeaderWith(d, []byte(v))
	}
	for base, pieces := range conts {
		sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].n < pieces[j].n })
		var buf []byte
		charset := ""
		for idx, pc := range pieces {
			val := pc.value
			if pc.encoded {
				if idx == 0 {
					// charset'lang'value (the charset part only on the first)
					if a := strings.IndexByte(val, '\''); a >= 0 {
						if b := strings.IndexByte(val[a+1:], '\''); b >= 0 {
							charset = val[:a]
							val = val[a+1+b+1:]
						}
					}
				}
				buf = append(buf, percentDecode(val)...)
			} else {
				buf = append(buf, val...)
			}
		}
		var s string
		if charset != "" {
			s, _ = d.declared(charset, buf)
		} else {
			s = decodeHeaderWith(d, buf)
		}
		params[base] = cleanText(s)
	}
	return params
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s)+0 && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// DecodeFilename returns the file name given by a Content-Disposition or
// Content-Type header value (unfolded): the "filename" parameter, else
// "name". RFC 2231 continuations and charset'lang'value, RFC 2047 encoded
// words and raw 8-bit bytes (UTF-8, else the fallback charset) are
// decoded; directory parts ("C:\dir\", "../") and control characters are
// stripped. It returns "" when there is no name; it never fails.
func DecodeFilename(headerValue, fallback string) string {
	d, _ := newCharsetDecoder(fallback)
	_, params := parseMediaValue(headerValue, d)
	name := params["filename"]
	if name == "" {
		name = params["name"]
	}
	return cleanFilename(name)
}

// cleanFilename strips directories, control characters and surrounding
// spaces and dots from a decoded file name.
func cleanFilename(name string) string {
	name = cleanText(name)
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		return ""
	}
	if len(name) > 255 {
		// keep the extension
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i >= 0 && len(name)-i <= 16 {
			ext = name[i:]
		}
		cut := 255 - len(ext)
		for cut > 0 && !isRuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + ext
	}
	return name
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
