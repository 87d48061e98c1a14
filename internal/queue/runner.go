package queue

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// The schedule (issue 13): a first try at once, then after 7.5 min,
// 15 min, 30 min, 1 h, 2 h, 4 h, 8 h and every 16 h, each jittered by a
// tenth either way; a recipient still not delivered 5 days after the
// message came is given up. The sender hears once after 4 hours.
const (
	firstRetry  = 7.5 * float64(time.Minute)
	longestWait = 16 * time.Hour
	MaxAge      = 5 * 24 * time.Hour
	DelayNotice = 4 * time.Hour
	jitter      = 0.1
	// keepDone is how long sent and failed messages stay in the list.
	keepDone = 7 * 24 * time.Hour
)

// RetryDelay is the wait after the attempts-th failed attempt (1: the
// first), before jitter: computed in floating point, so that 7.5 minutes
// doubles exactly and no integer overflows however many attempts.
func RetryDelay(attempts int) time.Duration {
	wait := firstRetry * math.Pow(2, float64(max(attempts, 1)-1))
	if wait >= float64(longestWait) {
		return longestWait
	}
	return time.Duration(wait)
}

func (q *Queue) nextAttempt(now time.Time, attempts int) time.Time {
	wait := float64(RetryDelay(attempts)) * (1 - jitter + 2*jitter*q.config.Random())
	return now.Add(time.Duration(wait))
}

func randomFloat() float64 { return rand.Float64() }

// Run delivers due messages until ctx ends, up to Concurrency at once;
// then it lets the deliveries in flight finish (up to ShutdownGrace, after
// which they are cut and their messages given back untried) and returns.
func (q *Queue) Run(ctx context.Context) {
	deliveries, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	var running sync.WaitGroup
	finished := make(chan struct{}, q.config.Concurrency)
	busy := 0
	ticker := time.NewTicker(q.config.PollInterval)
	defer ticker.Stop()
	purged := time.Time{}
	for ctx.Err() == nil {
		if free := q.config.Concurrency - busy; free > 0 {
			claimed, err := q.config.Store.ClaimOutbound(ctx, q.config.Holder, q.config.LeaseTTL, free)
			if err != nil && ctx.Err() == nil {
				q.logger.Error("outbound queue: claiming due messages", "error", err)
			}
			for _, message := range claimed {
				busy++
				running.Add(1)
				go func() {
					defer running.Done()
					// Each slot goes on to the next due message in the
					// transaction that records the last one, while the
					// runner is not stopping.
					next := &message
					for next != nil {
						next = q.attempt(deliveries, *next, func() bool { return ctx.Err() == nil })
					}
					finished <- struct{}{}
				}()
			}
		}
		if now := q.config.Now(); now.Sub(purged) > time.Hour {
			purged = now
			if _, err := q.config.Store.PurgeOutbound(ctx, now.Add(-keepDone)); err != nil && ctx.Err() == nil {
				q.logger.Error("outbound queue: purging old messages", "error", err)
			}
		}
		select {
		case <-ctx.Done():
		case <-ticker.C:
		case <-q.wake:
		case <-finished:
			busy--
		}
	}
	done := make(chan struct{})
	go func() {
		running.Wait()
		close(done)
	}()
	grace := time.NewTimer(q.config.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		cut()
		<-done
	}
}

// RunOnce claims the messages due now and delivers them, waiting for the
// deliveries: for tests and the CLI.
func (q *Queue) RunOnce(ctx context.Context) (int, error) {
	claimed, err := q.config.Store.ClaimOutbound(ctx, q.config.Holder, q.config.LeaseTTL, 1000)
	if err != nil {
		return 0, err
	}
	var running sync.WaitGroup
	for _, message := range claimed {
		running.Add(1)
		go func() {
			defer running.Done()
			q.attempt(ctx, message, func() bool { return false })
		}()
	}
	running.Wait()
	return len(claimed), nil
}

