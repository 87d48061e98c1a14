package testpeer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is a throwaway PostgreSQL server started by this process.
type pgServer struct {
	dir  string
	dsn  string // admin DSN (database postgres, user postgres)
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returned
}

var pg struct {
	mu       sync.Mutex
	srv      *pgServer
	startErr error
}

// PostgresDSN returns the DSN (postgres://...) of a fresh, empty database
// created for this test only and dropped, connections and all, in t.Cleanup.
//
// The database lives on the server named by POCHTA_TEST_PG (a DSN of the
// admin database with a superuser, as exported by scripts/test.sh) or, when
// that is unset, on one throwaway server started per test process from the
// PostgreSQL binaries in /usr/lib/postgresql/*/bin (or POCHTA_PG_BIN). Call
// StopAll from TestMain to stop that server when the package's tests end.
//
// When no server can be found or started the test is skipped, or fails under
// CI=true or POCHTA_REQUIRE_PEERS=1. A POCHTA_TEST_PG that cannot be reached
// always fails the test.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin, explicit, err := adminDSN()
	if err != nil {
		if explicit {
			t.Fatalf("testpeer: POCHTA_TEST_PG: %v", err)
		}
		unavailable(t, "postgresql-15", "PostgreSQL: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testpeer: connect to PostgreSQL admin database: %v", err)
	}
	defer conn.Close(ctx)

	name := dbName(t.Name())
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("testpeer: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testpeer: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("testpeer: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	return dsn
}

// StopAll stops the PostgreSQL server this process started, if any, and
// removes its data. Call it from TestMain after m.Run. A later PostgresDSN
// starts a new server.
func StopAll() {
	pg.mu.Lock()
	srv := pg.srv
	pg.srv, pg.startErr = nil, nil
	pg.mu.Unlock()
	if srv != nil {
		srv.stop()
	}
}

// adminDSN returns the DSN of the admin database to create test databases in,
// starting this process's server when needed. explicit reports whether it
// came from POCHTA_TEST_PG.
func adminDSN() (dsn string, explicit bool, err error) {
	if env := strings.TrimSpace(os.Getenv("POCHTA_TEST_PG")); env != "" {
		if _, err := pgx.ParseConfig(env); err != nil {
			return "", true, err
		}
		return env, true, nil
	}
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.srv == nil && pg.startErr == nil {
		pg.srv, pg.startErr = startPostgres()
	}
	if pg.startErr != nil {
		return "", false, pg.startErr
	}
	return pg.srv.dsn, false, nil
}

// withDatabase returns admin with its database replaced by name.
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value DSN: a later keyword wins.
	return admin + " dbname=" + name, nil
}

// dbName returns a unique database name that mentions the test.
func dbName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return "pochta_" + strings.Trim(b.String(), "_") + "_" + hex.EncodeToString(rnd[:])
}

// pgBinDir finds a directory with the PostgreSQL server binaries.
func pgBinDir() (string, error) {
	has := func(dir string) bool {
		for _, f := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("POCHTA_PG_BIN"); d != "" {
		if has(d) {
			return d, nil
		}
		return "", fmt.Errorf("POCHTA_PG_BIN=%s has no initdb and postgres", d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // newest major version first, 15 preferred
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		if (vi == 15) != (vj == 15) {
			return vi == 15
		}
		return vi > vj
	})
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, POCHTA_PG_BIN or PATH")
}

// startPostgres initializes and starts a throwaway server.
func startPostgres() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := newPeerDir("pochta-pg-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	uid, gid, _ := peerIDs()
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "LC_ALL=C", "LANG=C", "HOME="+dir)

	initLog := filepath.Join(dir, "initdb.log")
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir, cmd.Env = dir, env
	childAttrs(cmd, syscall.SIGKILL, true)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.WriteFile(initLog, out, 0o644)
		return nil, fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}

	var lastErr error
	for range 3 { // a picked port may be taken before the server binds it
		srv, err := runPostgres(bin, dir, env)
		if err == nil {
			ok = true
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func runPostgres(bin, dir string, env []string) (*pgServer, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT is PostgreSQL's immediate shutdown: the server and its backends
	// go away with the test process.
	childAttrs(cmd, syscall.SIGQUIT, true)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %v", err)
	}
	srv := &pgServer{
		dir:  dir,
		dsn:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		cmd:  cmd,
		done: make(chan struct{}),
	}
	go func() { cmd.Wait(); close(srv.done) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-srv.done:
			return nil, fmt.Errorf("postgres exited: %v\n%s", cmd.ProcessState, tail(logPath, 20))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, srv.dsn)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return srv, nil
		}
		cancel()
		if time.Now().After(deadline) {
			stopProcess(cmd, srv.done, syscall.SIGQUIT, 5*time.Second)
			return nil, fmt.Errorf("postgres not ready after 60s: %v\n%s", err, tail(logPath, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop does a fast shutdown and removes the data.
func (s *pgServer) stop() {
	stopProcess(s.cmd, s.done, syscall.SIGINT, 30*time.Second)
	os.RemoveAll(s.dir)
}
