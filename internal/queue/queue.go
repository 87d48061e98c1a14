// Package queue is Pochta's outbound mail queue (issue 13 part 5): the
// messages the internal SMTP server relays and the rules forward wait in
// the database until each recipient is delivered, through the admin's
// smarthost or straight to the recipient domain's MX, retried on a growing
// schedule for up to five days; a failure is bounced to the envelope
// sender as an RFC 3464 delivery status notification, and a delay of four
// hours is told once.
//
// [Queue.Enqueue] is the door (smtpd's Relay, the rules' forward action):
// the message is durable before it returns. [Queue.Run] delivers: it
// claims due messages under a lease in the database, so that several
// processes sharing one PostgreSQL never send a message twice and a dead
// process's messages are taken over when its lease expires.
package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/netguard"
	"pochta.dev/pochta/internal/protoline"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// TLS modes of a smarthost.
const (
	TLSNone     = "none"     // plain text
	TLSStartTLS = "starttls" // STARTTLS required
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
)

// Smarthost is the admin's relay server; an empty Host delivers straight
// to each recipient domain's MX.
type Smarthost struct {
	Host     string
	Port     int // 0: 587, or 465 for implicit TLS, or 25 without TLS
	TLS      string
	Login    string
	Password string
	// InsecureSkipVerify accepts any certificate (the admin ticked "don't
	// verify").
	InsecureSkipVerify bool
}

// Settings are what a delivery reads, at each attempt.
type Settings struct {
	Smarthost Smarthost
	// AllowedNetworks are the internal networks direct delivery of mail
	// relayed for users may reach (the "allowed networks" setting).
	AllowedNetworks []netip.Prefix
	// Timeout bounds connecting and each command (0: 60 s).
	Timeout time.Duration
}

// Resolver finds where a domain's mail goes: net.Resolver does.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// Config is what a [Queue] needs. Store and Settings are required.
type Config struct {
	Store    *store.Store
	Settings func(ctx context.Context) (Settings, error)
	Log      worklog.Recorder // the work log (nil: none)
	Logger   *slog.Logger
	// Hostname names this host in EHLO and in notices ("": os.Hostname).
	Hostname string
	// Resolver looks MX records up (nil: net.DefaultResolver).
	Resolver Resolver
	// Dialer opens connections (nil: a net.Dialer); direct delivery wraps
	// it in netguard.
	Dialer netguard.ContextDialer
	// Local takes the recipients in domains Pochta serves itself (nil:
	// every recipient is sent out): a bounce to a local sender, a
	// message relayed or forwarded to a served domain, is stored through
	// the intake rather than sent to the smarthost or MX.
	Local Local
	// MXPort is the port of direct delivery (0: 25; tests move it).
	MXPort int
	// Concurrency is how many messages one process delivers at once (0: 4).
	Concurrency int
	// PollInterval is how often the database is asked for due messages
	// (0: 5 s); a message enqueued in this process wakes the runner at once.
	PollInterval time.Duration
	// LeaseTTL is how long a claim lasts without renewal (0: 5 min); a
	// delivery renews it every third of that.
	LeaseTTL time.Duration
	// ShutdownGrace is how long deliveries in flight may finish after Run's
	// context ends (0: 20 s).
	ShutdownGrace time.Duration
	// MaxMessageBytes caps a message taken by Enqueue (0: 64 MB).
	MaxMessageBytes int64
	// SpoolDir holds a large message between its reading and its commit
	// ("": the system's temporary folder).
	SpoolDir string
	// Now is the clock (nil: time.Now); Random gives jitter in [0, 1) (nil:
	// math/rand/v2).
	Now    func() time.Time
	Random func() float64
	// Holder names this process's leases ("": host, process ID and a random
	// part).
	Holder string
}

// Local is the door to Pochta's own mailboxes (app fills it with the SMTP
// mailboxes' served domains and the intake's sink).
type Local interface {
	// Serves reports whether address is in a domain one of Pochta's SMTP
	// mailboxes serves.
	Serves(ctx context.Context, address string) (bool, error)
	// Deliver stores the message (open gives its bytes, as often as
	// asked) for recipients Serves said yes to; when it returns nil the
	// message is durable in their mailboxes.
	Deliver(ctx context.Context, from string, recipients []string, open func() (io.ReadCloser, error)) error
}

// LeaseEnv names the environment variable that sets Config.LeaseTTL in
// whole seconds when the field is zero (the cluster test's processes).
const LeaseEnv = "POCHTA_QUEUE_LEASE_SECONDS"