// attempt delivers one claimed message to its queued recipients and
// records the outcome, with the notices it calls for, in one transaction;
// when goOn says so, that transaction claims the next due message too,
// which it gives (nil: none, or not asked).
func (q *Queue) attempt(ctx context.Context, message store.OutboundMessage, goOn func() bool) *store.OutboundMessage {
	// The delivery stops when the lease is lost (deleted, or taken over
	// after this process stalled past its expiry): another process may be
	// sending the message now.
	delivering, abort := context.WithCancel(ctx)
	defer abort()
	go q.renew(delivering, message.ID, abort)

	outcome := store.OutboundAttempt{ID: message.ID, Holder: q.config.Holder, DelayNotified: message.DelayNotified}
	settings, err := q.config.Settings(ctx)
	var results []result
	recipients := make([]string, len(message.Recipients))
	for i, r := range message.Recipients {
		recipients[i] = r.Address
	}
	raw := &content{raw: message.Raw}
	if message.Raw == nil {
		raw.stream = func() (io.ReadCloser, error) { return q.config.Store.OpenOutbound(delivering, message.ID) }
	}
	if err == nil {
		results = q.deliver(delivering, settings, message.ForUser, message.Sender, recipients, raw)
	}
	now := q.config.Now()
	if err != nil || (delivering.Err() != nil && !slices.ContainsFunc(results, func(r result) bool { return r.sent })) {
		// Stopping before anything was delivered, or the settings
		// unreadable: the message goes back as it was, untried, for this
		// or another process to take. (A delivery cut after some
		// recipient took the message is recorded, so as not to send it
		// to them again.)
		if err != nil {
			q.logger.Error("outbound queue: reading the settings", "error", err)
		}
		outcome.NextAttemptAt = now
		if err != nil {
			outcome.NextAttemptAt = now.Add(time.Minute)
		}
		q.finish(context.WithoutCancel(ctx), outcome, false)
		return nil
	}
	outcome.Counted = true
	expired := now.Sub(message.CreatedAt) >= MaxAge
	var failed []failure
	var entries []store.LogEntry
	queued := 0
	outcome.NextAttemptAt = q.nextAttempt(now, message.Attempts+1)
	// A failed STARTTLS to an MX is said once per server, before what
	// became of the recipients it took in plain text.
	fellBack := map[string]bool{}
	for _, r := range results {
		if r.tlsFallback != "" && !fellBack[r.server] {
			fellBack[r.server] = true
			q.logger.Warn("outbound queue: STARTTLS failed, delivered without TLS", "server", r.server, "error", r.tlsFallback)
			entries = append(entries, worklog.Say(store.LogEntry{Type: "outbound", Level: store.LevelInfo},
				worklog.Part("log.outbound_tls_fallback", r.server, r.tlsFallback)))
		}
	}
	for i, r := range results {
		recipient := message.Recipients[i]
		entry := store.LogEntry{Type: "outbound", Level: store.LevelInfo}
		switch {
		case r.sent:
			recipient.State, recipient.LastReply = store.OutboundSent, r.reply
			entries = append(entries, worklog.Say(entry, worklog.Part("log.outbound_sent", recipient.Address, r.server, r.reply)))
		case r.permanent || expired:
			if !r.permanent {
				r.reply += " (given up after 5 days)"
			}
			recipient.State, recipient.LastReply = store.OutboundFailed, r.reply
			failed = append(failed, failure{address: recipient.Address, result: r})
			entry.Level = store.LevelError
			entries = append(entries, worklog.Say(entry, worklog.Part("log.outbound_failed", recipient.Address, r.reply)))
		default:
			queued++
			recipient.LastReply = r.reply
			entry.Level = store.LevelError
			entries = append(entries, worklog.Say(entry, worklog.Part("log.outbound_deferred", recipient.Address,
				outcome.NextAttemptAt.UTC().Format("2006-01-02 15:04:05 UTC"), r.reply)))
		}
		outcome.Recipients = append(outcome.Recipients, recipient)
		outcome.LastReply = r.reply
	}
	// Notices go to a real sender about mail, never about a notice (which
	// has the null sender anyway): no loops.
	notify := message.Kind == store.OutboundMail && message.Sender != ""
	if notify && len(failed) > 0 {
		outcome.Notices = append(outcome.Notices, q.notice(message, raw, failed, false, now))
	}
	if notify && queued > 0 && !message.DelayNotified && now.Sub(message.CreatedAt) >= DelayNotice {
		var delayed []failure
		for i, r := range results {
			if !r.sent && !r.permanent {
				delayed = append(delayed, failure{address: recipients[i], result: r})
			}
		}
		outcome.Notices = append(outcome.Notices, q.notice(message, raw, delayed, true, now))
		outcome.DelayNotified = true
	}
	for _, notice := range outcome.Notices {
		entries = append(entries, worklog.Say(store.LogEntry{Type: "outbound", Level: store.LevelInfo},
			worklog.Part("log.outbound_notice", notice.Recipients[0], notice.Kind)))
	}
	next, recorded := q.finish(context.WithoutCancel(ctx), outcome, goOn())
	if recorded {
		q.attempts.Add(1)
		for _, r := range outcome.Recipients {
			switch r.State {
			case store.OutboundSent:
				q.delivered.Add(1)
			case store.OutboundFailed:
				q.failed.Add(1)
			default:
				q.deferred.Add(1)
			}
		}
	}
	if recorded && q.config.Log != nil {
		q.config.Log.Record(context.WithoutCancel(ctx), entries...)
	}
	if len(outcome.Notices) > 0 {
		q.Wake()
	}
	return next
}

// finish records an outcome and says whether it was recorded; with claim,
// it claims the next due message in the same transaction and gives it.
func (q *Queue) finish(ctx context.Context, outcome store.OutboundAttempt, claim bool) (*store.OutboundMessage, bool) {
	var next *store.OutboundMessage
	var err error
	if claim {
		next, err = q.config.Store.FinishAndClaimOutbound(ctx, outcome, q.config.LeaseTTL)
	} else {
		err = q.config.Store.FinishOutboundAttempt(ctx, outcome)
	}
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		q.logger.Warn("outbound queue: the message was deleted or taken over during its delivery", "message", outcome.ID)
	case err != nil:
		// The lease expires and another attempt is made: a message
		// sent twice rather than lost.
		q.logger.Error("outbound queue: recording a delivery", "message", outcome.ID, "error", err)
	}
	return next, err == nil
}

// renew keeps the lease of a message being delivered until ctx ends; it
// calls lost when the lease is gone.
func (q *Queue) renew(ctx context.Context, id int64, lost func()) {
	ticker := time.NewTicker(q.config.LeaseTTL / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		err := q.config.Store.RenewOutboundLease(ctx, id, q.config.Holder, q.config.LeaseTTL)
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			q.logger.Warn("outbound queue: lease lost during a delivery; stopping it", "message", id)
			lost()
			return
		case err != nil && ctx.Err() == nil:
			q.logger.Warn("outbound queue: renewing a lease", "message", id, "error", err)
		}
	}
}
