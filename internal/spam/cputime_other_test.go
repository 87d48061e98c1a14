//go:build !linux

package spam

import "testing"

// measureCPU runs f b.N times; the thread's CPU time is read on Linux only.
func measureCPU(b *testing.B, f func()) {
	for b.Loop() {
		f()
	}
}
