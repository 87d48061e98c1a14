package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// fsyncBench times a synchronous write on the disk of a folder, the two
// ways a SQLite commit in WAL mode syncs: 16 KB appended to a file then
// fsync (a growing WAL), and 16 KB written over the start of a file then
// fdatasync (a WAL written again from its start after a checkpoint). It
// gives percentiles, not a mean: `dd oflag=dsync` gives a mean, which a
// shared disk's slow tail dominates (6.0 ms against a median of 0.4 ms).
//
//	go run ./cmd/pochta-bench fsync --dir /var/tmp --count 2000
func fsyncBench(args []string) error {
	flags := flag.NewFlagSet("fsync", flag.ContinueOnError)
	dir := flags.String("dir", os.TempDir(), "a folder on the disk to measure")
	count := flags.Int("count", 2000, "synchronous writes per way")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *count < 1 {
		return fmt.Errorf("fsync: --count must be at least 1")
	}
	block := make([]byte, 16<<10)
	path := filepath.Join(*dir, fmt.Sprintf("pochta-bench-fsync-%d", os.Getpid()))
	defer os.Remove(path)
	for _, overwrite := range []bool{false, true} {
		file, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("fsync probe: %w", err)
		}
		times := make([]time.Duration, 0, *count)
		for i := range *count {
			began := time.Now()
			if overwrite {
				if _, err = file.WriteAt(block, int64(i%4)*int64(len(block))); err == nil {
					err = syscall.Fdatasync(int(file.Fd()))
				}
			} else if _, err = file.Write(block); err == nil {
				err = file.Sync()
			}
			if err != nil {
				file.Close()
				return fmt.Errorf("fsync probe: %w", err)
			}
			times = append(times, time.Since(began))
		}
		file.Close()
		slices.Sort(times)
		way := "append 16 KB + fsync"
		if overwrite {
			way = "overwrite 16 KB + fdatasync"
		}
		n := len(times)
		fmt.Printf("%-28s %d writes: p10 %.2f ms  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms\n", way, n,
			milliseconds(times[n/10]), milliseconds(times[n/2]), milliseconds(times[n*9/10]), milliseconds(times[n*99/100]))
	}
	return nil
}
