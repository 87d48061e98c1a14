package fetch_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// failingJudge fails the message with one UID, as a disk that fills up
// would: the sink reports it as not stored.
func failingJudge(uid string) intake.Judge {
	return intake.JudgeFunc(func(_ context.Context, c *intake.Candidate) {
		if c.Message.UID != nil && c.Message.UID.UID == uid {
			panic("disk full")
		}
	})
}

type discardLog struct{}

func (discardLog) Record(context.Context, ...store.LogEntry) {}

// newSinkFetcher makes a fetcher over the test's own sink, with judges.
func newSinkFetcher(t *testing.T, env *servicetest.Env, judges ...intake.Judge) *fetch.Fetcher {
	t.Helper()
	sink := intake.NewSink(intake.SinkConfig{Store: env.Store, Log: discardLog{}, Judges: judges, TempDir: t.TempDir(),
		Options: func(context.Context, store.Mailbox) (intake.Options, error) {
			return intake.Options{SaveSource: true, SaveAttachments: true}, nil
		}})
	t.Cleanup(func() { sink.Close() })
	return fetch.New(fetch.Config{Store: env.Store, Intake: sink, Log: discardLog{}, Password: env.Service.MailboxPassword,
		Dialer: servicetest.LoopbackDialer{}})
}

// TestStoringThroughTheSink: messages go into the intake's sink as they are
// read and are deleted only once stored; a drop mid-fetch still stores
// every message read whole, and deletes nothing; a message that fails to
// store stops deletion for the session.
func TestStoringThroughTheSink(t *testing.T) {
	ctx := context.Background()
	t.Run("all, then delete", func(t *testing.T) {
		h := newHostileEnv(t)
		server := newFakePOP3(t, fakeMessages(300, true)...)
		id := h.mailbox(t, server, true)
		result, err := newSinkFetcher(t, h.env).Fetch(ctx, id)
		if err != nil || result.Received != 300 || result.Deleted != 300 {
			t.Fatalf("fetch: %+v %v", result, err)
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
		id := h.mailbox(t, server, true)
		fetcher := newSinkFetcher(t, h.env)
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
		id := h.mailbox(t, server, true)
		_, err := newSinkFetcher(t, h.env, failingJudge("uid-005")).Fetch(ctx, id)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("error %v", err)
		}
		// The messages read before the failure was known are stored (how
		// many depends on the pipelining); the failed one is not.
		stored := h.subjects(t, id)
		if len(stored) < 4 || len(stored) > 9 {
			t.Errorf("%d stored, want the 4 before it and maybe some after", len(stored))
		}
		if hasCommand(server.sessionCommands(1), "DELE") || server.left() != 10 {
			t.Errorf("deleted although a message was not stored: %d left", server.left())
		}
		// Once the message can be stored, the next fetch takes the rest,
		// nothing twice, and deletes.
		result, err := newSinkFetcher(t, h.env).Fetch(ctx, id)
		if err != nil || result.Received != 10-len(stored) || server.left() != 0 || len(h.subjects(t, id)) != 10 {
			t.Errorf("second fetch: %+v %v, %d left, %d stored", result, err, server.left(), len(h.subjects(t, id)))
		}
	})
}
