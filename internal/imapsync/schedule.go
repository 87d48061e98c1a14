package imapsync

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/store"
)

// Run syncs due IMAP mailboxes every Config.Tick, and at once those woken
// ([Syncer.Wake], IDLE), at most Config.Parallel at a time, until ctx ends.
// With Config.Idle it holds an IDLE connection on the INBOX of every active
// mailbox whose last sync succeeded or failed for a passing reason
// ([Watched]).
func (s *Syncer) Run(ctx context.Context) {
	slots := make(chan struct{}, s.config.Parallel)
	var running sync.Map // mailbox ID -> struct{}: syncs of this process
	var wait sync.WaitGroup
	defer wait.Wait()
	watchers := map[int64]context.CancelFunc{}
	// A finished sync may start or stop a mailbox's IDLE watcher.
	synced := make(chan struct{}, 1)
	defer func() {
		for _, stop := range watchers {
			stop()
		}
	}()
	start := func(id int64) bool {
		if _, busy := running.LoadOrStore(id, struct{}{}); busy {
			return true
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			running.Delete(id)
			return false
		}
		wait.Add(1)
		go func() {
			defer wait.Done()
			defer func() { <-slots }()
			defer running.Delete(id)
			result, err := s.Sync(ctx, id)
			select {
			case synced <- struct{}{}:
			default:
			}
			switch {
			case errors.Is(err, receive.ErrBusy):
			case err != nil && ctx.Err() == nil:
				s.config.Logger.Warn("scheduled IMAP sync failed", "mailbox", id, "error", err)
			case result.Received > 0:
				s.config.Logger.Info("scheduled IMAP sync", "mailbox", id, "received", result.Received)
			}
		}()
		return true
	}
	ticker := time.NewTicker(s.config.Tick)
	defer ticker.Stop()
	for {
		due, err := s.config.Store.DueSyncMailboxes(ctx, store.MailboxIMAP, s.config.Now())
		if err != nil && ctx.Err() == nil {
			s.config.Logger.Error("find due IMAP mailboxes", "error", err)
		}
		for _, mailbox := range due {
			if !start(mailbox.ID) {
				return
			}
		}
		if s.config.Idle {
			s.watch(ctx, watchers, &wait)
		}
		select {
		case <-ctx.Done():
			return
		case id := <-s.wake:
			if !start(id) {
				return
			}
		case <-synced:
		case <-ticker.C:
		}
	}
}

// watch starts an IDLE watcher for each active IMAP mailbox whose last
// sync succeeded or failed for a passing reason ([Watched]), and stops
// those of mailboxes that no longer qualify.
func (s *Syncer) watch(ctx context.Context, watchers map[int64]context.CancelFunc, wait *sync.WaitGroup) {
	mailboxes, err := s.config.Store.WatchedMailboxes(ctx, store.MailboxIMAP)
	if err != nil {
		if ctx.Err() == nil {
			s.config.Logger.Error("list IMAP mailboxes to watch", "error", err)
		}
		return
	}
	wanted := map[int64]store.Mailbox{}
	for _, m := range mailboxes {
		if Watched(m) {
			wanted[m.ID] = m
		}
	}
	for id, stop := range watchers {
		if _, ok := wanted[id]; !ok {
			stop()
			delete(watchers, id)
		}
	}
	for id, mailbox := range wanted {
		if _, ok := watchers[id]; ok {
			continue
		}
		watchCtx, stop := context.WithCancel(ctx)
		watchers[id] = stop
		wait.Add(1)
		go func() {
			defer wait.Done()
			s.idle(watchCtx, mailbox)
		}()
	}
}

// Watched says whether IDLE is held for a mailbox checked at least once:
// when its last sync succeeded, or failed for a reason that passes by
// itself (a timeout under load, a server restarting, a dropped
// connection). Then the watcher's own reconnections (1 s doubling to 5
// minutes), each of which wakes a sync once the INBOX is selected, bring
// push back as soon as the server answers, not at the schedule's backoff
// (up to a day). A failure only the owner or the admin can mend (a wrong
// password, "sign in again", a certificate, a blocked address) waits for
// the schedule or the owner, as before: reconnecting could not succeed,
// and would knock at the server with a refused login every few minutes.
func Watched(mailbox store.Mailbox) bool {
	if mailbox.FailureStreak == 0 {
		return true
	}
	return transient(receive.Reason(mailbox.LastErrorReason))
}

// transient are the failures that pass without anyone's doing.
func transient(reason receive.Reason) bool {
	switch reason {
	case receive.Timeout, receive.Refused, receive.Unreachable, receive.Closed, receive.Temporary, receive.InUse:
		return true
	}
	return false
}

// idleRefresh ends and restarts IDLE before servers' 30-minute inactivity
// limit (RFC 2177 asks clients to re-issue it at least every 29 minutes);
// the reconnection also picks up a changed password or server.
const idleRefresh = 29 * time.Minute

// idle holds IDLE on a mailbox's INBOX and wakes its sync when the server
// says new mail exists, reconnecting after failures (1 s doubling to 5
// minutes) until ctx ends.
func (s *Syncer) idle(ctx context.Context, mailbox store.Mailbox) {
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := s.idleOnce(ctx, mailbox)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.config.Logger.Debug("IMAP IDLE ended", "mailbox", mailbox.ID, "error", err)
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Minute)
	}
}

// idleOnce is one IDLE connection: it ends at the refresh time, on an
// error, or when ctx ends.
func (s *Syncer) idleOnce(ctx context.Context, mailbox store.Mailbox) error {
	fresh, err := s.config.Store.MailboxByID(ctx, mailbox.ID)
	if err != nil {
		return err
	}
	connection, err := s.connectionOf(ctx, fresh)
	if err != nil {
		return err
	}
	arrived := make(chan struct{}, 1)
	handler := &imapclient.UnilateralDataHandler{
		Mailbox: func(data *imapclient.UnilateralDataMailbox) {
			if data.NumMessages != nil {
				select {
				case arrived <- struct{}{}:
				default:
				}
			}
		},
	}
	c, err := s.connect(ctx, connection, handler)
	if err != nil {
		return err
	}
	defer c.close()
	if _, err := c.client.Select("INBOX", nil).Wait(); err != nil {
		return err
	}
	// Mail that came while this connection was down.
	s.Wake(mailbox.ID)
	refresh := time.NewTimer(idleRefresh)
	defer refresh.Stop()
	command, err := c.client.Idle()
	if err != nil {
		return err
	}
	defer command.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			return command.Close()
		case <-c.client.Closed():
			return errors.New("connection closed")
		case <-arrived:
			s.Wake(mailbox.ID)
		}
	}
}

var _ receive.Waker = (*Syncer)(nil)
