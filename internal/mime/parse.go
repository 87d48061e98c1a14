package mime

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxNotes bounds Message.ParseErrors; a hostile message could otherwise
// produce one note per part or line.
const maxNotes = 50

type parser struct {
	opts     Options
	d        charsetDecoder
	m        *Message
	parts    int
	texts    []string
	htmls    []string
	stopped  bool // MaxParts reached, or the source failed (readErr)
	attIndex int
	// hollow is set by ParseAt for a large message: the bytes parsed are
	// then a reduced copy in which markers stand for runs left in the
	// source. nil for Parse.
	hollow  *hollow
	readErr error // the first error reading the source of a hollowed message
}

// Parse parses one message (or a bare MIME entity, or garbage) held in
// memory. It never returns nil and never panics: whatever it cannot read
// is skipped or kept as an attachment, and noted in ParseErrors. raw is
// not modified and not retained (Attachments hold copies).
func Parse(raw []byte, options Options) (m *Message) {
	m, _ = parse(raw, options, nil)
	return m
}

// parse is Parse on raw, or, with h set, on the reduced copy of a large
// message (see ParseAt). err is set only when reading h's source failed.
func parse(raw []byte, options Options, h *hollow) (m *Message, err error) {
	m = &Message{Size: len(raw), Priority: 3}
	defer func() {
		if r := recover(); r != nil {
			m.ParseErrors = append(m.ParseErrors, fmt.Sprintf("internal parser error, message read only in part: %v", r))
		}
	}()
	p := &parser{opts: options.withDefaults(), m: m, hollow: h}
	d, ok := newCharsetDecoder(p.opts.FallbackCharset)
	p.d = d
	if !ok {
		p.note("unknown fallback charset %s, read as windows-1252", cleanText(p.opts.FallbackCharset))
	}

	b := raw
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(b, []byte("From ")) {
		_, next := nextLine(b, 0)
		b = b[next:]
	}
	// Blank lines before the header.
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r') {
		line, next := nextLine(b, 0)
		if len(line) > 0 {
			break
		}
		rest, _ := nextLine(b, next)
		if c := bytes.IndexByte(rest, ':'); c <= 0 || !validFieldName(rest[:c]) {
			break
		}
		b = b[next:]
	}

	fields, hEnd, bStart, problem := splitHeader(b)
	if problem != "" {
		p.note("%s", problem)
	}
	hdr := b[:hEnd]
	if bytes.IndexByte(hdr, 0) >= 0 {
		p.note("NUL bytes removed from the header")
	}
	m.HeaderText = strings.TrimRight(cleanBody(p.d.undeclared(hdr)), "\n")
	p.topHeader(fields)
	p.entity(fields, b[bStart:], "", 0, "text/plain", "")
	if p.readErr != nil {
		return m, p.readErr
	}

	m.Text = strings.Join(p.texts, "\n")
	m.HTML = strings.Join(p.htmls, "\n")
	if strings.TrimSpace(m.Text) == "" && m.HTML != "" {
		m.Text = htmlToText(m.HTML)
	}
	return m, nil
}

func (p *parser) note(format string, args ...any) {
	if len(p.m.ParseErrors) >= maxNotes {
		return
	}
	s := fmt.Sprintf(format, args...)
	for _, e := range p.m.ParseErrors {
		if e == s {
			return
		}
	}
	if len(p.m.ParseErrors) == maxNotes-1 {
		s = "more problems not listed"
	}
	p.m.ParseErrors = append(p.m.ParseErrors, s)
}

// partLabel names a part in notes, numbered as IMAP does: the body of a
// single-part message is part 1, the children of a multipart are 1, 2,
// ... and their children 2.1, 2.2, ...
func partLabel(path string) string {
	if path == "" {
		return "part 1"
	}
	return "part " + path
}

