package mime

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ParseAt parses the message of size bytes held by r (typically a spool
// file). Up to options.MaxInMemory bytes (0: DefaultMaxInMemory) it reads
// the message and is [Parse]. Above that it reads r once, line by line,
// and keeps in memory only a reduced copy in which every run of
// consecutive lines made only of the base64 alphabet [A-Za-z0-9+/=]
// (each line non-empty, CR LF or LF ended, or ending the input) that is
// longer than options.MinSpan bytes (0: DefaultMinSpan) is replaced by one
// marker line that refers to the run's offset and length in r. The
// tolerant parser then runs on the reduced copy unchanged: such runs can
// hold no boundary line and no header line, so the MIME structure is the
// same.
//
// The result is what Parse would give, except that an attachment whose
// body holds such a run has Data nil and Open set (it reads r, which must
// stay readable while the attachment is read), and that a text part is
// read from r up to options.MaxText bytes (the rest is noted, not read;
// likewise a base64 forwarded message without a file name is named from
// the Subject in its first MaxText bytes). Message.Size is size. Returns
// an error only when reading r fails.
func ParseAt(r io.ReaderAt, size int64, options Options) (*Message, error) {
	if size < 0 {
		return nil, fmt.Errorf("mime: negative message size %d", size)
	}
	limits := options.withDefaults()
	if size <= limits.MaxInMemory {
		raw := make([]byte, size)
		if _, err := io.ReadFull(io.NewSectionReader(r, 0, size), raw); err != nil {
			return nil, fmt.Errorf("mime: reading the message: %w", err)
		}
		return Parse(raw, options), nil
	}
	h, reduced, err := hollowOut(r, size, limits.MinSpan)
	if err != nil {
		return nil, fmt.Errorf("mime: reading the message: %w", err)
	}
	m, err := parse(reduced, options, h)
	if err != nil {
		return nil, fmt.Errorf("mime: reading the message: %w", err)
	}
	m.Size = int(size)
	return m, nil
}

// span is one run of base64-looking lines left in the source.
type span struct {
	offset, length int64 // whole lines, line breaks included
	lines          int   // lines in the run, for guessBoundary's line budget
	lineBreak      int   // length of the run's final line break: 2 (CR LF), 1 (LF) or 0 (end of input)
}

// hollow is the source of a large message and the runs its reduced copy
// leaves there. A marker line is prefix, the run's index in decimal, and
// "\n" (none when the run ends the input without a line break). prefix
// holds a random nonce, so message content cannot forge a marker; a
// marker-like line with another nonce or an index out of range is text.
type hollow struct {
	source io.ReaderAt
	spans  []span
	prefix []byte // "\x00pochta-span <nonce> "
}

// marked reports whether b holds a marker. A nil h marks nothing, so
// that Parse's path costs one nil check.
func (h *hollow) marked(b []byte) bool {
	if h == nil {
		return false
	}
	for i := 0; i < len(b); {
		k := bytes.Index(b[i:], h.prefix)
		if k < 0 {
			return false
		}
		if _, _, _, ok := h.markerAt(b, i+k); ok {
			return true
		}
		i += k + 1
	}
	return false
}

// markerAt reads a marker line starting at b[pos]: the span's index, the
// index in b after the line, and whether the line still ends with its
// "\n" (the parser trims the one before a boundary delimiter).
func (h *hollow) markerAt(b []byte, pos int) (index, end int, newline, ok bool) {
	if pos > 0 && b[pos-1] != '\n' || !bytes.HasPrefix(b[pos:], h.prefix) {
		return 0, 0, false, false
	}
	digits := pos + len(h.prefix)
	end = digits
	for end < len(b) && b[end] >= '0' && b[end] <= '9' && end-digits < 10 {
		end++
	}
	index, ok = h.index(b[digits:end])
	if !ok || end < len(b) && b[end] != '\n' {
		return 0, 0, false, false
	}
	if end < len(b) {
		return index, end + 1, true, true
	}
	return index, end, false, true
}

// index reads a span index written by hollowOut.
func (h *hollow) index(digits []byte) (int, bool) {
	if len(digits) == 0 || len(digits) > 10 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(string(digits))
	if err != nil || n >= len(h.spans) {
		return 0, false
	}
	return n, true
}

// extraLines is the number of lines a marker line stands for beyond
// itself; 0 for any other line (and for a nil h). line is without its
// line break, as nextLine gives it.
func (h *hollow) extraLines(line []byte) int {
	if h == nil || !bytes.HasPrefix(line, h.prefix) {
		return 0
	}
	n, ok := h.index(line[len(h.prefix):])
	if !ok {
		return 0
	}
	return h.spans[n].lines - 1
}

// piece is a stretch of a resolved body: bytes of the reduced copy, or
// the first length bytes of a span of the source.
type piece struct {
	literal []byte
	span    *span
	length  int64
}

// pieces splits a body of the reduced copy at its markers. A marker that
// lost its "\n" to the parser stands for its span without the span's
// final line break, so that the resolved body is exactly the original's.
func (h *hollow) pieces(b []byte) []piece {
	var out []piece
	start := 0 // of the literal stretch not yet added
	for i := 0; i < len(b); {
		k := bytes.Index(b[i:], h.prefix)
		if k < 0 {
			break
		}
		pos := i + k
		index, end, newline, ok := h.markerAt(b, pos)
		if !ok {
			i = pos + 1
			continue
		}
		if pos > start {
			out = append(out, piece{literal: b[start:pos], length: int64(pos - start)})
		}
		s := &h.spans[index]
		length := s.length
		if !newline {
			length -= int64(s.lineBreak)
		}
		out = append(out, piece{span: s, length: length})
		start, i = end, end
	}
	if start < len(b) {
		out = append(out, piece{literal: b[start:], length: int64(len(b) - start)})
	}
	return out
}

func piecesSize(pieces []piece) int64 {
	var n int64
	for _, p := range pieces {
		n += p.length
	}
	return n
}

// reader returns a new reader of the resolved pieces; spans are read
// from the source as it goes.
func (h *hollow) reader(pieces []piece) io.Reader {
	readers := make([]io.Reader, len(pieces))
	for i, p := range pieces {
		if p.span == nil {
			readers[i] = bytes.NewReader(p.literal)
		} else {
			readers[i] = io.NewSectionReader(h.source, p.span.offset, p.length)
		}
	}
	return io.MultiReader(readers...)
}

// resolve returns body with its markers replaced by their spans, at most
// limit bytes of it; complete reports that nothing was left out.
func (h *hollow) resolve(body []byte, limit int) (resolved []byte, complete bool, err error) {
	pieces := h.pieces(body)
	total := piecesSize(pieces)
	n := min(total, int64(limit))
	out := make([]byte, n)
	r := io.LimitReader(h.reader(pieces), n)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, false, fmt.Errorf("reading a run of the source: %w", err)
	}
	return out, n == total, nil
}

