package main

// pochta-bench pop3: Pochta's POP3 fetch of N ~4 KB messages from a
// throwaway Dovecot on loopback, stored durably (SQLite, default settings)
// and indexed, side by side in the same run and against the same Dovecot
// with the reference tools of ../shared/bench/bench_pop3.py: fetchmail
// --bsmtp /dev/null and a Python poplib loop into memory.
//
//	go run ./cmd/pochta-bench pop3 --messages 10000 --runs 3
//
// Each Pochta run is a child process (pochta-bench pop3-fetch) on a fresh
// data folder: app.Open, a POP3 mailbox keeping messages on the server (as
// the reference tools' --keep --all), Service.CheckMailbox. Its peak RSS
// (VmHWM) is the whole process's, from start to the end of the fetch.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pochta.dev/pochta/internal/pop3"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

const (
	pop3BenchUser     = "alice" // bench_pop3.py's poplib_fetch logs in as alice/secret1
	pop3BenchPassword = "secret1"
)

func pop3Bench(args []string) error {
	flags := flag.NewFlagSet("pop3", flag.ContinueOnError)
	messages := flags.Int("messages", 10000, "messages in the Dovecot mailbox")
	runs := flags.Int("runs", 3, "timed runs of each tool")
	reference := flags.String("reference", "../shared/bench", "folder of bench_pop3.py and common.py (the reference tools' benchmark); empty or missing: Pochta and the Go POP3 client only")
	python := flags.String("python", "/usr/bin/python3", "the Python that runs the reference poplib loop and common.py")
	keep := flags.Bool("keep", false, "keep the temporary folder (Dovecot, data folders)")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of Pochta's first fetch here")
	postgres := flags.Bool("postgres", false, "also fetch into PostgreSQL (a throwaway server) in each run, after the SQLite fetch")
	judged := flags.Bool("judged", false, "Pochta's runs with 20 rules on receipt and a trained spam filter")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *messages < 1 || *runs < 1 {
		return errors.New("--messages and --runs must be at least 1")
	}
	haveReference := *reference != ""
	if haveReference {
		if _, err := os.Stat(filepath.Join(*reference, "bench_pop3.py")); err != nil {
			fmt.Printf("no reference benchmark at %s: timing Pochta only\n", *reference)
			haveReference = false
		} else if abs, err := filepath.Abs(*reference); err == nil {
			*reference = abs
		}
	}

	work, err := os.MkdirTemp("", "pochta-bench-pop3-")
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
	if count != *messages {
		return fmt.Errorf("%d messages in the Maildir, want %d", count, *messages)
	}
	fmt.Printf("delivered %d messages (%s, %.1f MB, mean %.1f KB) in %.1f s\n", count, corpus, float64(size)/1e6, float64(size)/float64(count)/1024, time.Since(started).Seconds())

	// Warm-up, untimed in the table as in bench_pop3.py: the first session
	// makes Dovecot index the Maildir. Pochta's own POP3 client does it,
	// reading every message and throwing it away.
	warm, err := clientOnlyPass(dovecot.port, *messages)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Printf("warm-up (cold Dovecot index), Pochta's POP3 client alone, pipelined RETR into io.Discard: %.0f msg/s\n", float64(*messages)/warm.Seconds())

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var server *benchPostgres
	if *postgres {
		if server, err = startBenchPostgres(); err != nil {
			return err
		}
		defer server.stop()
	}
	fetchmail, _ := exec.LookPath("fetchmail")
	var pochta, onPostgres, poplib, fm, client []float64
	var peaks []int
	for run := 1; run <= *runs; run++ {
		profile := ""
		if run == 1 {
			profile = *cpuProfile
		}
		result, err := pochtaFetchRun(self, filepath.Join(work, fmt.Sprintf("data-%d", run)), "", dovecot.port, *messages, profile, *judged)
		if err != nil {
			return fmt.Errorf("pochta run %d: %w", run, err)
		}
		pochta = append(pochta, float64(*messages)/result.Seconds)
		peaks = append(peaks, result.PeakKB)
		fmt.Printf("run %d: pochta %.0f msg/s (%.2f s, %.0f µs CPU a message, %d commits, peak RSS %.1f MB)", run, pochta[len(pochta)-1],
			result.Seconds, result.CPUSeconds*1e6/float64(result.Received), result.Commits, float64(result.PeakKB)/1024)
		if !*keep {
			os.RemoveAll(filepath.Join(work, fmt.Sprintf("data-%d", run)))
		}
		if server != nil {
			dsn, err := server.database(fmt.Sprintf("bench_pop3_%d", run))
			if err != nil {
				return err
			}
			result, err := pochtaFetchRun(self, filepath.Join(work, fmt.Sprintf("data-pg-%d", run)), dsn, dovecot.port, *messages, "", *judged)
			if err != nil {
				return fmt.Errorf("pochta run %d on PostgreSQL: %w", run, err)
			}
			onPostgres = append(onPostgres, float64(*messages)/result.Seconds)
			fmt.Printf(", on PostgreSQL %.0f msg/s (peak RSS %.1f MB)", onPostgres[len(onPostgres)-1], float64(result.PeakKB)/1024)
			os.RemoveAll(filepath.Join(work, fmt.Sprintf("data-pg-%d", run)))
		}
		took, err := clientOnlyPass(dovecot.port, *messages)
		if err != nil {
			return err
		}
		client = append(client, float64(*messages)/took.Seconds())
		fmt.Printf(", POP3 client alone %.0f msg/s", client[len(client)-1])
		if haveReference {
			seconds, err := poplibRun(*python, *reference, dovecot.port, *messages)
			if err != nil {
				return fmt.Errorf("poplib run %d: %w", run, err)
			}
			poplib = append(poplib, float64(*messages)/seconds)
			fmt.Printf(", poplib %.0f msg/s", poplib[len(poplib)-1])
		}
		if fetchmail != "" {
			seconds, err := fetchmailRun(fetchmail, filepath.Join(work, "fetchmail"), dovecot.port)
			if err != nil {
				return fmt.Errorf("fetchmail run %d: %w", run, err)
			}
			fm = append(fm, float64(*messages)/seconds)
			fmt.Printf(", fetchmail %.0f msg/s", fm[len(fm)-1])
		}
		fmt.Println()
	}

	fmt.Printf("\nPOP3 fetch of %d messages from Dovecot on loopback, %d runs (msg/s min / median / max):\n", *messages, *runs)
	row := func(label string, rates []float64, missing string) {
		if len(rates) == 0 {
			fmt.Printf("  %-58s not run (%s)\n", label, missing)
			return
		}
		lo, med, hi := stats3(rates)
		fmt.Printf("  %-58s %6.0f / %6.0f / %6.0f\n", label, lo, med, hi)
	}
	row("pochta: fetch, parse, store durably, index (SQLite FULL)", pochta, "")
	if server != nil {
		row("pochta on PostgreSQL (synchronous commit on)", onPostgres, "")
	}
	row("pochta's POP3 client alone, into io.Discard", client, "")
	row("fetchmail --bsmtp /dev/null", fm, "install fetchmail, or run bench_pop3.py once")
	row("python3 poplib UIDL + RETR into memory", poplib, "needs --reference")
	slices.Sort(peaks)
	fmt.Printf("  pochta peak RSS (VmHWM of the fetching process): %.1f MB median (%.1f-%.1f)\n",
		float64(peaks[len(peaks)/2])/1024, float64(peaks[0])/1024, float64(peaks[len(peaks)-1])/1024)
	_, p, _ := stats3(pochta)
	if len(fm) > 0 {
		_, f, _ := stats3(fm)
		fmt.Printf("  pochta / fetchmail: %.2fx (target at least 2x)\n", p/f)
	}
	if len(onPostgres) > 0 {
		_, q, _ := stats3(onPostgres)
		fmt.Printf("  PostgreSQL / SQLite: %.2f (target at least 0.5)\n", q/p)
	}
	if len(poplib) > 0 {
		_, l, _ := stats3(poplib)
		fmt.Printf("  pochta / poplib:    %.2fx (target above 1x)\n", p/l)
	}
	return nil
}