// topHeader fills the message-level fields from the top header.
func (p *parser) topHeader(fields []rawField) {
	m := p.m
	m.Header = make([]HeaderField, 0, len(fields))
	for _, f := range fields {
		name := cleanText(f.name)
		m.Header = append(m.Header, HeaderField{
			Name:  name,
			Value: decodeHeaderWith(p.d, f.value),
			Raw:   strings.ReplaceAll(p.d.undeclared(f.raw), "\x00", ""),
		})
	}
	addrs := func(name string, dst *[]Address) {
		for _, f := range fields {
			if !strings.EqualFold(f.name, name) {
				continue
			}
			list, err := parseAddressList(p.d, f.value)
			if err != nil && name != "Delivered-To" && name != "X-Original-To" {
				// (trace headers of qmail and others hold "x for addr")
				p.note("%s: %s", name, strings.TrimPrefix(cleanText(err.Error()), ErrAddressSyntax.Error()+"\n"))
			}
			*dst = append(*dst, list...)
		}
	}
	addrs("From", &m.From)
	addrs("Reply-To", &m.ReplyTo)
	addrs("To", &m.To)
	addrs("Cc", &m.Cc)
	addrs("Bcc", &m.Bcc)
	addrs("Delivered-To", &m.DeliveredTo)
	addrs("X-Original-To", &m.XOriginalTo)
	if len(m.From) == 0 {
		// Sender or an mbox-era Return-Path as a last resort.
		addrs("Sender", &m.From)
	}

	get := func(name string) (string, bool) {
		for _, f := range fields {
			if strings.EqualFold(f.name, name) {
				return string(f.value), true
			}
		}
		return "", false
	}
	if v, ok := get("Subject"); ok {
		m.Subject = decodeHeaderWith(p.d, []byte(v))
	}
	if v, ok := get("Message-ID"); ok {
		ids := messageIDs(cleanText(string(unfold([]byte(v)))))
		if len(ids) > 0 {
			m.MessageID = ids[0]
		}
	}
	if v, ok := get("In-Reply-To"); ok {
		ids := messageIDs(cleanText(string(unfold([]byte(v)))))
		if len(ids) > 0 {
			m.InReplyTo = ids[0]
		}
	}
	if v, ok := get("References"); ok {
		m.References = messageIDs(cleanText(string(unfold([]byte(v)))))
	}
	if v, ok := get("Date"); ok {
		dv := cleanText(string(unfold([]byte(v))))
		m.Date = ParseDate(dv)
		if m.Date.IsZero() && strings.TrimSpace(dv) != "" {
			p.note("unreadable Date header %q", truncate(dv, 60))
		}
	}
	m.Priority = priority(get)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// messageIDs returns the ids in <...> in v, or its words when there are
// no angle brackets.
func messageIDs(v string) []string {
	var ids []string
	rest := v
	for len(ids) < 1000 {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			if id := strings.TrimSpace(rest[i+1:]); id != "" {
				ids = append(ids, strings.Join(strings.Fields(id), ""))
			}
			break
		}
		if id := strings.TrimSpace(rest[i+1 : i+j]); id != "" {
			ids = append(ids, strings.Join(strings.Fields(id), ""))
		}
		rest = rest[i+j+1:]
	}
	if len(ids) == 0 {
		s, _ := stripComments(v)
		for _, w := range strings.Fields(s) {
			if len(ids) >= 1000 {
				break
			}
			ids = append(ids, w)
		}
	}
	return ids
}

// priority reads X-Priority, Importance, Priority and X-MSMail-Priority.
func priority(get func(string) (string, bool)) int {
	if v, ok := get("X-Priority"); ok {
		v = strings.TrimSpace(string(unfold([]byte(v))))
		if len(v) > 0 && v[0] >= '1' && v[0] <= '5' {
			return int(v[0] - '0')
		}
		if n, err := strconv.Atoi(strings.Fields(v + " x")[0]); err == nil {
			return min(max(n, 1), 5)
		}
	}
	for _, h := range []string{"Importance", "Priority", "X-MSMail-Priority"} {
		v, ok := get(h)
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(string(unfold([]byte(v))))) {
		case "high", "urgent":
			return 1
		case "low", "non-urgent":
			return 5
		case "normal", "medium":
			return 3
		}
	}
	return 3
}

