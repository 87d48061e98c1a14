// Package receive is the contract between the service and the receivers of
// mail, one per mailbox type that Pochta fetches (the POP3 fetcher now, the
// IMAP sync next): what "Receive mail now", "Test connection" and the
// schedule ask of a receiver, and [Reason], the kind of a failed check in
// the terms an admin acts on, which every receiver reports alike. The
// service holds one [Receiver] per type and imports no protocol package.
package receive

import (
	"context"
	"errors"
	"net"
	"time"
)

// Receiver receives mail for the mailboxes of one type.
type Receiver interface {
	// Receive brings in a mailbox's new mail now, storing it through the
	// intake, and records the outcome on the mailbox. It returns ErrBusy
	// while another check of the mailbox (in any process) is under way.
	Receive(ctx context.Context, mailboxID int64) (Received, error)
	// Test logs in with connection settings that need not be saved and
	// counts the messages there, storing nothing.
	Test(ctx context.Context, connection Connection) (Count, error)
	// Run checks the type's mailboxes on their schedule until ctx ends.
	Run(ctx context.Context)
}

// ErrBusy is returned by [Receiver.Receive] when another check of the
// mailbox holds its lease.
var ErrBusy = errors.New("the mailbox is being checked right now")

// Received says what one check brought in.
type Received struct {
	Received   int // new messages stored
	Duplicates int // messages already stored (byte-identical), not stored again
	Deleted    int // messages deleted from the server
	LeftOver   int // new messages left for the next connection (max per connection)
	TooLarge   int // messages over the size limit, left on the server
}

// Count is what a connection test found on the server.
type Count struct {
	Messages int
	Size     int64
}

// Dialer opens network connections; *net.Dialer is one, and so is the
// network guard that keeps users' connections off internal addresses.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Connection is how to reach and log in to a mail server.
type Connection struct {
	Server     string
	Port       int
	Security   string // "none", "tls" or "starttls"
	VerifyCert bool
	Login      string
	Password   string
	// Mechanism is the SASL mechanism of a mailbox signed in with OAuth2
	// ("xoauth2", "oauthbearer"; "" for a password), and then Password is
	// the access token.
	Mechanism string
	APOP      bool // POP3: APOP (MD5) authentication
	Timeout   time.Duration
	Dialer    Dialer // nil: TCP
}

// Waker is a [Receiver] that can be asked to check a mailbox at once, in
// the background, when its schedule runs (the IMAP sync, when the owner
// opens the mailbox). Wake never blocks.
type Waker interface {
	Wake(mailboxID int64)
}
