package mime

import (
	"encoding/base64"
	"io"
)

// base64Reader decodes a base64 stream as decodeBase64Body decodes a whole
// body, byte for byte: characters outside the alphabet are skipped (and
// counted as garbage unless they are line breaks or blanks), data after
// "=" is garbage, and a last quantum of 2 or 3 characters is decoded
// (truncated unless padded) while a single last character is dropped
// (truncated). It lets ParseAt size and hand out a large attachment
// without holding it: only one buffer of input and one of output live at
// a time. Truncated and Garbage are final once Read has returned io.EOF.
type base64Reader struct {
	source    io.Reader
	input     []byte
	clean     []byte // alphabet characters read but not yet decoded (fewer than 4 between reads)
	decoded   []byte // buffer for decoded bytes
	pending   []byte // decoded bytes not yet returned (a suffix of decoded)
	padded    bool   // the last character of the alphabet or "=" read was "="
	Garbage   bool
	Truncated bool
	err       error // sticky: io.EOF after the end, or the source's error
}

// base64ReadSize is the input read at once; the output buffer is 3/4 of it.
const base64ReadSize = 32 << 10

func newBase64Reader(source io.Reader) *base64Reader {
	return &base64Reader{
		source: source,
		input:  make([]byte, base64ReadSize),
		clean:  make([]byte, 0, base64ReadSize+4),
		// whole quanta of one read and the carried characters, then a last
		// partial quantum
		decoded: make([]byte, (base64ReadSize+3)/4*3+3),
	}
}

// isBase64 marks the base64 alphabet without "=".
var isBase64 = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['+'], t['/'] = true, true
	return t
}()

func (r *base64Reader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.pending = r.decoded[:0]
		n, err := r.source.Read(r.input)
		r.filter(r.input[:n])
		switch {
		case err == io.EOF:
			r.finish()
			r.err = io.EOF
		case err != nil:
			r.err = err
		case n > 0:
			r.decodeQuanta()
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// filter appends the alphabet characters of b to clean, keeping the
// padding and garbage state as decodeBase64Body does.
func (r *base64Reader) filter(b []byte) {
	for i := 0; i < len(b); {
		// Lines of alphabet characters go over in one piece.
		j := i
		for j < len(b) && isBase64[b[j]] {
			j++
		}
		if j > i {
			if r.padded {
				// data after "=": a second base64 stream glued on, or garbage
				r.Garbage = true
				r.padded = false
			}
			r.clean = append(r.clean, b[i:j]...)
			i = j
			continue
		}
		switch b[i] {
		case '=':
			r.padded = true
		case '\r', '\n', ' ', '\t':
		default:
			r.Garbage = true
		}
		i++
	}
}

// decodeQuanta decodes the whole quanta of clean and keeps the rest, so
// that every quantum decodes as it would in one piece.
func (r *base64Reader) decodeQuanta() {
	whole := len(r.clean) / 4 * 4
	r.decode(r.clean[:whole])
	r.clean = r.clean[:copy(r.clean, r.clean[whole:])]
}

// finish decodes what is left at the end of the stream.
func (r *base64Reader) finish() {
	r.decodeQuanta()
	rest := len(r.clean)
	if rest == 1 {
		r.clean = r.clean[:0]
		r.Truncated = true
	} else if rest != 0 && !r.padded {
		r.Truncated = true
	}
	r.decode(r.clean)
	r.clean = r.clean[:0]
}

// decode appends the decoding of clean to pending, which starts at
// decoded[0] while a read is decoded.
func (r *base64Reader) decode(clean []byte) {
	start := len(r.pending)
	// No error is possible on alphabet characters in whole quanta (or a
	// last 2 or 3); decodeBase64Body treats one as truncation all the same.
	n, err := base64.RawStdEncoding.Decode(r.decoded[start:], clean)
	if err != nil {
		r.Truncated = true
	}
	r.pending = r.decoded[:start+n]
}
