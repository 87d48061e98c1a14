// Package servicetest builds a ready [service.Service] for tests of the
// packages above it (web, api, cli): a fresh SQLite database in a temporary
// folder, bootstrapped with the default site and an admin, plus helpers to add
// users of each role.
package servicetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// AdminPassword is the password of the bootstrapped "admin" user.
const AdminPassword = "admin-password-1"

// Env is a service over a fresh database.
type Env struct {
	Service *service.Service
	Store   *store.Store
	Admin   *service.Actor
	Path    string // the SQLite database file, or the DSN
	// Clock is the service's clock: the real time until a test sets it.
	Clock *Clock
}

// Clock is a clock a test may stop and move by hand. Until [Clock.Set] it
// tells the real time.
type Clock struct {
	mu  sync.Mutex
	set bool
	now time.Time
}

// Now gives the time the clock was set to, moved by [Clock.Advance] since,
// or the real time when it was never set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		return time.Now()
	}
	return c.now
}

// Set stops the clock at now.
func (c *Clock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set, c.now = true, now
}

// Advance moves the clock forward by d, stopping it first at the real time
// when it was running.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		c.set, c.now = true, time.Now()
	}
	c.now = c.now.Add(d)
}

// New makes an Env over a fresh SQLite database (or over dsn when not empty,
// for example testpeer.PostgresDSN(t)).
func New(t testing.TB, dsn ...string) *Env {
	t.Helper()
	return NewLogged(t, slog.New(slog.DiscardHandler), dsn...)
}

// NewLogged is [New] with the service's slog logger, for a test that reads
// what the service logs (its audit lines).
func NewLogged(t testing.TB, logger *slog.Logger, dsn ...string) *Env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pochta.db")
	if len(dsn) > 0 && dsn[0] != "" {
		path = dsn[0]
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := secret.LoadOrCreateKey("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	clock := &Clock{}
	svc := service.New(service.Options{Store: st, Box: box, Logger: logger, Dialer: LoopbackDialer{}, Now: clock.Now,
		// The same zone on every machine, whatever the test machine says.
		TimeZone: "UTC"})
	if _, err := svc.Bootstrap(ctx, AdminPassword); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	admin, err := st.UserByLogin(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Service: svc, Store: st, Admin: &service.Actor{User: admin}, Path: path, Clock: clock}
}

// LoopbackDialer connects only to loopback addresses, without resolving
// names: tests (and fuzzers) that make Pochta connect to a mail server must
// never reach past this machine. A host name gives an error at once.
type LoopbackDialer struct{}

// DialContext dials address if its host is a loopback IP.
func (LoopbackDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("test dialer: %s is not a loopback address; tests connect only to this machine", host)
	}
	var dialer net.Dialer
	return dialer.DialContext(ctx, network, address)
}

// AddUser creates an active user with the given login, password and role.
func (e *Env) AddUser(t testing.TB, login, password, role string) *service.Actor {
	t.Helper()
	ctx := context.Background()
	active := true
	if _, err := e.Service.CreateUser(ctx, e.Admin, service.UserInput{Login: &login, Password: &password, Role: &role, Active: &active}); err != nil {
		t.Fatalf("add user %s: %v", login, err)
	}
	user, err := e.Store.UserByLogin(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	return &service.Actor{User: user}
}

// Source reads a message's whole source through the service, as the
// front ends stream it.
func (e *Env) Source(ctx context.Context, actor *service.Actor, id int64) ([]byte, error) {
	source, _, err := e.Service.MessageSource(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	return io.ReadAll(source)
}
