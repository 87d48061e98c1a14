package smtpd

import (
	"bytes"
	"sync/atomic"
)

// smuggleScanner watches the bytes a client sends, after TLS, for the line
// ends of SMTP smuggling: a line holding only a dot where the line break
// before or after it is a bare LF or a bare CR ("\n.\n", "\r.\r",
// "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r.\r\n", ...). go-smtp ends DATA only
// at "\r\n.\r\n", so such a sequence never splits a message here; but a
// server downstream (the outbound queue's peer, a mail client) might read it
// as the end of one message and the start of another, so the message that
// carries it is refused with 5xx, as mox does, rather than stored or sent on.
//
// go-smtp turns "\r\n.\n" into "\r\n\n" and "\r\n.\rX" into "\r\nX" while
// unstuffing, so the sequences cannot be told from the data it hands the
// session: the scanner reads the raw stream (go-smtp's Debug tee, which sees
// the plain text on both sides of STARTTLS) and counts what it finds.
type smuggleScanner struct {
	window [4]byte // the last bytes seen, oldest first
	found  atomic.Int64
}

// Write scans p; it never fails. The stream it sees also holds the
// server's replies, which are "NNN text\r\n" lines and never put a dot at
// the start of a line.
//
// Every sequence ends within two bytes after its dot, so while neither of
// the last two bytes seen is a dot the scanner jumps to the next dot
// (bytes.IndexByte) instead of looking at each byte: it runs on every byte
// a client sends, and a message body has few dots.
func (s *smuggleScanner) Write(p []byte) (int, error) {
	w := s.window
	for i := 0; i < len(p); i++ {
		if w[3] != '.' && w[2] != '.' {
			next := bytes.IndexByte(p[i:], '.')
			if next < 0 {
				w = slide(w, p[i:])
				break
			}
			w = slide(w, p[i:i+next])
			i += next
		}
		b := p[i]
		// w[3] is the previous byte, w[2] the one before, ...
		switch {
		case b == '\n' && w[3] == '.' && isBreak(w[2]):
			// ".\n" at the start of a line: "\n.\n", "\r.\n", "\r\n.\n".
			s.found.Add(1)
		case w[3] == '\r' && w[2] == '.' && isBreak(w[1]) && b != '\n':
			// ".\r" followed by anything but LF: a bare CR after the dot.
			s.found.Add(1)
		case b == '\n' && w[3] == '\r' && w[2] == '.' && (w[1] == '\r' || (w[1] == '\n' && w[0] != '\r')):
			// ".\r\n" after a bare CR or a bare LF: "\r.\r\n", "\n.\r\n".
			s.found.Add(1)
		}
		w[0], w[1], w[2], w[3] = w[1], w[2], w[3], b
	}
	s.window = w
	return len(p), nil
}

// slide gives the window after the bytes of seen.
func slide(w [4]byte, seen []byte) [4]byte {
	if len(seen) >= len(w) {
		copy(w[:], seen[len(seen)-len(w):])
		return w
	}
	for _, b := range seen {
		w[0], w[1], w[2], w[3] = w[1], w[2], w[3], b
	}
	return w
}

func isBreak(b byte) bool { return b == '\r' || b == '\n' }

// count is how many sequences were seen so far.
func (s *smuggleScanner) count() int64 { return s.found.Load() }
