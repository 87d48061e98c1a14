// Package testpeer gives tests real peers: a throwaway PostgreSQL database
// (PostgresDSN), a throwaway Dovecot POP3/IMAP server (Dovecot) and the path of
// a Chromium binary (Chromium).
//
// When a peer is missing the test is skipped with a message naming
// scripts/install-test-peers.sh, unless CI=true or POCHTA_REQUIRE_PEERS=1 is
// set: then the test fails, so nothing is skipped silently in CI
// (scripts/test.sh sets POCHTA_REQUIRE_PEERS=1).
//
// Servers run as children of the test process and get a signal when it dies.
// Their data lives in temporary directories named pochta-pg-* and
// pochta-dovecot-* under os.TempDir; directories left behind by dead test
// processes are removed the next time a server is started.
//
// A package that uses PostgresDSN should stop the shared server when its
// tests are done:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testpeer.StopAll()
//		os.Exit(code)
//	}
package testpeer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requirePeers reports whether a missing peer must fail the test rather than
// skip it.
func requirePeers() bool {
	return envTrue("CI") || envTrue("POCHTA_REQUIRE_PEERS")
}

func envTrue(name string) bool {
	v, err := strconv.ParseBool(strings.TrimSpace(os.Getenv(name)))
	return err == nil && v
}

// unavailable fails or skips t because a peer cannot be used; pkgs names the
// Debian packages that provide it.
func unavailable(t testing.TB, pkgs string, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf("testpeer: %s: install %s (scripts/install-test-peers.sh)", fmt.Sprintf(format, args...), pkgs)
	if requirePeers() {
		t.Fatalf("%s; failing instead of skipping because CI=true or POCHTA_REQUIRE_PEERS=1", msg)
	}
	t.Skip(msg)
}

// peerIDs returns the uid and gid that servers run as: nobody when the test
// runs as root (PostgreSQL refuses to run as root), else the current user.
func peerIDs() (uid, gid int, switchUser bool) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid(), false
	}
	uid, gid = 65534, 65534
	if u, err := user.Lookup("nobody"); err == nil {
		if n, err := strconv.Atoi(u.Uid); err == nil {
			uid = n
		}
		if n, err := strconv.Atoi(u.Gid); err == nil {
			gid = n
		}
	}
	return uid, gid, true
}

// childAttrs makes cmd a process group of its own that receives sig when the
// test process dies and, when asPeer is set, runs as the peer user (see
// peerIDs).
func childAttrs(cmd *exec.Cmd, sig syscall.Signal, asPeer bool) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if uid, gid, sw := peerIDs(); asPeer && sw {
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	setParentDeathSignal(attr, sig)
	cmd.SysProcAttr = attr
}

// newPeerDir creates a fresh temporary directory os.TempDir()/prefix* that
// records the owning process, after removing directories of the same prefix
// whose owner is dead.
func newPeerDir(prefix string) (string, error) {
	sweepStale(prefix)
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// sweepStale removes peer directories whose owner process no longer exists.
func sweepStale(prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			// Not ours, or just being created: leave it unless it is old.
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(dir)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment
// ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// stopProcess sends sig to cmd and waits for done (closed when cmd.Wait
// returned), killing the process group after timeout.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}, sig syscall.Signal, timeout time.Duration) {
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(timeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
