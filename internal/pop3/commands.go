package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Capabilities are the server's CAPA lines (RFC 2449): the upper-cased tag
// to its arguments, e.g. "SASL" -> ["PLAIN", "LOGIN"]. Empty when the server
// has no CAPA. Treat it as read-only.
type Capabilities map[string][]string

// Has reports whether the capability tag (case-insensitive) is listed.
func (c Capabilities) Has(tag string) bool {
	_, ok := c[strings.ToUpper(tag)]
	return ok
}

// Args returns the arguments of the capability tag.
func (c Capabilities) Args(tag string) []string {
	return c[strings.ToUpper(tag)]
}

// HasSASL reports whether the SASL mechanism is listed under SASL.
func (c Capabilities) HasSASL(mech string) bool {
	for _, m := range c["SASL"] {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// Capabilities returns the server's capabilities, asking with CAPA once per
// state (they are read again after STLS and login). A server without CAPA
// (-ERR) gives empty Capabilities and no error.
func (c *Client) Capabilities(ctx context.Context) (caps Capabilities, err error) {
	if c.capsKnown && c.broken == nil {
		return c.caps, nil
	}
	o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = o.end(err) }()
	return c.capa()
}

// capa is Capabilities within an operation.
func (c *Client) capa() (Capabilities, error) {
	if c.capsKnown {
		return c.caps, nil
	}
	caps := Capabilities{}
	if _, err := c.cmd("CAPA"); err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			return nil, err
		}
	} else if err := c.readLines(func(line []byte) error {
		f := strings.Fields(string(line))
		if len(f) > 0 {
			caps[strings.ToUpper(f[0])] = f[1:]
		}
		return nil
	}); err != nil {
		return nil, err
	}
	c.caps, c.capsKnown = caps, true
	return caps, nil
}

// Stat returns the number of messages and their total size in octets.
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	o, err := c.begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = o.end(err) }()
	r, err := c.cmd("STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(r.text)
	if len(f) < 2 {
		return 0, 0, c.fail(protocolErrorf("STAT reply %q", clip(r.text, 80)))
	}
	count, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || count < 0 || size < 0 {
		return 0, 0, c.fail(protocolErrorf("STAT reply %q", clip(r.text, 80)))
	}
	return count, size, nil
}

// MessageSize is a line of LIST.
type MessageSize struct {
	Number int   // message number in this session, from 1
	Size   int64 // octets, as the server counts them
}

// MessageUID is a line of UIDL.
type MessageUID struct {
	Number int    // message number in this session, from 1
	UID    string // unique id, as sent; duplicates are returned as they are
}

// List returns the number and size of every message.
func (c *Client) List(ctx context.Context) (list []MessageSize, err error) {
	o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = o.end(err) }()
	if _, err := c.cmd("LIST"); err != nil {
		return nil, err
	}
	err = c.readLines(func(line []byte) error {
		num, rest, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
		n, err1 := strconv.Atoi(num)
		f := strings.Fields(rest)
		if !ok || err1 != nil || n <= 0 || len(f) == 0 {
			return protocolErrorf("LIST line %q", clip(string(line), 80))
		}
		size, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || size < 0 {
			return protocolErrorf("LIST line %q", clip(string(line), 80))
		}
		list = append(list, MessageSize{Number: n, Size: size})
		return nil
	})
	return list, err
}

// UIDL returns the unique id of every message. A server without UIDL gives
// an error wrapping ErrNoUIDL.
func (c *Client) UIDL(ctx context.Context) (list []MessageUID, err error) {
	o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = o.end(err) }()
	caps, err := c.capa()
	if err != nil {
		return nil, err
	}
	if _, err := c.cmd("UIDL"); err != nil {
		var pe *Error
		if errors.As(err, &pe) && !caps.Has("UIDL") {
			return nil, fmt.Errorf("%w: %w", ErrNoUIDL, err)
		}
		return nil, err
	}
	err = c.readLines(func(line []byte) error {
		f := strings.Fields(string(line))
		n, err := strconv.Atoi(f0(f))
		if err != nil || n <= 0 || len(f) < 2 {
			return protocolErrorf("UIDL line %q", clip(string(line), 80))
		}
		list = append(list, MessageUID{Number: n, UID: f[1]})
		return nil
	})
	return list, err
}

