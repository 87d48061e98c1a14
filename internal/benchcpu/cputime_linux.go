// Package benchcpu reports a benchmark's own CPU time per operation beside
// its wall time, for measurements on a machine shared with other work.
package benchcpu

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU gives the CPU time the calling thread has used. The machine
// that measures is shared (several engineers' builds and tests at once),
// so the wall time of ns/op is mostly other people's work; the thread's
// own CPU time per operation is the figure that holds.
func threadCPU() time.Duration {
	var usage syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// Measure runs f b.N times on one locked thread and reports the
// thread's CPU time per run as cpu-ns/op beside ns/op.
func Measure(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
}
