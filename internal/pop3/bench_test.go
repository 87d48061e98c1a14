package pop3

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// benchMessages is the mailbox size for BenchmarkRetrPipelined; set
// POCHTA_POP3_BENCH_N to change it (the reference figures in
// ../shared/bench/RESULTS.md use 10,000).
func benchMessages() int {
	if n, err := strconv.Atoi(os.Getenv("POCHTA_POP3_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// BenchmarkRetrPipelined fetches a Dovecot mailbox of ~4 KB messages
// (UIDL, then RETR of every message into memory, as the Python poplib
// baseline does) and reports msg/s: pipelined with several windows, one at a
// time (window 1 and a Retr loop), and, when /usr/bin/python3 exists, the
// poplib loop itself on the same mailbox.
//
//	go test -run '^$' -bench RetrPipelined -benchtime 5x ./internal/pop3/
func BenchmarkRetrPipelined(b *testing.B) {
	d := startDovecot(b)
	n := benchMessages()
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = generatedMessage(i, 3200+(i*7919)%2600) // 3.2-5.8 KB
	}
	user, pass := d.newUser(b, msgs...)
	addr := d.plainAddr()
	// A first session makes Dovecot index the Maildir (new/ to cur/), as
	// the reference benchmark's untimed warm-up does.
	if got := fetchAll(b, addr, user, pass, DefaultWindow, false); got != n {
		b.Fatalf("warm-up fetched %d of %d", got, n)
	}

	for _, window := range []int{1, 8, 32, 128} {
		b.Run("window="+strconv.Itoa(window), func(b *testing.B) {
			for b.Loop() {
				if got := fetchAll(b, addr, user, pass, window, false); got != n {
					b.Fatalf("fetched %d of %d", got, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
	b.Run("retr-loop", func(b *testing.B) {
		for b.Loop() {
			if got := fetchAll(b, addr, user, pass, 0, true); got != n {
				b.Fatalf("fetched %d of %d", got, n)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msg/s")
	})
	b.Run("python-poplib", func(b *testing.B) {
		if _, err := os.Stat("/usr/bin/python3"); err != nil {
			b.Skip("no /usr/bin/python3")
		}
		var secs float64
		for b.Loop() {
			secs += poplibFetch(b, d.POP3Port, user, pass, n)
		}
		b.ReportMetric(float64(n*b.N)/secs, "msg/s")
	})
}

// fetchAll logs in, reads UIDL and retrieves every message into memory,
// with RetrPipelined (window) or, with loop set, one Retr at a time.
func fetchAll(b *testing.B, addr, user, pass string, window int, loop bool) int {
	b.Helper()
	ctx := b.Context()
	c, err := Dial(ctx, addr, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(ctx, user, pass, AuthUser); err != nil {
		b.Fatal(err)
	}
	uids, err := c.UIDL(ctx)
	if err != nil {
		b.Fatal(err)
	}
	numbers := make([]int, len(uids))
	for i, u := range uids {
		numbers[i] = u.Number
	}
	var buf bytes.Buffer
	got := 0
	if loop {
		for _, num := range numbers {
			r, err := c.Retr(ctx, num)
			if err != nil {
				b.Fatal(err)
			}
			buf.Reset()
			if _, err := buf.ReadFrom(r); err != nil {
				b.Fatal(err)
			}
			got++
		}
	} else {
		err = c.RetrPipelined(ctx, numbers, window, func(_ int, r io.Reader) error {
			buf.Reset()
			_, err := buf.ReadFrom(r)
			got++
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Quit(ctx); err != nil {
		b.Fatal(err)
	}
	return got
}

// poplibFetch runs the loop of ../shared/bench/bench_pop3.py (UIDL, then
// RETR of each message into memory) and returns its duration in seconds.
func poplibFetch(b *testing.B, port int, user, pass string, n int) float64 {
	b.Helper()
	script := fmt.Sprintf(`
import poplib, time
t0 = time.perf_counter()
c = poplib.POP3("127.0.0.1", %d, timeout=30)
c.user(%q)
c.pass_(%q)
got = 0
for line in c.uidl()[1]:
    c.retr(int(line.split()[0]))
    got += 1
c.quit()
print(got, time.perf_counter() - t0)
`, port, user, pass)
	out, err := exec.CommandContext(b.Context(), "/usr/bin/python3", "-c", script).CombinedOutput()
	if err != nil {
		b.Fatalf("poplib: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != strconv.Itoa(n) {
		b.Fatalf("poplib: %q", out)
	}
	secs, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	return secs
}
