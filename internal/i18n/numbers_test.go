package i18n

import (
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	tests := []struct {
		language string
		wait     time.Duration
		want     string
	}{
		{"en", 0, "1 s"}, // a wait is never nothing
		{"en", 300 * time.Millisecond, "1 s"},
		{"en", 8 * time.Second, "8 s"},
		{"en", 59*time.Second + time.Millisecond, "1 min"},
		{"en", 61 * time.Second, "2 min"},
		{"en", 15 * time.Minute, "15 min"},
		{"ru", 8 * time.Second, "8 с"},
		{"ru", 15 * time.Minute, "15 мин"},
	}
	for _, test := range tests {
		if got := Default.Wait(test.language, test.wait); got != test.want {
			t.Errorf("Wait(%s, %v) = %q, want %q", test.language, test.wait, got, test.want)
		}
	}
}
