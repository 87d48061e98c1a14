package main

// pochta-bench imap: Pochta's initial IMAP sync of N ~4 KB messages from a
// throwaway Dovecot on loopback, stored durably (SQLite, default settings)
// and indexed, side by side in the same run and against the same Dovecot
// with the reference tools of ../shared/bench/bench_imap.py: mbsync full
// pulls (FSync yes, its default, and FSync no), mbsync's no-op incremental
// sync, and one imaplib UID FETCH 1:* BODY.PEEK[] into memory (Dovecot's
// ceiling).
//
//	go run ./cmd/pochta-bench imap --messages 10000 --runs 3
//
// Each Pochta run is a child process (pochta-bench imap-sync) on a fresh
// data folder: app.Open, a mail service and a user, the user's IMAP mailbox
// (range "everything"), Service.CheckMailbox timed for the full sync, then
// three more for the no-op sync.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

func imapBench(args []string) error {
	flags := flag.NewFlagSet("imap", flag.ContinueOnError)
	messages := flags.Int("messages", 10000, "messages in the Dovecot INBOX")
	runs := flags.Int("runs", 3, "timed runs of each tool")
	reference := flags.String("reference", "../shared/bench", "folder of bench_imap.py and common.py; empty or missing: Pochta and the Go IMAP client only")
	python := flags.String("python", "/usr/bin/python3", "the Python that runs the reference tools and common.py")
	keep := flags.Bool("keep", false, "keep the temporary folder (Dovecot, data folders)")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of Pochta's first sync here")
	idle := flags.Int("idle", 0, "instead: hold this many user mailboxes in IDLE and measure memory and CPU at rest")
	rest := flags.Int("rest", 60, "with --idle: seconds of rest measured")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *idle > 0 {
		return idleBench(*idle, *rest, *keep)
	}
	if *messages < 1 || *runs < 1 {
		return errors.New("--messages and --runs must be at least 1")
	}
	haveReference := *reference != ""
	if haveReference {
		if _, err := os.Stat(filepath.Join(*reference, "bench_imap.py")); err != nil {
			fmt.Printf("no reference benchmark at %s: timing Pochta only\n", *reference)
			haveReference = false
		} else if abs, err := filepath.Abs(*reference); err == nil {
			*reference = abs
		}
	}
	work, err := os.MkdirTemp("", "pochta-bench-imap-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	dovecot, err := startPOP3Dovecot(filepath.Join(work, "dovecot"))
	if err != nil {
		return err
	}
	defer dovecot.stop()
	started := time.Now()
	corpus := "Go port of common.py"
	if haveReference {
		if err := pythonCorpus(*python, *reference, dovecot.maildir(), *messages); err != nil {
			return fmt.Errorf("common.py corpus: %w", err)
		}
		corpus = "common.py (the reference messages)"
	} else if err := goCorpus(dovecot.maildir(), *messages); err != nil {
		return err
	}
	size, count, err := maildirSize(dovecot.maildir())
	if err != nil {
		return err
	}
	fmt.Printf("delivered %d messages (%s, %.1f MB, mean %.1f KB) in %.1f s\n", count, corpus, float64(size)/1e6, float64(size)/float64(count)/1024, time.Since(started).Seconds())

	// Warm-up, untimed in the table as in bench_imap.py: the first session
	// makes Dovecot index the Maildir.
	warm, err := imapClientPass(dovecot.imapPort, *messages)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Printf("warm-up (cold Dovecot index), go-imap UID FETCH 1:* BODY.PEEK[] into io.Discard: %.0f msg/s\n", float64(*messages)/warm.Seconds())

	self, err := os.Executable()
	if err != nil {
		return err
	}
	mbsync, _ := exec.LookPath("mbsync")
	var pochta, noop, client, imaplib, mbFsync, mbNoFsync, mbNoop []float64
	var peaks []int
	for run := 1; run <= *runs; run++ {
		profile := ""
		if run == 1 {
			profile = *cpuProfile
		}
		data := filepath.Join(work, fmt.Sprintf("data-%d", run))
		exec.Command("sync").Run()
		result, err := pochtaSyncRun(self, data, dovecot.imapPort, *messages, profile)
		if err != nil {
			return fmt.Errorf("pochta run %d: %w", run, err)
		}
		pochta = append(pochta, float64(*messages)/result.Seconds)
		noop = append(noop, result.NoopSeconds)
		peaks = append(peaks, result.PeakKB)
		fmt.Printf("run %d: pochta %.0f msg/s (%.2f s, peak RSS %.1f MB, no-op sync %.0f ms)", run, pochta[len(pochta)-1], result.Seconds,
			float64(result.PeakKB)/1024, result.NoopSeconds*1000)
		if !*keep {
			os.RemoveAll(data)
		}
		took, err := imapClientPass(dovecot.imapPort, *messages)
		if err != nil {
			return err
		}
		client = append(client, float64(*messages)/took.Seconds())
		fmt.Printf(", go-imap alone %.0f msg/s", client[len(client)-1])
		if mbsync != "" && haveReference {
			for _, fsync := range []bool{true, false} {
				local := filepath.Join(work, fmt.Sprintf("mbsync-%d-%t", run, fsync))
				seconds, incremental, err := mbsyncRun(*python, *reference, mbsync, local, dovecot.imapPort, fsync, *messages)
				if err != nil {
					return fmt.Errorf("mbsync run %d: %w", run, err)
				}
				if fsync {
					mbFsync = append(mbFsync, float64(*messages)/seconds)
					mbNoop = append(mbNoop, incremental)
					fmt.Printf(", mbsync %.0f msg/s (no-op %.0f ms)", mbFsync[len(mbFsync)-1], incremental*1000)
				} else {
					mbNoFsync = append(mbNoFsync, float64(*messages)/seconds)
					fmt.Printf(", mbsync FSync no %.0f msg/s", mbNoFsync[len(mbNoFsync)-1])
				}
			}
		}
		if haveReference {
			seconds, err := imaplibRun(*python, *reference, dovecot.imapPort, *messages)
			if err != nil {
				return fmt.Errorf("imaplib run %d: %w", run, err)
			}
			imaplib = append(imaplib, float64(*messages)/seconds)
			fmt.Printf(", imaplib %.0f msg/s", imaplib[len(imaplib)-1])
		}
		fmt.Println()
	}

	fmt.Printf("\nIMAP initial sync of %d messages from Dovecot on loopback, %d runs (msg/s min / median / max):\n", *messages, *runs)
	row := func(label string, rates []float64, missing string) {
		if len(rates) == 0 {
			fmt.Printf("  %-62s not run (%s)\n", label, missing)
			return
		}
		lo, med, hi := stats3(rates)
		fmt.Printf("  %-62s %6.0f / %6.0f / %6.0f\n", label, lo, med, hi)
	}
	row("pochta: sync, parse, store durably, index (SQLite FULL)", pochta, "")
	row("go-imap UID FETCH 1:* BODY.PEEK[] into io.Discard", client, "")
	row("mbsync full pull, FSync yes (its default)", mbFsync, "install isync and give --reference")
	row("mbsync full pull, FSync no (nothing durable)", mbNoFsync, "install isync and give --reference")
	row("python3 imaplib UID FETCH 1:* BODY.PEEK[] (Dovecot's ceiling)", imaplib, "needs --reference")
	slices.Sort(peaks)
	fmt.Printf("  pochta peak RSS (VmHWM of the syncing process): %.1f MB median (%.1f-%.1f)\n",
		float64(peaks[len(peaks)/2])/1024, float64(peaks[0])/1024, float64(peaks[len(peaks)-1])/1024)
	lo, med, hi := stats3(noop)
	fmt.Printf("  no-op incremental sync (seconds min / median / max): pochta %.3f / %.3f / %.3f", lo, med, hi)
	if len(mbNoop) > 0 {
		lo, med, hi := stats3(mbNoop)
		fmt.Printf(", mbsync %.3f / %.3f / %.3f", lo, med, hi)
	}
	fmt.Println()
	if len(mbFsync) > 0 {
		_, p, _ := stats3(pochta)
		_, m, _ := stats3(mbFsync)
		fmt.Printf("  pochta / mbsync (FSync yes): %.2fx (target at least 3x)\n", p/m)
	}
	return nil
}

// imapSyncResult is what the child process reports.
type imapSyncResult struct {
	Seconds     float64 `json:"seconds"`
	Received    int     `json:"received"`
	PeakKB      int     `json:"peak_kb"`
	NoopSeconds float64 `json:"noop_seconds"` // median of three syncs with nothing new
}

func pochtaSyncRun(self, data string, port, messages int, cpuProfile string) (imapSyncResult, error) {
	command := exec.Command(self, "imap-sync", "--data", data, "--port", strconv.Itoa(port), "--cpuprofile", cpuProfile)
	command.Stderr = os.Stderr
	output, err := command.Output()
	if err != nil {
		return imapSyncResult{}, err
	}
	var result imapSyncResult
	if err := json.Unmarshal(output, &result); err != nil {
		return result, fmt.Errorf("child said %q: %w", output, err)
	}
	if result.Received != messages {
		return result, fmt.Errorf("received %d, want %d", result.Received, messages)
	}
	return result, nil
}

// imapSyncChild is the child: one full sync with Pochta's real path,
// timed from the start of CheckMailbox to its return, then three no-op
// syncs; prints JSON.
func imapSyncChild(args []string) error {
	flags := flag.NewFlagSet("imap-sync", flag.ContinueOnError)
	data := flags.String("data", "", "fresh data folder")
	port := flags.Int("port", 0, "Dovecot's IMAP port on 127.0.0.1")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the sync here")
	if err := flags.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	pochta, actor, err := openBench(ctx, *data, "")
	if err != nil {
		return err
	}
	defer pochta.Close()
	owner, err := setUpIMAPOwner(ctx, pochta, actor, *port)
	if err != nil {
		return err
	}
	text := func(s string) *string { return &s }
	number := func(n int) *int { return &n }
	mailbox, err := pochta.Service.CreateMailbox(ctx, actor, service.MailboxInput{
		Site: &owner.site, Type: text(store.MailboxIMAP), Name: text("bench"), ServiceID: &owner.service, OwnerID: &owner.owner,
		Server: text("127.0.0.1"), Port: number(*port), Security: text("none"),
		Login: text(pop3BenchUser), Password: text(pop3BenchPassword), SyncRange: text("all"),
	})
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		file, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer file.Close()
		if err := pprof.StartCPUProfile(file); err != nil {
			return err
		}
	}
	started := time.Now()
	result, err := pochta.Service.CheckMailbox(ctx, actor, mailbox.ID)
	took := time.Since(started)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if result.Error != "" {
		return fmt.Errorf("%s: %s", result.Error, result.Detail)
	}
	peak := procStatusKB("VmHWM")
	var noops []float64
	for range 3 {
		started := time.Now()
		again, err := pochta.Service.CheckMailbox(ctx, actor, mailbox.ID)
		if err != nil {
			return err
		}
		if again.Error != "" || again.Received != 0 {
			return fmt.Errorf("no-op sync: %+v", again)
		}
		noops = append(noops, time.Since(started).Seconds())
	}
	slices.Sort(noops)
	return json.NewEncoder(os.Stdout).Encode(imapSyncResult{Seconds: took.Seconds(), Received: result.Received, PeakKB: peak, NoopSeconds: noops[1]})
}

