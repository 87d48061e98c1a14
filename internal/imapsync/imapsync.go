// Package imapsync keeps a user's IMAP mailbox and Pochta in step: the
// service's receive.Receiver for IMAP mailboxes.
//
// One sync of a mailbox, under its lease (the POP3 fetch's, "fetch:<id>",
// so one check of a mailbox runs at a time across processes):
//
//  1. LIST the folders with their special-use roles (Inbox, Sent, Trash,
//     Junk, Archive...) and SELECT each chosen folder (CONDSTORE where the
//     server offers it). A changed UIDVALIDITY forgets the folder's UIDs:
//     its messages are fetched again and matched to the stored ones by their
//     content (the intake keeps one copy of a byte-identical message per
//     mailbox), so nothing is stored twice.
//  2. Messages deleted in Pochta whose owner asked for "delete on the server
//     too" are moved to the server's Trash (flagged \Deleted there).
//  3. New messages: on a folder's first sync those of the initial range
//     (SEARCH SINCE), later every UID above the folder's last one (never
//     UIDNEXT as a bound), and what a widened range adds. Bodies stream into
//     the intake's sink (a large one is spooled there, never whole in
//     memory), with their server UID and \Seen flag, in batches that commit
//     as they fill. A message already in the mailbox (moved between folders
//     on the server) is not stored again: its new UID points at it. A
//     message deleted in Pochta (its content hash tombstoned) is never
//     imported again.
//  4. \Seen both ways, by a three-way merge per UID: the server's flag (all
//     of them, or with CONDSTORE those changed since the folder's
//     HIGHESTMODSEQ), the message's read flag, and the flag last agreed
//     (mailbox_uids.seen) tell which side changed; the server wins when
//     both did.
//  5. Expunges: the folder's UIDs (UID SEARCH ALL; skipped when CONDSTORE
//     says nothing changed) against the known ones. They are applied after
//     every folder's new messages are in, so that a message moved from one
//     folder to another is found in its new folder before its old UID goes,
//     and kept. A message no folder holds any more is deleted in Pochta.
//
// A sync killed at any moment loses nothing and stores nothing twice: a
// message's UID is recorded in the transaction that stores it, the known
// UIDs are skipped whatever the cursor says, and the cursor is saved only
// after the folder's messages are stored.
package imapsync

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// Config is what a Syncer needs.
type Config struct {
	Store *store.Store
	// Intake is the sink fetched messages go into.
	Intake   *intake.Sink
	Log      worklog.Recorder
	Logger   *slog.Logger
	Password func(store.Mailbox) (string, error) // the decrypted mailbox password
	// AccessToken gives a current OAuth2 access token of a mailbox signed
	// in with OAuth2 (store.Mailbox.OAuthMechanism), refreshed when near
	// its expiry; an error marked receive.SignIn when the grant is gone.
	AccessToken func(context.Context, store.Mailbox) (string, error)
	Timeout     func(context.Context) time.Duration // the connection timeout setting
	// Holder names this process in leases; empty makes a random one.
	Holder string
	// Dialer opens connections; nil dials TCP.
	Dialer receive.Dialer
	// DialerFor, when set, gives the dialer of one mailbox's connection
	// instead of Dialer: the service hands every mailbox with an owner a
	// dialer that keeps off internal networks (netguard).
	DialerFor func(ctx context.Context, mailbox store.Mailbox) receive.Dialer
	// RootCAs verifies servers' certificates (nil: the system's); tests
	// trust their Dovecot's.
	RootCAs *x509.CertPool
	// Tick is how often Run looks for due mailboxes (default 15 s), and
	// Parallel how many it syncs at once (default 4).
	Tick     time.Duration
	Parallel int
	// LeaseTTL: see fetch.Config.LeaseTTL (zero: LeaseEnv when set, else
	// 90 s).
	LeaseTTL time.Duration
	// Idle holds an IDLE connection on the INBOX of every active mailbox
	// that synced without error or failed for a passing reason
	// ([Watched]), and syncs it when mail arrives.
	Idle bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// LeaseEnv is the POP3 fetch's variable (fetch.LeaseEnv), read here too:
// both receivers share the mailbox's lease, and tests that kill processes
// shorten it for both with one setting.
const LeaseEnv = "POCHTA_FETCH_LEASE_SECONDS"

// Syncer syncs IMAP mailboxes.
type Syncer struct {
	config Config

	running receive.Running // mailboxes this Syncer is syncing now
	wake    chan int64      // mailboxes to sync at once (Wake, IDLE)
}

// New makes a Syncer.
func New(config Config) *Syncer {
	if config.Holder == "" {
		config.Holder = fmt.Sprintf("pochta-%016x", rand.Uint64())
	}
	if config.Tick <= 0 {
		config.Tick = 15 * time.Second
	}
	if config.Parallel <= 0 {
		config.Parallel = 4
	}
	if config.LeaseTTL <= 0 {
		config.LeaseTTL = 90 * time.Second
		if seconds, err := strconv.Atoi(strings.TrimSpace(os.Getenv(LeaseEnv))); err == nil && seconds >= 1 {
			config.LeaseTTL = time.Duration(seconds) * time.Second
		}
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.Log == nil {
		config.Log = worklog.Discard{}
	}
	if config.Now == nil {
		config.Now = time.Now
	}
	return &Syncer{config: config, wake: make(chan int64, 256)}
}

// The syncer is the service's receiver of IMAP mailboxes.
var _ receive.Receiver = (*Syncer)(nil)

// Result says what one sync did.
type Result = receive.Received

// maxMessageBytes bounds one message, as the POP3 fetch does.
const maxMessageBytes = 256 << 20

// Receive is [Syncer.Sync] with its error marked with its [receive.Reason].
func (s *Syncer) Receive(ctx context.Context, mailboxID int64) (receive.Received, error) {
	result, err := s.Sync(ctx, mailboxID)
	return result, marked(err)
}

// Sync syncs one IMAP mailbox now: it takes the mailbox's lease
// (receive.ErrBusy when another sync has it), syncs, and records the outcome
// on the mailbox (last check, error, failure streak, next check).
func (s *Syncer) Sync(ctx context.Context, mailboxID int64) (Result, error) {
	mailbox, err := s.config.Store.MailboxByID(ctx, mailboxID)
	if err != nil {
		return Result{}, err
	}
	if mailbox.Type != store.MailboxIMAP {
		return Result{}, fmt.Errorf("mailbox %d is not an IMAP mailbox", mailboxID)
	}
	done, ok := s.running.Start(mailboxID)
	if !ok {
		return Result{}, receive.ErrBusy
	}
	defer done()
	var result Result
	err = receive.Lease{Leases: s.config.Store, Holder: s.config.Holder, TTL: s.config.LeaseTTL, Logger: s.config.Logger}.WithMailbox(ctx, mailboxID,
		func(ctx context.Context) (err error) {
			result, err = s.syncMailbox(ctx, mailbox)
			return err
		},
		func(ctx context.Context, checkErr error) {
			if err := s.recordOutcome(ctx, mailbox, checkErr); err != nil {
				s.config.Logger.Error("record check state", "mailbox", mailboxID, "error", err)
			}
		})
	return result, err
}

// The schedule (SPEC.md "Receiving > IMAP user mailboxes", as the seed
// module does it): every interval while the owner is active, daily
// otherwise; at once when the owner opens the mailbox ([Syncer.Wake]) and
// when IDLE says mail came.
const (
	idleInterval = 24 * time.Hour
	// activeWithin: an owner seen this recently is active.
	activeWithin = 30 * time.Minute
)

// recordOutcome sets the mailbox's check state: the next sync after its
// interval, or after failures an exponential backoff up to a day.
func (s *Syncer) recordOutcome(ctx context.Context, mailbox store.Mailbox, syncErr error) error {
	now := s.config.Now()
	state := store.CheckState{LastCheckAt: now}
	if syncErr != nil && !errors.Is(syncErr, context.Canceled) {
		state.LastError, state.ErrorReason, state.FailureStreak = syncErr.Error(), string(Reason(syncErr)), mailbox.FailureStreak+1
	}
	interval := s.interval(ctx, mailbox, now)
	state.NextCheckAt = now.Add(receive.NextDelay(interval, state.FailureStreak, rand.Float64()))
	return s.config.Store.SetCheckState(ctx, mailbox.ID, state)
}

// interval is the time between syncs of a mailbox now: its check interval
// (10 minutes when unset) while its owner is active, a day otherwise.
func (s *Syncer) interval(ctx context.Context, mailbox store.Mailbox, now time.Time) time.Duration {
	// The store's type table says how often an IMAP mailbox without an
	// interval of its own is synced, so that its list says the same.
	imapType, _ := store.MailboxTypeOf(store.MailboxIMAP)
	interval := time.Duration(imapType.UnsetInterval) * time.Minute
	if mailbox.CheckInterval > 0 {
		interval = time.Duration(mailbox.CheckInterval) * time.Minute
	}
	if mailbox.OwnerID == 0 {
		return interval
	}
	seen, err := s.config.Store.UserLastSeen(ctx, mailbox.OwnerID)
	if err != nil || now.Sub(seen) > activeWithin {
		return max(interval, idleInterval)
	}
	return interval
}

// Wake asks Run to sync a mailbox at once (its owner opened it). It never
// blocks: a wake while many are queued is dropped, the schedule still
// comes.
func (s *Syncer) Wake(mailboxID int64) {
	select {
	case s.wake <- mailboxID:
	default:
	}
}