// Queue is the outbound queue.
type Queue struct {
	config Config
	logger *slog.Logger
	wake   chan struct{}

	attempts, delivered, deferred, failed, local atomic.Int64
}

// Counters are what this process's deliveries did since it started, for
// /metrics: attempts made (one per message and try), and recipients
// delivered (Local of them into Pochta's own mailboxes), deferred for
// another try, and failed (bounced when the message had a sender).
type Counters struct {
	Attempts, Delivered, Local, Deferred, Failed int64
}

// Counters gives this process's delivery counts.
func (q *Queue) Counters() Counters {
	return Counters{Attempts: q.attempts.Load(), Delivered: q.delivered.Load(), Local: q.local.Load(), Deferred: q.deferred.Load(),
		Failed: q.failed.Load()}
}

// New makes a Queue.
func New(config Config) *Queue {
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.Hostname == "" {
		config.Hostname, _ = os.Hostname()
		if config.Hostname == "" {
			config.Hostname = "localhost"
		}
	}
	if config.Resolver == nil {
		config.Resolver = net.DefaultResolver
	}
	if config.Dialer == nil {
		config.Dialer = &net.Dialer{}
	}
	if config.MXPort == 0 {
		config.MXPort = 25
	}
	if config.Concurrency <= 0 {
		config.Concurrency = 4
	}
	if config.PollInterval <= 0 {
		config.PollInterval = 5 * time.Second
	}
	if config.LeaseTTL <= 0 {
		config.LeaseTTL = 5 * time.Minute
		if seconds, err := strconv.Atoi(os.Getenv(LeaseEnv)); err == nil && seconds >= 1 {
			config.LeaseTTL = time.Duration(seconds) * time.Second
		}
	}
	if config.ShutdownGrace <= 0 {
		config.ShutdownGrace = 20 * time.Second
	}
	if config.MaxMessageBytes <= 0 {
		config.MaxMessageBytes = 64 << 20
	}
	if config.Now == nil {
		config.Now = time.Now
	}
	if config.Random == nil {
		config.Random = randomFloat
	}
	if config.Holder == "" {
		var b [6]byte
		rand.Read(b[:])
		config.Holder = fmt.Sprintf("%s:%d:%s", config.Hostname, os.Getpid(), hex.EncodeToString(b[:]))
	}
	return &Queue{config: config, logger: config.Logger, wake: make(chan struct{}, 1)}
}

// Errors of Enqueue and Check.
var (
	// ErrNoRecipients: Enqueue was given no recipient.
	ErrNoRecipients = errors.New("no recipients")
	// ErrTooLarge: the message is over MaxMessageBytes.
	ErrTooLarge = errors.New("message too large for the outbound queue")
	// ErrTooManyRecipients: more than MaxRecipients.
	ErrTooManyRecipients = errors.New("too many recipients for one message")
	// ErrBadAddress: an address no SMTP command can carry.
	ErrBadAddress = errors.New("address not deliverable")
)

// MaxRecipients caps the recipients of one queued message (smtpd's own cap
// is a setting of 100 by default; a rule forwards to a few).
const MaxRecipients = 1000

// maxAddress is RFC 5321's limit of a path.
const maxAddress = 256

// checkAddress refuses what would break or smuggle an SMTP command: CR,
// LF, NUL (protoline), angle brackets, spaces outside a quoted local part,
// and paths over RFC 5321's length. empty allows the null sender.
func checkAddress(argument, address string, empty bool) error {
	if err := protoline.Check(argument, address); err != nil {
		return err
	}
	if address == "" && empty {
		return nil
	}
	if !utf8.ValidString(address) {
		return fmt.Errorf("%s: %w", argument, ErrBadAddress)
	}
	// A quoted local part ("john doe"@example.com, as smtpd keeps it) may
	// hold spaces: it goes out as it came, quotes and all.
	rest := address
	if strings.HasPrefix(address, `"`) {
		end := quotedEnd(address)
		if end < 0 || !strings.HasPrefix(address[end:], "@") {
			return fmt.Errorf("%s: %w", argument, ErrBadAddress)
		}
		rest = address[end:]
	}
	if len(address) > maxAddress || strings.ContainsAny(address, "<>\t") || strings.ContainsRune(rest, ' ') ||
		strings.LastIndexByte(address, '@') <= 0 || strings.HasSuffix(address, "@") {
		return fmt.Errorf("%s: %w", argument, ErrBadAddress)
	}
	return nil
}