func stats3(rates []float64) (lo, median, hi float64) {
	sorted := slices.Clone(rates)
	slices.Sort(sorted)
	return sorted[0], sorted[len(sorted)/2], sorted[len(sorted)-1]
}

// pop3FetchResult is what the child process reports.
type pop3FetchResult struct {
	Seconds  float64 `json:"seconds"`
	Received int     `json:"received"`
	PeakKB   int     `json:"peak_kb"`
	// CPUSeconds is the fetching process's CPU during the fetch; Commits
	// the intake's transactions (group commit's batches: Received /
	// Commits messages each).
	CPUSeconds float64 `json:"cpu_seconds"`
	Commits    int64   `json:"commits"`
}

func pochtaFetchRun(self, data, dsn string, port, messages int, cpuProfile string, judged bool) (pop3FetchResult, error) {
	command := exec.Command(self, "pop3-fetch", "--data", data, "--db", dsn, "--port", strconv.Itoa(port), "--cpuprofile", cpuProfile,
		"--judged="+strconv.FormatBool(judged))
	command.Stderr = os.Stderr
	output, err := command.Output()
	if err != nil {
		return pop3FetchResult{}, err
	}
	var result pop3FetchResult
	if err := json.Unmarshal(output, &result); err != nil {
		return result, fmt.Errorf("child said %q: %w", output, err)
	}
	if result.Received != messages {
		return result, fmt.Errorf("received %d, want %d", result.Received, messages)
	}
	return result, nil
}

