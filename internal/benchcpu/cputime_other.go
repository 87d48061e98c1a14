//go:build !linux

package benchcpu

import "testing"

// Measure runs f b.N times; the thread's CPU time is read on Linux only.
func Measure(b *testing.B, f func()) {
	for b.Loop() {
		f()
	}
}
