package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// benchPostgres is a throwaway PostgreSQL server with its default
// durability settings (fsync on, synchronous_commit on): unlike the test
// servers, whose fsync is off, its figures are what an operator would see.
type benchPostgres struct {
	dir string
	dsn string
	cmd *exec.Cmd
}

func startBenchPostgres() (*benchPostgres, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	if len(dirs) == 0 {
		return nil, errors.New("no PostgreSQL in /usr/lib/postgresql/*/bin; pass --db DSN")
	}
	bin := dirs[0]
	dir, err := os.MkdirTemp("", "pochta-bench-pg-")
	if err != nil {
		return nil, err
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		uid, gid := 65534, 65534
		if u, err := user.Lookup("nobody"); err == nil {
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
		}
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	env := append(os.Environ(), "LC_ALL=C", "LANG=C", "HOME="+dir)
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C")
	initdb.Dir, initdb.Env, initdb.SysProcAttr = dir, env, attr
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"), "-c", "listen_addresses=127.0.0.1",
		"-p", strconv.Itoa(port), "-k", dir, "-c", "shared_buffers=512MB")
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, env, attr
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	server := &benchPostgres{dir: dir, cmd: cmd, dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("pgx", server.dsn)
		if err == nil {
			err = db.PingContext(context.Background())
			db.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			server.stop()
			return nil, fmt.Errorf("postgres did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return server, nil
}

// database creates a fresh database and gives its DSN.
func (p *benchPostgres) database(name string) (string, error) {
	db, err := sql.Open("pgx", p.dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE ` + name + ` TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", p.dsn[len("postgres://postgres@"):len(p.dsn)-len("/postgres?sslmode=disable")], name), nil
}

func (p *benchPostgres) stop() {
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(p.dir)
}