// quotedEnd gives the index just past the closing quote of the quoted
// string address starts with, or -1 when it is not one by RFC 5321
// (qtextSMTP and quoted-pairSMTP: printable ASCII and space; UTF-8 too,
// as RFC 6531 allows).
func quotedEnd(address string) int {
	for i := 1; i < len(address); i++ {
		switch c := address[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i == len(address) || address[i] < ' ' || address[i] == 0x7f {
				return -1
			}
		case c < ' ' || c == 0x7f:
			return -1
		}
	}
	return -1
}

// Check is smtpd's question at RCPT: whether the queue takes a recipient.
func (q *Queue) Check(_ context.Context, from, to string) error {
	if err := checkAddress("sender", from, true); err != nil {
		return err
	}
	return checkAddress("recipient", to, false)
}

// Enqueue reads message and writes it to the queue for the recipients,
// from the envelope sender from ("" is the null sender); once it returns
// nil, the message is durable in the database and will be delivered or
// bounced. It is smtpd's Relay and the rules' forward action.
func (q *Queue) Enqueue(ctx context.Context, from string, to []string, message io.Reader) error {
	return q.enqueue(ctx, store.OutboundMail, from, to, message)
}

func (q *Queue) enqueue(ctx context.Context, kind, from string, to []string, message io.Reader) error {
	if len(to) == 0 {
		return ErrNoRecipients
	}
	if len(to) > MaxRecipients {
		return ErrTooManyRecipients
	}
	if err := checkAddress("sender", from, true); err != nil {
		return err
	}
	for _, address := range to {
		if err := checkAddress("recipient", address, false); err != nil {
			return err
		}
	}
	// A small message is taken in memory; a larger one is spooled to a
	// file as it is read and streamed from there into the database, so
	// that it is never whole in memory (and no transaction waits on a
	// slow client).
	limit := q.config.MaxMessageBytes
	start, err := io.ReadAll(io.LimitReader(message, min(limit, store.ClaimedInMemory)+1))
	if err != nil {
		return fmt.Errorf("enqueue: read the message: %w", err)
	}
	if int64(len(start)) > limit {
		return ErrTooLarge
	}
	entry := store.NewOutbound{Kind: kind, Sender: from, Recipients: to, Raw: start, Subject: subjectOf(start), ForUser: true}
	if int64(len(start)) > store.ClaimedInMemory {
		spool, size, err := q.spool(start, message, limit)
		if err != nil {
			return err
		}
		defer func() {
			spool.Close()
			os.Remove(spool.Name())
		}()
		entry.Raw, entry.Source, entry.Size = nil, spool, size
	}
	if _, err := q.config.Store.EnqueueOutbound(ctx, entry); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	q.Wake()
	return nil
}

// spool writes start and the rest of message to a temporary file, up to
// limit bytes, and gives it rewound with its size.
func (q *Queue) spool(start []byte, message io.Reader, limit int64) (*os.File, int64, error) {
	// Named as the intake's spool files are, so that serve's start removes
	// one a crashed process left (app's removeStaleSpool).
	file, err := os.CreateTemp(q.config.SpoolDir, intake.SpoolPrefix()+"outbound-*")
	if err != nil {
		return nil, 0, fmt.Errorf("enqueue: spool: %w", err)
	}
	fail := func(err error) (*os.File, int64, error) {
		file.Close()
		os.Remove(file.Name())
		return nil, 0, err
	}
	if _, err := file.Write(start); err != nil {
		return fail(fmt.Errorf("enqueue: spool: %w", err))
	}
	rest, err := io.Copy(file, io.LimitReader(message, limit-int64(len(start))+1))
	if err != nil {
		return fail(fmt.Errorf("enqueue: read the message: %w", err))
	}
	size := int64(len(start)) + rest
	if size > limit {
		return fail(ErrTooLarge)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("enqueue: spool: %w", err))
	}
	return file, size, nil
}

// Wake makes the runner look for due messages now (a message enqueued or
// retried in this process).
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// subjectOf reads a message's Subject for the admin's list, decoded from
// its MIME words when it can be, shortened.
func subjectOf(raw []byte) string {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = min(len(raw), 64<<10)
	}
	header, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(raw[:end:end], "\r\n\r\n"...)))).ReadMIMEHeader()
	if err != nil && len(header) == 0 {
		return ""
	}
	subject := header.Get("Subject")
	if decoded, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = decoded
	}
	subject = strings.ToValidUTF8(strings.ReplaceAll(subject, "\x00", ""), "?")
	return worklog.Subject(subject)
}
