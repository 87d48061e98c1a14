package service

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleDelay(t *testing.T) {
	tests := []struct {
		failures, free int
		want           time.Duration
	}{
		{0, 3, 0},
		{2, 3, 0},
		{3, 3, time.Second},
		{4, 3, 2 * time.Second},
		{5, 3, 4 * time.Second},
		{12, 3, 512 * time.Second},
		{13, 3, throttleMaxWait}, // 1,024 s is past the cap
		{1_000_000, 3, throttleMaxWait},
		{9, 10, 0},
		{10, 10, time.Second},
	}
	for _, test := range tests {
		if got := throttleDelay(test.failures, test.free); got != test.want {
			t.Errorf("throttleDelay(%d, %d) = %v, want %v", test.failures, test.free, got, test.want)
		}
	}
	if throttleForget <= throttleMaxWait {
		t.Errorf("failures are forgotten (%v) before the longest wait is over (%v): a guesser at the cap would start afresh", throttleForget, throttleMaxWait)
	}
}

// throttleRun drives a throttle through attempts at a clock the test moves.
type throttleRun struct {
	t        *testing.T
	throttle *throttle
	now      time.Time
}

func newThrottleRun(t *testing.T) *throttleRun {
	return &throttleRun{t: t, throttle: newThrottle(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// fail makes an attempt that must be let through, with a wrong password.
func (r *throttleRun) fail(login, address string) []throttleNotice {
	r.t.Helper()
	a, wait := r.throttle.begin(login, address, r.now)
	if wait > 0 {
		r.t.Fatalf("%s from %s refused for %v, want let through", login, address, wait)
	}
	return r.throttle.failed(a, r.now)
}

// wait gives how long an attempt of login from address must wait now (0:
// let through, and then abandoned, counting neither way).
func (r *throttleRun) wait(login, address string) time.Duration {
	a, wait := r.throttle.begin(login, address, r.now)
	if wait == 0 {
		r.throttle.abandoned(a)
	}
	return wait
}

func (r *throttleRun) wantWait(login, address string, want time.Duration) {
	r.t.Helper()
	if got := r.wait(login, address); got != want {
		r.t.Errorf("%s from %s waits %v, want %v", login, address, got, want)
	}
}

// Failures slow down their own (login, address) with a doubling wait, and
// nothing else: the same login from another address, or another login from
// the same address, is let through.
func TestThrottlePerLoginAndAddress(t *testing.T) {
	r := newThrottleRun(t)
	for range throttleLoginFree {
		r.wantWait("admin", "198.51.100.1", 0)
		r.fail("admin", "198.51.100.1")
	}
	r.wantWait("admin", "198.51.100.1", time.Second)
	r.wantWait("admin", "203.0.113.7", 0)
	r.wantWait("auditor", "198.51.100.1", 0)

	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		r.now = r.now.Add(r.wait("admin", "198.51.100.1"))
		r.fail("admin", "198.51.100.1")
		r.wantWait("admin", "198.51.100.1", want)
	}
	// Half the wait later, half is left.
	r.now = r.now.Add(4 * time.Second)
	r.wantWait("admin", "198.51.100.1", 4*time.Second)

	// An hour without failures forgets them.
	r.now = r.now.Add(throttleForget)
	r.wantWait("admin", "198.51.100.1", 0)
	if len(r.throttle.entries) != 0 {
		t.Errorf("%d entries left after an hour", len(r.throttle.entries))
	}
}

// Many logins tried once each from one address (spraying) slow that
// address down for every login, and no other address.
func TestThrottlePerAddress(t *testing.T) {
	r := newThrottleRun(t)
	for i := range throttleAddressFree {
		r.fail(fmt.Sprintf("user%d", i), "198.51.100.1")
	}
	r.wantWait("never-tried", "198.51.100.1", time.Second)
	r.wantWait("never-tried", "203.0.113.7", 0)
	r.now = r.now.Add(time.Second)
	r.fail("user-next", "198.51.100.1")
	r.wantWait("admin", "198.51.100.1", 2*time.Second)
}

// An IPv6 client is counted by its /64: it may take any address in it, so
// moving within it starts nothing afresh; the next /64 is another client.
func TestThrottleIPv6Block(t *testing.T) {
	r := newThrottleRun(t)
	for i := range throttleLoginFree {
		r.fail("admin", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	r.wantWait("admin", "2001:db8:1:2:ffff::9", time.Second)
	r.wantWait("admin", "2001:db8:1:3::1", 0)
	r.wantWait("admin", "198.51.100.1", 0)
	if got := throttleAddress("::ffff:198.51.100.1"); got != "::ffff:198.51.100.1" {
		t.Errorf("an IPv4-mapped address is counted as %q", got)
	}
	if got := throttleAddress("not an address"); got != "not an address" {
		t.Errorf("text counted as %q", got)
	}
}

// A right password forgets the failures of its login from its address, so
// that the owner who mistyped is not slowed down later, but not those of
// the address: a sprayer's own account would otherwise wipe its count.
func TestThrottleSuccess(t *testing.T) {
	r := newThrottleRun(t)
	for range throttleLoginFree - 1 {
		r.fail("admin", "198.51.100.1")
	}
	a, _ := r.throttle.begin("admin", "198.51.100.1", r.now)
	r.throttle.succeeded(a)
	r.fail("admin", "198.51.100.1")
	r.wantWait("admin", "198.51.100.1", 0) // one failure since the success

	for i := range throttleAddressFree - 1 {
		r.fail(fmt.Sprintf("user%d", i), "203.0.113.7")
	}
	a, _ = r.throttle.begin("sprayer", "203.0.113.7", r.now)
	r.throttle.succeeded(a)
	r.fail("user-next", "203.0.113.7")
	r.wantWait("another", "203.0.113.7", time.Second)
}

// Attempts let through count as failures until they are settled: once a
// login has failures, a burst sent the moment a wait ends gets one attempt,
// not a hundred. Without failures, parallel attempts (an API client with
// HTTP Basic) are all let through.
func TestThrottlePending(t *testing.T) {
	r := newThrottleRun(t)
	var parallel []attempt
	for range 20 {
		a, wait := r.throttle.begin("admin", "198.51.100.1", r.now)
		if wait > 0 {
			t.Fatalf("parallel attempt without failures waits %v", wait)
		}
		parallel = append(parallel, a)
	}
	for _, a := range parallel {
		r.throttle.succeeded(a)
	}

	for range throttleLoginFree {
		r.fail("admin", "198.51.100.1")
	}
	r.now = r.now.Add(time.Second)
	first, wait := r.throttle.begin("admin", "198.51.100.1", r.now)
	if wait > 0 {
		t.Fatalf("the attempt after the wait is refused for %v", wait)
	}
	r.wantWait("admin", "198.51.100.1", time.Second) // counted as a fourth failure: 2 s after the third
	r.throttle.failed(first, r.now)
	r.wantWait("admin", "198.51.100.1", 2*time.Second)

	// An abandoned attempt (the database failed) counts neither way.
	r.now = r.now.Add(2 * time.Second)
	a, _ := r.throttle.begin("admin", "198.51.100.1", r.now)
	r.throttle.abandoned(a)
	r.wantWait("admin", "198.51.100.1", 0)
}

// Memory stays bounded under a flood of new addresses, and the entries
// that go are the oldest of those that slow nothing down yet: a guesser
// waiting out a long wait stays slowed down (the old throttle forgot
// everything when full).
func TestThrottleBoundedMemory(t *testing.T) {
	r := newThrottleRun(t)
	r.throttle.max = 50
	for i := range 1_000 {
		if r.wait("admin", "198.51.100.1") == 0 {
			r.fail("admin", "198.51.100.1")
		}
		r.fail("admin", fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if listed := r.throttle.fresh.Len() + r.throttle.slowed.Len(); len(r.throttle.entries) > r.throttle.max || listed != len(r.throttle.entries) {
			t.Fatalf("%d entries (%d listed), the cap is %d", len(r.throttle.entries), listed, r.throttle.max)
		}
		r.now = r.now.Add(10 * time.Millisecond)
	}
	if r.wait("admin", "198.51.100.1") == 0 {
		t.Error("the guesser is no longer slowed down after the flood")
	}
}

// A counter that begins to slow attempts down gives one notice for its run
// of failures; notices beyond the limit of a window are counted and said
// with the next one given.
func TestThrottleNotices(t *testing.T) {
	r := newThrottleRun(t)
	var got []throttleNotice
	for range throttleLoginFree + 2 {
		r.now = r.now.Add(r.wait("admin", "198.51.100.1"))
		got = append(got, r.fail("admin", "198.51.100.1")...)
	}
	if len(got) != 1 || got[0].perAddress || got[0].failures != throttleLoginFree || got[0].wait != time.Second {
		t.Errorf("notices of one guesser: %+v, want one for the login at its third failure", got)
	}
	// After an hour the failures are forgotten: a new run, a new notice.
	r.now = r.now.Add(throttleForget)
	got = nil
	for range throttleLoginFree {
		got = append(got, r.fail("admin", "198.51.100.1")...)
	}
	if len(got) != 1 {
		t.Errorf("notices of a new run of failures: %+v, want one", got)
	}

	r = newThrottleRun(t)
	given := 0
	for i := range 2 * throttleNoticeLimit {
		for range throttleLoginFree {
			given += len(r.fail("admin", fmt.Sprintf("10.0.0.%d", i)))
		}
	}
	if given != throttleNoticeLimit {
		t.Errorf("%d notices in one window, want %d", given, throttleNoticeLimit)
	}
	r.now = r.now.Add(throttleNoticeWindow)
	var next []throttleNotice
	for range throttleLoginFree {
		next = append(next, r.fail("admin", "10.9.9.9")...)
	}
	if len(next) != 1 || next[0].suppressed != throttleNoticeLimit {
		t.Errorf("the next window's notice: %+v, want one saying %d were left out", next, throttleNoticeLimit)
	}
}