func f0(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Retr retrieves message n. The reader streams the message as sent, with
// the dot-stuffing removed and CRLF line endings kept; it returns io.EOF
// only after the whole message. An error while reading (a dropped
// connection gives io.ErrUnexpectedEOF) closes the connection: the data read
// so far is incomplete. Read it to the end or Close it (which reads and
// discards the rest) before the next command.
func (c *Client) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	return c.body(ctx, "RETR "+strconv.Itoa(n))
}

// Top retrieves the header of message n and the first lines of its body
// (RFC 1939 TOP), as a stream like Retr's.
func (c *Client) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	return c.body(ctx, "TOP "+strconv.Itoa(n)+" "+strconv.Itoa(lines))
}

func (c *Client) body(ctx context.Context, command string) (io.ReadCloser, error) {
	o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.cmd(command); err != nil {
		return nil, o.end(err)
	}
	m := c.newMsgReader(command)
	m.op = o
	return m, nil
}

// msgReader is the body of a RETR or TOP reply.
type msgReader struct {
	c       *Client
	command string
	d       *dotReader
	op      *op // ended with the body; nil inside a pipeline
	done    bool
	err     error // io.EOF after a complete body
}

func (c *Client) newMsgReader(command string) *msgReader {
	m := &msgReader{c: c, command: command, d: newDotReader(c.br, c.opts.MaxMessageLine)}
	c.open = m
	return m
}

func (m *msgReader) Read(p []byte) (int, error) {
	if m.done {
		return 0, m.err
	}
	n, err := m.d.Read(p)
	if err != nil {
		m.finish(err)
		return n, m.err
	}
	return n, nil
}

func (m *msgReader) finish(err error) {
	m.done = true
	c := m.c
	if c.open == m {
		c.open = nil
	}
	if err == io.EOF {
		m.err = io.EOF
		if c.opts.Trace != nil {
			c.trace(TraceRecv, fmt.Sprintf(". (%d octets)", m.d.n))
		}
	} else {
		m.err = fmt.Errorf("%s: %w", m.command, c.fail(err))
	}
	if m.op != nil {
		if err := m.op.end(nil); err != nil && m.err == io.EOF {
			m.err = err
		}
		if m.err != io.EOF {
			m.err = c.wrap(m.err)
		}
	}
}

// Close reads and discards the rest of the message. It returns nil when the
// whole message was read, else the error that stopped it.
func (m *msgReader) Close() error {
	if !m.done {
		io.Copy(io.Discard, m)
	}
	if m.err == io.EOF {
		return nil
	}
	return m.err
}

// Dele marks message n for deletion; the server deletes it at Quit.
func (c *Client) Dele(ctx context.Context, n int) error {
	return c.simple(ctx, "DELE "+strconv.Itoa(n))
}

// Noop does nothing; it keeps the session alive or checks it.
func (c *Client) Noop(ctx context.Context) error {
	return c.simple(ctx, "NOOP")
}

// Rset unmarks messages marked for deletion.
func (c *Client) Rset(ctx context.Context) error {
	return c.simple(ctx, "RSET")
}

func (c *Client) simple(ctx context.Context, command string) (err error) {
	o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { err = o.end(err) }()
	_, err = c.cmd(command)
	return err
}

// Quit ends the session: the server deletes the messages marked with DELE
// (a -ERR reply means it could not) and the connection is closed.
func (c *Client) Quit(ctx context.Context) (err error) {
	o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		err = o.end(err)
		c.Close()
	}()
	_, err = c.cmd("QUIT")
	return err
}
