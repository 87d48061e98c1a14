package service

import (
	"net"
	"strings"
	"unicode/utf8"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/protoline"
)

// The longest text each field takes, in characters (error.too_long says
// "characters", so runes are counted, not bytes), and the most entries a
// list takes. Every text a person or a script can send has one: a megabyte
// of description or folder names is never meant, and it would be stored,
// listed and sent back on every page and API call.
const (
	MaxNameLength        = 255  // names of mailboxes, sites, mail services, users
	MaxDescriptionLength = 2000 // a mailbox's description
	// MaxHostLength is the longest DNS name (RFC 1035); an IP address is
	// shorter.
	MaxHostLength = 253
	// MaxMailboxLoginLength fits an e-mail address (64 + "@" + 255), the
	// usual login at a mail server.
	MaxMailboxLoginLength = 320
	MaxPasswordLength     = 1024 // mailbox and user passwords
	MaxUserLoginLength    = 64
	// MaxEmailLength is the longest address SMTP carries (RFC 5321's path
	// of 256 octets, less its angle brackets).
	MaxEmailLength      = 254
	MaxWebURLLength     = 2048
	MaxFolders          = 500 // folders to sync of a user mailbox
	MaxFolderNameLength = 500
	MaxDomains          = 1000 // domains served by an SMTP mailbox
	MaxTokenNameLength  = 100
	// MaxTokensPerUser caps the API tokens of one user: a script needs one
	// or a few, and each is a row checked on every request.
	MaxTokensPerUser = 50
)

// tooLong adds field's "too long" error when value has more than limit
// characters, and reports whether it did.
func tooLong(errs fieldErrors, field string, label i18n.Key, value string, limit int) bool {
	// A string of more bytes than limit*4 has more runes than limit too:
	// a megabyte is refused without counting it.
	if len(value) > limit && (len(value) > 4*limit || utf8.RuneCountInString(value) > limit) {
		errs.add(field, "error.too_long", label, limit)
		return true
	}
	return false
}

// breaksLine adds field's error when value holds CR, LF or NUL, which
// would end a protocol command line early (see package protoline), and
// reports whether it did. The message names the field, never the value: it
// may be a password.
func breaksLine(errs fieldErrors, field string, label i18n.Key, value string) bool {
	if !protoline.Safe(value) {
		errs.add(field, "error.line_break", label)
		return true
	}
	return false
}

// checkProtocolText checks a text that becomes part of a protocol line (a
// login, a password, a server, a folder, an address): no line breaks or
// NUL, at most limit characters.
func checkProtocolText(errs fieldErrors, field string, label i18n.Key, value string, limit int) {
	if !breaksLine(errs, field, label, value) {
		tooLong(errs, field, label, value, limit)
	}
}

// checkList checks a list that becomes protocol arguments (folders,
// domains): at most most entries, each at most limit characters and without
// line breaks or NUL.
func checkList(errs fieldErrors, field string, label i18n.Key, items []string, most, limit int) {
	if len(items) > most {
		errs.add(field, "error.too_many", label, most)
		return
	}
	for _, item := range items {
		checkProtocolText(errs, field, label, item, limit)
	}
}

// checkConnectionText checks what "Test connection" sends to a POP3 server
// as a saved mailbox's would be checked: the server (normalised), the login
// and the password.
func checkConnectionText(errs fieldErrors, server *string, login, password string) {
	checkServer(errs, "server", i18n.Key("field.pop3_server"), server, "error.host", false)
	checkProtocolText(errs, "login", i18n.Key("field.login"), login, MaxMailboxLoginLength)
	checkProtocolText(errs, "password", i18n.Key("field.password"), password, MaxPasswordLength)
}

// checkTokenName refuses an API token name longer than MaxTokenNameLength.
func checkTokenName(name string) error {
	errs := fieldErrors{}
	tooLong(errs, "name", i18n.Key("token.name"), name, MaxTokenNameLength)
	return errs.err()
}

// checkTokenCount refuses another API token to a user who has count of
// them already. Each token is a row that every request carrying one looks
// up; a script needs a few, not thousands. Two requests at once may both
// pass: the cap is a brake, not an invariant.
func checkTokenCount(count int) error {
	if count >= MaxTokensPerUser {
		return &ConflictError{Message: i18n.M("error.token_limit", MaxTokensPerUser), Fields: []string{"name"}}
	}
	return nil
}

// normaliseHost gives a server as it is stored: an IP address written in
// brackets, as in a URL ("[::1]"), without them, so that it is dialled as
// net.JoinHostPort writes it ("[::1]:110") and not as "[[::1]]:110".
func normaliseHost(host string) string {
	if inner, ok := strings.CutPrefix(host, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok && net.ParseIP(inner) != nil {
			return inner
		}
	}
	return host
}

// checkServer normalises and checks a server field: a host name or an IP
// address (validHost), or for a listen address also "*" (any is true).
// invalid is the error key for a value that is neither.
func checkServer(errs fieldErrors, field string, label i18n.Key, server *string, invalid string, any bool) {
	*server = normaliseHost(*server)
	if *server == "" || (any && *server == "*") {
		return
	}
	if breaksLine(errs, field, label, *server) || tooLong(errs, field, label, *server, MaxHostLength) {
		return
	}
	if !validHost(*server) {
		errs.add(field, invalid, label)
	}
}
