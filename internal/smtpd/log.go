package smtpd

import (
	"context"
	"sync"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// logBatch collects the sessions' protocol lines and writes them to the work
// log in batches, every flushInterval or maxBatch lines: a line a command
// written one by one would cost a transaction each, more than the messages.
type logBatch struct {
	recorder worklog.Recorder
	mu       sync.Mutex
	pending  []store.LogEntry
	kick     chan struct{}
}

const (
	flushInterval = 500 * time.Millisecond
	maxBatch      = 2000
)

func newLogBatch(recorder worklog.Recorder) *logBatch {
	return &logBatch{recorder: recorder, kick: make(chan struct{}, 1)}
}

func (b *logBatch) add(entry store.LogEntry) {
	if b.recorder == nil {
		return
	}
	b.mu.Lock()
	b.pending = append(b.pending, entry)
	full := len(b.pending) >= maxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (b *logBatch) flush(ctx context.Context) {
	b.mu.Lock()
	pending := b.pending
	b.pending = nil
	b.mu.Unlock()
	if len(pending) > 0 {
		b.recorder.Record(ctx, pending...)
	}
}

// run flushes until ctx ends, and once more then.
func (b *logBatch) run(ctx context.Context) {
	ticker := time.NewTicker(flushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			b.flush(context.Background())
			return
		case <-ticker.C:
		case <-b.kick:
		}
		b.flush(ctx)
	}
}

// FlushLog writes the protocol lines collected so far to the work log.
func (s *Server) FlushLog(ctx context.Context) { s.log.flush(ctx) }
