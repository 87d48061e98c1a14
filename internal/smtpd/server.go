package smtpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"pochta.dev/pochta/internal/store"
)

// Server runs one listener per active SMTP mailbox and reloads them as the
// mailboxes change. Sessions in flight keep the mailbox settings they
// started with and are not cut by a reload: closing a listener stops only
// new connections.
type Server struct {
	config   Config
	logger   *slog.Logger
	hostname string
	tls      tlsCache
	log      *logBatch

	mu        sync.Mutex
	listeners map[int64]*listener // by mailbox ID
	perIP     map[string]int
	conns     map[*conn]struct{}
	stopped   bool // stopped by hand (the panel's "stop")
	startedAt time.Time

	sessions sync.WaitGroup

	messages    atomic.Int64
	connections atomic.Int64
	open        atomic.Int64
	reload      chan struct{}
}

// New makes a server; [Server.Run] starts it.
func New(config Config) *Server {
	if config.Relay == nil {
		config.Relay = NoRelay{}
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.ReloadInterval <= 0 {
		config.ReloadInterval = 2 * time.Second
	}
	if config.IdleTimeout <= 0 {
		config.IdleTimeout = 600 * time.Second
	}
	if config.MaxErrors <= 0 {
		config.MaxErrors = 10
	}
	if config.ShutdownGrace <= 0 {
		config.ShutdownGrace = 30 * time.Second
	}
	if config.Now == nil {
		config.Now = time.Now
	}
	hostname := config.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
		if hostname == "" {
			hostname = "localhost"
		}
	}
	return &Server{
		config: config, logger: config.Logger, hostname: hostname,
		tls:       tlsCache{dataDir: config.DataDir},
		log:       newLogBatch(config.Log),
		listeners: map[int64]*listener{}, perIP: map[string]int{}, conns: map[*conn]struct{}{},
		reload: make(chan struct{}, 1),
	}
}

// Run reads the active SMTP mailboxes every ReloadInterval and keeps one
// listener on each, until ctx ends; then it closes the listeners, lets the
// sessions in DATA get their reply (see shutdown), closes the others (a
// message whose 250 was not sent is not lost: the client sends it again)
// and waits for them.
func (s *Server) Run(ctx context.Context) {
	s.mu.Lock()
	s.startedAt = s.config.Now()
	s.mu.Unlock()
	ticker := time.NewTicker(s.config.ReloadInterval)
	defer ticker.Stop()
	flushDone := make(chan struct{})
	flushCtx, stopFlush := context.WithCancel(context.Background())
	go func() { s.log.run(flushCtx); close(flushDone) }()
	for {
		s.Reload(ctx)
		select {
		case <-ctx.Done():
			s.shutdown()
			stopFlush()
			<-flushDone
			return
		case <-ticker.C:
		case <-s.reload:
		}
	}
}

// Reload applies the active SMTP mailboxes now: new ones get a listener,
// changed ones a new one when their address changed (else their new
// settings for new sessions), gone or inactive ones lose theirs.
func (s *Server) Reload(ctx context.Context) {
	mailboxes, err := s.config.Mailboxes.ActiveSMTPMailboxes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Error("smtp: reading SMTP mailboxes", "error", err)
		}
		return
	}
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	want := map[int64]store.Mailbox{}
	if !stopped {
		for _, m := range mailboxes {
			want[m.ID] = m
		}
	}
	// Close first, so that a listener moved from one mailbox to another
	// (one deactivated, one made active on its address) can bind.
	s.mu.Lock()
	var binds []*listener
	for id, l := range s.listeners {
		m, keep := want[id]
		if keep && listenAddress(m) == l.address {
			l.mailbox.Store(&m)
			if l.net == nil {
				binds = append(binds, l) // bind failed before: try again
			}
			continue
		}
		l.close()
		delete(s.listeners, id)
	}
	for id, m := range want {
		if _, ok := s.listeners[id]; !ok {
			l := &listener{server: s, address: listenAddress(m)}
			l.mailbox.Store(&m)
			s.listeners[id] = l
			binds = append(binds, l)
		}
	}
	s.mu.Unlock()
	for _, l := range binds {
		l.bind(ctx)
	}
}

