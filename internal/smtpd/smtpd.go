// Package smtpd is Pochta's internal SMTP server (SPEC.md "Receiving >
// Internal SMTP"): one listener per active SMTP mailbox, the ESMTP session
// (go-smtp), AUTH PLAIN and LOGIN against Pochta's users, the acceptance
// rules decided at RCPT, the refusal of SMTP smuggling, the trace header
// fields, and the hand-over of each message to the intake's sink, whose
// commit comes before the 250.
//
// It imports no service: what it needs of the rest of Pochta are the small
// interfaces of [Config], which internal/app fills with the service.
package smtpd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/emersion/go-smtp"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// Errors an [Authenticator] returns.
var (
	// ErrBadCredentials: a wrong login or password, or an inactive user
	// (535).
	ErrBadCredentials = errors.New("wrong login or password")
	// ErrThrottled: too many failed logins from the client's address; the
	// attempt was not checked (421, and the connection is closed).
	ErrThrottled = errors.New("too many failed logins")
)

// Authenticator checks a login and password of one of Pochta's users,
// coming from a client address (the sign-in throttle counts by it).
type Authenticator interface {
	Authenticate(ctx context.Context, login, password, address string) error
}

// Mailboxes gives the active SMTP mailboxes (each is a listener) and
// records a listener's error on its mailbox.
type Mailboxes interface {
	ActiveSMTPMailboxes(ctx context.Context) ([]store.Mailbox, error)
	// ListenerError records err (nil: none any more) on the mailbox.
	ListenerError(ctx context.Context, mailboxID int64, err error)
}

// Sink is the intake's door ([intake.Sink]).
type Sink interface {
	Add(ctx context.Context, r io.Reader, delivery intake.Delivery, done func([]intake.Result)) error
}

// Relay takes messages for recipients outside the served domains: the
// outbound queue (issue 13 part 5), which does not exist yet.
type Relay interface {
	// Check is asked at RCPT for a recipient the relay rules let this
	// client send to; an error (an *smtp.SMTPError) is the reply.
	Check(ctx context.Context, from, to string) error
	// Enqueue takes the message for the recipients, durably, before it
	// returns nil.
	Enqueue(ctx context.Context, from string, to []string, message io.Reader) error
}

// ErrRelayUnavailable is what [NoRelay] answers: 451 4.3.0, so that a
// sender keeps the message and tries again once the queue exists.
var ErrRelayUnavailable = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "relay queue not available yet"}

// NoRelay is the relay until the outbound queue lands: relayed recipients,
// once the rules allow them, are refused with 451 4.3.0 at RCPT.
type NoRelay struct{}

// Check refuses every recipient with [ErrRelayUnavailable].
func (NoRelay) Check(context.Context, string, string) error { return ErrRelayUnavailable }

// Enqueue refuses with [ErrRelayUnavailable].
func (NoRelay) Enqueue(context.Context, string, []string, io.Reader) error {
	return ErrRelayUnavailable
}

// Settings are the module settings the server reads (SPEC.md "Module
// settings", the SMTP ones).
type Settings struct {
	// TLSCertificate and TLSKey are PEM text or the paths of PEM files;
	// both empty: a self-signed pair made once and kept in the data
	// folder.
	TLSCertificate string
	TLSKey         string
	// AllowPlaintextAuth offers AUTH before STARTTLS.
	AllowPlaintextAuth bool
	// MaxLineLength caps a line, of commands and of DATA (bytes, CRLF
	// included); a longer one ends the session with 500. Some real
	// mailers send lines far over RFC 5321's 1,000.
	MaxLineLength int
	// MaxConnectionsPerIP caps the sessions open at once from one client
	// address (421 to the next).
	MaxConnectionsPerIP int
	// MaxRecipients caps RCPT per transaction (452 past it).
	MaxRecipients int
}

// DefaultSettings are the values used when the module settings do not say.
func DefaultSettings() Settings {
	return Settings{MaxLineLength: 64 * 1024, MaxConnectionsPerIP: 50, MaxRecipients: 100}
}

// DefaultMaxMessageBytes is the size limit of a mailbox whose "max message
// size" is 0.
const DefaultMaxMessageBytes = 64 << 20

// Config is what a [Server] needs. Mailboxes, Auth, Sink and Settings are
// required.
type Config struct {
	Mailboxes Mailboxes
	Auth      Authenticator
	Sink      Sink
	Settings  func(ctx context.Context) (Settings, error)
	Relay     Relay            // nil: NoRelay
	Log       worklog.Recorder // the work log (nil: none)
	Logger    *slog.Logger
	// Hostname names this server in the greeting and Received ("":
	// os.Hostname).
	Hostname string
	// DataDir keeps the self-signed certificate ("": made in memory at
	// each start).
	DataDir string
	// ReloadInterval is how often the active SMTP mailboxes are read
	// again (0: 2 s; SPEC.md asks for changes applied within 5 s, on
	// every process that shares the database).
	ReloadInterval time.Duration
	// IdleTimeout ends a session that sends nothing for this long (0:
	// 600 s). A DATA that keeps moving is not cut, however long it takes.
	IdleTimeout time.Duration
	// ShutdownGrace is how long a stopping server waits for sessions in
	// DATA to get their reply (0: 30 s).
	ShutdownGrace time.Duration
	// MaxErrors refused commands end a session with 421 (0: 10).
	MaxErrors int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}
