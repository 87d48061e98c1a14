package main

// pochta-bench imap --idle N: N user mailboxes held in IDLE by one Pochta
// process, against a throwaway Dovecot with N users on loopback. The child
// (pochta-bench imap-idle) makes the mailboxes (one owner, range
// "everything", empty INBOXes), syncs each once so that the schedule
// watches it, measures its memory, starts the receivers' schedules as serve
// does (Service.RunReceivers: one IDLE connection per mailbox), waits until
// all N connections are up, lets them settle, and measures memory again and
// the CPU it spends at rest over --rest seconds.
//
//	go run ./cmd/pochta-bench imap --idle 500 --rest 60

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// idleResult is what the child measured.
type idleResult struct {
	Mailboxes      int     `json:"mailboxes"`
	Connections    int     `json:"connections"`
	SetupSeconds   float64 `json:"setup_seconds"`
	ConnectSeconds float64 `json:"connect_seconds"`
	RSSBeforeKB    int     `json:"rss_before_kb"`
	RSSAfterKB     int     `json:"rss_after_kb"`
	HeapBefore     uint64  `json:"heap_before"`
	HeapAfter      uint64  `json:"heap_after"`
	GoroutinesIdle int     `json:"goroutines_idle"`
	GoroutinesBase int     `json:"goroutines_base"`
	RestSeconds    float64 `json:"rest_seconds"`
	Failed         int     `json:"failed"`      // mailboxes whose last sync failed
	FirstError     string  `json:"first_error"` // one of their errors
	CPUSeconds     float64 `json:"cpu_seconds"`
}

func idleUser(i int) string { return fmt.Sprintf("idle%04d", i) }

