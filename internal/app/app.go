// Package app wires Pochta together: it opens the store and the secret key,
// builds the service, mounts the web admin, the API, /healthz and /metrics on
// one HTTP server, and runs the background jobs. cmd/pochta calls it; it is
// the only package besides cmd that imports web and api.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"pochta.dev/pochta/internal/api"
	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/metrics"
	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/smtpd"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/web"
	"pochta.dev/pochta/internal/worklog"
)

// Config says where Pochta keeps its data and where it listens.
type Config struct {
	DataDir   string // the data folder: SQLite database and secret key
	DSN       string // postgres://... selects PostgreSQL; empty means SQLite in DataDir
	HTTPAddr  string // the web admin and API address, e.g. 127.0.0.1:8080
	SecretKey string // POCHTA_SECRET_KEY: overrides the key file when set
	Logger    *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (see ParseTrustedProxies); none by
	// default, so a client's own headers count for nothing.
	TrustedProxies []netip.Prefix
	// SMTPHostname names the internal SMTP server in its greeting and
	// Received fields ("": the machine's host name).
	SMTPHostname string
	// PublicURL is where people and scripts reach this Pochta
	// ("https://mail.example.com"), for the links webhooks carry; "": the
	// HTTP address served.
	PublicURL string
	// JobWorkers is how many of the rules' jobs (webhooks, forwards) run
	// at once in this process (0: 2).
	JobWorkers int
}

// SQLiteFileName is the database file in the data folder.
const SQLiteFileName = "pochta.db"

// App is an opened Pochta: store, service and the HTTP handler.
type App struct {
	Config  Config
	Store   *store.Store
	Service *service.Service
	WorkLog *worklog.Log
	Metrics *metrics.Metrics
	// SMTP is the internal SMTP server; Serve runs it.
	SMTP *smtpd.Server
	// Queue is the outbound queue (smtpd's relay, the rules' forward
	// action); Serve runs its deliveries.
	Queue  *queue.Queue
	logger *slog.Logger
}

// Open opens the store (applying migrations) and builds the service.
func Open(ctx context.Context, config Config) (*App, error) {
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.DataDir == "" {
		config.DataDir = "pochta-data"
	}
	if err := os.MkdirAll(config.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	dsn := config.DSN
	if dsn == "" {
		dsn = filepath.Join(config.DataDir, SQLiteFileName)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	key, err := secret.LoadOrCreateKey(config.SecretKey, config.DataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &App{Config: config, Store: st, Metrics: metrics.New(), logger: config.Logger}
	// The work log reads its policy from the settings, which the service
	// owns; the service writes to the work log. The indirection breaks the
	// loop: the log asks the service only when it writes.
	policy := &settingsPolicy{}
	a.WorkLog = worklog.New(st, policy, config.Logger)
	spool := filepath.Join(config.DataDir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		st.Close()
		return nil, fmt.Errorf("spool folder: %w", err)
	}
	removeStaleSpool(spool, time.Hour, config.Logger)
	a.Service = service.New(service.Options{Store: st, Box: box, Log: a.WorkLog, Logger: config.Logger, TempDir: spool})
	policy.service = a.Service
	a.Queue = a.newQueue()
	a.Service.SetQueueWake(a.Queue.Wake)
	// The rules' forwards go out through the same queue, from Pochta's own
	// postmaster: a bounce of a forward comes back here, never to the
	// original sender, who may be forged.
	hostname := a.Config.SMTPHostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	a.Service.SetOutbound(a.Queue, hostname)
	a.SMTP = a.newSMTPServer()
	a.Service.SetSMTPControl(smtpControl{a.SMTP})
	a.registerSMTPMetrics()
	return a, nil
}

// removeStaleSpool deletes spool files that no running process owns (a
// large message is spooled while it is received and its file removed
// after, so such a file is what a killed process left behind), and any
// older than age whatever their owner (a reused process ID).
func removeStaleSpool(dir string, age time.Duration, logger *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		logger.Warn("spool folder unreadable", "error", err)
		return
	}
	for _, entry := range entries {
		info, err := entry.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		owner := intake.SpoolOwner(entry.Name())
		if owner == os.Getpid() || (processRunning(owner) && time.Since(info.ModTime()) < age) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, entry.Name())); err != nil {
			logger.Warn("stale spool file not removed", "file", entry.Name(), "error", err)
		}
	}
}

