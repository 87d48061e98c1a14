package fetch

import (
	"context"
	"fmt"
	"sync"

	"pochta.dev/pochta/internal/store"
)

// batchStorer stores fetched messages in batches through a BatchDeliverer,
// on its own goroutine, so that the next batch is read from the server
// while the last one is parsed and committed. With a BatchPreparer, parsing
// runs on a goroutine of its own too, one batch ahead of the commits. A message counts as stored
// (and may be deleted from the server) only once its batch returned
// without an error for it.
type batchStorer struct {
	ctx     context.Context
	deliver BatchDeliverer
	mailbox store.Mailbox
	queue   chan storeBatch
	done    chan struct{}
	filling storeBatch

	mu         sync.Mutex
	err        error // the first message that could not be stored
	received   int
	duplicates int
	stored     []int // message numbers stored, in order
}

type storeBatch struct {
	messages []Incoming
	numbers  []int
	bytes    int
}

func newBatchStorer(ctx context.Context, deliver BatchDeliverer, mailbox store.Mailbox) *batchStorer {
	s := &batchStorer{ctx: ctx, deliver: deliver, mailbox: mailbox, queue: make(chan storeBatch, 1), done: make(chan struct{})}
	if preparer, ok := deliver.(BatchPreparer); ok {
		prepared := make(chan preparedBatch, 1)
		go s.prepare(preparer, prepared)
		go s.commit(prepared)
	} else {
		go s.run()
	}
	return s
}

// preparedBatch is a parsed batch waiting for its commit.
type preparedBatch struct {
	numbers []int
	count   int
	store   func() []Stored
}

// prepare parses batches as they come, one ahead of the commits.
func (s *batchStorer) prepare(preparer BatchPreparer, out chan<- preparedBatch) {
	defer close(out)
	for batch := range s.queue {
		if s.failed() != nil {
			continue
		}
		out <- preparedBatch{numbers: batch.numbers, count: len(batch.messages),
			store: preparer.PrepareBatch(s.ctx, s.mailbox, batch.messages, "POP3")}
	}
}

// commit stores prepared batches in order.
func (s *batchStorer) commit(in <-chan preparedBatch) {
	defer close(s.done)
	for batch := range in {
		if s.failed() != nil {
			continue // after a failure nothing more is stored or deleted
		}
		s.record(batch.numbers, batch.count, batch.store())
	}
}

func (s *batchStorer) run() {
	defer close(s.done)
	for batch := range s.queue {
		if s.failed() != nil {
			continue // after a failure nothing more is stored or deleted
		}
		s.record(batch.numbers, len(batch.messages), s.deliver.DeliverBatch(s.ctx, s.mailbox, batch.messages, "POP3"))
	}
}

// record counts what a batch stored: a message is stored (and may be
// deleted from the server) only when its result has no error.
func (s *batchStorer) record(numbers []int, count int, results []Stored) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(results) != count && s.err == nil {
		s.err = fmt.Errorf("stored %d results for %d messages", len(results), count)
	}
	for i, stored := range results {
		if i >= len(numbers) {
			break
		}
		switch {
		case stored.Err != nil:
			if s.err == nil {
				s.err = fmt.Errorf("message %d: %w", numbers[i], stored.Err)
			}
			continue
		case stored.Duplicate:
			s.duplicates++
		default:
			s.received++
		}
		s.stored = append(s.stored, numbers[i])
	}
}

func (s *batchStorer) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// add queues message n; it returns the storing error that stops the fetch.
func (s *batchStorer) add(n int, message Incoming) error {
	if err := s.failed(); err != nil {
		return err
	}
	s.filling.messages = append(s.filling.messages, message)
	s.filling.numbers = append(s.filling.numbers, n)
	s.filling.bytes += len(message.Raw)
	if len(s.filling.messages) >= batchMessages || s.filling.bytes >= batchBytes {
		s.queue <- s.filling
		s.filling = storeBatch{}
	}
	return nil
}

// finish stores what is queued and waits: every message read whole is
// stored, whatever stopped the fetch. It returns the storing error.
func (s *batchStorer) finish() error {
	if len(s.filling.messages) > 0 {
		s.queue <- s.filling
		s.filling = storeBatch{}
	}
	close(s.queue)
	<-s.done
	return s.failed()
}
