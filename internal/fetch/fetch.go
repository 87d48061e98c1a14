// Package fetch brings mail in from external POP3 servers into system
// mailboxes: one fetch of one mailbox at a time across every Pochta process
// sharing the database, and a scheduler that fetches each mailbox on its
// interval, backing off after failures.
//
// The order of one fetch is what makes it lose nothing: every new message
// is stored, with its UIDL, in one transaction (through the intake) before
// any DELE is sent, and DELE is sent only for messages whose UIDL is stored.
// A fetch killed at any moment leaves either a message not yet stored (it is
// fetched again next time) or a message stored and still on the server (its
// UIDL is known, so it is not stored again, and it is deleted next time).
// Messages go into the intake's sink as they are read, and are stored many
// to a transaction while the next ones are read; the rule is the same: DELE
// only after the transaction holding the message has committed (the sink
// says so through each message's done function).
//
// Servers without UIDL: every message is downloaded on every fetch and
// identified by the SHA-256 of its bytes, recorded as its UID ("sha256:…");
// a message already stored is recognised by that hash and not stored again.
// With "delete after receipt" this costs one download per message as usual;
// without it, it costs a download of the whole mailbox on every check.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/pop3"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// Config is what a Fetcher needs.
type Config struct {
	Store *store.Store
	// Intake is the sink fetched messages go into.
	Intake   *intake.Sink
	Log      worklog.Recorder
	Logger   *slog.Logger
	Password func(store.Mailbox) (string, error) // the decrypted mailbox password
	Timeout  func(context.Context) time.Duration // the connection timeout setting
	// Holder names this process in leases; empty makes a random one.
	Holder string
	// Dialer opens connections (tests use it); nil dials TCP.
	Dialer pop3.Dialer
	// DialerFor, when set, gives the dialer of one mailbox's connection
	// instead of Dialer: the service hands a mailbox that has an owner a
	// dialer that keeps off internal networks (netguard).
	DialerFor func(ctx context.Context, mailbox store.Mailbox) receive.Dialer
	// Tick is how often Run looks for due mailboxes (default 15 s), and
	// Parallel how many it fetches at once (default 4).
	Tick     time.Duration
	Parallel int
	// Window is how many commands are pipelined (default 32).
	Window int
	// LeaseTTL is how long a fetch may go without renewing its mailbox's
	// lease before another process may take the mailbox over: a process
	// killed mid-fetch holds its mailboxes this long. Zero means the
	// environment variable POCHTA_FETCH_LEASE_SECONDS when set (tests that
	// kill processes shorten it), else 90 s.
	LeaseTTL time.Duration
}

// Fetcher fetches mailboxes.
type Fetcher struct {
	config Config
	now    func() time.Time

	running receive.Running // mailboxes this Fetcher is fetching now
}

// ErrBusy is returned when another fetch of the mailbox holds its lease.
var ErrBusy = receive.ErrBusy

// defaultLeaseTTL is Config.LeaseTTL's default.
const defaultLeaseTTL = 90 * time.Second

// LeaseEnv names the environment variable that sets Config.LeaseTTL in
// seconds when the field is zero.
const LeaseEnv = "POCHTA_FETCH_LEASE_SECONDS"

// leaseTTLFromEnv reads LeaseEnv: whole seconds, at least 1; anything else
// gives the default.
func leaseTTLFromEnv() time.Duration {
	if seconds, err := strconv.Atoi(strings.TrimSpace(os.Getenv(LeaseEnv))); err == nil && seconds >= 1 {
		return time.Duration(seconds) * time.Second
	}
	return defaultLeaseTTL
}

// maxMessageBytes bounds one message: larger mail is not mail people send,
// and a broken server must not fill the disk.
const maxMessageBytes = 256 << 20