// processRunning reports whether a process with this ID exists (0: no).
func processRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

type settingsPolicy struct{ service *service.Service }

func (p *settingsPolicy) LogPolicy(ctx context.Context) (bool, int) { return p.service.LogPolicy(ctx) }

// Close stores what the intake still holds, then closes the store.
func (a *App) Close() error { return errors.Join(a.Service.Close(), a.Store.Close()) }

// Handler is the whole HTTP surface: /healthz, /metrics, /api/v1/ and the
// web admin at /.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.Handle("GET /metrics", a.Metrics.Handler())
	mux.Handle("/api/", api.New(a.Service, a.logger))
	mux.Handle("/", web.New(a.Service, web.Options{Logger: a.logger}))
	return a.Metrics.Instrument(trustProxies(mux, a.Config.TrustedProxies))
}

// healthz answers 200 when the database answers, else 503.
func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := a.Store.Ping(ctx); err != nil {
		a.logger.Error("health check failed", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "database unavailable")
		return
	}
	fmt.Fprintln(w, "ok")
}

// Serve listens on Config.HTTPAddr and serves until ctx ends; then it stops
// accepting, lets requests in flight finish (up to 30 s) and returns nil.
// ready, when not nil, is called with the bound address once listening.
func (a *App) Serve(ctx context.Context, ready func(addr net.Addr)) error {
	listener, err := net.Listen("tcp", a.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", a.Config.HTTPAddr, err)
	}
	server := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	a.Service.SetPublicURL(cmp.Or(a.Config.PublicURL, "http://"+listener.Addr().String()))
	// Background jobs stop when Serve returns; Serve waits for them, so that
	// a fetch cut short by the stop has closed its session first (a fetch
	// stopped early loses nothing: see package fetch).
	jobs, stopJobs := context.WithCancel(context.Background())
	var running sync.WaitGroup
	defer func() {
		stopJobs()
		running.Wait()
	}()
	for _, job := range []func(context.Context){
		func(ctx context.Context) { a.WorkLog.RunPurge(ctx, 24*time.Hour) },
		func(ctx context.Context) { a.purgeSessions(ctx, time.Hour) },
		func(ctx context.Context) { a.optimizeStore(ctx, time.Hour) },
		a.Service.RunReceivers,
		a.SMTP.Run,
		a.Queue.Run,
		func(ctx context.Context) { a.runRetention(ctx, 24*time.Hour) },
		func(ctx context.Context) { a.Service.RunJobs(ctx, cmp.Or(a.Config.JobWorkers, 2)) },
		a.reindexSearch,
	} {
		running.Add(1)
		go func() {
			defer running.Done()
			job(jobs)
		}()
	}

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	a.logger.Info("pochta serving", "http", "http://"+listener.Addr().String(), "db", string(a.Store.Dialect()))
	if ready != nil {
		ready(listener.Addr())
	}
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.logger.Info("pochta stopping: finishing requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdown); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// runRetention deletes messages past their mailbox's "keep days", at start
// and then daily.
func (a *App) runRetention(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := a.Service.RunRetention(ctx); err != nil && ctx.Err() == nil {
			a.logger.Error("retention failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// reindexSearch makes the full-text entries of mail stored before the
// search learnt word forms anew, once, in the background (see
// Service.ReindexSearch); after a failure it tries again a minute later.
func (a *App) reindexSearch(ctx context.Context) {
	for {
		err := a.Service.ReindexSearch(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.logger.Error("search reindex failed", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}

func (a *App) optimizeStore(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := a.Store.Optimize(ctx); err != nil && ctx.Err() == nil {
			a.logger.Error("store optimize failed", "error", err)
		}
	}
}

func (a *App) purgeSessions(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if _, err := a.Store.PurgeSessions(ctx); err != nil && ctx.Err() == nil {
			a.logger.Error("session purge failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
