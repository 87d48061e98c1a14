package mime

import (
	"bytes"
	"io"
	"strings"
	"time"
)

// Options tunes [Parse] and [ParseAt]. The zero value is ready to use:
// zero fields take safe defaults.
type Options struct {
	// FallbackCharset is the charset for text and headers that declare
	// none and are not valid UTF-8, or that declare a charset no table
	// knows (usually the mailbox's charset setting, or the site's when
	// that is blank). "" means UTF-8, then windows-1252.
	FallbackCharset string
	// MaxDepth bounds multipart and message/rfc822 nesting. Deeper parts
	// are kept as opaque attachments. 0 means 20; negative means 20 too.
	MaxDepth int
	// MaxParts bounds the number of MIME parts visited. Parts past the
	// limit are dropped from the result (the raw source still has them).
	// 0 or negative means 1000.
	MaxParts int
	// MaxInMemory is the largest message [ParseAt] reads into memory
	// whole and hands to [Parse]; larger messages are parsed hollowed
	// (see ParseAt). 0 or negative means DefaultMaxInMemory.
	MaxInMemory int64
	// MinSpan is the length above which ParseAt leaves a run of
	// base64-looking lines of a large message in the source instead of
	// copying it to memory. 0 or negative means DefaultMinSpan.
	MinSpan int
	// MaxText bounds the bytes (still transfer-encoded) that ParseAt
	// reads into memory from the source for one text part of a large
	// message; the rest of such a part is noted and left out of Text or
	// HTML. 0 or negative means DefaultMaxText. Parse does not use it.
	MaxText int
}

// Default limits for [Options].
const (
	DefaultMaxDepth    = 20
	DefaultMaxParts    = 1000
	DefaultMaxInMemory = 16 << 20
	DefaultMinSpan     = 64 << 10
	DefaultMaxText     = 8 << 20
)

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxParts <= 0 {
		o.MaxParts = DefaultMaxParts
	}
	if o.MaxInMemory <= 0 {
		o.MaxInMemory = DefaultMaxInMemory
	}
	if o.MinSpan <= 0 {
		o.MinSpan = DefaultMinSpan
	}
	if o.MaxText <= 0 {
		o.MaxText = DefaultMaxText
	}
	return o
}

// HeaderField is one header field in message order.
type HeaderField struct {
	Name  string // as written (case kept), UTF-8
	Value string // unfolded and RFC 2047-decoded, UTF-8
	Raw   string // the field as received, folding included, without the final line break, as UTF-8 text
}

// LowerName is the field's name lower-cased: strings.ToLower, without
// making a string for the names mail is full of, written as they usually
// are (the rules' view and the spam tokenizer ask it of every field of every
// message received).
func (f HeaderField) LowerName() string {
	if lower, ok := usualFieldNames[f.Name]; ok {
		return lower
	}
	return strings.ToLower(f.Name)
}

var usualFieldNames = func() map[string]string {
	names := map[string]string{}
	for _, name := range []string{
		"Received", "Date", "From", "To", "Cc", "Subject", "Message-ID", "Message-Id", "MIME-Version", "Mime-Version",
		"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "X-Mailer", "Reply-To", "Return-Path",
		"Sender", "In-Reply-To", "References", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence",
		"DKIM-Signature", "Authentication-Results", "ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results",
		"Received-SPF", "X-Originating-IP", "User-Agent", "Delivered-To", "Thread-Topic", "Thread-Index",
		"X-MS-Has-Attach", "X-Priority", "X-MSMail-Priority", "Importance", "Feedback-ID", "Auto-Submitted",
		"X-Pochta-Loop",
	} {
		names[name] = strings.ToLower(name)
	}
	return names
}()

// Address is a mailbox from an address header.
type Address struct {
	Name    string // display name, decoded; may be empty
	Address string // addr-spec, e.g. "alice@example.com"; may be empty when the header held only a name
}

// String returns "Name <addr>", or just the address when there is no
// name, or just the name when there is no address.
func (a Address) String() string {
	switch {
	case a.Name == "":
		return a.Address
	case a.Address == "":
		return a.Name
	}
	name := a.Name
	if strings.ContainsAny(name, "\"(),.:;<>@[\\]") {
		name = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
	}
	return name + " <" + a.Address + ">"
}

// Attachment is a non-body part: a file, an inline image, a forwarded
// message.
type Attachment struct {
	Filename    string // UTF-8, decoded, path stripped; never empty (made up as "attachment-N.ext" when missing)
	ContentType string // lower-case media type, e.g. "image/png"
	ContentID   string // without angle brackets; set for inline parts referenced by cid: URLs
	Disposition string // "attachment", "inline" or "" when the part said neither
	Size        int    // decoded size in bytes: len(Data), or what Open yields
	Data        []byte // decoded bytes (transfer encoding removed, charset untouched); nil when Open is set
	// Open is set instead of Data for an attachment of a large message
	// that [ParseAt] left in the source. Each call returns a new reader of
	// the decoded bytes (the same bytes Data would hold), which reads the
	// source as it goes, so the io.ReaderAt given to ParseAt must stay
	// readable while the reader is used; a read error of the source is
	// returned by the reader. Open is nil whenever Data is set.
	Open func() io.Reader
}

// Reader returns a new reader of the attachment's decoded bytes, whether
// they are in Data or left in the source (Open).
func (a *Attachment) Reader() io.Reader {
	if a.Open != nil {
		return a.Open()
	}
	return bytes.NewReader(a.Data)
}

// Message is the parsed form of one message. Every string is valid UTF-8
// without NUL bytes.
type Message struct {
	Header      []HeaderField
	From        []Address
	ReplyTo     []Address
	To          []Address
	Cc          []Address
	Bcc         []Address
	DeliveredTo []Address
	XOriginalTo []Address
	Subject     string
	MessageID   string   // without angle brackets
	InReplyTo   string   // the first message-id of In-Reply-To, without angle brackets
	References  []string // without angle brackets, in order
	Date        time.Time
	Priority    int // 1 (highest) .. 5 (lowest); 3 when not given
	Text        string
	HTML        string // raw HTML as sent (converted to UTF-8), not sanitised
	Attachments []Attachment
	ParseErrors []string
	HeaderText  string // the header block as text
	Size        int    // size of the raw input in bytes
}

// Get returns the decoded value of the first header field named name
// (case-insensitive), or "".
func (m *Message) Get(name string) string {
	for _, f := range m.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}
