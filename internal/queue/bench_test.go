package queue_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// benchMessage is about 4 KB of mail.
var benchMessage = []byte("From: a@sender.test\r\nTo: b@example.test\r\nSubject: bench\r\n\r\n" + strings.Repeat("A line of text of the benchmark message.\r\n", 95))

// BenchmarkEnqueue measures Enqueue alone: the message durable in SQLite
// (synchronous=FULL) before it returns, one at a time.
func BenchmarkEnqueue(b *testing.B) {
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "pochta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	q := queue.New(queue.Config{Store: st, Settings: func(context.Context) (queue.Settings, error) { return queue.Settings{}, nil }})
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if err := q.Enqueue(context.Background(), "a@sender.test", []string{"b@example.test"}, bytes.NewReader(benchMessage)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliverToSmtpSink measures claiming and delivering queued
// messages to Postfix's smtp-sink on loopback (a connection per message,
// 4 at once, the runner's default), recording each outcome.
func BenchmarkDeliverToSmtpSink(b *testing.B) {
	sink, env := testpeer.PostfixTool(b, "smtp-sink")
	listener := freePortTB(b)
	cmd := exec.Command(sink, "-u", "nobody", "127.0.0.1:"+strconv.Itoa(listener), "256")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "pochta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	q := queue.New(queue.Config{Store: st, Hostname: "bench.test", Settings: func(context.Context) (queue.Settings, error) {
		return queue.Settings{Smarthost: queue.Smarthost{Host: "127.0.0.1", Port: listener, TLS: queue.TLSNone}, Timeout: 10 * time.Second}, nil
	}})
	waitPort(b, listener)
	var batch []store.NewOutbound
	for range b.N {
		batch = append(batch, store.NewOutbound{Sender: "a@sender.test", Recipients: []string{"b@example.test"}, Raw: benchMessage})
	}
	if _, err := st.EnqueueOutbound(context.Background(), batch...); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	for {
		page, err := st.OutboundMessages(context.Background(), store.OutboundFilter{State: store.OutboundQueued, Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Messages) == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
	if page, _ := st.OutboundMessages(context.Background(), store.OutboundFilter{State: store.OutboundSent, Limit: b.N + 1}); len(page.Messages) != b.N {
		b.Fatalf("sent %d of %d", len(page.Messages), b.N)
	}
}

func freePortTB(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(b *testing.B, port int) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("smtp-sink did not listen")
}
