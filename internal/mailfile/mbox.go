package mailfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// bufferSize is the mbox reader's buffer and so the longest line it looks
// at: a longer line is text whatever it starts with. A separator or an
// escaped ">From " line is never that long, and the bound is what keeps a
// message's size from mattering to memory. It is the buffer the importer's
// splitter had, so that the messages are the same bytes as before.
const bufferSize = 64 << 10

// errStale is what the stream of a message gives once Next has moved on.
var errStale = errors.New("mailfile: message read after the next one was asked for")

// MboxReader reads the messages of an mbox file (mboxo or mboxrd) one by
// one, each as a stream, in the manner of go-message's mail.Reader:
//
//   - a "From " line at the start of the input or after a blank line
//     begins a message and is not part of it;
//   - the blank line before it ends the previous message and is not part
//     of it either, nor is the blank line at the end of the input;
//   - a line ">From ", ">>From " ... loses one ">" (mboxrd);
//   - a line longer than 64 KiB, its line end included, is text as it is.
//
// An mboxo file reads the same way: its escaped "From " lines come back,
// and a line that was ">From " before its writer wrote it loses a ">" (in
// mboxo the two cannot be told apart). Text before the first separator
// belongs to no message. Only a buffer of 64 KiB is held, whatever the
// size of a message: the caller decides whether a message goes to memory
// or to a file.
type MboxReader struct {
	input *bufio.Reader
	// err is the input's read error, given from then on.
	err error
	// consumed counts the input bytes taken: those of the messages so far
	// and of their separators, but not yet of a separator line that ended
	// the current message (it is counted when Next begins its message).
	consumed int64
	number   int
	message  *mboxMessage

	// The segment being read: the text before the first separator, then
	// each message in turn.
	ended      bool // a separator line or the input's end follows
	inputEnded bool
	// separator is the length of the separator line that ended the
	// segment, 0 when the input's end did.
	separator     int
	previousBlank bool
	// held is a blank line held back: it is the separator's blank line
	// when a "From " line follows, else the message's own.
	held       [2]byte
	heldLength int
	// longLine says the segment is inside a line longer than the buffer,
	// whose pieces are text as they come.
	longLine bool

	// What the message's stream hands out next: a held blank line that
	// turned out to be the message's, then a line (a slice of the input's
	// buffer, valid until the next read from it).
	outBlank []byte
	outStore [2]byte
	out      []byte
}

// NewMboxReader reads the mbox file r. It reads r through a buffer of its
// own (a *bufio.Reader of another size would change the longest line it
// looks at).
func NewMboxReader(r io.Reader) *MboxReader {
	if buffered, ok := r.(*bufio.Reader); ok && buffered.Size() == bufferSize {
		return newMboxReader(buffered)
	}
	return newMboxReader(bufio.NewReaderSize(plainReader{r}, bufferSize))
}

// plainReader hides a reader's type, so that bufio.NewReaderSize makes a
// buffer of the size asked for rather than reusing a larger one.
type plainReader struct{ io.Reader }

func newMboxReader(input *bufio.Reader) *MboxReader {
	// The input's start counts as after a blank line.
	return &MboxReader{input: input, previousBlank: true}
}

// Next skips what is left of the current message and returns the next
// one: a stream of its bytes, valid until the following call of Next. At
// the end of the input it returns io.EOF; a read error of the input is
// returned by Next and by the stream from then on.
func (r *MboxReader) Next() (io.Reader, error) {
	for !r.ended {
		r.outBlank, r.out = nil, nil
		if err := r.advance(); err != nil {
			return nil, err
		}
	}
	r.outBlank, r.out = nil, nil
	r.message = nil
	if r.separator == 0 {
		return nil, io.EOF
	}
	r.consumed += int64(r.separator)
	r.number++
	r.separator = 0
	r.ended = false
	r.previousBlank = false // the separator line is not blank
	r.heldLength = 0
	r.message = &mboxMessage{reader: r}
	return r.message, nil
}

// Number is the number of the message Next returned last, from 1; 0
// before the first.
func (r *MboxReader) Number() int { return r.number }

// Consumed is the number of input bytes taken so far, for a progress
// percentage: those of the messages returned and of their separator lines,
// and of the current message what its stream has given. Once the stream
// is at its end, that includes the blank line that closed the message;
// once Next has returned io.EOF, it is the input's size.
func (r *MboxReader) Consumed() int64 { return r.consumed }

// advance reads input lines until the segment has bytes to hand out or
// has ended.
func (r *MboxReader) advance() error {
	for len(r.outBlank) == 0 && len(r.out) == 0 && !r.ended {
		if r.err != nil {
			return r.err
		}
		if r.inputEnded {
			// A blank line still held closed the last message.
			r.ended = true
			return nil
		}
		line, err := r.input.ReadSlice('\n')
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			if r.number > 0 {
				err = fmt.Errorf("read mbox message %d: %w", r.number, err)
			}
			r.err = err
			return err
		}
		if err == io.EOF {
			r.inputEnded = true
		}
		if r.longLine {
			r.consumed += int64(len(line))
			r.out = line
			r.longLine = errors.Is(err, bufio.ErrBufferFull)
			continue
		}
		if len(line) == 0 {
			continue
		}
		// A full buffer without a line end: a long line (also when the
		// input ends right there, so that the outcome does not depend on
		// how the input's reads happen to fall).
		if len(line) == bufferSize && line[len(line)-1] != '\n' {
			r.consumed += int64(len(line))
			r.releaseHeld()
			r.out = line
			r.previousBlank = false
			r.longLine = errors.Is(err, bufio.ErrBufferFull)
			continue
		}
		blank := len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
		if r.previousBlank && bytes.HasPrefix(line, []byte("From ")) {
			// The held blank line, if any, was the separator's.
			r.separator = len(line)
			r.heldLength = 0
			r.ended = true
			return nil
		}
		r.consumed += int64(len(line))
		r.releaseHeld()
		if blank {
			r.heldLength = copy(r.held[:], line)
		} else if unescaped, ok := mboxrdUnescape(line); ok {
			r.out = unescaped
		} else {
			r.out = line
		}
		r.previousBlank = blank
	}
	return nil
}

// releaseHeld hands out a held blank line as the message's own: a line
// other than a separator followed it.
func (r *MboxReader) releaseHeld() {
	if r.heldLength == 0 {
		return
	}
	r.outBlank = r.outStore[:copy(r.outStore[:], r.held[:r.heldLength])]
	r.heldLength = 0
}

// mboxrdUnescape removes one ">" from a line of the form ">+From ".
func mboxrdUnescape(line []byte) ([]byte, bool) {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	if i == 0 || !bytes.HasPrefix(line[i:], []byte("From ")) {
		return nil, false
	}
	return line[1:], true
}

// mboxMessage is the stream of one message of an MboxReader.
type mboxMessage struct {
	reader *MboxReader
}

func (m *mboxMessage) Read(p []byte) (int, error) {
	r := m.reader
	if r.message != m {
		return 0, errStale
	}
	n := 0
	for n < len(p) {
		if len(r.outBlank) == 0 && len(r.out) == 0 {
			if r.ended {
				break
			}
			if err := r.advance(); err != nil {
				if n > 0 {
					// The error stays: the next call gives it.
					return n, nil
				}
				return 0, err
			}
			continue
		}
		copied := copy(p[n:], r.outBlank)
		r.outBlank = r.outBlank[copied:]
		n += copied
		copied = copy(p[n:], r.out)
		r.out = r.out[copied:]
		n += copied
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}