// hollowEntity handles a leaf part whose body holds markers: an
// attachment is left in the source, a text is read from it (up to
// MaxText), and a skipped part is only checked for encoding notes, so
// that the notes are those of Parse.
func (p *parser) hollowEntity(role partRole, fields []rawField, body []byte, mediaType, charset, filename, disposition, cte, label string) {
	switch role {
	case roleText:
		encoded, ok := p.resolveText(body, label)
		if !ok {
			return
		}
		p.textPart(p.transferDecode(cte, encoded, label), mediaType, charset, label)
	case roleSkipped:
		switch transferKindOf(cte) {
		case kindBase64:
			decoder := newBase64Reader(p.hollow.reader(p.hollow.pieces(body)))
			if _, err := io.Copy(io.Discard, decoder); err != nil {
				p.fail(err)
				return
			}
			p.base64Notes(decoder.Truncated, decoder.Garbage, label)
		case kindUuencode:
			if encoded, ok := p.resolveAll(body); ok {
				p.transferDecode(cte, encoded, label)
			}
		case kindUnknown:
			p.unknownEncodingNote(cte, label)
		}
	case roleMessage:
		p.attachHollow(cte, body, label, "message/rfc822", filename, disposition, fields)
	default:
		p.attachHollow(cte, body, label, mediaType, filename, disposition, fields)
	}
}

// attachHollow adds an attachment left in the source, or, for
// quoted-printable and uuencode (rare in large parts), decoded in
// memory by the ordinary decoders. A message/rfc822 mediaType is a
// forwarded message, named after its Subject as innerMessage does.
func (p *parser) attachHollow(cte string, body []byte, label, mediaType, filename, disposition string, fields []rawField) {
	message := mediaType == "message/rfc822"
	h := p.hollow
	pieces := h.pieces(body)
	var open func() io.Reader
	var size int64
	switch kind := transferKindOf(cte); kind {
	case kindIdentity, kindUnknown:
		if kind == kindUnknown {
			p.unknownEncodingNote(cte, label)
		}
		size = piecesSize(pieces)
		open = func() io.Reader { return h.reader(pieces) }
		if message && filename == "" {
			// the header of the forwarded message is in the reduced copy
			// as it is in the source: runs hold no header lines
			filename = p.innerFilename(body, filename)
		}
	case kindBase64:
		decoder := newBase64Reader(h.reader(pieces))
		n, err := io.Copy(io.Discard, decoder)
		if err != nil {
			p.fail(err)
			return
		}
		p.base64Notes(decoder.Truncated, decoder.Garbage, label)
		size = n
		open = func() io.Reader { return newBase64Reader(h.reader(pieces)) }
		if message && filename == "" {
			head, err := p.decodedHead(open())
			if err != nil {
				p.fail(err)
				return
			}
			filename = p.innerFilename(head, filename)
		}
	default:
		encoded, ok := p.resolveAll(body)
		if !ok {
			return
		}
		data := p.transferDecode(cte, encoded, label)
		if message {
			p.innerMessage(data, filename, disposition, fields)
		} else {
			p.attach(data, mediaType, filename, disposition, fields)
		}
		return
	}
	a := p.newAttachment(mediaType, filename, disposition, fields)
	a.Size = int(size)
	a.Open = open
	p.m.Attachments = append(p.m.Attachments, a)
}

