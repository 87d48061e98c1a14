// Package pop3 is Pochta's POP3 client: RFC 1939 with the extensions of
// RFC 2449 (CAPA, PIPELINING, UIDL, RESP-CODES), RFC 2595 (STLS) and RFC 5034
// (AUTH PLAIN), over plain TCP, STLS or implicit TLS.
//
// A [Client] is made with [Dial], which connects, reads the greeting and,
// for security "starttls", upgrades the connection (failing with [ErrNoSTLS]
// when the server does not offer it). [Client.Auth] logs in with APOP,
// USER/PASS or SASL PLAIN. Messages are read as streams: [Client.Retr]
// returns a reader of the dot-unstuffed message with its CRLF line endings,
// and [Client.RetrPipelined] fetches many messages with one round trip per
// window of commands when the server offers PIPELINING, so a 100 MB message
// never sits in memory and a large mailbox is not bound by round trips.
//
// Every operation takes a context: cancelling it (or its deadline) closes the
// connection. Each I/O step is limited by [Options.Timeout] ([ErrTimeout]).
// Lines are capped ([ErrLineTooLong]). A -ERR reply is an [*Error] with the
// RESP-CODE and a Temporary flag, so retry decisions are mechanical (see
// also [IsTemporary]); such errors leave the session usable, while I/O and
// protocol errors close it. [Options.Trace] sees the connect, every command
// (passwords and APOP digests masked) and reply, and errors, for the work log.
//
// A Client is not safe for concurrent use.
package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"pochta.dev/pochta/internal/protoline"
)

// Security values for [Options.Security].
const (
	SecurityNone     = "none"     // plain TCP
	SecurityTLS      = "tls"      // implicit TLS (usually port 995)
	SecurityStartTLS = "starttls" // plain TCP upgraded with STLS; required
)

// Defaults for zero [Options] fields.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxReplyLine   = 64 << 10 // bytes in a reply line
	DefaultMaxMessageLine = 1 << 20  // bytes in a line of a message
	DefaultWindow         = 32       // commands in flight for RetrPipelined
)

// Dialer opens network connections; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configure a [Client]. The zero value is usable: plain TCP, 30 s
// per I/O step, certificates verified.
type Options struct {
	// Security is SecurityNone ("" means the same), SecurityTLS or
	// SecurityStartTLS.
	Security string
	// TLSConfig is cloned for TLS; nil means a default configuration.
	// When its ServerName is empty, the host of the address is used.
	TLSConfig *tls.Config
	// InsecureSkipVerify turns certificate verification off (the mailbox
	// setting "don't verify the certificate").
	InsecureSkipVerify bool
	// Timeout limits each I/O step: connecting, the TLS handshake, each
	// write and each read from the connection. Zero means DefaultTimeout;
	// negative means no limit.
	Timeout time.Duration
	// Trace, when set, is called with TraceConnect, TraceSend, TraceRecv or
	// TraceError and a line. Secrets are masked ("PASS ***"). Message
	// bodies and multi-line listings are summarised, not traced.
	Trace func(direction, line string)
	// Dialer opens the TCP connection; nil means a net.Dialer.
	Dialer Dialer
	// MaxReplyLine caps the length of a status or listing line (zero means
	// DefaultMaxReplyLine).
	MaxReplyLine int
	// MaxMessageLine caps the length of a line inside a message (zero means
	// DefaultMaxMessageLine). Real mail has long lines; a longer one fails
	// with ErrLineTooLong.
	MaxMessageLine int
}

