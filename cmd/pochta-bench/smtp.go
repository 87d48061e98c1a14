package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// smtpBench measures SMTP receiving end to end: Postfix's smtp-source sends
// ~4 KB messages over 20 sessions (a new connection per message, then
// reused connections with -d) to Pochta's internal SMTP server, which
// answers each 250 only once the message is durably stored. The references
// run in the same invocation with the same loads: Postfix's smtp-sink and
// aiosmtpd's Sink handler, which store nothing, and mailpit (--mailpit),
// with its default SQLite and with --disable-wal (an fsync per commit),
// timed until its API counts every message stored. All servers are started
// first and the runs interleaved (run 1 of each, then run 2...), so that a
// shared machine's changing load falls on all alike; --compare adds a
// second Pochta binary (before/after a change).
//
//	go build -o /tmp/pochta ./cmd/pochta
//	go run ./cmd/pochta-bench smtp --binary /tmp/pochta --messages 5000 --runs 3
//	go run ./cmd/pochta-bench smtp --binary /tmp/pochta --postgres --references=false
//	go run ./cmd/pochta-bench smtp --binary /tmp/pochta --big 50      # peak RSS growth for one 50 MB message
//	go run ./cmd/pochta-bench smtp --binary /tmp/pochta --idle 1000   # memory per idle session
func smtpBench(args []string) error {
	flags := flag.NewFlagSet("smtp", flag.ContinueOnError)
	binary := flags.String("binary", "./pochta", "the pochta binary")
	compare := flags.String("compare", "", "a second pochta binary measured in the same runs (before/after)")
	messages := flags.Int("messages", 5000, "messages per run")
	runs := flags.Int("runs", 3, "runs per load")
	sessions := flags.Int("sessions", 20, "parallel sessions")
	postfix := flags.String("postfix", "/opt/pochta-test-peers/postfix", "where Postfix's package is unpacked (scripts/install-test-peers.sh)")
	references := flags.Bool("references", true, "also measure smtp-sink and aiosmtpd's Sink")
	mailpit := flags.String("mailpit", "", "a mailpit binary (go install github.com/axllent/mailpit@v1.33.1) to measure as a reference too")
	dsn := flags.String("dsn", "", "a PostgreSQL DSN (default: SQLite in a fresh data folder)")
	postgres := flags.Bool("postgres", false, "store into a throwaway PostgreSQL server (fsync on) instead of SQLite")
	profile := flags.String("cpuprofile", "", "a folder for the pochta servers' CPU profiles (serve --cpuprofile)")
	big := flags.Int("big", 0, "instead of the loads: send one message of this many MB and report the server's peak RSS growth")
	latency := flags.Int("latency", 2000, "messages of a timed pass per load after smtp-source's, for p50/p99 per transaction (0: none)")
	idle := flags.Int("idle", 0, "instead of the loads: open this many idle sessions and report the server's memory per session")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *postgres {
		server, err := startBenchPostgres()
		if err != nil {
			return err
		}
		defer server.stop()
		databases := 0
		newDSN = func() (string, error) {
			databases++
			return server.database(fmt.Sprintf("smtp_bench_%d", databases))
		}
	} else if *dsn != "" {
		newDSN = func() (string, error) { return *dsn, nil }
	}
	if *big > 0 {
		return smtpBigMessage(*binary, *big)
	}
	if *idle > 0 {
		return smtpIdleSessions(*binary, *idle)
	}
	source := filepath.Join(*postfix, "usr/sbin/smtp-source")
	env := append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(*postfix, "usr/lib/postfix"))
	loads := [][]string{{"-s", strconv.Itoa(*sessions)}, {"-s", strconv.Itoa(*sessions), "-d"}}
	type server struct {
		name  string
		start func() (addr string, stop func(), err error)
		// stored waits until the server has stored n messages in all
		// (nil: its replies say so).
		stored func(n int) error
		addr   string
		stop   func()
		sent   int
		rates  [2][]float64
		// commits reads a Pochta server's intake counters (nil for the
		// references); perCommit is what each load's runs added.
		commits   func() (commits, messages float64)
		perCommit [2][2]float64
		// pid is a Pochta server's process (0 for the references); cpu is
		// the CPU time it used during each load's runs: CPU per message
		// says more than a rate on a shared machine, whose load steals
		// time but not work.
		pid int
		cpu [2]time.Duration
	}
	pochtaServer := func(name, binary string) *server {
		srv := &server{name: name}
		srv.start = func() (string, func(), error) {
			profileFile := ""
			if *profile != "" {
				profileFile = filepath.Join(*profile, strings.ReplaceAll(name, " ", "-")+".prof")
			}
			addr, process, stop, err := startPochtaSMTP(binary, profileFile, false)
			srv.commits, srv.pid = process.commits, process.pid
			return addr, stop, err
		}
		return srv
	}
	servers := []*server{pochtaServer("pochta", *binary)}
	if *compare != "" {
		servers = append(servers, pochtaServer("pochta compare", *compare))
	}
	if *references {
		servers = append(servers,
			&server{name: "smtp-sink", start: func() (string, func(), error) {
				return startReference(env, filepath.Join(*postfix, "usr/sbin/smtp-sink"), "-u", "nobody", "ADDR", "256")
			}},
			&server{name: "aiosmtpd Sink", start: func() (string, func(), error) {
				return startReference(env, "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", "ADDR")
			}})
	}
	if *mailpit != "" {
		for _, variant := range [][]string{nil, {"--disable-wal"}} {
			srv := &server{name: "mailpit " + strings.Join(variant, " ")}
			srv.start = func() (string, func(), error) {
				addr, stored, stop, err := startMailpit(*mailpit, variant)
				srv.stored = stored
				return addr, stop, err
			}
			servers = append(servers, srv)
		}
	}
	for _, srv := range servers {
		addr, stop, err := srv.start()
		if err != nil {
			for _, started := range servers {
				if started.stop != nil {
					started.stop()
				}
			}
			return fmt.Errorf("%s: %w", srv.name, err)
		}
		srv.addr, srv.stop = addr, stop
	}
	defer func() {
		for _, srv := range servers {
			srv.stop()
		}
	}()
	fmt.Printf("smtp-source -m %d -l 4096, %d runs per load interleaved, msg/s min / median / max\n", *messages, *runs)
	for i, load := range loads {
		for range *runs {
			for _, srv := range servers {
				cmd := exec.Command(source, append(append([]string{"-m", strconv.Itoa(*messages)}, load...),
					"-l", "4096", "-f", "me@example.test", "-t", "bob@example.test", srv.addr)...)
				cmd.Env = env
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				var commitsBefore, messagesBefore float64
				if srv.commits != nil {
					commitsBefore, messagesBefore = srv.commits()
				}
				cpuBefore := serverCPU(srv.pid)
				started := time.Now()
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("%s: smtp-source %v: %v: %s", srv.name, load, err, out.String())
				}
				srv.sent += *messages
				if srv.stored != nil {
					if err := srv.stored(srv.sent); err != nil {
						return fmt.Errorf("%s: %w", srv.name, err)
					}
				}
				srv.rates[i] = append(srv.rates[i], float64(*messages)/time.Since(started).Seconds())
				srv.cpu[i] += serverCPU(srv.pid) - cpuBefore
				if srv.commits != nil {
					commits, messages := srv.commits()
					srv.perCommit[i][0] += commits - commitsBefore
					srv.perCommit[i][1] += messages - messagesBefore
				}
			}
		}
		for _, srv := range servers {
			lo, median, hi := stats3(srv.rates[i])
			fmt.Printf("%-22s smtp-source %-9s %8.0f / %8.0f / %8.0f", srv.name, strings.Join(load, " "), lo, median, hi)
			if commits, messages := srv.perCommit[i][0], srv.perCommit[i][1]; commits > 0 {
				// How many messages shared a commit (a disk sync).
				fmt.Printf("   %.0f commits, %.1f messages a commit", commits, messages/commits)
			}
			if srv.cpu[i] > 0 {
				fmt.Printf(", CPU %.0f µs a message", float64(srv.cpu[i].Microseconds())/float64(*messages**runs))
			}
			fmt.Println()
		}
	}
	if *latency > 0 {
		// smtp-source says no time per transaction: a client of this
		// process sends the same load and times each one.
		fmt.Printf("per transaction (MAIL to the reply after the data), %d messages of ~4 KB over %d sessions:\n", *latency, *sessions)
		for _, reuse := range []bool{false, true} {
			for _, srv := range servers {
				loadStarted := time.Now()
				took, times, err := smtpTimedLoad(srv.addr, *latency, *sessions, reuse)
				if err != nil {
					return fmt.Errorf("%s: %w", srv.name, err)
				}
				srv.sent += *latency
				if srv.stored != nil {
					if err := srv.stored(srv.sent); err != nil {
						return fmt.Errorf("%s: %w", srv.name, err)
					}
					took = time.Since(loadStarted) // until stored, as above
				}
				slices.Sort(times)
				mode := "new connection"
				if reuse {
					mode = "reused"
				}
				fmt.Printf("%-22s %-14s %6.0f msg/s  p50 %6.1f ms  p99 %6.1f ms\n", srv.name, mode, float64(*latency)/took.Seconds(),
					milliseconds(times[len(times)/2]), milliseconds(times[len(times)*99/100]))
			}
		}
	}
	return nil
}