// decodedHead reads the start of a decoded forwarded message: enough to
// hold its whole header, at most MaxText bytes.
func (p *parser) decodedHead(r io.Reader) ([]byte, error) {
	var head []byte
	buffer := make([]byte, 32<<10)
	for len(head) < p.opts.MaxText {
		n, err := r.Read(buffer[:min(len(buffer), p.opts.MaxText-len(head))])
		head = append(head, buffer[:n]...)
		if err == io.EOF {
			return head, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading a forwarded message's header: %w", err)
		}
		if headerEnded(head) {
			return head, nil
		}
	}
	return head, nil
}

// headerEnded reports whether splitHeader finds the end of the header in
// the complete lines of b, so that more bytes would not change its fields.
func headerEnded(b []byte) bool {
	last := bytes.LastIndexByte(b, '\n')
	if last < 0 {
		return false
	}
	_, headerEnd, _, _ := splitHeader(b[:last+1])
	return headerEnd < last+1
}

// resolveText reads a text body from the source, at most MaxText bytes;
// ok is false when reading failed.
func (p *parser) resolveText(body []byte, label string) (resolved []byte, ok bool) {
	resolved, complete, err := p.hollow.resolve(body, p.opts.MaxText)
	if err != nil {
		p.fail(err)
		return nil, false
	}
	if !complete {
		p.note("%s: text longer than %s, the rest is only in the source", label, sizeText(p.opts.MaxText))
	}
	return resolved, true
}

// resolveAll reads a whole body from the source, for the rare encodings
// that are decoded in memory.
func (p *parser) resolveAll(body []byte) (resolved []byte, ok bool) {
	resolved, _, err := p.hollow.resolve(body, math.MaxInt)
	if err != nil {
		p.fail(err)
		return nil, false
	}
	return resolved, true
}

// fail stops parsing after a read error of the source, which ParseAt
// returns.
func (p *parser) fail(err error) {
	if p.readErr == nil {
		p.readErr = err
	}
	p.stopped = true
}

