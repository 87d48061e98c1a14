package intake

import (
	"context"
	"testing"
)

// TestBudgetCountsGrowth: a message that grew while it was prepared is
// counted at its new size, so the next message waits for its commit, and a
// message that shrank lets the next one in.
func TestBudgetCountsGrowth(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100)
	if err := b.acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	b.adjust(+50) // the first message's prepared rows hold 90 bytes
	waiting, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.acquire(waiting, 20); err == nil {
		t.Fatal("20 more bytes were let in with 90 of 100 counted")
	}
	admitted := make(chan error, 1)
	go func() { admitted <- b.acquire(ctx, 20) }()
	b.adjust(-60) // it shrank to 30 after all
	if err := <-admitted; err != nil {
		t.Fatal(err)
	}
	b.release(30)
	b.release(20)
	if b.used != 0 {
		t.Fatalf("%d bytes still counted after every release", b.used)
	}
}