// listenAddress is where an SMTP mailbox listens: "*" is every address,
// IPv4 and IPv6.
func listenAddress(m store.Mailbox) string {
	host := m.Server
	if host == "*" {
		host = ""
	}
	port := m.Port
	if port == 0 {
		port = 25
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Start and Stop are the settings panel's buttons: Stop closes every
// listener (sessions in flight finish), Start opens them again.
func (s *Server) Start() { s.setStopped(false) }

// Stop closes every listener until [Server.Start].
func (s *Server) Stop() { s.setStopped(true) }

func (s *Server) setStopped(stopped bool) {
	s.mu.Lock()
	s.stopped = stopped
	if !stopped {
		s.startedAt = s.config.Now()
	}
	s.mu.Unlock()
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// shutdown closes the listeners and the sessions without cutting a message
// on its way to its 250: a session in DATA (reading it, or waiting for the
// commit) is closed right after its reply, the others at once; after
// ShutdownGrace whatever is left is closed. A client whose message was
// committed hears 250, and one cut before it sends again: nothing lost,
// nothing stored twice.
func (s *Server) shutdown() {
	s.mu.Lock()
	for id, l := range s.listeners {
		l.close()
		delete(s.listeners, id)
	}
	for c := range s.conns {
		c.closeAfter.Store(true)
		if !c.busy.Load() {
			c.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(done)
	}()
	grace := time.NewTimer(s.config.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		s.closeAll()
		<-done
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, l := range s.listeners {
		l.close()
		delete(s.listeners, id)
	}
	for c := range s.conns {
		c.Close()
	}
}

// Status is the SMTP panel and GET /api/v1/smtp/status.
type Status struct {
	Running          bool             `json:"running"`
	StartedAt        time.Time        `json:"started_at"`
	MessagesReceived int64            `json:"messages_received"`
	ConnectionsTotal int64            `json:"connections_total"`
	ConnectionsNow   int64            `json:"connections_now"`
	Listeners        []ListenerStatus `json:"listeners"`
}

// ListenerStatus is one listener's row.
type ListenerStatus struct {
	MailboxID        int64     `json:"mailbox_id"`
	Mailbox          string    `json:"mailbox"`
	Address          string    `json:"address"`
	Listening        bool      `json:"listening"`
	Error            string    `json:"error,omitempty"`
	StartedAt        time.Time `json:"started_at"`
	MessagesReceived int64     `json:"messages_received"`
	ConnectionsTotal int64     `json:"connections_total"`
	ConnectionsNow   int64     `json:"connections_now"`
}

// Status says what the server is doing.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Running: !s.stopped && !s.startedAt.IsZero(), StartedAt: s.startedAt, MessagesReceived: s.messages.Load(),
		ConnectionsTotal: s.connections.Load(), ConnectionsNow: s.open.Load(), Listeners: []ListenerStatus{}}
	for _, l := range s.listeners {
		m := l.mailbox.Load()
		row := ListenerStatus{MailboxID: m.ID, Mailbox: m.Name, Address: l.address, Listening: l.net != nil,
			StartedAt: l.startedAt, MessagesReceived: l.messages.Load(), ConnectionsTotal: l.connections.Load(), ConnectionsNow: l.open.Load()}
		if l.err != nil {
			row.Error = l.err.Error()
		}
		st.Listeners = append(st.Listeners, row)
	}
	return st
}

// listener is one SMTP mailbox's socket.
type listener struct {
	server  *Server
	address string
	mailbox atomic.Pointer[store.Mailbox] // the settings new sessions take

	// guarded by server.mu
	net       net.Listener
	err       error
	startedAt time.Time
	closed    bool

	messages    atomic.Int64
	connections atomic.Int64
	open        atomic.Int64
}

// bind opens the socket; a port that cannot be bound is an error on the
// mailbox (and in the status), tried again at the next reload.
func (l *listener) bind(ctx context.Context) {
	s := l.server
	ln, err := listenConfig.Listen(ctx, "tcp", l.address)
	m := l.mailbox.Load()
	s.mu.Lock()
	if l.closed {
		s.mu.Unlock()
		if ln != nil {
			ln.Close()
		}
		return
	}
	previous := l.err
	l.err = err
	if err == nil {
		l.net, l.startedAt = ln, s.config.Now()
	}
	s.mu.Unlock()
	if err != nil {
		if previous == nil || previous.Error() != err.Error() {
			s.logger.Error("smtp: cannot listen", "mailbox", m.ID, "address", l.address, "error", err)
			s.config.Mailboxes.ListenerError(ctx, m.ID, fmt.Errorf("cannot listen on %s: %w", l.address, unwrapOp(err)))
		}
		return
	}
	if previous != nil || m.LastError != "" {
		s.config.Mailboxes.ListenerError(ctx, m.ID, nil)
	}
	s.logger.Info("smtp: listening", "mailbox", m.ID, "address", ln.Addr().String())
	go l.accept(ln)
}

// listenConfig sets SO_REUSEPORT, so that the Pochta processes of one
// machine that share a database (each runs every active SMTP mailbox's
// listener) share its port, the kernel spreading the connections among
// them; Linux lets only processes of the same user join such a port, and a
// socket of another program without the option still makes the bind fail
// (an error on the mailbox).
var listenConfig = net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); cerr != nil {
		return cerr
	}
	return err
}}

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Addr is where the listener of a mailbox is bound (nil: it is not).
func (s *Server) Addr(mailboxID int64) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.listeners[mailboxID]; l != nil && l.net != nil {
		return l.net.Addr()
	}
	return nil
}

