package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// smtpBench measures SMTP receiving end to end: Postfix's smtp-source sends
// ~4 KB messages over 20 sessions (a new connection per message, then
// reused connections with -d) to Pochta's internal SMTP server, which
// answers each 250 only once the message is durably stored. The references
// run in the same invocation with the same loads: Postfix's smtp-sink and
// aiosmtpd's Sink handler, which store nothing.
//
//	go build -o /tmp/pochta ./cmd/pochta
//	go run ./cmd/pochta-bench smtp --binary /tmp/pochta --messages 5000 --runs 3
func smtpBench(args []string) error {
	flags := flag.NewFlagSet("smtp", flag.ContinueOnError)
	binary := flags.String("binary", "./pochta", "the pochta binary")
	messages := flags.Int("messages", 5000, "messages per run")
	runs := flags.Int("runs", 3, "runs per load")
	sessions := flags.Int("sessions", 20, "parallel sessions")
	postfix := flags.String("postfix", "/opt/pochta-test-peers/postfix", "where Postfix's package is unpacked (scripts/install-test-peers.sh)")
	references := flags.Bool("references", true, "also measure smtp-sink and aiosmtpd's Sink")
	dsn := flags.String("dsn", "", "a PostgreSQL DSN (default: SQLite in a fresh data folder)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	source := filepath.Join(*postfix, "usr/sbin/smtp-source")
	env := append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(*postfix, "usr/lib/postfix"))
	loads := [][]string{{"-s", strconv.Itoa(*sessions)}, {"-s", strconv.Itoa(*sessions), "-d"}}
	type server struct {
		name  string
		start func() (addr string, stop func(), err error)
	}
	servers := []server{{"pochta", func() (string, func(), error) { return startPochtaSMTP(*binary, *dsn) }}}
	if *references {
		servers = append(servers,
			server{"smtp-sink", func() (string, func(), error) {
				return startReference(env, filepath.Join(*postfix, "usr/sbin/smtp-sink"), "-u", "nobody", "ADDR", "256")
			}},
			server{"aiosmtpd Sink", func() (string, func(), error) {
				return startReference(env, "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", "ADDR")
			}})
	}
	fmt.Printf("smtp-source -m %d -l 4096, %d runs per load, msg/s min / median / max\n", *messages, *runs)
	for _, srv := range servers {
		addr, stop, err := srv.start()
		if err != nil {
			return fmt.Errorf("%s: %w", srv.name, err)
		}
		for _, load := range loads {
			var rates []float64
			for range *runs {
				cmd := exec.Command(source, append(append([]string{"-m", strconv.Itoa(*messages)}, load...),
					"-l", "4096", "-f", "me@example.test", "-t", "bob@example.test", addr)...)
				cmd.Env = env
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				started := time.Now()
				if err := cmd.Run(); err != nil {
					stop()
					return fmt.Errorf("%s: smtp-source %v: %v: %s", srv.name, load, err, out.String())
				}
				rates = append(rates, float64(*messages)/time.Since(started).Seconds())
			}
			lo, median, hi := stats3(rates)
			fmt.Printf("%-14s smtp-source %-9s %8.0f / %8.0f / %8.0f\n", srv.name, strings.Join(load, " "), lo, median, hi)
		}
		stop()
	}
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

// startPochtaSMTP starts "pochta serve" on a fresh data folder with one
// SMTP mailbox on a free port (and a connection limit per address above
// the load's sessions).
func startPochtaSMTP(binary, dsn string) (string, func(), error) {
	data, err := os.MkdirTemp("", "pochta-bench-smtp-")
	if err != nil {
		return "", nil, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return "", nil, err
	}
	args := []string{"serve", "--data", filepath.Join(data, "data"), "--http", httpAddr}
	if dsn != "" {
		args = append(args, "--db", dsn)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "POCHTA_ADMIN_PASSWORD=bench-password")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		os.RemoveAll(data)
	}
	base := "http://" + httpAddr
	if err := waitHTTP(base + "/healthz"); err != nil {
		stop()
		return "", nil, err
	}
	if err := benchAPI("PATCH", base+"/api/v1/settings", map[string]any{"smtp_max_connections_per_ip": 10000}); err != nil {
		stop()
		return "", nil, err
	}
	smtpAddr, err := freePort()
	if err != nil {
		stop()
		return "", nil, err
	}
	host, port, _ := net.SplitHostPort(smtpAddr)
	portNumber, _ := strconv.Atoi(port)
	if err := benchAPI("POST", base+"/api/v1/mailboxes", map[string]any{"type": "smtp", "name": "bench", "server": host, "port": portNumber}); err != nil {
		stop()
		return "", nil, err
	}
	if err := waitTCP(smtpAddr); err != nil {
		stop()
		return "", nil, err
	}
	return smtpAddr, stop, nil
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
