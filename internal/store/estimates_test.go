package store

import (
	"fmt"
	"testing"
	"time"
)

// A kept estimate is used for estimateLifetime after it was taken, not
// after, nor when the clock went back; a full memo starts again.
func TestEstimateMemo(t *testing.T) {
	var memo estimateMemo
	taken := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if _, ok := memo.get("q", taken); ok {
		t.Fatal("an empty memo gave an estimate")
	}
	memo.put("q", 9702, taken)
	for _, test := range []struct {
		at   time.Time
		want bool
	}{{taken, true}, {taken.Add(estimateLifetime - time.Second), true}, {taken.Add(estimateLifetime), false}, {taken.Add(-time.Second), false}} {
		if rows, ok := memo.get("q", test.at); ok != test.want || ok && rows != 9702 {
			t.Errorf("at %v: %d, %v; want kept %v", test.at, rows, ok, test.want)
		}
	}
	for i := range maxEstimates {
		memo.put(fmt.Sprint(i), i, taken)
	}
	if len(memo.entries) > maxEstimates {
		t.Errorf("%d estimates kept, at most %d", len(memo.entries), maxEstimates)
	}
}
