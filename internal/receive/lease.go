package receive

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Leases are the database's named leases (the store's), by which one
// process at a time checks a mailbox.
type Leases interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Lease is how a receiver holds a mailbox while it checks it.
type Lease struct {
	Leases Leases
	Holder string        // this process
	TTL    time.Duration // renewed every third of it
	Logger *slog.Logger
}

// WithMailbox runs check while holding the mailbox's lease, shared by every
// receiver so that a POP3 fetch and an IMAP sync of one mailbox never
// overlap in any process. It returns [ErrBusy] when another holds the lease.
// The lease is renewed while check runs; if it is lost (this process
// stalled and another took the mailbox over) check's context is cancelled.
// after runs once check has returned, with a context that outlives ctx
// (for recording the outcome), after the lease is given up.
func (l Lease) WithMailbox(ctx context.Context, mailboxID int64, check func(context.Context) error, after func(context.Context, error)) error {
	name := fmt.Sprintf("fetch:%d", mailboxID)
	got, err := l.Leases.AcquireLease(ctx, name, l.Holder, l.TTL)
	if err != nil {
		return err
	}
	if !got {
		return ErrBusy
	}
	checkCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go l.keep(checkCtx, cancel, name, renewed)
	checkErr := check(checkCtx)
	cancel()
	<-renewed
	// The lease is given up with a fresh context: the check's may be done.
	releaseCtx, releaseCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer releaseCancel()
	if err := l.Leases.ReleaseLease(releaseCtx, name, l.Holder); err != nil {
		l.Logger.Error("release mailbox lease", "mailbox", mailboxID, "error", err)
	}
	if after != nil {
		after(releaseCtx, checkErr)
	}
	return checkErr
}

// keep renews the lease until ctx ends, and stops the check if the lease
// is lost (another process then owns the mailbox). A renewal that fails
// with an error (SQLITE_BUSY under load, a dropped database connection) is
// retried while the lease still runs: the lease is ours until it expires,
// so only a renewal refused (another holder) or not done by then loses it.
func (l Lease) keep(ctx context.Context, stop context.CancelFunc, name string, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(l.TTL / 3)
	defer ticker.Stop()
	// expires is when the lease runs out by this process's clock: counted
	// from before the renewal's request, so never later than the
	// database's.
	expires := time.Now().Add(l.TTL)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		for retry := max(l.TTL/30, time.Millisecond); ; retry = min(retry*2, max(l.TTL/6, time.Millisecond)) {
			asked := time.Now()
			got, err := l.Leases.AcquireLease(ctx, name, l.Holder, l.TTL)
			if ctx.Err() != nil {
				return
			}
			if err == nil && got {
				expires = asked.Add(l.TTL)
				break
			}
			if err == nil || time.Until(expires) <= retry {
				l.Logger.Error("mailbox lease lost; stopping the check", "lease", name, "error", err)
				stop()
				return
			}
			l.Logger.Warn("renew mailbox lease; retrying", "lease", name, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
	}
}
