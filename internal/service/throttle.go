package service

import (
	"container/list"
	"crypto/sha256"
	"net/netip"
	"sync"
	"time"
)

// Sign-in throttling. A wrong password makes further attempts from the same
// client address wait, for a time that doubles with every further failure:
// counted per (login, address), so that guessing one account from one place
// slows down, and per address, so that trying many logins from one place
// (password spraying) does too. Nothing is counted per login alone: failures
// from other addresses never hold back the owner, whose right password from
// an address without recent failures is checked at once. (A fixed lockout
// per login let anyone lock the admin out with five wrong passwords.)
//
// While an attempt must wait it is refused without the password being
// checked, so waiting is the only way to make more guesses. Failures are
// forgotten after an hour without one; a right password forgets the
// failures of its (login, address) but not those of the address, so that a
// sprayer cannot wipe its count by signing in to an account of its own.
//
// The SMTP server's AUTH (issue 13) is to go through the same throttle, by
// [Service.Login].
const (
	// throttleLoginFree failures of one login from one address cost no
	// wait: typing a password wrong a few times is ordinary.
	throttleLoginFree = 3
	// throttleAddressFree failures from one address across logins cost no
	// wait: an office behind one address mistypes more often than one
	// person; a sprayer trying ten logins once each is then slowed down.
	throttleAddressFree = 10
	// throttleFirstWait is the wait after the first failure beyond the
	// free ones; each further failure doubles it, up to throttleMaxWait.
	throttleFirstWait = time.Second
	// throttleMaxWait bounds the wait: a guesser at the cap gets four tries
	// an hour per login and address, and an owner who mistyped too often
	// is never kept out for longer.
	throttleMaxWait = 15 * time.Minute
	// throttleForget is the quiet time after which failures are forgotten.
	// It is longer than throttleMaxWait, so that a guesser at the cap stays
	// at the cap.
	throttleForget = time.Hour
	// throttleMaxEntries bounds memory (an entry is about 150 bytes).
	// Beyond it an entry that slows nothing down yet goes first, the one
	// with the oldest failure: dropping them all, or the oldest whatever
	// they hold, would let a flood from new addresses give a waiting
	// guesser a fresh start.
	throttleMaxEntries = 100_000
	// throttleNoticeLimit bounds the work log lines about slowed-down
	// sign-ins per throttleNoticeWindow, so that an attack from many
	// addresses does not flood the log; the next line says how many were
	// left out.
	throttleNoticeLimit  = 10
	throttleNoticeWindow = time.Minute
	// throttleLoggedLogin is how much of a login a notice names: no login
	// is longer, so a longer one sent is no one's and need not be kept.
	throttleLoggedLogin = 64
)

// throttleKey names a counter: a hash of its kind, login and address, so
// that an entry's size does not depend on what a client sent as a login.
type throttleKey [16]byte

func newThrottleKey(kind byte, login, address string) throttleKey {
	hash := sha256.New()
	hash.Write([]byte{kind})
	hash.Write([]byte(login))
	hash.Write([]byte{0})
	hash.Write([]byte(throttleAddress(address)))
	var key throttleKey
	copy(key[:], hash.Sum(nil))
	return key
}

// throttleAddress is the part of a client address a counter is kept for:
// an IPv6 client is counted by its /64, the block one subscriber or host is
// given, since it can switch to any address within it at will; an IPv4
// address, or text that is not an address, as it is.
func throttleAddress(address string) string {
	addr, err := netip.ParseAddr(address)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return address
	}
	prefix, err := addr.Prefix(64)
	if err != nil {
		return address
	}
	return prefix.String()
}

// Kinds of throttle counters, the first byte hashed into their keys.
const (
	kindLoginAddress byte = 'l'
	kindAddress      byte = 'a'
)

// throttleEntry is the recent failures under one key.
type throttleEntry struct {
	key      throttleKey
	free     int       // failures that cost no wait
	failures int       // since the entry was made
	last     time.Time // of the last failure
	// pending counts attempts let through and not yet settled: each
	// counts as a failure until it is settled, so that a guesser cannot
	// send a hundred attempts at once the moment a wait is over.
	pending  int
	reported bool // the work log has said that this entry is slowed down
	// element is the entry in its list: the throttle's fresh or slowed.
	element *list.Element
	list    *list.List
}

// wait gives how long the next attempt under the entry must still wait at
// now, counting pending attempts as failures.
func (e *throttleEntry) wait(now time.Time) time.Duration {
	return e.last.Add(throttleDelay(e.failures+e.pending, e.free)).Sub(now)
}

// throttleDelay is the wait after failures failures of which free cost
// nothing: none before free, then throttleFirstWait doubling up to
// throttleMaxWait.
func throttleDelay(failures, free int) time.Duration {
	if failures < free {
		return 0
	}
	delay := throttleFirstWait
	for range failures - free {
		delay *= 2
		if delay >= throttleMaxWait {
			return throttleMaxWait
		}
	}
	return min(delay, throttleMaxWait)
}

// throttle keeps the recent sign-in failures, in memory: a restart forgets
// them, which is acceptable for a brake on guessing. Use: [throttle.begin]
// before checking a password, then exactly one of [throttle.failed],
// [throttle.succeeded] or [throttle.abandoned] for an attempt it let
// through. It is safe for concurrent use.
type throttle struct {
	mu      sync.Mutex
	entries map[throttleKey]*throttleEntry
	// fresh and slowed hold the entries (*throttleEntry) with fewer
	// failures than their free ones and the others, each the oldest last
	// failure first.
	fresh, slowed *list.List
	max           int

	noticeWindow time.Time // when the current window of notices began
	notices      int       // notices given in the window
	suppressed   int       // notices left out since the last one given
}