func headerValue(fields []rawField, name string) (string, bool) {
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			return string(unfold(f.value)), true
		}
	}
	return "", false
}

// entity processes one MIME entity: its header fields and its body.
func (p *parser) entity(fields []rawField, body []byte, path string, depth int, defType, parentType string) {
	if p.stopped {
		return
	}
	p.parts++
	if p.parts > p.opts.MaxParts {
		p.stopped = true
		p.note("more than %d parts, the rest is not read (it stays in the source)", p.opts.MaxParts)
		return
	}
	label := partLabel(path)

	ctRaw, _ := headerValue(fields, "Content-Type")
	mediaType, ctParams := parseMediaValue(ctRaw, p.d)
	if mediaType == "" {
		mediaType = defType
	} else if !strings.Contains(mediaType, "/") {
		switch mediaType {
		case "text", "plain":
			mediaType = "text/plain"
		case "html":
			mediaType = "text/html"
		default:
			p.note("%s: invalid content type %q, read as application/octet-stream", label, truncate(cleanText(mediaType), 40))
			mediaType = "application/octet-stream"
		}
	}
	mediaType = cleanText(mediaType)
	dispRaw, _ := headerValue(fields, "Content-Disposition")
	disposition, dParams := parseMediaValue(dispRaw, p.d)
	disposition = cleanText(disposition)
	cte, _ := headerValue(fields, "Content-Transfer-Encoding")
	cte = strings.ToLower(strings.Trim(strings.TrimSpace(strings.SplitN(cte, ";", 2)[0]), "\"'"))
	if f := strings.Fields(cte); len(f) > 0 {
		cte = f[0]
	}

	filename := cleanFilename(dParams["filename"])
	if filename == "" {
		filename = cleanFilename(ctParams["name"])
	}

	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= p.opts.MaxDepth {
			p.note("%s: nested deeper than %d levels, kept as an attachment", label, p.opts.MaxDepth)
			if p.hollow.marked(body) {
				p.attachHollow("", body, label, mediaType, filename, disposition, fields)
				return
			}
			p.attach(body, mediaType, filename, disposition, fields)
			return
		}
		p.multipart(body, path, depth, mediaType, ctParams["boundary"])
		return
	}

	role := partRoleOf(mediaType, disposition, filename, path, parentType)
	if p.hollow.marked(body) {
		p.hollowEntity(role, fields, body, mediaType, ctParams["charset"], filename, disposition, cte, label)
		return
	}
	data := p.transferDecode(cte, body, label)

	switch role {
	case roleMessage:
		p.innerMessage(data, filename, disposition, fields)
	case roleText:
		p.textPart(data, mediaType, ctParams["charset"], label)
	case roleSkipped:
	default:
		p.attach(data, mediaType, filename, disposition, fields)
	}
}

// partRole is what becomes of a leaf part's decoded body.
type partRole int

const (
	roleAttachment partRole = iota
	roleMessage             // a forwarded message: an .eml attachment
	roleText                // Text or HTML
	roleSkipped             // dropped (its transfer encoding is still checked)
)

func partRoleOf(mediaType, disposition, filename, path, parentType string) partRole {
	switch {
	case mediaType == "message/rfc822" || mediaType == "message/global" || mediaType == "message/news":
		return roleMessage
	case (mediaType == "text/plain" || mediaType == "text/html") &&
		disposition != "attachment" && !(disposition == "" && filename != "" && path != ""):
		return roleText
	case parentType == "multipart/alternative" && strings.HasPrefix(mediaType, "text/") && disposition == "":
		// text/enriched and the like next to text/plain: not a file
		return roleSkipped
	}
	return roleAttachment
}

