package fetch

import (
	"context"
	"errors"
	"sync"
	"time"

	"pochta.dev/pochta/internal/store"
)

// Run checks due POP3 mailboxes every Config.Tick until ctx ends, at most
// Config.Parallel at a time. A mailbox is due when its check interval is
// set and its next check time has come; the fetch sets the next one.
func (f *Fetcher) Run(ctx context.Context) {
	slots := make(chan struct{}, f.config.Parallel)
	var running sync.Map // mailbox ID -> struct{}: fetches of this process
	var wait sync.WaitGroup
	defer wait.Wait()
	ticker := time.NewTicker(f.config.Tick)
	defer ticker.Stop()
	for {
		due, err := f.config.Store.DueMailboxes(ctx, store.MailboxPOP3, f.now())
		if err != nil && ctx.Err() == nil {
			f.config.Logger.Error("find due mailboxes", "error", err)
		}
		for _, mailbox := range due {
			if _, busy := running.LoadOrStore(mailbox.ID, struct{}{}); busy {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				running.Delete(mailbox.ID)
				return
			}
			wait.Add(1)
			go func(id int64) {
				defer wait.Done()
				defer func() { <-slots }()
				defer running.Delete(id)
				result, err := f.Fetch(ctx, id)
				switch {
				case errors.Is(err, ErrBusy):
					// Another process has it; it sets the next check.
				case err != nil:
					f.config.Logger.Warn("scheduled fetch failed", "mailbox", id, "error", err)
				case result.Received > 0:
					f.config.Logger.Info("scheduled fetch", "mailbox", id, "received", result.Received)
				}
			}(mailbox.ID)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
