package mime

import (
	"strings"
	"time"
)

// Options tunes [Parse]. The zero value is ready to use: zero fields take
// safe defaults.
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
}

// Default limits for [Options].
const (
	DefaultMaxDepth = 20
	DefaultMaxParts = 1000
)

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxParts <= 0 {
		o.MaxParts = DefaultMaxParts
	}
	return o
}

// HeaderField is one header field in message order.
type HeaderField struct {
	Name  string // as written (case kept), UTF-8
	Value string // unfolded and RFC 2047-decoded, UTF-8
	Raw   string // the field as received, folding included, without the final line break, as UTF-8 text
}

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
	Size        int    // len(Data)
	Data        []byte // decoded bytes (transfer encoding removed, charset untouched)
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
	Size        int    // len of the raw input
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