// imapClientPass reads every message with go-imap, one UID FETCH 1:*
// BODY.PEEK[], into io.Discard: the ceiling of the client side.
func imapClientPass(port, messages int) (time.Duration, error) {
	started := time.Now()
	client, err := imapclient.DialInsecure(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	if err := client.Login(pop3BenchUser, pop3BenchPassword).Wait(); err != nil {
		return 0, err
	}
	if _, err := client.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, err
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	command := client.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	n := 0
	for msg := command.Next(); msg != nil; msg = command.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
				if _, err := io.Copy(io.Discard, body.Literal); err != nil {
					return 0, err
				}
				n++
			}
		}
	}
	if err := command.Close(); err != nil {
		return 0, err
	}
	if n != messages {
		return 0, fmt.Errorf("fetched %d, want %d", n, messages)
	}
	client.Logout().Wait()
	return time.Since(started), nil
}

// mbsyncRun pulls the INBOX with mbsync into a fresh local Maildir with
// bench_imap.py's own configuration, timed as bench_imap.py times it (the
// process from start to exit); with fsync it then waits 2 s, as
// bench_imap.py does, and times a no-op incremental sync.
func mbsyncRun(python, reference, mbsync, local string, port int, fsync bool, messages int) (full, incremental float64, err error) {
	if err := os.MkdirAll(local, 0o700); err != nil {
		return 0, 0, err
	}
	rc := local + ".rc"
	script := `import sys
sys.path.insert(0, sys.argv[1])
import bench_imap
bench_imap.config(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1")
`
	flag := "0"
	if fsync {
		flag = "1"
	}
	if output, err := exec.Command(python, "-c", script, reference, rc, strconv.Itoa(port), local, flag).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("bench_imap.config: %v: %s", err, output)
	}
	exec.Command("sync").Run()
	timed := func() (float64, error) {
		started := time.Now()
		output, err := exec.Command(mbsync, "-c", rc, "-q", "inbox").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%v: %s", err, tailString(string(output), 600))
		}
		return time.Since(started).Seconds(), nil
	}
	if full, err = timed(); err != nil {
		return 0, 0, err
	}
	got := 0
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(local, "INBOX", sub))
		got += len(entries)
	}
	if got != messages {
		return 0, 0, fmt.Errorf("mbsync synced %d of %d", got, messages)
	}
	if fsync {
		time.Sleep(2 * time.Second)
		if incremental, err = timed(); err != nil {
			return 0, 0, err
		}
	}
	return full, incremental, nil
}

// imaplibRun times bench_imap.py's own imaplib_fetch against this Dovecot.
func imaplibRun(python, reference string, port, messages int) (float64, error) {
	script := `import sys, time
sys.path.insert(0, sys.argv[1])
import bench_imap
t0 = time.perf_counter()
n = bench_imap.imaplib_fetch(int(sys.argv[2]))
print(n, time.perf_counter() - t0)
`
	output, err := exec.Command(python, "-c", script, reference, strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, output)
	}
	var n int
	var seconds float64
	if _, err := fmt.Sscan(string(output), &n, &seconds); err != nil {
		return 0, fmt.Errorf("imaplib said %q", output)
	}
	if n != messages {
		return 0, fmt.Errorf("imaplib fetched %d, want %d", n, messages)
	}
	return seconds, nil
}
