package receive

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// flakyLeases is a lease table whose renewals fail as told. A fake: an
// SQLITE_BUSY at the moment of a renewal cannot be brought about on
// purpose with a real database.
type flakyLeases struct {
	mu sync.Mutex
	// renewals answers the renewals in turn (after the first acquire);
	// past its end every renewal succeeds.
	renewals []renewal
	calls    int
	// answered gets the number of each renewal answered.
	answered chan int
}

type renewal struct {
	got bool
	err error
}

func (f *flakyLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls == 1 {
		return true, nil
	}
	answer := renewal{got: true}
	if i := f.calls - 2; i < len(f.renewals) {
		answer = f.renewals[i]
	}
	select {
	case f.answered <- f.calls - 1:
	default:
	}
	return answer.got, answer.err
}

func (f *flakyLeases) ReleaseLease(ctx context.Context, name, holder string) error { return nil }

var errBusy = errors.New("database is locked (SQLITE_BUSY)")

func testLease(leases Leases, ttl time.Duration) Lease {
	return Lease{Leases: leases, Holder: "test", TTL: ttl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// A renewal that meets a transient error is retried, and the check goes
// on once one succeeds.
func TestLeaseRenewalRetriesTransientErrors(t *testing.T) {
	leases := &flakyLeases{renewals: []renewal{{err: errBusy}, {err: errBusy}}, answered: make(chan int, 16)}
	// A long lease: the retries come well within it however loaded the
	// machine.
	err := testLease(leases, 3*time.Second).WithMailbox(context.Background(), 1, func(ctx context.Context) error {
		for n := range leases.answered {
			if ctx.Err() != nil {
				return errors.New("the check was stopped by a transient renewal error")
			}
			if n >= 3 { // two failures, then a renewal that succeeded
				return nil
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// A renewal refused (another process holds the lease) stops the check.
func TestLeaseLostStopsTheCheck(t *testing.T) {
	leases := &flakyLeases{renewals: []renewal{{got: false}}, answered: make(chan int, 16)}
	err := testLease(leases, 600*time.Millisecond).WithMailbox(context.Background(), 1, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the check stopped", err)
	}
}

// Renewals that keep failing stop the check before the lease runs out.
func TestLeaseRenewalFailingUntilExpiryStopsTheCheck(t *testing.T) {
	failures := make([]renewal, 1000)
	for i := range failures {
		failures[i].err = errBusy
	}
	leases := &flakyLeases{renewals: failures, answered: make(chan int, 16)}
	err := testLease(leases, 600*time.Millisecond).WithMailbox(context.Background(), 1, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the check stopped", err)
	}
}
