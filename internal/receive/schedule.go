package receive

import (
	"sync"
	"time"
)

// NextDelay is the time to a mailbox's next check: the interval with up to
// 10% jitter (so that mailboxes made together do not all connect at once),
// or, after failures, the interval doubled per failure, up to a day. jitter
// is in [0, 1).
func NextDelay(interval time.Duration, failures int, jitter float64) time.Duration {
	delay := interval
	for i := 0; i < failures && delay < 24*time.Hour; i++ {
		delay *= 2
	}
	delay = min(delay, 24*time.Hour)
	return delay + time.Duration(float64(delay)/10*jitter)
}

// Running is the set of mailboxes a receiver is checking in this process.
// The database lease keeps other processes out; within one process the
// lease's holder is the same for every check, so renewing would succeed for
// a second check of the mailbox ("Receive mail now" while the scheduler is
// at it) and the first to finish would free the mailbox while the other
// still runs. The zero value is ready.
type Running struct {
	mu     sync.Mutex
	active map[int64]bool
}

// Start marks a mailbox as being checked: false when it already is;
// otherwise the caller calls done when its check ends.
func (r *Running) Start(mailboxID int64) (done func(), ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[mailboxID] {
		return nil, false
	}
	if r.active == nil {
		r.active = map[int64]bool{}
	}
	r.active[mailboxID] = true
	return func() {
		r.mu.Lock()
		delete(r.active, mailboxID)
		r.mu.Unlock()
	}, true
}