// idleBench is the parent: Dovecot with the users, the child, the table.
func idleBench(mailboxes, rest int, keep bool) error {
	work, err := os.MkdirTemp("", "pochta-bench-idle-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	accounts := map[string]string{}
	for i := range mailboxes {
		accounts[idleUser(i)] = "idle-secret"
	}
	limit := mailboxes*2 + 100
	dovecot, err := startBenchDovecot(filepath.Join(work, "dovecot"), accounts, fmt.Sprintf(`default_process_limit = %[1]d
default_client_limit = %[2]d
service imap {
  process_limit = %[1]d
}
service imap-login {
  process_limit = %[1]d
}`, limit, limit*2))
	if err != nil {
		return err
	}
	defer dovecot.stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	command := exec.Command(self, "imap-idle", "--data", filepath.Join(work, "data"), "--port", strconv.Itoa(dovecot.imapPort),
		"--mailboxes", strconv.Itoa(mailboxes), "--rest", strconv.Itoa(rest))
	command.Stderr = os.Stderr
	output, err := command.Output()
	if err != nil {
		return err
	}
	var result idleResult
	if err := json.Unmarshal(output, &result); err != nil {
		return fmt.Errorf("child said %q: %w", output, err)
	}
	n := float64(result.Mailboxes)
	fmt.Printf("%d IMAP mailboxes in IDLE (%d connections up) after %.1f s of setup and %.1f s to connect\n",
		result.Mailboxes, result.Connections, result.SetupSeconds, result.ConnectSeconds)
	fmt.Printf("RSS %.1f MB before, %.1f MB in IDLE: %.1f KB per mailbox\n", float64(result.RSSBeforeKB)/1024,
		float64(result.RSSAfterKB)/1024, float64(result.RSSAfterKB-result.RSSBeforeKB)/n)
	fmt.Printf("Go heap in use %.1f MB before, %.1f MB in IDLE: %.1f KB per mailbox\n", float64(result.HeapBefore)/(1<<20),
		float64(result.HeapAfter)/(1<<20), (float64(result.HeapAfter)-float64(result.HeapBefore))/1024/n)
	fmt.Printf("goroutines %d before, %d in IDLE: %.1f per mailbox\n", result.GoroutinesBase, result.GoroutinesIdle,
		float64(result.GoroutinesIdle-result.GoroutinesBase)/n)
	if result.Failed > 0 {
		fmt.Printf("%d mailboxes' last sync failed (not watched until one succeeds), for one: %s\n", result.Failed, result.FirstError)
	}
	fmt.Printf("CPU at rest: %.2f s over %.0f s = %.2f%% of one core\n", result.CPUSeconds, result.RestSeconds,
		100*result.CPUSeconds/result.RestSeconds)
	return nil
}

// imapIdleChild is the child: the mailboxes, the schedules, the figures.
func imapIdleChild(args []string) error {
	flags := flag.NewFlagSet("imap-idle", flag.ContinueOnError)
	data := flags.String("data", "", "fresh data folder")
	port := flags.Int("port", 0, "Dovecot's IMAP port on 127.0.0.1")
	mailboxes := flags.Int("mailboxes", 500, "mailboxes (Dovecot users idle0000...)")
	rest := flags.Int("rest", 60, "seconds of rest measured")
	if err := flags.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	started := time.Now()
	pochta, actor, err := openBench(ctx, *data, "")
	if err != nil {
		return err
	}
	defer pochta.Close()
	owner, err := setUpIMAPOwner(ctx, pochta, actor, *port)
	if err != nil {
		return err
	}
	// Eight at a time: the setup is not what is measured.
	work := make(chan int)
	failed := make(chan error, *mailboxes)
	var workers sync.WaitGroup
	for range 8 {
		workers.Go(func() {
			for i := range work {
				failed <- setUpIdleMailbox(ctx, pochta, actor, owner.site, owner.service, owner.owner, i)
			}
		})
	}
	for i := range *mailboxes {
		work <- i
	}
	close(work)
	workers.Wait()
	close(failed)
	for err := range failed {
		if err != nil {
			return err
		}
	}
	setup := time.Since(started)
	debug.FreeOSMemory()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	result := idleResult{Mailboxes: *mailboxes, SetupSeconds: setup.Seconds(), RSSBeforeKB: procStatusKB("VmRSS"),
		HeapBefore: before.HeapInuse, GoroutinesBase: runtime.NumGoroutine()}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { pochta.Service.RunReceivers(runCtx); close(done) }()
	connecting := time.Now()
	// Each IDLE connection syncs its mailbox once when it comes up; the
	// count of this process's connections to Dovecot settles at one per
	// mailbox.
	deadline := time.Now().Add(10 * time.Minute)
	for stable := 0; stable < 10; {
		n, err := connectionsTo(*port)
		if err != nil {
			return err
		}
		if n == *mailboxes {
			stable++
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d connections after 10 minutes", n, *mailboxes)
		}
		time.Sleep(500 * time.Millisecond)
	}
	result.ConnectSeconds = time.Since(connecting).Seconds() - 5
	cpuBefore, err := processCPU()
	if err != nil {
		return err
	}
	restStarted := time.Now()
	time.Sleep(time.Duration(*rest) * time.Second)
	cpuAfter, err := processCPU()
	if err != nil {
		return err
	}
	result.RestSeconds = time.Since(restStarted).Seconds()
	result.CPUSeconds = cpuAfter - cpuBefore
	result.Connections, _ = connectionsTo(*port)
	result.GoroutinesIdle = runtime.NumGoroutine()
	// A mailbox whose sync failed is not watched: its IDLE connection
	// is closed until a sync succeeds again.
	page, err := pochta.Store.Mailboxes(ctx, store.MailboxFilter{Types: []string{store.MailboxIMAP}}, store.MailboxSort{}, "", *mailboxes)
	if err != nil {
		return err
	}
	for _, m := range page.Items {
		if m.FailureStreak > 0 {
			result.Failed++
			if result.FirstError == "" {
				result.FirstError = m.LastError
			}
		}
	}
	debug.FreeOSMemory()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	result.HeapAfter, result.RSSAfterKB = after.HeapInuse, procStatusKB("VmRSS")
	stop()
	<-done
	return json.NewEncoder(os.Stdout).Encode(result)
}

// setUpIdleMailbox makes mailbox i and syncs it once: the schedule
// watches only mailboxes whose last sync succeeded.
func setUpIdleMailbox(ctx context.Context, pochta *app.App, actor *service.Actor, site string, serviceID, ownerID int64, i int) error {
	text := func(s string) *string { return &s }
	mailbox, err := pochta.Service.CreateMailbox(ctx, actor, service.MailboxInput{
		Site: &site, Type: text(store.MailboxIMAP), Name: text(idleUser(i)), ServiceID: &serviceID, OwnerID: &ownerID,
		Login: text(idleUser(i)), Password: text("idle-secret"), SyncRange: text("all"),
	})
	if err != nil {
		return err
	}
	result, err := pochta.Service.CheckMailbox(ctx, actor, mailbox.ID)
	if err != nil {
		return err
	}
	if result.Error != "" {
		return fmt.Errorf("%s: %s: %s", idleUser(i), result.Error, result.Detail)
	}
	return nil
}

// connectionsTo counts the established TCP connections to 127.0.0.1:port
// whose client end is in this process (by its sockets' inodes).
func connectionsTo(port int) (int, error) {
	inodes := map[string]bool{}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	for _, entry := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", entry.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	table, err := os.ReadFile("/proc/self/net/tcp")
	if err != nil {
		return 0, err
	}
	remote := fmt.Sprintf(":%04X", port)
	count := 0
	for _, line := range strings.Split(string(table), "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) < 10 {
			continue
		}
		// remote address, state 01 (established), inode
		if strings.HasSuffix(fields[2], remote) && fields[3] == "01" && inodes[fields[9]] {
			count++
		}
	}
	return count, nil
}

// processCPU is this process's user and system CPU time in seconds.
func processCPU() (float64, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	// The fields after the command's closing parenthesis: utime and
	// stime are the 12th and 13th of them, in clock ticks (100 a second
	// on Linux).
	text := string(stat)
	fields := strings.Fields(text[strings.LastIndexByte(text, ')')+1:])
	if len(fields) < 13 {
		return 0, errors.New("short /proc/self/stat")
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unreadable /proc/self/stat")
	}
	return (utime + stime) / 100, nil
}