// pop3FetchChild is the child: one fetch with Pochta's real path, timed
// from the start of CheckMailbox to its return; prints JSON.
func pop3FetchChild(args []string) error {
	flags := flag.NewFlagSet("pop3-fetch", flag.ContinueOnError)
	data := flags.String("data", "", "fresh data folder")
	port := flags.Int("port", 0, "Dovecot's POP3 port on 127.0.0.1")
	dsn := flags.String("db", "", "PostgreSQL DSN of an empty database; empty: SQLite in the data folder")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the fetch here")
	judged := flags.Bool("judged", false, "20 rules on receipt and a trained spam filter (see judgedSetup)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	pochta, actor, err := openBench(ctx, *data, *dsn)
	if err != nil {
		return err
	}
	defer pochta.Close()
	text := func(s string) *string { return &s }
	number := func(n int) *int { return &n }
	mailbox, err := pochta.Service.CreateMailbox(ctx, actor, service.MailboxInput{
		Type: text(store.MailboxPOP3), Name: text("bench"), Server: text("127.0.0.1"), Port: number(*port),
		Login: text(pop3BenchUser), Password: text(pop3BenchPassword),
	})
	if err != nil {
		return err
	}
	if *judged {
		if err := judgedSetup(ctx, pochta.Store, mailbox.ID); err != nil {
			return err
		}
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
		defer pprof.StopCPUProfile()
	}
	cpuStarted, _ := processCPU()
	started := time.Now()
	result, err := pochta.Service.CheckMailbox(ctx, actor, mailbox.ID)
	took := time.Since(started)
	cpuEnded, _ := processCPU()
	if err != nil {
		return err
	}
	if result.Error != "" {
		return errors.New(result.Error)
	}
	return json.NewEncoder(os.Stdout).Encode(pop3FetchResult{Seconds: took.Seconds(), Received: result.Received, PeakKB: procStatusKB("VmHWM"),
		CPUSeconds: cpuEnded - cpuStarted, Commits: pochta.Service.IntakeCounters().Commits})
}

// procStatusKB reads a "kB" field of /proc/self/status.
func procStatusKB(field string) int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, field+":") {
			if f := strings.Fields(line); len(f) >= 2 {
				kb, _ := strconv.Atoi(f[1])
				return kb
			}
		}
	}
	return 0
}

// clientOnlyPass reads every message with Pochta's POP3 client, pipelined,
// into io.Discard: the ceiling the network side sets.
func clientOnlyPass(port, messages int) (time.Duration, error) {
	ctx := context.Background()
	started := time.Now()
	client, err := pop3.Dial(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), pop3.Options{})
	if err != nil {
		return 0, err
	}
	defer client.Close()
	if err := client.Auth(ctx, pop3BenchUser, pop3BenchPassword, pop3.AuthUser); err != nil {
		return 0, err
	}
	uids, err := client.UIDL(ctx)
	if err != nil {
		return 0, err
	}
	numbers := make([]int, len(uids))
	for i, u := range uids {
		numbers[i] = u.Number
	}
	if len(numbers) != messages {
		return 0, fmt.Errorf("%d messages on the server, want %d", len(numbers), messages)
	}
	err = client.RetrPipelined(ctx, numbers, 0, func(n int, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := client.Quit(ctx); err != nil {
		return 0, err
	}
	return time.Since(started), nil
}

// poplibRun times bench_pop3.py's own poplib_fetch (UIDL, then RETR of each
// message into memory) against this Dovecot.
func poplibRun(python, reference string, port, messages int) (float64, error) {
	script := `import sys, time
sys.path.insert(0, sys.argv[1])
import bench_pop3
t0 = time.perf_counter()
n = bench_pop3.poplib_fetch(int(sys.argv[2]))
print(n, time.perf_counter() - t0)
`
	output, err := exec.Command(python, "-c", script, reference, strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, output)
	}
	var n int
	var seconds float64
	if _, err := fmt.Sscan(string(output), &n, &seconds); err != nil {
		return 0, fmt.Errorf("poplib said %q", output)
	}
	if n != messages {
		return 0, fmt.Errorf("poplib fetched %d, want %d", n, messages)
	}
	return seconds, nil
}