func (o Options) withDefaults() (Options, error) {
	switch o.Security {
	case "":
		o.Security = SecurityNone
	case SecurityNone, SecurityTLS, SecurityStartTLS:
	default:
		return o, fmt.Errorf("%w: security %q (want none, tls or starttls)", ErrUnsupported, o.Security)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxReplyLine <= 0 {
		o.MaxReplyLine = DefaultMaxReplyLine
	}
	if o.MaxMessageLine <= 0 {
		o.MaxMessageLine = DefaultMaxMessageLine
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{}
	}
	return o, nil
}

func (o Options) tlsConfig(addr string) *tls.Config {
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	if o.InsecureSkipVerify {
		cfg.InsecureSkipVerify = true
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// Client is a POP3 session. Make one with [Dial]; end it with [Client.Quit]
// (which commits deletions) or [Client.Close].
type Client struct {
	addr string
	opts Options

	raw  net.Conn // the TCP connection (with per-step deadlines); closing it ends everything
	conn net.Conn // raw, or TLS over raw
	br   *bufio.Reader
	bw   *bufio.Writer

	greeting  string
	timestamp string // APOP timestamp from the greeting, with its brackets
	tls       bool
	caps      Capabilities
	capsKnown bool

	broken error           // why the connection is unusable; nil while it is fine
	open   *msgReader      // an unfinished Retr/Top body
	ctx    context.Context // the context of the operation in progress
}

const bufSize = 64 << 10

// Dial connects to addr (host:port), reads the greeting and, for
// SecurityStartTLS, upgrades with STLS. The client is then in the
// AUTHORIZATION state: call [Client.Auth].
func Dial(ctx context.Context, addr string, options Options) (*Client, error) {
	opts, err := options.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pop3 %s: %w", addr, err)
	}
	c := &Client{addr: addr, opts: opts}
	if err := c.dial(ctx); err != nil {
		c.trace(TraceError, err.Error())
		return nil, c.wrap(err)
	}
	if opts.Security == SecurityStartTLS {
		if err := c.StartTLS(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Client) dial(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dctx := ctx
	if c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	c.trace(TraceConnect, c.addr+" ("+c.opts.Security+")")
	conn, err := c.opts.Dialer.DialContext(dctx, "tcp", c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isTimeout(err) || errors.Is(dctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: connect: %v", ErrTimeout, err)
		}
		return err
	}
	c.raw = &deadlineConn{Conn: conn, timeout: c.opts.Timeout}
	c.conn = c.raw
	if c.opts.Security == SecurityTLS {
		if err := c.handshake(ctx); err != nil {
			c.raw.Close()
			return err
		}
	} else {
		c.setConn(c.raw)
	}
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	defer stop()
	c.ctx = ctx
	line, err := readLine(c.br, c.opts.MaxReplyLine)
	if err != nil {
		err = c.mapIOError(unexpected(err))
		c.raw.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	c.greeting = string(line)
	c.trace(TraceRecv, c.greeting)
	r, err := parseReply(c.greeting)
	if err == nil && !r.ok {
		err = newError("greeting", c.greeting, r.code)
	}
	if err != nil {
		c.raw.Close()
		return err
	}
	c.timestamp = apopTimestamp(r.text)
	return nil
}

// handshakeError is a failed TLS handshake: [ErrTLS] and crypto/tls's
// error, said once ("tls: failed to verify certificate: ..."), not as
// "tls: tls: ..." — crypto/tls starts its own errors with "tls: ".
type handshakeError struct{ err error }

func (e handshakeError) Error() string {
	if text := e.err.Error(); strings.HasPrefix(text, ErrTLS.Error()+": ") {
		return text
	}
	return ErrTLS.Error() + ": " + e.err.Error()
}

func (e handshakeError) Unwrap() []error { return []error{ErrTLS, e.err} }

// handshake runs a TLS handshake over c.raw and switches to it.
func (c *Client) handshake(ctx context.Context) error {
	tc := tls.Client(c.raw, c.opts.tlsConfig(c.addr))
	if err := tc.HandshakeContext(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isTimeout(err) {
			return fmt.Errorf("%w: %w: handshake: %v", ErrTLS, ErrTimeout, err)
		}
		return handshakeError{err}
	}
	st := tc.ConnectionState()
	c.trace(TraceConnect, fmt.Sprintf("TLS %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)))
	c.tls = true
	c.setConn(tc)
	return nil
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	c.br = bufio.NewReaderSize(conn, bufSize)
	c.bw = bufio.NewWriterSize(conn, 4<<10)
}

// apopTimestamp returns the "<...>" timestamp in the greeting text, or "".
func apopTimestamp(text string) string {
	start := strings.IndexByte(text, '<')
	if start < 0 {
		return ""
	}
	end := strings.IndexByte(text[start:], '>')
	if end < 2 {
		return ""
	}
	ts := text[start : start+end+1]
	for i := 1; i < len(ts)-1; i++ {
		if b := ts[i]; b <= ' ' || b >= 0x7f || b == '<' {
			return ""
		}
	}
	return ts
}

// Greeting returns the server's greeting line.
func (c *Client) Greeting() string { return c.greeting }

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tls }

// ConnectionState returns the TLS state; ok is false without TLS.
func (c *Client) ConnectionState() (state tls.ConnectionState, ok bool) {
	if tc, isTLS := c.conn.(*tls.Conn); isTLS {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Close closes the connection without QUIT: deletions are not committed.
// It is safe to call more than once and after Quit.
func (c *Client) Close() error {
	if c.broken == nil {
		c.broken = ErrClosed
	}
	if c.open != nil && c.open.op != nil {
		c.open.op.stop()
	}
	c.open = nil
	return c.raw.Close()
}

// StartTLS upgrades the connection with STLS (RFC 2595). [Dial] calls it
// for SecurityStartTLS. It fails with ErrNoSTLS when CAPA does not list
// STLS (without CAPA, STLS is tried). Capabilities are read again after the
// upgrade.
func (c *Client) StartTLS(ctx context.Context) (err error) {
	if c.tls {
		return c.wrap(fmt.Errorf("%w: STLS on a TLS connection", ErrUnsupported))
	}
	o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { err = o.end(err) }()
	caps, err := c.capa()
	if err != nil {
		return err
	}
	if len(caps) > 0 && !caps.Has("STLS") {
		return ErrNoSTLS
	}
	if _, err := c.cmd("STLS"); err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %w", ErrNoSTLS, err)
		}
		return err
	}
	if c.br.Buffered() > 0 {
		// Data sent before the handshake could be an injection attack.
		return c.fail(protocolErrorf("data after STLS reply"))
	}
	if err := c.handshake(ctx); err != nil {
		c.fail(err)
		return err
	}
	c.caps, c.capsKnown = nil, false
	return nil
}

// op is an operation in progress: while it runs, cancelling its context
// closes the connection.
type op struct {
	c    *Client
	ctx  context.Context
	stop func() bool
}

// begin starts an operation: it checks the client is usable and arranges
// for ctx to close the connection. The operation's end must be called with
// its result, once.
func (c *Client) begin(ctx context.Context) (*op, error) {
	if c.broken != nil {
		if c.broken == ErrClosed {
			return nil, c.wrap(ErrClosed)
		}
		return nil, c.wrap(fmt.Errorf("%w after: %w", ErrClosed, c.broken))
	}
	if c.open != nil {
		return nil, c.wrap(ErrBusy)
	}
	if err := ctx.Err(); err != nil {
		return nil, c.wrap(err)
	}
	c.ctx = ctx
	return &op{c: c, ctx: ctx, stop: context.AfterFunc(ctx, func() { c.raw.Close() })}, nil
}

// end finishes the operation and wraps err with the address.
func (o *op) end(err error) error {
	c := o.c
	if !o.stop() && c.broken == nil {
		// The context ended as the operation finished: the connection is closed.
		c.fail(o.ctx.Err())
	}
	if err != nil {
		return c.wrap(err)
	}
	return nil
}

func (c *Client) wrap(err error) error {
	return fmt.Errorf("pop3 %s: %w", c.addr, err)
}

// fail marks the connection unusable because of err (an I/O or protocol
// error), closes it, traces the error and returns err, mapped to the
// context's error or ErrTimeout where that is the cause.
func (c *Client) fail(err error) error {
	err = c.mapIOError(err)
	if c.broken == nil {
		c.broken = err
		c.raw.Close()
		c.trace(TraceError, err.Error())
	}
	return err
}

func (c *Client) mapIOError(err error) error {
	if c.ctx != nil && c.ctx.Err() != nil && !errors.Is(err, c.ctx.Err()) {
		return c.ctx.Err()
	}
	if isTimeout(err) && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w: nothing for %v: %v", ErrTimeout, c.opts.Timeout, err)
	}
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// send writes a command line to the buffer (not flushed) and traces it.
func (c *Client) send(line string) error {
	if c.opts.Trace != nil {
		return c.sendShown(line, maskCommand(line))
	}
	return c.sendShown(line, "")
}

// sendShown is send with the line to trace given. A line with CR, LF or
// NUL inside is refused before it is written, whatever command builds it
// (see package protoline); the session stays usable unless commands of a
// pipeline were already buffered, which would now be out of step.
func (c *Client) sendShown(line, shown string) error {
	if c.broken != nil {
		return c.broken
	}
	if err := protoline.Check("command", line); err != nil {
		if c.bw.Buffered() > 0 {
			return c.fail(err)
		}
		return err
	}
	c.trace(TraceSend, shown)
	c.bw.WriteString(line)
	if _, err := c.bw.WriteString("\r\n"); err != nil {
		return c.fail(err)
	}
	return nil
}

func (c *Client) flush() error {
	if c.broken != nil {
		return c.broken
	}
	if err := c.bw.Flush(); err != nil {
		return c.fail(err)
	}
	return nil
}

// readReply reads a status line. -ERR gives an *Error for command; I/O and
// protocol errors close the connection.
func (c *Client) readReply(command string) (reply, error) {
	if c.broken != nil {
		return reply{}, c.broken
	}
	line, err := readLine(c.br, c.opts.MaxReplyLine)
	if err != nil {
		return reply{}, c.fail(unexpected(err))
	}
	s := string(line)
	c.trace(TraceRecv, s)
	r, err := parseReply(s)
	if err != nil {
		return reply{}, c.fail(err)
	}
	if !r.ok && !r.cont {
		return r, newError(maskCommand(command), s, r.code)
	}
	return r, nil
}

// cmd sends one command, flushes and reads its status line; a continuation
// is a protocol error.
func (c *Client) cmd(line string) (reply, error) {
	if err := c.send(line); err != nil {
		return reply{}, err
	}
	if err := c.flush(); err != nil {
		return reply{}, err
	}
	r, err := c.readReply(line)
	if err == nil && r.cont {
		return r, c.fail(protocolErrorf("unexpected continuation after %s", maskCommand(line)))
	}
	return r, err
}

// readLines reads a multi-line listing, calling fn for each line, and traces
// a summary.
func (c *Client) readLines(fn func(line []byte) error) error {
	n, err := readMultiLine(c.br, c.opts.MaxReplyLine, fn)
	if err != nil {
		return c.fail(err)
	}
	if c.opts.Trace != nil {
		c.trace(TraceRecv, fmt.Sprintf(". (%d lines)", n))
	}
	return nil
}

// deadlineConn sets a deadline before each read and write, so that every
// I/O step is limited to timeout.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	if d.timeout > 0 {
		d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	}
	return d.Conn.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return d.Conn.Write(p)
}