// transferKind is a Content-Transfer-Encoding value's decoder.
type transferKind int

const (
	kindIdentity transferKind = iota
	kindBase64
	kindQuotedPrintable
	kindUuencode
	kindUnknown
)

func transferKindOf(cte string) transferKind {
	switch cte {
	case "", "7bit", "8bit", "binary", "7-bit", "8-bit", "none", "quoted-printable-no":
		return kindIdentity
	case "base64", "x-base64", "base-64":
		return kindBase64
	case "quoted-printable", "qp", "x-quoted-printable":
		return kindQuotedPrintable
	case "x-uuencode", "uuencode", "x-uue", "uue":
		return kindUuencode
	}
	return kindUnknown
}

// base64Notes records what decodeBase64Body (or a base64Reader) found.
func (p *parser) base64Notes(truncated, garbage bool, label string) {
	if truncated {
		p.note("truncated base64 in %s", label)
	} else if garbage {
		p.note("invalid characters in base64 in %s, skipped", label)
	}
}

func (p *parser) unknownEncodingNote(cte, label string) {
	p.note("%s: unknown transfer encoding %q, kept as is", label, truncate(cleanText(cte), 40))
}

func (p *parser) transferDecode(cte string, body []byte, label string) []byte {
	switch transferKindOf(cte) {
	case kindIdentity:
		return body
	case kindBase64:
		out, truncated, garbage := decodeBase64Body(body)
		p.base64Notes(truncated, garbage, label)
		return out
	case kindQuotedPrintable:
		return decodeQP(body)
	case kindUuencode:
		if blocks := findUUBlocks(body); len(blocks) > 0 {
			if blocks[0].truncated {
				p.note("truncated uuencode in %s", label)
			}
			return blocks[0].data
		}
		data, _, _ := decodeUU(body, 0)
		return data
	}
	p.unknownEncodingNote(cte, label)
	return body
}

// textPart converts a body part to UTF-8 text and adds it to Text or HTML.
func (p *parser) textPart(data []byte, mediaType, charset, label string) {
	if mediaType == "text/plain" && (bytes.HasPrefix(data, []byte("begin ")) || bytes.Contains(data, []byte("\nbegin "))) {
		if blocks := findUUBlocks(data); len(blocks) > 0 {
			var rest []byte
			last := 0
			for _, bl := range blocks {
				rest = append(rest, data[last:bl.start]...)
				last = bl.end
				if bl.truncated {
					p.note("truncated uuencode in %s", label)
				}
				p.attach(bl.data, contentTypeByName(bl.name), cleanFilename(p.d.undeclared([]byte(bl.name))), "attachment", nil)
			}
			rest = append(rest, data[last:]...)
			data = rest
		}
	}
	if charset == "" && mediaType == "text/html" {
		charset = sniffHTMLCharset(data)
	}
	s, known := p.d.declared(charset, data)
	if !known {
		p.note("%s: unknown charset %s, read as %s", label, truncate(cleanText(charset), 40), p.fallbackLabel(data))
	}
	if strings.IndexByte(s, 0) >= 0 {
		p.note("%s: NUL bytes removed", label)
	}
	s = cleanBody(s)
	if mediaType == "text/html" {
		p.htmls = append(p.htmls, s)
	} else {
		p.texts = append(p.texts, s)
	}
}

func (p *parser) fallbackLabel(data []byte) string {
	if utf8.Valid(data) {
		return "utf-8"
	}
	return p.d.fallbackName
}

// cleanBody makes body text storable: valid UTF-8, no NUL, LF line ends.
func cleanBody(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = lineFeeds(s)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// lineFeeds turns CR LF and lone CR line ends into LF, in one pass.
func lineFeeds(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '\r')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteByte('\n')
		s = s[i+1:]
		if len(s) > 0 && s[0] == '\n' {
			s = s[1:]
		}
	}
}

