package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// Runners claim due jobs under a lease: each job once among many claiming
// at the same time, an expired lease lets another runner take it, and only
// the holder finishes it.
func TestClaimJobs(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clock := &fixedClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
		st.SetClock(clock.Now)
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		m := newMessage(box, "Subject: one\r\n\r\nfirst\r\n", store.Message{Subject: "one"})
		id, _, err := st.InsertMessage(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		var jobs []store.NewJob
		for range 20 {
			jobs = append(jobs, store.NewJob{Kind: "webhook", Payload: []byte(`{}`)})
		}
		jobs = append(jobs, store.NewJob{Kind: "later", RunAt: clock.now.Add(time.Hour)})
		if err := st.AddJobs(ctx, box, id, jobs); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		claimed := map[int64]int{}
		var wg sync.WaitGroup
		for runner := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					job, ok, err := st.ClaimJob(ctx, "runner-"+string(rune('a'+runner)), time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					claimed[job.ID]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(claimed) != 20 {
			t.Errorf("claimed %d jobs, want the 20 due", len(claimed))
		}
		for id, n := range claimed {
			if n != 1 {
				t.Errorf("job %d claimed %d times", id, n)
			}
		}
		if n, err := st.UnfinishedJobs(ctx, id, "none"); err != nil || n != 21 {
			t.Errorf("unfinished: %d, %v", n, err)
		}
		// The lease expires: another runner takes the job; the first may
		// no longer finish it.
		clock.now = clock.now.Add(2 * time.Minute)
		job, ok, err := st.ClaimJob(ctx, "second", time.Minute)
		if err != nil || !ok || job.Attempts != 2 || job.LeaseHolder != "second" {
			t.Fatalf("reclaim: %+v %v %v", job, ok, err)
		}
		if err := st.FinishJob(ctx, job.ID, "runner-a", store.JobDone, time.Time{}, ""); !errors.Is(err, store.ErrNotFound) {
			if err2 := st.FinishJob(ctx, job.ID, "runner-b", store.JobDone, time.Time{}, ""); !errors.Is(err2, store.ErrNotFound) {
				t.Errorf("a runner that lost the lease finished the job: %v %v", err, err2)
			}
		}
		if err := st.FinishJob(ctx, job.ID, "second", store.JobPending, clock.now.Add(time.Hour*2), "HTTP 500"); err != nil {
			t.Fatal(err)
		}
		list := jobsOf(t, st, store.JobFilter{MessageID: id})
		for _, j := range list {
			if j.ID == job.ID && (j.State != store.JobPending || j.LastError != "HTTP 500" || j.LeaseHolder != "") {
				t.Errorf("retried job: %+v", j)
			}
		}
	})
}