// New makes a Fetcher.
func New(config Config) *Fetcher {
	if config.Holder == "" {
		config.Holder = fmt.Sprintf("pochta-%016x", rand.Uint64())
	}
	if config.Window <= 0 {
		config.Window = 32
	}
	if config.Tick <= 0 {
		config.Tick = 15 * time.Second
	}
	if config.Parallel <= 0 {
		config.Parallel = 4
	}
	if config.LeaseTTL <= 0 {
		config.LeaseTTL = leaseTTLFromEnv()
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	return &Fetcher{config: config, now: time.Now}
}

// Result says what one fetch brought in.
type Result = receive.Received

// Receive is [Fetcher.Fetch] with its error marked with its
// [receive.Reason]: the fetcher as the service's receive.Receiver for POP3
// mailboxes.
func (f *Fetcher) Receive(ctx context.Context, mailboxID int64) (receive.Received, error) {
	result, err := f.Fetch(ctx, mailboxID)
	return result, marked(err)
}

// Fetch checks one POP3 mailbox now: it takes the mailbox's lease (ErrBusy
// when another fetch has it), fetches, and records the outcome on the
// mailbox (last check, error, failure streak, next check).
func (f *Fetcher) Fetch(ctx context.Context, mailboxID int64) (Result, error) {
	mailbox, err := f.config.Store.MailboxByID(ctx, mailboxID)
	if err != nil {
		return Result{}, err
	}
	if mailbox.Type != store.MailboxPOP3 {
		return Result{}, fmt.Errorf("mailbox %d is not a POP3 mailbox", mailboxID)
	}
	done, ok := f.running.Start(mailboxID)
	if !ok {
		return Result{}, ErrBusy
	}
	defer done()
	var result Result
	err = receive.Lease{Leases: f.config.Store, Holder: f.config.Holder, TTL: f.config.LeaseTTL, Logger: f.config.Logger}.WithMailbox(ctx, mailboxID,
		func(ctx context.Context) (err error) {
			result, err = f.fetchPOP3(ctx, mailbox)
			return err
		},
		func(ctx context.Context, checkErr error) {
			if err := f.recordOutcome(ctx, mailbox, checkErr); err != nil {
				f.config.Logger.Error("record check state", "mailbox", mailboxID, "error", err)
			}
		})
	return result, err
}

// recordOutcome sets the mailbox's check state: the next check after its
// interval with jitter, or, after failures, after an exponential backoff up
// to a day.
func (f *Fetcher) recordOutcome(ctx context.Context, mailbox store.Mailbox, fetchErr error) error {
	now := f.now()
	state := store.CheckState{LastCheckAt: now}
	if fetchErr != nil && !errors.Is(fetchErr, context.Canceled) {
		state.LastError, state.ErrorReason, state.FailureStreak = fetchErr.Error(), string(Reason(fetchErr)), mailbox.FailureStreak+1
	}
	if mailbox.CheckInterval > 0 {
		state.NextCheckAt = now.Add(receive.NextDelay(time.Duration(mailbox.CheckInterval)*time.Minute, state.FailureStreak, rand.Float64()))
	}
	return f.config.Store.SetCheckState(ctx, mailbox.ID, state)
}

// uidKey is how a server's UIDL is recorded: as sent, unless it is longer
// than any server should send (RFC 1939: at most 70 characters), when its
// hash stands in for it.
func uidKey(uid string) string {
	if len(uid) <= 200 {
		return uid
	}
	sum := sha256.Sum256([]byte(uid))
	return "uidl-sha256:" + hex.EncodeToString(sum[:])
}

// Test logs in to a POP3 server with settings that need not be saved and
// counts its messages, storing nothing: "Test connection". Its error is
// marked with its [receive.Reason].
func (f *Fetcher) Test(ctx context.Context, connection receive.Connection) (receive.Count, error) {
	options := pop3.Options{Security: connection.Security, InsecureSkipVerify: !connection.VerifyCert, Timeout: connection.Timeout}
	if connection.Dialer != nil {
		options.Dialer = connection.Dialer
	}
	client, err := pop3.Dial(ctx, net.JoinHostPort(connection.Server, strconv.Itoa(connection.Port)), options)
	if err != nil {
		return receive.Count{}, marked(err)
	}
	defer client.Close()
	method := pop3.AuthAuto
	if connection.APOP {
		method = pop3.AuthAPOP
	}
	if err := client.Auth(ctx, connection.Login, connection.Password, method); err != nil {
		return receive.Count{}, marked(err)
	}
	count, size, err := client.Stat(ctx)
	if err != nil {
		return receive.Count{}, marked(err)
	}
	client.Quit(ctx)
	return receive.Count{Messages: count, Size: size}, nil
}

// The fetcher is the service's receiver of POP3 mailboxes.
var _ receive.Receiver = (*Fetcher)(nil)
