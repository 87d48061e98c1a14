package receive_test

import (
	"testing"
	"time"

	"pochta.dev/pochta/internal/receive"
)

func TestNextDelay(t *testing.T) {
	tests := []struct {
		interval time.Duration
		failures int
		jitter   float64
		want     time.Duration
	}{
		{5 * time.Minute, 0, 0, 5 * time.Minute},
		{5 * time.Minute, 0, 0.5, 5*time.Minute + 15*time.Second},
		{5 * time.Minute, 1, 0, 10 * time.Minute},
		{5 * time.Minute, 3, 0, 40 * time.Minute},
		{5 * time.Minute, 30, 0, 24 * time.Hour},
		{time.Hour, 100, 0.99, 24*time.Hour + time.Duration(float64(24*time.Hour)/10*0.99)},
	}
	for _, test := range tests {
		if got := receive.NextDelay(test.interval, test.failures, test.jitter); got != test.want {
			t.Errorf("NextDelay(%v, %d, %v) = %v, want %v", test.interval, test.failures, test.jitter, got, test.want)
		}
	}
}

// A mailbox is checked once at a time in a process; its end frees it.
func TestRunning(t *testing.T) {
	var running receive.Running
	done, ok := running.Start(1)
	if !ok {
		t.Fatal("first start refused")
	}
	if _, ok := running.Start(1); ok {
		t.Error("a second check of mailbox 1 started while the first runs")
	}
	other, ok := running.Start(2)
	if !ok {
		t.Error("mailbox 2 refused while mailbox 1 runs")
	}
	other()
	done()
	again, ok := running.Start(1)
	if !ok {
		t.Error("mailbox 1 refused after its check ended")
	}
	again()
}