func sniffHTMLCharset(b []byte) string {
	if len(b) > 4096 {
		b = b[:4096]
	}
	l := []byte(asciiLower(string(b)))
	i := bytes.Index(l, []byte("charset="))
	if i < 0 {
		return ""
	}
	j := i + len("charset=")
	for j < len(l) && (l[j] == '"' || l[j] == '\'' || l[j] == ' ') {
		j++
	}
	k := j
	for k < len(l) && (l[k] >= 'a' && l[k] <= 'z' || l[k] >= '0' && l[k] <= '9' || l[k] == '-' || l[k] == '_' || l[k] == '.' || l[k] == ':') {
		k++
	}
	return string(l[j:k])
}

// innerMessage keeps a message/rfc822 part as a .eml attachment.
func (p *parser) innerMessage(data []byte, filename, disposition string, fields []rawField) {
	p.attach(data, "message/rfc822", p.innerFilename(data, filename), disposition, fields)
}

// innerFilename names a forwarded message after its Subject when the part
// gave no file name. data is the message, or at least its whole header.
func (p *parser) innerFilename(data []byte, filename string) string {
	if filename == "" {
		inner, _, _, _ := splitHeader(data)
		for _, f := range inner {
			if strings.EqualFold(f.name, "Subject") {
				filename = cleanFilename(decodeHeaderWith(p.d, f.value))
				break
			}
		}
		if filename == "" {
			filename = fmt.Sprintf("message-%d", len(p.m.Attachments)+1)
		}
		filename = truncate(filename, 200)
		if !strings.HasSuffix(strings.ToLower(filename), ".eml") {
			filename += ".eml"
		}
	}
	return filename
}

// attach adds an attachment with a copy of data.
func (p *parser) attach(data []byte, mediaType, filename, disposition string, fields []rawField) {
	a := p.newAttachment(mediaType, filename, disposition, fields)
	a.Size = len(data)
	a.Data = bytes.Clone(data)
	if a.Data == nil {
		a.Data = []byte{}
	}
	p.m.Attachments = append(p.m.Attachments, a)
}

// newAttachment describes the next attachment, without its bytes.
func (p *parser) newAttachment(mediaType, filename, disposition string, fields []rawField) Attachment {
	n := len(p.m.Attachments) + 1
	if filename == "" {
		filename = fmt.Sprintf("attachment-%d%s", n, extensionFor(mediaType))
	}
	cid := ""
	if v, ok := headerValue(fields, "Content-ID"); ok {
		cid = strings.TrimSpace(cleanText(v))
		cid = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
		cid = strings.TrimSpace(cid)
	}
	return Attachment{
		Filename:    filename,
		ContentType: mediaType,
		ContentID:   cid,
		Disposition: disposition,
	}
}

var extByType = map[string]string{
	"text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "text/csv": ".csv", "text/xml": ".xml",
	"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp",
	"image/svg+xml": ".svg", "image/tiff": ".tif", "application/pdf": ".pdf", "application/zip": ".zip",
	"application/msword": ".doc", "application/vnd.ms-excel": ".xls", "application/json": ".json", "application/xml": ".xml",
	"application/pgp-signature": ".asc", "application/pkcs7-signature": ".p7s", "application/x-pkcs7-signature": ".p7s",
	"message/rfc822": ".eml", "message/delivery-status": ".txt", "text/rfc822-headers": ".txt", "audio/mpeg": ".mp3",
	"video/mp4": ".mp4", "application/gzip": ".gz",
}

func extensionFor(mediaType string) string {
	if e, ok := extByType[mediaType]; ok {
		return e
	}
	return ".bin"
}

func contentTypeByName(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "application/octet-stream"
	}
	ext := strings.ToLower(name[i:])
	for t, e := range extByType {
		if e == ext && t != "image/jpg" && t != "application/x-pkcs7-signature" && t != "message/delivery-status" && t != "text/rfc822-headers" {
			return t
		}
	}
	return "application/octet-stream"
}