func milliseconds(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// smtpTimedLoad sends messages over sessions parallel clients (a new
// connection per message, or reused ones) and gives the whole time and
// each transaction's, from MAIL to the reply after the data.
func smtpTimedLoad(addr string, messages, sessions int, reuse bool) (time.Duration, []time.Duration, error) {
	body := []byte("From: me@example.test\r\nTo: bob@example.test\r\nSubject: timed\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 50))
	next := make(chan struct{}, messages)
	for range messages {
		next <- struct{}{}
	}
	close(next)
	var mu sync.Mutex
	var times []time.Duration
	errs := make(chan error, sessions)
	started := time.Now()
	var wg sync.WaitGroup
	for range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var client *smtp.Client
			defer func() {
				if client != nil {
					client.Quit()
				}
			}()
			for range next {
				if client == nil {
					var err error
					if client, err = smtp.Dial(addr); err != nil {
						errs <- err
						return
					}
					if err := client.Hello("bench.example.test"); err != nil {
						errs <- err
						return
					}
				}
				began := time.Now()
				err := client.Mail("me@example.test")
				if err == nil {
					err = client.Rcpt("bob@example.test")
				}
				var writer io.WriteCloser
				if err == nil {
					writer, err = client.Data()
				}
				if err == nil {
					_, err = writer.Write(body)
				}
				if err == nil {
					err = writer.Close()
				}
				if err != nil {
					errs <- err
					return
				}
				took := time.Since(began)
				mu.Lock()
				times = append(times, took)
				mu.Unlock()
				if !reuse {
					client.Quit()
					client = nil
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, nil, err
	}
	return time.Since(started), times, nil
}

// newDSN gives the database of a pochta server the bench starts ("":
// SQLite in its data folder).
var newDSN = func() (string, error) { return "", nil }

// startMailpit starts mailpit on a fresh database with extra flags; stored
// waits until its API counts n messages (it may answer 250 before it has
// stored a message).
func startMailpit(binary string, extra []string) (string, func(int) error, func(), error) {
	dir, err := os.MkdirTemp("", "pochta-bench-mailpit-")
	if err != nil {
		return "", nil, nil, err
	}
	smtpAddr, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	cmd := exec.Command(binary, append([]string{"--database", filepath.Join(dir, "mailpit.db"), "--smtp", smtpAddr, "--listen", httpAddr,
		"--max", "0"}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	if err := waitTCP(smtpAddr); err != nil {
		stop()
		return "", nil, nil, err
	}
	stored := func(n int) error {
		deadline := time.Now().Add(10 * time.Minute)
		for time.Now().Before(deadline) {
			response, err := http.Get("http://" + httpAddr + "/api/v1/messages?limit=1")
			if err == nil {
				var page struct {
					Total int `json:"total"`
				}
				err = json.NewDecoder(response.Body).Decode(&page)
				response.Body.Close()
				if err == nil && page.Total >= n {
					return nil
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("mailpit did not count %d messages stored", n)
	}
	return smtpAddr, stored, stop, nil
}

// pochtaProcess is a started server: its process ID and HTTP base URL.
type pochtaProcess struct {
	pid  int
	http string
}

// goMemory gives the Go heap and stacks in use (bytes) from /metrics.
func (p pochtaProcess) goMemory() float64 {
	response, err := http.Get(p.http + "/metrics")
	if err != nil {
		return 0
	}
	defer response.Body.Close()
	text, _ := io.ReadAll(response.Body)
	total := 0.0
	for _, line := range strings.Split(string(text), "\n") {
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
			if strings.HasPrefix(line, name) {
				value, _ := strconv.ParseFloat(strings.TrimPrefix(line, name), 64)
				total += value
			}
		}
	}
	return total
}

// commits reads the intake's commit counters from /metrics (zeros when
// they cannot be read).
func (p pochtaProcess) commits() (commits, messages float64) {
	response, err := http.Get(p.http + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer response.Body.Close()
	text, _ := io.ReadAll(response.Body)
	for _, line := range strings.Split(string(text), "\n") {
		if value, ok := strings.CutPrefix(line, "pochta_intake_commits_total "); ok {
			commits, _ = strconv.ParseFloat(value, 64)
		}
		if value, ok := strings.CutPrefix(line, "pochta_intake_messages_committed_total "); ok {
			messages, _ = strconv.ParseFloat(value, 64)
		}
	}
	return commits, messages
}

// serverCPU is the user and system CPU time a process has used (0 when
// pid is 0 or cannot be read), from /proc/PID/stat in clock ticks of
// 1/100 s (Linux's USER_HZ).
func serverCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th of them.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(fields[11], 10, 64)
	system, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(user+system) * 10 * time.Millisecond
}

// resetPeak makes the process's VmHWM its current RSS (Linux clear_refs 5),
// so that a later VmHWM is the peak since now.
func (p pochtaProcess) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid), []byte("5"), 0)
}

// processKB reads a field of a process's /proc status in kB.
func processKB(pid int, field string) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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

// smtpBigMessage sends one message of size MB (base64 lines of random
// bytes, as an attachment is) to a fresh server and reports how far its
// peak RSS rose above what it was before the message.
func smtpBigMessage(binary string, size int) error {
	addr, process, stop, err := startPochtaSMTP(binary, "", true)
	if err != nil {
		return err
	}
	defer stop()
	pid := process.pid
	time.Sleep(2 * time.Second) // let the start's garbage be collected
	if err := process.resetPeak(); err != nil {
		return fmt.Errorf("reset the peak RSS: %w", err)
	}
	before, hwmBefore := processKB(pid, "VmRSS"), processKB(pid, "VmHWM")
	client, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Mail("me@example.test"); err != nil {
		return err
	}
	if err := client.Rcpt("bob@example.test"); err != nil {
		return err
	}
	writer, err := client.Data()
	if err != nil {
		return err
	}
	started := time.Now()
	fmt.Fprintf(writer, "From: me@example.test\r\nTo: bob@example.test\r\nSubject: %d MB\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbig\r\n--b\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n", size)
	random := make([]byte, 57)
	line := make([]byte, 78)
	for written := 0; written < size<<20; written += len(line) {
		rand.Read(random)
		base64.StdEncoding.Encode(line, random)
		line[76], line[77] = '\r', '\n'
		if _, err := writer.Write(line); err != nil {
			return err
		}
	}
	fmt.Fprintf(writer, "--b--\r\n")
	if err := writer.Close(); err != nil {
		return fmt.Errorf("the server's reply to the data: %w", err)
	}
	took := time.Since(started)
	hwm := processKB(pid, "VmHWM")
	fmt.Printf("one %d MB message over SMTP, stored in %.1f s: RSS before %.1f MB (peak reset to %.1f MB), peak after %.1f MB: "+
		"growth %.1f MB\n", size, took.Seconds(), float64(before)/1024, float64(hwmBefore)/1024, float64(hwm)/1024,
		float64(hwm-max(before, 0))/1024)
	return client.Quit()
}

// smtpIdleSessions opens n sessions that say EHLO and then nothing, and
// reports the server's RSS growth per session (and its Go heap in use per
// session, from its own figures at /metrics).
func smtpIdleSessions(binary string, n int) error {
	addr, process, stop, err := startPochtaSMTP(binary, "", true)
	if err != nil {
		return err
	}
	defer stop()
	pid := process.pid
	time.Sleep(2 * time.Second)
	before, goBefore := processKB(pid, "VmRSS"), process.goMemory()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		conns = append(conns, c)
		reader := bufio.NewReader(c)
		if _, err := reader.ReadString('\n'); err != nil {
			return fmt.Errorf("session %d greeting: %w", i, err)
		}
		fmt.Fprintf(c, "EHLO client%d.example.test\r\n", i)
		for {
			line, err := reader.ReadString('\n')
			if err != nil {
				return fmt.Errorf("session %d EHLO: %w", i, err)
			}
			if strings.HasPrefix(line, "250 ") {
				break
			}
		}
	}
	time.Sleep(2 * time.Second)
	after, goAfter := processKB(pid, "VmRSS"), process.goMemory()
	fmt.Printf("%d idle sessions (after EHLO): RSS %.1f MB before, %.1f MB with them: %.1f KB per session; "+
		"Go heap and stacks in use %.1f -> %.1f MB: %.1f KB per session\n", n,
		float64(before)/1024, float64(after)/1024, float64(after-before)/float64(n), goBefore/(1<<20), goAfter/(1<<20),
		(goAfter-goBefore)/1024/float64(n))
	return nil
}

// startReference starts a reference sink on a free port (ADDR in args).
func startReference(env []string, bin string, args ...string) (string, func(), error) {
	addr, err := freePort()
	if err != nil {
		return "", nil, err
	}
	for i, a := range args {
		if a == "ADDR" {
			args[i] = addr
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	}
	if err := waitTCP(addr); err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

// startPochtaSMTP starts "pochta serve" on a fresh data folder (and a
// fresh database from newDSN) with one SMTP mailbox on a free port (and a
// connection limit per address above any load's sessions); it gives the
// SMTP address and the process. fresh restarts the process once it is set
// up, for memory figures.
func startPochtaSMTP(binary, cpuProfile string, fresh bool) (string, pochtaProcess, func(), error) {
	data, err := os.MkdirTemp("", "pochta-bench-smtp-")
	if err != nil {
		return "", pochtaProcess{}, nil, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return "", pochtaProcess{}, nil, err
	}
	args := []string{"serve", "--data", filepath.Join(data, "data"), "--http", httpAddr}
	dsn, err := newDSN()
	if err != nil {
		return "", pochtaProcess{}, nil, err
	}
	if dsn != "" {
		args = append(args, "--db", dsn)
	}
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "POCHTA_ADMIN_PASSWORD=bench-password")
	if err := cmd.Start(); err != nil {
		return "", pochtaProcess{}, nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		os.RemoveAll(data)
	}
	fail := func(err error) (string, pochtaProcess, func(), error) {
		stop()
		return "", pochtaProcess{}, nil, err
	}
	base := "http://" + httpAddr
	if err := waitHTTP(base + "/healthz"); err != nil {
		return fail(err)
	}
	if err := benchAPI("PATCH", base+"/api/v1/settings", map[string]any{"smtp_max_connections_per_ip": 10000}); err != nil {
		return fail(err)
	}
	smtpAddr, err := freePort()
	if err != nil {
		return fail(err)
	}
	host, port, _ := net.SplitHostPort(smtpAddr)
	portNumber, _ := strconv.Atoi(port)
	if err := benchAPI("POST", base+"/api/v1/mailboxes", map[string]any{"type": "smtp", "name": "bench", "server": host, "port": portNumber}); err != nil {
		return fail(err)
	}
	if err := waitTCP(smtpAddr); err != nil {
		return fail(err)
	}
	if fresh {
		// The set-up's API calls hashed the admin's password (argon2id,
		// 32 MB each): a process started again on the same data folder
		// has no such garbage in its memory figures.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		cmd = exec.Command(binary, args...)
		if err := cmd.Start(); err != nil {
			os.RemoveAll(data)
			return "", pochtaProcess{}, nil, err
		}
		if err := waitTCP(smtpAddr); err != nil {
			return fail(err)
		}
	}
	return smtpAddr, pochtaProcess{pid: cmd.Process.Pid, http: base}, stop, nil
}

func benchAPI(method, address string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	request, err := http.NewRequest(method, address, bytes.NewReader(data))
	if err != nil {
		return err
	}
	request.SetBasicAuth("admin", "bench-password")
	request.Header.Set("Content-Type", "application/json")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	text, _ := io.ReadAll(response.Body)
	if response.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, address, response.StatusCode, text)
	}
	return nil
}

func waitHTTP(address string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if response, err := http.Get(address); err == nil {
			response.Body.Close()
			if response.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no 200 from " + address + " within 30 s")
}

func waitTCP(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("nothing listening on " + addr + " within 30 s")
}
