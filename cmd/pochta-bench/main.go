// Command pochta-bench measures Pochta from the outside, the way an operator
// would see it. Each subcommand prints its figures; docs/benchmarks.md says
// which command produced which figure.
//
//	go build -o /tmp/pochta ./cmd/pochta
//	go run ./cmd/pochta-bench startup --binary /tmp/pochta --runs 10
//	go run ./cmd/pochta-bench import --binary /tmp/pochta --backend sqlite --messages 100000
//	go run ./cmd/pochta-bench list --backend sqlite --messages 1000000
//	go run ./cmd/pochta-bench bigmessage --binary /tmp/pochta --size 100MB
//	go run ./cmd/pochta-bench pop3 --messages 10000 --runs 3
//	go run ./cmd/pochta-bench imap --messages 10000 --runs 3
//	go run ./cmd/pochta-bench spam --data /tmp/package/data
//	go run ./cmd/pochta-bench smtp --binary /tmp/pochta --messages 5000 --runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pochta-bench startup|import|list|bigmessage|pop3|imap|spam|smtp|fsync [flags] (-h for each)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "startup":
		err = startup(os.Args[2:])
	case "import":
		err = importBench(os.Args[2:])
	case "list":
		err = listBench(os.Args[2:])
	case "bigmessage":
		err = bigMessageBench(os.Args[2:])
	case "pop3":
		err = pop3Bench(os.Args[2:])
	case "spam":
		err = spamBench(os.Args[2:])
	case "smtp":
		err = smtpBench(os.Args[2:])
	case "fsync":
		err = fsyncBench(os.Args[2:])
	case "imap":
		err = imapBench(os.Args[2:])
	case "imap-idle": // the child process of imap --idle
		err = imapIdleChild(os.Args[2:])
	case "imap-sync": // the child process of imap
		err = imapSyncChild(os.Args[2:])
	case "pop3-fetch": // the child process of pop3
		err = pop3FetchChild(os.Args[2:])
	case "peak-rss": // the child process of bigmessage
		err = peakRSSChild(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pochta-bench:", err)
		os.Exit(1)
	}
}

// startup starts the binary on an empty data folder N times and reports the
// time from exec to the first 200 on /healthz, the resident memory after the
// server has idled for a few seconds, and the binary's size.
func startup(args []string) error {
	flags := flag.NewFlagSet("startup", flag.ContinueOnError)
	binary := flags.String("binary", "./pochta", "the pochta binary")
	runs := flags.Int("runs", 10, "how many starts")
	idle := flags.Duration("idle", 5*time.Second, "how long to idle before reading RSS")
	if err := flags.Parse(args); err != nil {
		return err
	}
	info, err := os.Stat(*binary)
	if err != nil {
		return err
	}
	var starts []time.Duration
	var rss []int
	for run := 0; run < *runs; run++ {
		took, resident, err := oneStart(*binary, run == 0, *idle)
		if err != nil {
			return fmt.Errorf("run %d: %w", run+1, err)
		}
		starts = append(starts, took)
		if resident > 0 {
			rss = append(rss, resident)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	fmt.Printf("binary size: %.1f MB (%d bytes)\n", float64(info.Size())/1e6, info.Size())
	fmt.Printf("start to first 200 on /healthz, empty data folder, %d runs: min %v, median %v, max %v\n",
		len(starts), starts[0].Round(time.Millisecond), starts[len(starts)/2].Round(time.Millisecond), starts[len(starts)-1].Round(time.Millisecond))
	for _, kb := range rss {
		fmt.Printf("idle RSS after %v: %.1f MB\n", *idle, float64(kb)/1024)
	}
	return nil
}

func freePort() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer listener.Close()
	return listener.Addr().String(), nil
}

func oneStart(binary string, measureRSS bool, idle time.Duration) (time.Duration, int, error) {
	data, err := os.MkdirTemp("", "pochta-bench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(data)
	addr, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	command := exec.Command(binary, "serve", "--data", filepath.Join(data, "data"), "--http", addr)
	command.Env = append(os.Environ(), "POCHTA_ADMIN_PASSWORD=bench-password")
	started := time.Now()
	if err := command.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		command.Process.Signal(syscall.SIGTERM)
		command.Wait()
	}()
	client := &http.Client{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var took time.Duration
	for {
		response, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			response.Body.Close()
			if response.StatusCode == http.StatusOK {
				took = time.Since(started)
				break
			}
		}
		if ctx.Err() != nil {
			return 0, 0, errors.New("no 200 on /healthz within 30 s")
		}
		time.Sleep(time.Millisecond) // polling an outside process: nothing to wait on
	}
	if !measureRSS {
		return took, 0, nil
	}
	time.Sleep(idle)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", command.Process.Pid))
	if err != nil {
		return took, 0, nil
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return took, kb, nil
		}
	}
	return took, 0, nil
}
