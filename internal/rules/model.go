package rules

// Event is when rules run.
type Event string

// The events of SPEC.md: a message received, or rules run by hand on a
// stored message ("apply rules").
const (
	EventReceive Event = "receive"
	EventManual  Event = "manual"
)

// Field is what of a message a condition looks at.
type Field string

// The condition fields of SPEC.md "Rules".
const (
	FieldSender     Field = "sender"     // From and Reply-To addresses
	FieldRecipient  Field = "recipient"  // To, Cc and Bcc addresses
	FieldSubject    Field = "subject"    // the subject
	FieldBody       Field = "body"       // the text body (made from the HTML when there is no text part)
	FieldHeader     Field = "header"     // one header's values (Condition.Header), or the whole header block
	FieldAll        Field = "all"        // the whole message: header block and text body
	FieldAttachment Field = "attachment" // each attachment's file name
)

// Fields lists the text fields in the order a form offers them.
var Fields = []Field{FieldSender, FieldRecipient, FieldSubject, FieldBody, FieldHeader, FieldAll, FieldAttachment}

// Op is how a condition compares.
type Op string

// Operators of text conditions, and of the spam probability and size.
const (
	OpContains    Op = "contains"
	OpNotContains Op = "not_contains"
	OpEquals      Op = "equals"
	OpNotEquals   Op = "not_equals"
	OpRegex       Op = "regex"
	OpLess        Op = "<"
	OpGreater     Op = ">"
)

// Ops lists the text operators in the order a form offers them.
var Ops = []Op{OpContains, OpNotContains, OpEquals, OpNotEquals, OpRegex}

func (o Op) negative() bool { return o == OpNotContains || o == OpNotEquals }

// Condition is one test on a text field of a message.
type Condition struct {
	Field Field
	// Header names the header FieldHeader looks at ("X-Mailer"); "" means
	// the whole header block. Other fields ignore it.
	Header string
	Op     Op
	// Values are the strings, one per line in a form: alternatives (see
	// the package comment). Blank ones are dropped by Compile.
	Values []string
}

// Threshold is the spam probability condition: the rating (0-100, in
// percent) less or greater than Value. A message not rated (no spam check)
// matches neither.
type Threshold struct {
	Op    Op // OpLess or OpGreater
	Value int
}

// Size units.
const (
	UnitB  = "b"
	UnitKB = "kb"
	UnitMB = "mb"
)

// SizeLimit is the size condition: the message's size in bytes less or
// greater than Value Units (1 KB = 1024 bytes).
type SizeLimit struct {
	Op    Op // OpLess or OpGreater
	Value int64
	Unit  string // UnitB, UnitKB or UnitMB; "" means UnitB
}

// Bytes is the limit in bytes.
func (s SizeLimit) Bytes() int64 {
	switch s.Unit {
	case UnitKB:
		return s.Value << 10
	case UnitMB:
		return s.Value << 20
	}
	return s.Value
}

// Values of Actions.Read and Actions.Spam ("" is taken as Unchanged).
const (
	Unchanged = "unchanged"
	Read      = "read"
	Unread    = "unread"
	Spam      = "spam"
	NotSpam   = "not_spam"
)

// Webhook is the webhook action: a POST of the parsed message as JSON to
// URL, signed with Secret.
type Webhook struct {
	URL string
	// Secret is opaque to the engine (the service keeps it sealed): it is
	// handed on in the outcome's step, never read.
	Secret []byte
}

// Actions is what a matching rule does. They are applied in this order,
// whatever the form's order: read or unread; spam or not spam (which
// trains the filter); forward; webhook; delete; stop. Flags first, as they
// change the stored message; then the outbound work, which takes the
// message as it stands; then delete, which removes it (the forward and the
// webhook have their copy by then) and, as nothing is left to act on, also
// ends the processing; stop last, after the rule's own actions.
type Actions struct {
	Read      string // Unchanged, Read or Unread
	Spam      string // Unchanged, Spam or NotSpam
	ForwardTo []string
	Webhook   *Webhook
	Delete    bool
	Stop      bool // no later rule runs on the message
}

// Rule is a rule as the service stores and edits it: the fields of the
// API's rule object.
type Rule struct {
	ID          int64
	MailboxID   int64 // 0: every mailbox
	Name        string
	Description string
	Active      bool
	Sort        int
	OnReceive   bool // runs when mail is received
	OnManual    bool // runs when rules are applied by hand
	Template    string
	Conditions  []Condition
	Spam        *Threshold // nil: no spam condition
	Size        *SizeLimit // nil: no size condition
	Actions     Actions
}

// On reports whether the rule runs for event.
func (r *Rule) On(event Event) bool {
	switch event {
	case EventReceive:
		return r.OnReceive
	case EventManual:
		return r.OnManual
	}
	return false
}
