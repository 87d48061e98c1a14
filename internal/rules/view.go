package rules

import (
	"strings"

	"pochta.dev/pochta/internal/mime"
)

// View is what rules see of a message. It is read, never changed, by
// [Evaluate]; build it with [NewView] or from stored fields.
type View struct {
	MailboxID int64
	Subject   string
	// Addresses as "Name <address>", or the address alone.
	From, ReplyTo, To, Cc, Bcc []string
	// Headers by lower-cased name: each field's decoded value, in message
	// order.
	Headers    map[string][]string
	HeaderText string // the header block
	Body       string // the text body
	// Attachments are the attachments' file names.
	Attachments []string
	Size        int64 // bytes of the source
	// SpamRating is the spam probability in percent (0-100); negative when
	// the message was not rated, which no spam condition matches.
	SpamRating int
	// LoopHost is this install's name in the LoopHeader of its forwards
	// (its SMTP hostname): a message that carries it is not forwarded
	// again. Empty, any loop header blocks a forward.
	LoopHost string
}

// NewView makes the view of a parsed message received into mailboxID. Its
// spam rating is "not rated": set SpamRating when the filter has rated the
// message.
func NewView(m *mime.Message, mailboxID int64) *View {
	v := &View{
		MailboxID:  mailboxID,
		Subject:    m.Subject,
		From:       addresses(m.From),
		ReplyTo:    addresses(m.ReplyTo),
		To:         addresses(m.To),
		Cc:         addresses(m.Cc),
		Bcc:        addresses(m.Bcc),
		Headers:    make(map[string][]string, len(m.Header)),
		HeaderText: m.HeaderText,
		Body:       m.Text,
		Size:       int64(m.Size),
		SpamRating: -1,
	}
	// A field's first value takes its place in one array for them all
	// (capacity one, so that a second value of the name appends to a copy),
	// and the usual names are lower-cased without a copy: the view was a
	// fifth of the rules' time on receipt, a slice and a name a field.
	values := make([]string, len(m.Header))
	for i, field := range m.Header {
		name := field.LowerName()
		if have, ok := v.Headers[name]; ok {
			v.Headers[name] = append(have, field.Value)
			continue
		}
		values[i] = field.Value
		v.Headers[name] = values[i : i+1 : i+1]
	}
	for _, attachment := range m.Attachments {
		v.Attachments = append(v.Attachments, attachment.Filename)
	}
	return v
}

func addresses(list []mime.Address) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return out
}

// Header gives the first value of the header named name (any case), or "".
func (v *View) Header(name string) string {
	if values := v.Headers[strings.ToLower(name)]; len(values) > 0 {
		return values[0]
	}
	return ""
}
