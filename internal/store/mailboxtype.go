package store

import "slices"

// Kinds of mailbox types.
const (
	// KindSystem mailboxes are set up by admins for the organisation.
	KindSystem = "system"
	// KindUser mailboxes are a person's own accounts at a mail service.
	KindUser = "user"
)

// MailboxType is what Pochta knows of a mailbox type: the one table the
// service's validation and defaults, the API's filters and the web admin's
// forms and lists read, so that adding a type (or a field to one) is one
// row here.
type MailboxType struct {
	Name string // as stored in Mailbox.Type: MailboxPOP3, MailboxSMTP, MailboxIMAP
	Kind string // KindSystem or KindUser
	// Security is the TLS choice a new mailbox starts with; Port and
	// TLSPort are the usual ports without and with implicit TLS (the form
	// swaps between them when TLS is toggled).
	Security      string
	Port, TLSPort int
	// Checked: Pochta goes and gets the mail, on a schedule and on
	// "Receive mail now" (POP3, IMAP); otherwise mail arrives by itself
	// (SMTP, to Pochta's own server).
	Checked bool
	// UnsetInterval is the minutes between scheduled checks of a mailbox
	// of this type whose check interval is 0: none for POP3 (0 means by
	// hand only, as in the seed module), 10 for IMAP (its form has no
	// interval; the sync comes that often while the owner is active).
	UnsetInterval int
	// Fields are the JSON names of the mailbox fields of this type of the
	// ones not all types have (see MailboxTypeFields); the common ones
	// (name, server, port, charset...) are not listed.
	Fields []string
}

// remoteFields are the fields of a mailbox Pochta logs in to.
var remoteFields = []string{"security", "verify_cert", "login", "password", "check_interval"}

// mailboxTypes is the table, in the order the front ends list the types.
var mailboxTypes = []MailboxType{
	{Name: MailboxPOP3, Kind: KindSystem, Security: "none", Port: 110, TLSPort: 995, Checked: true,
		Fields: append(slices.Clone(remoteFields), "apop", "delete_from_server")},
	{Name: MailboxSMTP, Kind: KindSystem, Security: "none", Port: 25, TLSPort: 25, // no implicit TLS on Pochta's own server yet
		Fields: []string{"domains", "relay", "relay_auth_only"}},
	{Name: MailboxIMAP, Kind: KindUser, Security: "tls", Port: 143, TLSPort: 993, Checked: true, UnsetInterval: 10,
		Fields: append(slices.Clone(remoteFields), "delete_from_server", "service_id", "owner_id", "folders", "sync_range")},
}

// MailboxTypes gives every mailbox type, in the order the front ends list them.
func MailboxTypes() []MailboxType { return slices.Clone(mailboxTypes) }

// MailboxTypeOf finds a type by name.
func MailboxTypeOf(name string) (MailboxType, bool) {
	for _, t := range mailboxTypes {
		if t.Name == name {
			return t, true
		}
	}
	return MailboxType{}, false
}

// MailboxTypeNames gives the names of every type.
func MailboxTypeNames() []string {
	names := make([]string, 0, len(mailboxTypes))
	for _, t := range mailboxTypes {
		names = append(names, t.Name)
	}
	return names
}

// MailboxTypesOfKind gives the names of the types of a kind (KindSystem or
// KindUser); nil for any other kind.
func MailboxTypesOfKind(kind string) []string {
	var names []string
	for _, t := range mailboxTypes {
		if t.Kind == kind {
			names = append(names, t.Name)
		}
	}
	return names
}

// MailboxTypeFields gives the fields some types have and others do not, the
// union of every type's Fields, in a fixed order.
func MailboxTypeFields() []string {
	var fields []string
	for _, t := range mailboxTypes {
		for _, field := range t.Fields {
			if !slices.Contains(fields, field) {
				fields = append(fields, field)
			}
		}
	}
	return fields
}

// Has reports whether mailboxes of the type have field (a JSON name of
// MailboxTypeFields; a common field is not asked).
func (t MailboxType) Has(field string) bool { return slices.Contains(t.Fields, field) }

// DefaultPort gives the usual port of the type with security ("tls":
// implicit TLS).
func (t MailboxType) DefaultPort(security string) int {
	if security == "tls" {
		return t.TLSPort
	}
	return t.Port
}
