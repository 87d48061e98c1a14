package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// This file is the wire codec: reply lines and dot-stuffed multi-line
// bodies. It knows nothing of connections, deadlines or traces.

// reply is a parsed status line.
type reply struct {
	ok   bool   // +OK
	cont bool   // "+ " SASL continuation
	text string // after the status indicator, leading spaces removed
	code string // RESP-CODE (RFC 2449), upper case, without brackets
}

// parseReply parses a status line (without its line ending). Anything that
// is not "+OK", "-ERR" or a "+" continuation is an error wrapping
// ErrProtocol, which does not quote the line.
func parseReply(line string) (reply, error) {
	var r reply
	switch {
	case len(line) >= 3 && strings.EqualFold(line[:3], "+OK") && (len(line) == 3 || !isLetter(line[3])):
		r.ok = true
		r.text = strings.TrimLeft(line[3:], " \t")
	case len(line) >= 4 && strings.EqualFold(line[:4], "-ERR") && (len(line) == 4 || !isLetter(line[4])):
		r.text = strings.TrimLeft(line[4:], " \t")
		r.code = respCode(r.text)
	case line == "+" || strings.HasPrefix(line, "+ "):
		r.cont = true
		r.text = strings.TrimPrefix(strings.TrimPrefix(line, "+"), " ")
	default:
		// What was said is left out: it may be another service's banner
		// ("SSH-2.0-OpenSSH_9.2p1 ..."), and errors reach whoever asked
		// for the connection. The trace still sees the line.
		return reply{}, protocolErrorf("not a POP3 reply")
	}
	return r, nil
}

func isLetter(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// respCode returns the response code that starts text ("[IN-USE] ..."), or
// "" when there is none or it is malformed.
func respCode(text string) string {
	if !strings.HasPrefix(text, "[") {
		return ""
	}
	end := strings.IndexByte(text, ']')
	if end < 2 {
		return ""
	}
	code := text[1:end]
	for i := 0; i < len(code); i++ {
		if b := code[i]; b <= ' ' || b >= 0x7f || b == '[' {
			return ""
		}
	}
	return strings.ToUpper(code)
}

// clip shortens s to at most n bytes for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// readLine reads one line of at most max bytes (line ending excluded) and
// returns it without its CRLF or LF. The result may point into br's buffer
// and is valid until the next read. A longer line gives ErrLineTooLong after
// reading at most max plus one buffer of it; the end of input before a line
// ending gives io.ErrUnexpectedEOF (io.EOF if nothing was read).
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == nil {
		line = trimEOL(line)
		if len(line) > max {
			return nil, ErrLineTooLong
		}
		return line, nil
	}
	var buf []byte
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(buf)+len(line) > max+2 {
			return nil, ErrLineTooLong
		}
		buf = append(buf, line...)
		line, err = br.ReadSlice('\n')
	}
	buf = append(buf, line...)
	if err != nil {
		if err == io.EOF && len(buf) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	buf = trimEOL(buf)
	if len(buf) > max {
		return nil, ErrLineTooLong
	}
	return buf, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// dotReader streams the body of a multi-line response (RFC 1939 section 3):
// it removes the leading "." of dot-stuffed lines, keeps line endings as
// sent (CRLF), and returns io.EOF after the terminating ".\r\n" (".\n" is
// accepted too), which it consumes. The end of input before the terminator
// is io.ErrUnexpectedEOF: partial data is never reported as complete. A line
// longer than max bytes (line ending included) is ErrLineTooLong; memory use
// does not depend on line or message length.
type dotReader struct {
	br      *bufio.Reader
	max     int
	lineLen int // bytes of the current line delivered so far; 0 at a line start
	n       int64
	err     error
}

func newDotReader(br *bufio.Reader, max int) *dotReader {
	return &dotReader{br: br, max: max}
}

func (d *dotReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for n < len(p) {
		if d.lineLen == 0 {
			end, err := d.lineStart()
			if err != nil {
				d.err = err
				break
			}
			if end {
				d.err = io.EOF
				break
			}
		}
		// Copy up to the end of the line from what is buffered, reading
		// more only when nothing is buffered (and nothing was copied yet,
		// so that a Read returns what it has instead of blocking).
		avail := d.br.Buffered()
		if avail == 0 {
			if n > 0 {
				break
			}
			if _, err := d.br.Peek(1); err != nil {
				d.err = unexpected(err)
				break
			}
			avail = d.br.Buffered()
		}
		b, _ := d.br.Peek(min(avail, len(p)-n))
		eol := bytes.IndexByte(b, '\n')
		if eol >= 0 {
			b = b[:eol+1]
		}
		if d.lineLen+len(b) > d.max {
			d.err = ErrLineTooLong
			break
		}
		copy(p[n:], b)
		n += len(b)
		d.br.Discard(len(b))
		if eol >= 0 {
			d.lineLen = 0
		} else {
			d.lineLen += len(b)
		}
	}
	d.n += int64(n)
	if n > 0 && d.err != nil && d.err != io.EOF {
		// Deliver the data first; the error comes with the next Read.
		return n, nil
	}
	return n, d.err
}

// lineStart handles the start of a line: it reports the terminator, or
// removes a stuffing dot.
func (d *dotReader) lineStart() (end bool, err error) {
	b, err := d.br.Peek(1)
	if err != nil {
		return false, unexpected(err)
	}
	if b[0] != '.' {
		return false, nil
	}
	b, err = d.br.Peek(2)
	if err != nil {
		return false, unexpected(err)
	}
	switch b[1] {
	case '\n':
		d.br.Discard(2)
		return true, nil
	case '\r':
		b, err = d.br.Peek(3)
		if err != nil {
			return false, unexpected(err)
		}
		if b[2] == '\n' {
			d.br.Discard(3)
			return true, nil
		}
	}
	d.br.Discard(1) // the stuffing dot
	d.lineLen = 1   // counted as part of the line for the length cap
	return false, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readMultiLine reads the lines of a multi-line response up to the
// terminating "." line and calls fn with each, unstuffed and without its line
// ending. Lines are capped at max bytes.
func readMultiLine(br *bufio.Reader, max int, fn func(line []byte) error) (lines int, err error) {
	for {
		line, err := readLine(br, max)
		if err != nil {
			return lines, unexpected(err)
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return lines, nil
			}
			line = line[1:]
		}
		lines++
		if err := fn(line); err != nil {
			return lines, err
		}
	}
}