func sizeText(n int) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// hollowOut reads the message of size bytes from r once and returns its
// reduced copy and the runs left in r.
func hollowOut(r io.ReaderAt, size int64, minSpan int) (*hollow, []byte, error) {
	h := &hollow{source: r, prefix: []byte("\x00pochta-span " + rand.Text() + " ")}
	s := &hollowScanner{
		h:       h,
		minSpan: int64(minSpan),
		// Bytes of a pending run are kept up to this many, so that a run
		// too short to leave in the source is copied without reading r
		// again; a longer one that turns out not to be a run is reread.
		keepLimit: max(int64(minSpan), 4096),
		candidate: true,
		keptAll:   true,
	}
	block := make([]byte, 64<<10)
	source := io.NewSectionReader(r, 0, size)
	for s.err == nil {
		n, err := io.ReadFull(source, block)
		s.feed(block[:n])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if s.err != nil {
		return nil, nil, s.err
	}
	if s.pos != size {
		return nil, nil, fmt.Errorf("read %d bytes of %d: %w", s.pos, size, io.ErrUnexpectedEOF)
	}
	s.finish()
	if s.err != nil {
		return nil, nil, s.err
	}
	return h, s.out, nil
}

// isRunByte marks the bytes of a run's lines: the base64 alphabet and "=".
var isRunByte = func() [256]bool {
	t := isBase64
	t['='] = true
	return t
}()

// hollowScanner builds the reduced copy from the message fed in order.
// While the current line is a candidate (base64 alphabet so far), the
// pending region [runStart, pos) is the run of complete base64 lines
// [runStart, lineStart) and the current line [lineStart, pos); nothing of
// it is in out yet. A line that turns out not to be base64 flushes the
// run (a marker, or its bytes when short) and is copied to out.
type hollowScanner struct {
	h         *hollow
	out       []byte
	pos       int64 // offset of the next byte fed
	minSpan   int64
	keepLimit int64

	runStart  int64
	runLines  int
	runBreak  int
	lineStart int64
	candidate bool
	cr        bool   // the candidate line's last byte is a CR, which a LF must follow
	kept      []byte // the pending region's bytes, while keptAll
	keptAll   bool
	err       error
}

func (s *hollowScanner) feed(b []byte) {
	i := 0
	for i < len(b) && s.err == nil {
		if !s.candidate {
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				s.out = append(s.out, b[i:]...)
				s.pos += int64(len(b) - i)
				return
			}
			s.out = append(s.out, b[i:i+j+1]...)
			s.pos += int64(j + 1)
			i += j + 1
			s.startLine()
			continue
		}
		if s.cr {
			// the CR that ended the previous block ends the line only with a LF
			s.cr = false
			if b[i] == '\n' {
				s.keep(b[i : i+1])
				i++
				s.endRunLine(2)
			} else {
				s.demote()
			}
			continue
		}
		j := i
		for j < len(b) && isRunByte[b[j]] {
			j++
		}
		s.keep(b[i:j])
		i = j
		if i == len(b) {
			return
		}
		nonEmpty := s.pos > s.lineStart
		switch c := b[i]; {
		case c == '\n' && nonEmpty:
			s.keep(b[i : i+1])
			i++
			s.endRunLine(1)
		case c == '\r' && nonEmpty:
			s.keep(b[i : i+1])
			i++
			if i == len(b) {
				s.cr = true
			} else if b[i] == '\n' {
				s.keep(b[i : i+1])
				i++
				s.endRunLine(2)
			} else {
				s.demote()
			}
		default:
			s.demote() // b[i] is copied as the line goes on
		}
	}
}

// keep records bytes of the pending region (and advances pos).
func (s *hollowScanner) keep(b []byte) {
	s.pos += int64(len(b))
	if !s.keptAll {
		return
	}
	if int64(len(s.kept)+len(b)) > s.keepLimit {
		s.keptAll = false
		s.kept = s.kept[:0]
		return
	}
	s.kept = append(s.kept, b...)
}

func (s *hollowScanner) startLine() {
	s.lineStart = s.pos
	s.candidate = true
	s.cr = false
	if s.runLines == 0 {
		s.runStart = s.pos
		s.kept = s.kept[:0]
		s.keptAll = true
	}
}

func (s *hollowScanner) endRunLine(lineBreak int) {
	s.runLines++
	s.runBreak = lineBreak
	s.startLine()
}

// demote turns the current line into an ordinary one: the run before it
// is flushed and what was read of the line is copied to out.
func (s *hollowScanner) demote() {
	s.flushRun()
	s.copyPending(s.lineStart, s.pos)
	s.candidate = false
	s.cr = false
}

// flushRun writes the run of complete lines [runStart, lineStart) to out:
// a marker when longer than minSpan, else its bytes.
func (s *hollowScanner) flushRun() {
	if s.runLines == 0 {
		return
	}
	length := s.lineStart - s.runStart
	if length > s.minSpan {
		s.h.spans = append(s.h.spans, span{offset: s.runStart, length: length, lines: s.runLines, lineBreak: s.runBreak})
		s.out = append(s.out, s.h.prefix...)
		s.out = strconv.AppendInt(s.out, int64(len(s.h.spans)-1), 10)
		if s.runBreak > 0 {
			s.out = append(s.out, '\n')
		}
	} else {
		s.copyPending(s.runStart, s.lineStart)
	}
	s.runLines = 0
}

// copyPending copies [from, to) of the pending region to out, from kept
// or, when that was let go, from the source.
func (s *hollowScanner) copyPending(from, to int64) {
	if to <= from {
		return
	}
	if s.keptAll {
		s.out = append(s.out, s.kept[from-s.runStart:to-s.runStart]...)
		return
	}
	n := len(s.out)
	s.out = append(s.out, make([]byte, to-from)...)
	if _, err := io.ReadFull(io.NewSectionReader(s.h.source, from, to-from), s.out[n:]); err != nil {
		s.err = fmt.Errorf("rereading bytes %d to %d: %w", from, to, err)
	}
}

// finish ends the input: an unterminated base64 line ends the run too,
// a CR without its LF does not.
func (s *hollowScanner) finish() {
	if !s.candidate {
		return
	}
	switch {
	case s.cr:
		s.demote()
	case s.pos > s.lineStart:
		s.runLines++
		s.runBreak = 0
		s.lineStart = s.pos
		s.flushRun()
	default:
		s.flushRun()
	}
}
