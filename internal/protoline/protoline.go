// Package protoline guards the arguments of line-based protocol commands.
//
// POP3, IMAP and SMTP commands are lines ended by CRLF. An argument that
// holds CR or LF ends its command early and makes the rest a command of its
// own: a login "u\r\nDELE 1" sends "USER u" and then "DELE 1". NUL ends a
// string in servers written in C and separates the parts of SASL PLAIN, so
// it has no place in an argument either. Values that become arguments come
// from people (a login, a password, a folder name, an address) and are
// stored and replayed at every check, so two guards stand between them and
// the wire:
//
//   - the service refuses such values on input with [Safe], with a field
//     error, so that a stored setting never carries one;
//   - every protocol client (the POP3 client now, the IMAP and SMTP clients
//     to come) checks each argument with [Check] before it writes a byte of
//     the command, and fails with an error wrapping [ErrUnsafe], so that a
//     value stored before the first guard, or one that did not pass
//     through the service, is never sent either.
//
// The errors never hold the value itself: it may be a password.
package protoline

import (
	"errors"
	"fmt"
	"strings"
)

// Forbidden holds the characters no argument of a command line may contain.
const Forbidden = "\r\n\x00"

// ErrUnsafe is wrapped by every error [Check] returns.
var ErrUnsafe = errors.New("contains a line break or NUL character")

// UnsafeError says which argument holds a forbidden character, which one
// and where, without the value.
type UnsafeError struct {
	Argument  string // what the value is, e.g. "login" or "command"
	Character byte   // '\r', '\n' or 0
	Offset    int    // the byte offset of the first forbidden character
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("%s %s (%s at byte %d)", e.Argument, ErrUnsafe, characterName(e.Character), e.Offset)
}

// Unwrap makes errors.Is(err, ErrUnsafe) hold.
func (e *UnsafeError) Unwrap() error { return ErrUnsafe }

func characterName(c byte) string {
	switch c {
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	default:
		return "NUL"
	}
}

// Safe reports whether value may be part of a command line: it holds no CR,
// LF or NUL.
func Safe(value string) bool { return !strings.ContainsAny(value, Forbidden) }

// Check returns an [*UnsafeError] naming argument when value holds CR, LF or
// NUL, and nil otherwise.
func Check(argument, value string) error {
	offset := strings.IndexAny(value, Forbidden)
	if offset < 0 {
		return nil
	}
	return &UnsafeError{Argument: argument, Character: value[offset], Offset: offset}
}
