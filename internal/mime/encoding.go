package mime

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
)

// decodeBase64Body decodes a base64 body, skipping line breaks, spaces
// and any other characters outside the alphabet. truncated is true when
// the data ended in the middle of a quantum or contained garbage after
// padding; what decoded is returned either way.
func decodeBase64Body(b []byte) (out []byte, truncated, garbage bool) {
	clean := make([]byte, 0, len(b))
	padded := false
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			if padded {
				// data after "=": a second base64 stream glued on, or garbage
				garbage = true
				padded = false
			}
			clean = append(clean, c)
		case c == '=':
			padded = true
		case c == '\r' || c == '\n' || c == ' ' || c == '\t':
		default:
			garbage = true
		}
	}
	rem := len(clean) % 4
	if rem == 1 {
		clean = clean[:len(clean)-1]
		truncated = true
	} else if rem != 0 && !padded {
		truncated = true
	}
	out = make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil {
		truncated = true
	}
	return out[:n], truncated, garbage
}

// decodeQP decodes quoted-printable tolerantly: a bad escape is kept as
// written, soft line breaks (also "=" before LF only, or with trailing
// spaces) are removed, whitespace at the end of a line is dropped.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '=':
			if i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
				out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
				i += 2
				continue
			}
			// a soft line break: "=", optional spaces, end of line or data
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
				j++
			}
			if j == len(b) || b[j] == '\n' {
				i = j
				continue
			}
			if b[j] == '\r' {
				if j+1 < len(b) && b[j+1] == '\n' {
					j++
				}
				i = j
				continue
			}
			out = append(out, c)
		case c == ' ' || c == '\t':
			// drop whitespace at the end of a line
			j := i
			for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
				j++
			}
			if j < len(b) && (b[j] == '\n' || b[j] == '\r') {
				i = j - 1
				continue
			}
			out = append(out, b[i:j]...)
			i = j - 1
		default:
			out = append(out, c)
		}
	}
	return out
}

// uuBlock is one "begin MODE NAME" ... "end" block found in text.
type uuBlock struct {
	start, end int // byte range in the text, end after the "end" line
	name       string
	data       []byte
	truncated  bool
}

// findUUBlocks finds uuencoded files in a text body.
func findUUBlocks(text []byte) []uuBlock {
	var blocks []uuBlock
	i := 0
	for i < len(text) && len(blocks) < 100 {
		k := bytes.Index(text[i:], []byte("begin "))
		if k < 0 {
			break
		}
		start := i + k
		if start > 0 && text[start-1] != '\n' {
			i = start + 6
			continue
		}
		line, next := nextLine(text, start)
		name, ok := parseUUBegin(line)
		if !ok {
			i = next
			continue
		}
		data, end, truncated := decodeUU(text, next)
		blocks = append(blocks, uuBlock{start: start, end: end, name: name, data: data, truncated: truncated})
		i = end
	}
	return blocks
}

// parseUUBegin reads "begin 644 file name.txt".
func parseUUBegin(line []byte) (string, bool) {
	f := strings.SplitN(string(line), " ", 3)
	if len(f) != 3 || f[0] != "begin" || len(f[1]) < 3 || len(f[1]) > 4 {
		return "", false
	}
	if _, err := strconv.ParseUint(f[1], 8, 32); err != nil {
		return "", false
	}
	name := strings.TrimSpace(f[2])
	return name, name != ""
}

// decodeUU decodes uuencoded lines from text[i:] up to the "end" line. It
// returns the index after "end" (or the end of the text when missing).
func decodeUU(text []byte, i int) (data []byte, end int, truncated bool) {
	for i < len(text) {
		line, next := nextLine(text, i)
		t := bytes.TrimRight(line, " \t")
		if bytes.Equal(t, []byte("end")) {
			return data, next, truncated
		}
		if len(t) == 0 {
			i = next
			continue
		}
		n := int((t[0] - ' ') & 0x3f)
		if n == 0 {
			i = next
			continue
		}
		var buf [3]byte
		got := 0
		for p := 1; p+3 < len(t)+3 && got < n; p += 4 {
			var q [4]byte
			for k := 0; k < 4; k++ {
				if p+k < len(t) {
					q[k] = (t[p+k] - ' ') & 0x3f
				}
			}
			buf[0] = q[0]<<2 | q[1]>>4
			buf[1] = q[1]<<4 | q[2]>>2
			buf[2] = q[2]<<6 | q[3]
			take := n - got
			if take > 3 {
				take = 3
			}
			data = append(data, buf[:take]...)
			got += take
			if p+4 >= len(t) && got < n {
				truncated = true
				break
			}
		}
		i = next
	}
	return data, len(text), true
}