func (l *listener) close() {
	l.closed = true
	if l.net != nil {
		l.net.Close()
		l.net = nil
	}
}

func (l *listener) accept(ln net.Listener) {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			l.server.logger.Error("smtp: accept", "address", l.address, "error", err)
			return
		}
		delay = 0
		l.server.sessions.Add(1)
		go func() {
			defer l.server.sessions.Done()
			l.server.serve(l, c)
		}()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// conn is a client's connection as go-smtp sees it (under TLS, when there
// is TLS). It moves the read deadline forward on every read that brings
// bytes, so that the idle timeout, which go-smtp sets once per command
// line, does not cut a DATA that is slow but moving; and it can close
// itself after the next reply (a 421).
type conn struct {
	net.Conn
	idle       time.Duration
	closeAfter atomic.Bool
	// busy: in DATA, from its start to the reply (see Server.shutdown).
	busy      atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}
}

func newConn(c net.Conn, idle time.Duration) *conn {
	return &conn{Conn: c, idle: idle, closed: make(chan struct{})}
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return n, err
}

// Write sends one reply (go-smtp writes one per Write). A 354 starts DATA
// for the client before go-smtp calls the session's Data, so it makes the
// connection busy before it is sent: a shutdown that finds it so waits for
// the message's reply, and one that came first has closed the connection,
// so that the 354 is never seen. Any other reply ends a DATA, and closes
// the connection after it if a shutdown or a 421 asked for that.
//
// After STARTTLS go-smtp writes through a TLS connection made over this
// one, so the bytes here are TLS records and no 354 is seen: such a
// session is busy from the session's Data on, and a shutdown in the
// microseconds between the 354 and Data closes it with the message
// unsent. Nothing is lost (no 250 was given: the client sends it again);
// the plain-text case is the one a test can hold to the exact moment.
func (c *conn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("354")) {
		c.busy.Store(true)
		return c.Conn.Write(p)
	}
	n, err := c.Conn.Write(p)
	c.busy.Store(false)
	if c.closeAfter.Load() {
		c.Close()
	}
	return n, err
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		close(c.closed)
	})
	return err
}

// oneConn is a listener that gives go-smtp one connection and then waits
// until that connection is closed: each session gets a go-smtp Server of its
// own, with the limits of its mailbox and the settings of the moment, and
// its own smuggling scanner as the Debug tee.
type oneConn struct {
	c     *conn
	taken bool
}

func (l *oneConn) Accept() (net.Conn, error) {
	if !l.taken {
		l.taken = true
		return l.c, nil
	}
	<-l.c.closed
	return nil, net.ErrClosed
}

func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return l.c.LocalAddr() }
