// Package mime parses Internet mail (RFC 5322 and MIME) into the fields
// Pochta stores: decoded headers, addresses, text and HTML bodies and
// attachments.
//
// The parser is built to never lose a message. [Parse] never returns nil
// and never panics: on any defect (broken or missing boundaries, truncated
// base64, unknown charsets, bad headers, NUL bytes, garbage) it keeps what
// it could read and records a plain-English note in
// [Message.ParseErrors]. The caller stores the raw source regardless;
// this package never rewrites it.
//
// What it handles: headers unfolded and RFC 2047-decoded (also encoded
// words run together, broken padding, wrong or unknown charset labels and
// raw 8-bit bytes); base64, quoted-printable and uuencode (as a transfer
// encoding and as "begin 644 name" blocks inside plain text, which become
// attachments); multipart of any depth (up to [Options.MaxDepth]);
// message/rfc822 parts, which become ".eml" attachments whose text is not
// merged into the outer body; RFC 2231 parameters with continuations and
// charset'lang'value; every charset golang.org/x/text knows plus the
// aliases found in real mail (utf8, cp1251, win-1251, koi8r, cp866,
// x-mac-cyrillic, ks_c_5601-1987, gb2312 read as gb18030, ...); LF-only
// input; a leading mbox "From " line.
//
// Charsets: Pochta stores all text as UTF-8. The mailbox's charset
// setting (blank = the site's) is passed as [Options.FallbackCharset] and
// is the charset used for parts and headers that declare none (and whose
// bytes are not valid UTF-8) or that declare one no table knows. Invalid
// bytes become U+FFFD; NUL bytes are removed from text and headers (the
// database refuses them) and noted.
//
// MIME walking is done by this package's own tolerant splitter rather
// than go-message's Entity reader: go-message rejects some malformed mail
// (bad header lines, missing boundaries, unknown encodings) where the
// goal here is partial success, and working on the in-memory bytes keeps
// raw sub-messages byte-exact. go-message's charset package is imported
// once, here, so that go-message readers elsewhere in the program see the
// same charsets. [Parse] holds the whole message in memory ([]byte in,
// copies of decoded parts out), which suits ordinary mail.
//
// Large messages: [ParseAt] parses a message held by an io.ReaderAt
// (typically a spool file). Up to [Options.MaxInMemory] it reads the
// message and calls Parse. Above that it "hollows" the message: it reads
// the source once and keeps only a reduced copy in which each run of
// consecutive base64-looking lines (only [A-Za-z0-9+/=], each non-empty)
// longer than [Options.MinSpan] is replaced by one marker line naming the
// run's offset and length in the source. Such runs hold no boundary and
// no header line, so the same tolerant parser, run on the reduced copy,
// finds the same structure. Markers carry a random nonce per parse, so
// that message content cannot forge one. A part whose body holds markers
// and becomes an attachment is not decoded into memory: its
// [Attachment.Open] streams the decoded bytes from the source (base64 and
// identity encodings by streaming decoders that give exactly Parse's
// bytes; quoted-printable and uuencode, rare in large parts, are decoded
// in memory), and its Size is counted by decoding once at parse time. A
// text part is read from the source up to [Options.MaxText]. The result
// is otherwise what Parse gives, notes included; heap use is the reduced
// copy plus a few buffers, whatever the attachments' size.
//
// The exported decoders [DecodeHeader], [ParseAddressList] and
// [DecodeFilename] are used by Parse and are fuzzed on their own.
package mime