// fetchmailRun runs fetchmail as bench_pop3.py's "FM --bsmtp /dev/null":
// every message fetched and written as BSMTP to /dev/null, kept on the
// server, no MDA.
func fetchmailRun(fetchmail, dir string, port int) (float64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	rc := filepath.Join(dir, "fetchmailrc")
	config := fmt.Sprintf("set no syslog\npoll 127.0.0.1 service %d protocol POP3 auth password user \"%s\" password \"%s\"\n", port, pop3BenchUser, pop3BenchPassword)
	if err := os.WriteFile(rc, []byte(config), 0o600); err != nil {
		return 0, err
	}
	command := exec.Command(fetchmail, "-f", rc, "-i", filepath.Join(dir, "ids"), "--pidfile", filepath.Join(dir, "pid"), "--nodetach",
		"--keep", "--all", "--norewrite", "--sslproto", "", "--bsmtp", "/dev/null")
	command.Env = append(os.Environ(), "HOME="+dir)
	started := time.Now()
	output, err := command.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, tailString(string(output), 600))
	}
	return time.Since(started).Seconds(), nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// pythonCorpus writes common.py's messages 0..n-1 into Maildir/new, named
// as common.fill names them.
func pythonCorpus(python, reference, maildir string, n int) error {
	script := `import os, sys, time
sys.path.insert(0, sys.argv[1])
import common
d, n = sys.argv[2], int(sys.argv[3])
base = time.time_ns() // 1_000_000_000
for i in range(n):
    raw = common.message(i)
    w = len(raw) + raw.count(bytes([10]))
    p = os.path.join(d, "new", f"{base}.M{i}P{os.getpid()}.bench,S={len(raw)},W={w}")
    with open(p, "wb") as f:
        f.write(raw)
    os.chown(p, 65534, 65534)
`
	output, err := exec.Command(python, "-c", script, reference, maildir, strconv.Itoa(n)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, tailString(string(output), 600))
	}
	return nil
}

// goCorpus writes n messages made like common.py's (Received chain, DKIM,
// 25% multipart/alternative, 30% Russian text, about 4 KB) when the
// reference folder is not there.
func goCorpus(maildir string, n int) error {
	base := time.Now().Unix()
	for i := range n {
		raw := goCorpusMessage(i)
		path := filepath.Join(maildir, "new", fmt.Sprintf("%d.M%dP%d.bench,S=%d,W=%d", base, i, os.Getpid(), len(raw), len(raw)+strings.Count(raw, "\n")))
		if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
			return err
		}
		if err := os.Chown(path, 65534, 65534); err != nil {
			return err
		}
	}
	return nil
}

var (
	corpusEnglish = strings.Fields("the a of to and in is for on that with as by at from this be are was it an or have not will your our we you " +
		"invoice meeting report server backup quarterly budget release review schedule customer contract delivery " +
		"update security password account payment order shipment project deadline draft approval agenda notes " +
		"attached please regards thanks tomorrow monday friday office team manager support ticket issue resolved")
	corpusRussian = strings.Fields("письмо отчёт встреча счёт договор доставка сервер почта ящик команда проект срок спасибо пожалуйста")
	corpusNames   = strings.Fields("alice bob carol dave erin frank grace heidi ivan judy mallory olga pavel sergey tanya victor")
	corpusDomains = strings.Fields("example.test example.org mail.example.net corp.example.com lists.example.org")
)

