package fetch_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// batchingService is the service's Deliver plus a DeliverBatch that stores
// message by message through it, recording the batch sizes; failUID makes
// the message with that UID fail to store.
type batchingService struct {
	*service.Service
	mu      sync.Mutex
	batches []int
	failUID string
}

func (b *batchingService) DeliverBatch(ctx context.Context, mailbox store.Mailbox, messages []fetch.Incoming, origin string) []fetch.Stored {
	b.mu.Lock()
	b.batches = append(b.batches, len(messages))
	fail := b.failUID
	b.mu.Unlock()
	out := make([]fetch.Stored, len(messages))
	for i, m := range messages {
		if m.UID != nil && m.UID.UID == fail {
			out[i].Err = errors.New("disk full")
			continue
		}
		result, err := b.Deliver(ctx, mailbox, m.Raw, m.UID, origin)
		out[i] = fetch.Stored{Duplicate: result.Duplicate, Err: err}
	}
	return out
}

// PrepareBatch keeps the fetcher's two-stage pipeline (parse ahead, then
// commit) in the test, storing through DeliverBatch above rather than the
// embedded service's own.
func (b *batchingService) PrepareBatch(ctx context.Context, mailbox store.Mailbox, messages []fetch.Incoming, origin string) func() []fetch.Stored {
	return func() []fetch.Stored { return b.DeliverBatch(ctx, mailbox, messages, origin) }
}

type discardLog struct{}

func (discardLog) Record(context.Context, ...store.LogEntry) {}

func newBatchFetcher(env *servicetest.Env, deliver *batchingService) *fetch.Fetcher {
	return fetch.New(fetch.Config{Store: env.Store, Deliver: deliver, Log: discardLog{}, Password: env.Service.MailboxPassword,
		Dialer: servicetest.LoopbackDialer{}})
}

// TestBatchedStoring: with a Deliverer that stores batches, messages are
// stored in batches of at most 128; a drop mid-fetch still stores every
// message read whole, and deletes nothing; a message that fails to store
// stops deletion for the session.
func TestBatchedStoring(t *testing.T) {
	ctx := context.Background()
	t.Run("all, then delete", func(t *testing.T) {
		h := newHostileEnv(t)
		server := newFakePOP3(t, fakeMessages(300, true)...)
		deliver := &batchingService{Service: h.env.Service}
		id := h.mailbox(t, server, true)
		result, err := newBatchFetcher(h.env, deliver).Fetch(ctx, id)
		if err != nil || result.Received != 300 || result.Deleted != 300 {
			t.Fatalf("fetch: %+v %v", result, err)
		}
		if fmt.Sprint(deliver.batches) != "[128 128 44]" {
			t.Errorf("batches %v", deliver.batches)
		}
		if server.left() != 0 || len(h.subjects(t, id)) != 300 {
			t.Errorf("%d left on the server, %d stored", server.left(), len(h.subjects(t, id)))
		}
	})
	t.Run("drop mid-RETR", func(t *testing.T) {
		h := newHostileEnv(t)
		server := newFakePOP3(t, fakeMessages(300, true)...)
		server.retr = func(session, n int, w *bufio.Writer, c net.Conn) bool {
			if session == 1 && n == 200 {
				w.WriteString("+OK\r\nSubject: cut")
				w.Flush()
				c.Close()
				return false
			}
			return true
		}
		deliver := &batchingService{Service: h.env.Service}
		id := h.mailbox(t, server, true)
		fetcher := newBatchFetcher(h.env, deliver)
		if _, err := fetcher.Fetch(ctx, id); err == nil {
			t.Fatal("no error for a dropped connection")
		}
		if n := len(h.subjects(t, id)); n != 199 {
			t.Errorf("%d stored after the drop, want the 199 read whole", n)
		}
		if hasCommand(server.sessionCommands(1), "DELE") || server.left() != 300 {
			t.Errorf("deleted after a drop: %d left", server.left())
		}
		result, err := fetcher.Fetch(ctx, id)
		if err != nil || result.Received != 101 || server.left() != 0 {
			t.Errorf("second fetch: %+v %v, %d left", result, err, server.left())
		}
		if subjects := h.subjects(t, id); len(subjects) != 300 {
			t.Errorf("%d stored in all", len(subjects))
		}
	})
	t.Run("a message fails to store", func(t *testing.T) {
		h := newHostileEnv(t)
		server := newFakePOP3(t, fakeMessages(10, true)...)
		deliver := &batchingService{Service: h.env.Service, failUID: "uid-005"}
		id := h.mailbox(t, server, true)
		_, err := newBatchFetcher(h.env, deliver).Fetch(ctx, id)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("error %v", err)
		}
		if n := len(h.subjects(t, id)); n != 9 {
			t.Errorf("%d stored, want the 9 others", n)
		}
		if hasCommand(server.sessionCommands(1), "DELE") || server.left() != 10 {
			t.Errorf("deleted although a message was not stored: %d left", server.left())
		}
	})
}
