package queue_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// Claims on both backends: processes claiming at once never take one
// message twice, a live lease is respected, an expired one taken over, and
// the process that lost it cannot record an outcome.
func TestClaims(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "pochta.db") },
		"postgres": func(t *testing.T) string { return testpeer.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, dsn(t), nil, nil)
			var batch []store.NewOutbound
			for range 60 {
				batch = append(batch, store.NewOutbound{Sender: "a@b.test", Recipients: []string{"c@d.test"}, Raw: []byte("x\r\n")})
			}
			if _, err := e.store.EnqueueOutbound(ctx, batch...); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			claimed := map[int64]string{}
			var wait sync.WaitGroup
			for _, holder := range []string{"a", "b", "c", "d"} {
				wait.Add(1)
				go func() {
					defer wait.Done()
					for {
						got, err := e.store.ClaimOutbound(ctx, holder, time.Minute, 5)
						if err != nil {
							t.Error(err)
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, m := range got {
							if other, seen := claimed[m.ID]; seen {
								t.Errorf("message %d claimed by %s and %s", m.ID, other, holder)
							}
							claimed[m.ID] = holder
						}
						mu.Unlock()
					}
				}()
			}
			wait.Wait()
			if len(claimed) != 60 {
				t.Fatalf("claimed %d of 60", len(claimed))
			}
			if got, _ := e.store.ClaimOutbound(ctx, "z", time.Minute, 100); len(got) != 0 {
				t.Fatalf("live leases taken: %d", len(got))
			}
			e.clock.Add(61 * time.Second)
			taken, err := e.store.ClaimOutbound(ctx, "z", time.Minute, 100)
			if err != nil || len(taken) != 60 {
				t.Fatalf("expired leases taken over: %d, %v", len(taken), err)
			}
			lost := store.OutboundAttempt{ID: taken[0].ID, Holder: claimed[taken[0].ID], Counted: true, NextAttemptAt: e.clock.Now()}
			if err := e.store.FinishOutboundAttempt(ctx, lost); !errors.Is(err, store.ErrLeaseLost) {
				t.Errorf("the old holder recorded an outcome: %v", err)
			}
			if err := e.store.RenewOutboundLease(ctx, taken[0].ID, claimed[taken[0].ID], time.Minute); !errors.Is(err, store.ErrLeaseLost) {
				t.Errorf("the old holder renewed: %v", err)
			}
		})
	}
}