// goCorpusMessage is goCorpus's message number i.
func goCorpusMessage(i int) string {
	english, russian, names, domains := corpusEnglish, corpusRussian, corpusNames, corpusDomains
	r := mrand.New(mrand.NewPCG(uint64(i), 1))
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	from, to, fd, td := pick(names), pick(names), pick(domains), pick(domains)
	date := time.Unix(1767225600+int64(i)*37, 0).UTC().Format("Mon, 02 Jan 2006 15:04:05 +0000")
	random := make([]byte, 96)
	rand.Read(random)
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s@%s>\nDelivered-To: %s@%s\n", from, fd, to, td)
	fmt.Fprintf(&b, "Received: from mx%d.%s (mx.%s [192.0.2.%d])\n\tby mail.%s with ESMTPS id %012X\n\tfor <%s@%s>; %s\n", r.IntN(9)+1, fd, fd, r.IntN(254)+1, td, r.Uint64()>>16, to, td, date)
	fmt.Fprintf(&b, "Received: from [198.51.100.%d] by mx.%s with ESMTPSA; %s\n", r.IntN(254)+1, fd, date)
	fmt.Fprintf(&b, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=sel1;\n\th=from:to:subject:date:message-id;\n\tbh=%x=;\n\tb=%x\n", fd, random[:21], random)
	fmt.Fprintf(&b, "From: %s <%s@%s>\nTo: %s <%s@%s>\nSubject: %s %s %s #%d\nDate: %s\nMessage-ID: <%x.%d@%s>\nMIME-Version: 1.0\n",
		strings.ToUpper(from[:1])+from[1:], from, fd, strings.ToUpper(to[:1])+to[1:], to, td, pick(english), pick(english), pick(english), i, date, 1767225600+i*37, i, fd)
	words := english
	if r.Float64() < 0.3 {
		words = russian
	}
	target := int(4096 * (0.9 + 0.2*r.Float64()))
	var text strings.Builder
	for b.Len()+text.Len()+400 < target {
		line := make([]string, 0, 12)
		for range 10 {
			line = append(line, pick(words))
		}
		text.WriteString(strings.Join(line, " ") + ".\n")
	}
	if r.Float64() < 0.25 {
		boundary := fmt.Sprintf("b%016x", r.Uint64())
		half := text.String()[:text.Len()/2]
		half = strings.ToValidUTF8(half, "")
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%[1]s\"\n\n--%[1]s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%[2]s\n--%[1]s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n<html><body><p>%[2]s</p></body></html>\n--%[1]s--\n", boundary, half)
	} else {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s", text.String())
	}
	return b.String()
}

func maildirSize(maildir string) (int64, int, error) {
	var size int64
	count := 0
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			return 0, 0, err
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				return 0, 0, err
			}
			size += info.Size()
			count++
		}
	}
	return size, count, nil
}

// pop3Dovecot is a throwaway Dovecot with one user (alice/secret1), plain
// POP3 and IMAP on free loopback ports, as ../shared/bench/peers.py configures it
// (no TLS needed here; mail_fsync left at Dovecot's default).
type pop3Dovecot struct {
	dir      string
	port     int
	imapPort int // plain IMAP (the imap benchmark)
	command  *exec.Cmd
	done     chan struct{}
}

func (d *pop3Dovecot) maildir() string { return filepath.Join(d.dir, "mail", pop3BenchUser, "Maildir") }

func startPOP3Dovecot(dir string) (*pop3Dovecot, error) {
	return startBenchDovecot(dir, map[string]string{pop3BenchUser: pop3BenchPassword}, "")
}

// startBenchDovecot starts the benchmarks' Dovecot with users (login ->
// password), each with an empty Maildir, and extra lines of configuration.
func startBenchDovecot(dir string, accounts map[string]string, extra string) (*pop3Dovecot, error) {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/dovecot"); err != nil {
			return nil, errors.New("dovecot is not installed: apt-get install -y --no-install-recommends dovecot-pop3d dovecot-imapd")
		}
		bin = "/usr/sbin/dovecot"
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("run as root: the benchmark's Dovecot serves mail as nobody (65534)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	var users strings.Builder
	for login, password := range accounts {
		home := filepath.Join(dir, "mail", login)
		for _, sub := range []string{"new", "cur", "tmp"} {
			if err := os.MkdirAll(filepath.Join(home, "Maildir", sub), 0o700); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(&users, "%s:{PLAIN}%s:65534:65534::%s::\n", login, password, home)
	}
	if err := filepath.Walk(filepath.Join(dir, "mail"), func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, 65534, 65534)
	}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users.String()), 0o644); err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	imapPort := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	config := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = pop3 imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
service pop3-login {
  inet_listener pop3 {
    port = %[2]d
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    port = %[3]d
  }
  inet_listener imaps {
    port = 0
  }
}
pop3_uidl_format = %%08Xu%%08Xv
%[4]s
`, dir, port, imapPort, extra)
	conf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "dovecot.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	command := exec.Command(bin, "-F", "-c", conf)
	command.Stdout, command.Stderr = out, out
	command.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := command.Start(); err != nil {
		return nil, err
	}
	d := &pop3Dovecot{dir: dir, port: port, imapPort: imapPort, command: command, done: make(chan struct{})}
	go func() { command.Wait(); close(d.done) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			reply, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(reply, "+OK") {
				return d, nil
			}
		}
		select {
		case <-d.done:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.out"))
			return nil, fmt.Errorf("dovecot exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, errors.New("dovecot not listening after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *pop3Dovecot) stop() {
	d.command.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-d.command.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}
