package queue_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// largeMessage is a message of about size bytes that compresses little (a
// base64 attachment of random bytes), so that its compressed form takes
// several chunks.
func largeMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: alice@sender.test\r\nTo: bob@example.test\r\nSubject: large\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	random := make([]byte, 57)
	for b.Len() < size {
		rand.Read(random)
		b.WriteString(base64.StdEncoding.EncodeToString(random))
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// A message larger than a claim keeps in memory is spooled to a file as
// it is read, written to the database in chunks, streamed from there to
// the smarthost byte for byte, and its header read back for the bounce.
func TestLargeMessageStreamed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testLargeMessageStreamed(t, "") })
	t.Run("postgres", func(t *testing.T) { testLargeMessageStreamed(t, testpeer.PostgresDSN(t)) })
}

func testLargeMessageStreamed(t *testing.T, dsn string) {
	host := testpeer.StartSmarthost(t)
	spool := t.TempDir()
	e := newEnv(t, dsn, host, func(c *queue.Config) { c.SpoolDir = spool })
	ctx := context.Background()
	message := largeMessage(5 << 20)
	if err := e.queue.Enqueue(ctx, "alice@sender.test", []string{"bob@example.test", "reject@example.test"}, bytes.NewReader(message)); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
	queued := e.all(t)
	if len(queued) != 1 || queued[0].Chunks < 2 || queued[0].Size != int64(len(message)) || queued[0].Subject != "large" {
		t.Fatalf("queued: %+v", queued)
	}
	source, err := e.store.OutboundSource(ctx, queued[0].ID)
	if err != nil || !bytes.Equal(source, message) {
		t.Fatalf("source read back: %d bytes, %v", len(source), err)
	}
	e.runOnce(t)
	got := host.Messages(t)
	if len(got) != 1 || !bytes.Equal(got[0].Raw, message) {
		t.Fatalf("smarthost got %d messages (first %d bytes of %d)", len(got), len(got[0].Raw), len(message))
	}
	all := e.all(t)
	if len(all) != 2 || all[1].Kind != store.OutboundBounce {
		t.Fatalf("after the 550: %+v", all)
	}
	bounce, err := e.store.OutboundSource(ctx, all[1].ID)
	if err != nil || !strings.Contains(string(bounce), "Subject: large\r\n") || len(bounce) > 64<<10 {
		t.Errorf("bounce (%d bytes, %v) does not return the header alone", len(bounce), err)
	}
}

// A message over the queue's limit is refused whether it is in memory or
// spooled, and leaves no file behind.
func TestLargeMessageOverLimit(t *testing.T) {
	spool := t.TempDir()
	e := newEnv(t, "", nil, func(c *queue.Config) { c.SpoolDir, c.MaxMessageBytes = spool, 3<<20 })
	err := e.queue.Enqueue(context.Background(), "a@sender.test", []string{"b@example.test"}, bytes.NewReader(largeMessage(4<<20)))
	if err != queue.ErrTooLarge {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
	if all := e.all(t); len(all) != 0 {
		t.Errorf("queued: %+v", all)
	}
}
