package fetch

import (
	"testing"
	"time"
)

func TestLeaseTTL(t *testing.T) {
	for _, test := range []struct {
		env  string
		set  time.Duration
		want time.Duration
	}{
		{"", 0, 90 * time.Second},
		{"2", 0, 2 * time.Second},
		{" 5 ", 0, 5 * time.Second},
		{"0", 0, 90 * time.Second},
		{"-3", 0, 90 * time.Second},
		{"soon", 0, 90 * time.Second},
		{"2", time.Minute, time.Minute}, // the field wins
	} {
		t.Setenv(LeaseEnv, test.env)
		if got := New(Config{LeaseTTL: test.set}).config.LeaseTTL; got != test.want {
			t.Errorf("%s=%q, LeaseTTL %v: got %v, want %v", LeaseEnv, test.env, test.set, got, test.want)
		}
	}
}