func newThrottle() *throttle {
	return &throttle{entries: map[throttleKey]*throttleEntry{}, fresh: list.New(), slowed: list.New(), max: throttleMaxEntries}
}

// attempt is a sign-in attempt [throttle.begin] let through.
type attempt struct {
	loginAddress, address throttleKey
	// counted are the entries whose pending count the attempt raised.
	counted []*throttleEntry
}

// throttleNotice says that an entry has just begun to slow attempts down,
// for the work log.
type throttleNotice struct {
	perAddress bool          // the address's failures across logins, else the login's from the address
	failures   int           // failures so far
	wait       time.Duration // before the next attempt
	suppressed int           // notices left out before this one
}

// begin asks whether login may try a password from address at now. A
// positive wait means no: the attempt is refused, and nothing is counted.
// Otherwise the attempt is pending until it is settled.
func (t *throttle) begin(login, address string, now time.Time) (attempt, time.Duration) {
	a := attempt{loginAddress: newThrottleKey(kindLoginAddress, login, address), address: newThrottleKey(kindAddress, "", address)}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetOld(now)
	var wait time.Duration
	for _, key := range []throttleKey{a.loginAddress, a.address} {
		if entry := t.entries[key]; entry != nil {
			wait = max(wait, entry.wait(now))
		}
	}
	if wait > 0 {
		return attempt{}, wait
	}
	for _, key := range []throttleKey{a.loginAddress, a.address} {
		if entry := t.entries[key]; entry != nil {
			entry.pending++
			a.counted = append(a.counted, entry)
		}
	}
	return a, 0
}

// failed records that the attempt's password was wrong. It gives a notice
// for each counter that this failure has begun to slow down.
func (t *throttle) failed(a attempt, now time.Time) []throttleNotice {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settle(a)
	var notices []throttleNotice
	for _, counter := range []struct {
		key  throttleKey
		free int
	}{{a.loginAddress, throttleLoginFree}, {a.address, throttleAddressFree}} {
		entry := t.entries[counter.key]
		if entry == nil {
			entry = t.add(counter.key, counter.free, now)
		}
		entry.failures++
		entry.last = now
		t.place(entry)
		if wait := throttleDelay(entry.failures, entry.free); wait > 0 && !entry.reported {
			entry.reported = true
			if notice, ok := t.notice(now); ok {
				notice.perAddress, notice.failures, notice.wait = counter.key == a.address, entry.failures, wait
				notices = append(notices, notice)
			}
		}
	}
	return notices
}

// succeeded records that the attempt's password was right: the failures of
// its login from its address are forgotten, those of the address are not.
func (t *throttle) succeeded(a attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settle(a)
	if entry := t.entries[a.loginAddress]; entry != nil {
		t.remove(entry)
	}
}

// abandoned settles an attempt whose password was not checked (the
// database failed): it counts neither way.
func (t *throttle) abandoned(a attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settle(a)
}

// settle takes the attempt off the pending counts it raised.
func (t *throttle) settle(a attempt) {
	for _, entry := range a.counted {
		entry.pending--
	}
}

// add makes an entry for key, evicting one when full: the fresh entry with
// the oldest failure, else the slowed one.
func (t *throttle) add(key throttleKey, free int, now time.Time) *throttleEntry {
	if len(t.entries) >= t.max {
		oldest := t.fresh.Front()
		if oldest == nil {
			oldest = t.slowed.Front()
		}
		t.remove(oldest.Value.(*throttleEntry))
	}
	entry := &throttleEntry{key: key, free: free, last: now}
	t.entries[key] = entry
	t.place(entry)
	return entry
}

// place puts an entry that has just failed at the back of its list.
func (t *throttle) place(entry *throttleEntry) {
	if entry.list != nil {
		entry.list.Remove(entry.element)
	}
	entry.list = t.fresh
	if entry.failures >= entry.free {
		entry.list = t.slowed
	}
	entry.element = entry.list.PushBack(entry)
}

func (t *throttle) remove(entry *throttleEntry) {
	entry.list.Remove(entry.element)
	delete(t.entries, entry.key)
}

// forgetOld drops the entries without a failure for throttleForget, oldest
// first, stopping in each list at the first one still remembered.
func (t *throttle) forgetOld(now time.Time) {
	for _, entries := range []*list.List{t.fresh, t.slowed} {
		for front := entries.Front(); front != nil; front = entries.Front() {
			entry := front.Value.(*throttleEntry)
			if now.Sub(entry.last) < throttleForget || entry.pending > 0 {
				break
			}
			t.remove(entry)
		}
	}
}

// notice reports whether a notice may be given at now, within the limit of
// throttleNoticeLimit a window, and how many were left out before it.
func (t *throttle) notice(now time.Time) (throttleNotice, bool) {
	if now.Sub(t.noticeWindow) >= throttleNoticeWindow || now.Before(t.noticeWindow) {
		t.noticeWindow, t.notices = now, 0
	}
	if t.notices >= throttleNoticeLimit {
		t.suppressed++
		return throttleNotice{}, false
	}
	t.notices++
	notice := throttleNotice{suppressed: t.suppressed}
	t.suppressed = 0
	return notice, true
}