// multipart splits a multipart body and processes each part.
func (p *parser) multipart(body []byte, path string, depth int, mediaType, boundary string) {
	label := partLabel(path)
	if path == "" {
		label = "message" // the top multipart has no part number (its children are 1, 2, ...)
	}
	var parts [][]byte
	closed, found := false, false
	if boundary != "" {
		parts, closed, found = splitMultipart(body, boundary)
	}
	if t := strings.TrimSpace(boundary); !found && t != boundary && t != "" {
		boundary = t
		parts, closed, found = splitMultipart(body, boundary)
	}
	if !found {
		if g := guessBoundary(body, p.hollow); g != "" && g != boundary {
			if boundary == "" {
				p.note("%s: multipart without a boundary, guessed one", label)
			} else {
				p.note("%s: boundary not found, guessed another", label)
			}
			parts, closed, found = splitMultipart(body, g)
		}
	}
	if !found {
		if boundary == "" {
			p.note("%s: multipart without a boundary, read as plain text", label)
		} else {
			p.note("%s: boundary not found, read as plain text", label)
		}
		if p.hollow.marked(body) {
			var ok bool
			if body, ok = p.resolveText(body, label); !ok {
				return
			}
		}
		p.textPart(body, "text/plain", "", label)
		return
	}
	if !closed {
		p.note("%s: missing closing boundary", label)
	}
	defType := "text/plain"
	if mediaType == "multipart/digest" {
		defType = "message/rfc822"
	}
	for i, part := range parts {
		child := strconv.Itoa(i + 1)
		if path != "" {
			child = path + "." + child
		}
		fields, _, bStart, problem := splitHeader(part)
		if problem != "" && problem != "no header found" {
			p.note("%s: %s", partLabel(child), problem)
		}
		p.entity(fields, part[bStart:], child, depth+1, defType, mediaType)
		if p.stopped {
			return
		}
	}
}

// splitMultipart returns the parts between delimiter lines "--boundary".
// closed reports a closing "--boundary--" line; found reports that at
// least one delimiter was seen.
func splitMultipart(body []byte, boundary string) (parts [][]byte, closed, found bool) {
	delim := []byte("--" + boundary)
	start := -1 // start of the current part's content
	i := 0
	for i < len(body) {
		k := bytes.Index(body[i:], delim)
		if k < 0 {
			break
		}
		pos := i + k
		if pos > 0 && body[pos-1] != '\n' {
			i = pos + len(delim)
			continue
		}
		line, next := nextLine(body, pos)
		rest := line[len(delim):]
		isClose := bytes.HasPrefix(rest, []byte("--"))
		if isClose {
			rest = rest[2:]
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			// a longer boundary that starts with ours
			i = pos + len(delim)
			continue
		}
		found = true
		if start >= 0 {
			end := pos
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[start:end])
		}
		if isClose {
			return parts, true, true
		}
		start = next
		i = next
		if len(parts) > 100000 {
			break
		}
	}
	if start >= 0 {
		parts = append(parts, body[start:])
	}
	return parts, false, found
}

// guessBoundary returns the boundary of the first line that looks like a
// delimiter ("--" and at least 4 more characters, no spaces) among the
// first 200 lines. A marker of h counts as the lines it stands for, so
// that a hollowed body gives the same answer as the original.
func guessBoundary(body []byte, h *hollow) string {
	i := 0
	for n := 0; i < len(body) && n < 200; n++ {
		line, next := nextLine(body, i)
		n += h.extraLines(line)
		if bytes.HasPrefix(line, []byte("--")) {
			b := bytes.TrimRight(line[2:], " \t")
			if len(b) >= 4 && bytes.IndexAny(b, " \t") < 0 && !bytes.HasSuffix(b, []byte("--")) {
				// and it must occur again
				if bytes.Count(body[next:], append([]byte("--"), b...)) >= 1 {
					return string(b)
				}
			}
		}
		i = next
	}
	return ""
}
