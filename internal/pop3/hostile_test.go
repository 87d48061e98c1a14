package pop3

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A hostile in-process server for what Dovecot will not do. Each test gives
// a script that plays the server side of one connection.

type fakeConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// fakeServer listens on 127.0.0.1, runs script on the first connection in
// a goroutine and returns the address. The test waits for the script at
// cleanup (clients made after fakeServer are closed first).
func fakeServer(t *testing.T, script func(f *fakeConn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		script(&fakeConn{t: t, c: c, r: bufio.NewReader(c)})
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// send writes lines, each ended with CRLF.
func (f *fakeConn) send(lines ...string) {
	for _, l := range lines {
		if _, err := io.WriteString(f.c, l+"\r\n"); err != nil {
			return
		}
	}
}

// read returns the next command line, or "" at the end of the connection.
func (f *fakeConn) read() string {
	line, err := f.r.ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimRight(line, "\r\n")
}

// expect reads a command and reports an error unless it is want.
func (f *fakeConn) expect(want string) bool {
	got := f.read()
	if got != want {
		f.t.Errorf("server: got command %q, want %q", got, want)
		return false
	}
	return true
}

// login plays the greeting and USER/PASS.
func (f *fakeConn) login() bool {
	f.send("+OK fake POP3 ready")
	if !f.expect("USER u") {
		return false
	}
	f.send("+OK")
	if !f.expect("PASS p") {
		return false
	}
	f.send("+OK logged in")
	return true
}

// capa answers CAPA with the given capabilities; nil means -ERR.
func (f *fakeConn) capa(caps []string) bool {
	if !f.expect("CAPA") {
		return false
	}
	if caps == nil {
		f.send("-ERR unknown command")
		return true
	}
	f.send("+OK")
	f.send(caps...)
	f.send(".")
	return true
}

// waitClose reads until the client closes the connection.
func (f *fakeConn) waitClose() {
	io.Copy(io.Discard, f.r)
}

// quiet reports whether nothing arrives from the client for a moment: the
// client must not send a command before the reply to the previous one when
// the server does not offer PIPELINING.
func (f *fakeConn) quiet() bool {
	f.c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	defer f.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := f.r.Peek(1)
	return err != nil
}

func fakeClient(t *testing.T, addr string, opts Options) *Client {
	t.Helper()
	c := dial(t, addr, opts)
	login(t, c, "u", "p", AuthUser)
	return c
}

// fakeMessage is a message as sent (dot-stuffed); fakeMessageData is what
// the client gives back.
const (
	fakeMessage     = "Subject: hi\r\n\r\n..dot\r\nbody\r\n"
	fakeMessageData = "Subject: hi\r\n\r\n.dot\r\nbody\r\n"
)

func TestHostileGreeting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		greeting string
		want     error // errors.Is target; nil means an *Error
		temp     bool
	}{
		{"Garbage", "HELLO THERE", ErrProtocol, false},
		{"Empty", "", ErrProtocol, false},
		{"Binary", "\x00\xff\xfe+OK", ErrProtocol, false},
		{"IMAP", "* OK IMAP4rev1 ready", ErrProtocol, false},
		{"SSH", "SSH-2.0-OpenSSH_9.2p1 secret-banner", ErrProtocol, false},
		{"OKAYish", "+OKAY", ErrProtocol, false},
		{"ERRTemp", "-ERR [SYS/TEMP] overloaded", nil, true},
		{"ERRPerm", "-ERR [SYS/PERM] go away", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, func(f *fakeConn) {
				f.send(tc.greeting)
				f.waitClose()
			})
			_, err := Dial(t.Context(), addr, Options{})
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Dial: %v, want %v", err, tc.want)
				}
			} else {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("Dial: %v, want *Error", err)
				}
			}
			if IsTemporary(err) != tc.temp {
				t.Errorf("IsTemporary(%v) = %v", err, !tc.temp)
			}
			// Another service's banner is not told back to whoever asked
			// for the connection (a port scan through "Test connection").
			if tc.want == ErrProtocol && tc.greeting != "" && strings.Contains(err.Error(), tc.greeting[:4]) {
				t.Errorf("Dial: %q quotes the greeting %q", err, tc.greeting)
			}
		})
	}
}

func TestHostileAuthErrors(t *testing.T) {
	for _, tc := range []struct {
		reply string
		code  string
		temp  bool
	}{
		{"-ERR [IN-USE] Mailbox locked by another session", "IN-USE", true},
		{"-ERR [LOGIN-DELAY] Wait 5 minutes", "LOGIN-DELAY", true},
		{"-ERR [SYS/TEMP] Try later", "SYS/TEMP", true},
		{"-ERR [SYS/TEMP/DISK] disk full", "SYS/TEMP/DISK", true},
		{"-ERR [SYS/PERM] Account disabled", "SYS/PERM", false},
		{"-ERR [AUTH] Authentication failed.", "AUTH", false},
		{"-ERR wrong password", "", false},
		{"-ERR [in-use] lower case", "IN-USE", true},
		{"-ERR [] empty", "", false},
		{"-ERR", "", false},
	} {
		t.Run(tc.reply, func(t *testing.T) {
			addr := fakeServer(t, func(f *fakeConn) {
				f.send("+OK ready")
				f.expect("USER u")
				f.send("+OK")
				f.expect("PASS p")
				f.send(tc.reply)
				f.waitClose()
			})
			c := dial(t, addr, Options{})
			err := c.Auth(t.Context(), "u", "p", AuthUser)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Auth: %v, want *Error", err)
			}
			if pe.Code != tc.code || pe.Temporary != tc.temp || IsTemporary(err) != tc.temp {
				t.Errorf("Auth: %+v, want code %q temporary %v", pe, tc.code, tc.temp)
			}
			if pe.Command != "PASS ***" || pe.Line != tc.reply {
				t.Errorf("Auth: command %q line %q", pe.Command, pe.Line)
			}
		})
	}
}

func TestHostileDropMidRetr(t *testing.T) {
	script := func(f *fakeConn) {
		if !f.login() {
			return
		}
		f.capa([]string{"PIPELINING", "UIDL"})
		for {
			cmd := f.read()
			switch {
			case cmd == "":
				return
			case cmd == "CAPA":
				f.send("+OK", "PIPELINING", ".")
			case cmd == "RETR 1":
				f.send("+OK", fakeMessage[:len(fakeMessage)-2], ".") // complete
			case strings.HasPrefix(cmd, "RETR"):
				io.WriteString(f.c, "+OK\r\nSubject: half\r\n\r\nthe first half of a lo")
				return // drop the connection
			}
		}
	}

	t.Run("Retr", func(t *testing.T) {
		addr := fakeServer(t, script)
		c := fakeClient(t, addr, Options{})
		ctx := t.Context()
		c.Capabilities(ctx) // the script expects CAPA first
		r, err := c.Retr(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reading a dropped message: %v, want io.ErrUnexpectedEOF", err)
		}
		if !strings.HasPrefix("Subject: half\r\n\r\nthe first half of a lo", string(b)) {
			t.Errorf("partial data %q", b)
		}
		if err := r.Close(); err == nil {
			t.Error("Close of a dropped message: nil error")
		}
		if err := c.Noop(ctx); !errors.Is(err, ErrClosed) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("NOOP after the drop: %v, want ErrClosed wrapping io.ErrUnexpectedEOF", err)
		}
	})

	t.Run("RetrPipelined", func(t *testing.T) {
		addr := fakeServer(t, script)
		c := fakeClient(t, addr, Options{})
		var complete []int
		err := c.RetrPipelined(t.Context(), []int{1, 2, 3}, 8, func(n int, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err == nil {
				if n != 1 || string(b) != fakeMessageData {
					t.Errorf("message %d: %q", n, b)
				}
				complete = append(complete, n)
			}
			return nil // a careless handler: RetrPipelined must still fail
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("RetrPipelined: %v, want io.ErrUnexpectedEOF", err)
		}
		if len(complete) != 1 {
			t.Errorf("complete messages %v, want [1]", complete)
		}
	})
}

func TestHostileStall(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name   string
		script func(f *fakeConn)
		run    func(ctx context.Context, addr string) error
	}{
		{"Greeting", func(f *fakeConn) { f.waitClose() }, func(ctx context.Context, addr string) error {
			_, err := Dial(ctx, addr, Options{Timeout: timeout})
			return err
		}},
		{"HalfGreeting", func(f *fakeConn) { io.WriteString(f.c, "+OK rea"); f.waitClose() }, func(ctx context.Context, addr string) error {
			_, err := Dial(ctx, addr, Options{Timeout: timeout})
			return err
		}},
		{"TLSHandshake", func(f *fakeConn) { f.waitClose() }, func(ctx context.Context, addr string) error {
			_, err := Dial(ctx, addr, Options{Timeout: timeout, Security: SecurityTLS})
			return err
		}},
		{"MidRetr", func(f *fakeConn) {
			f.login()
			f.expect("RETR 1")
			io.WriteString(f.c, "+OK\r\nSubject: slow\r\n\r\nbody")
			f.waitClose()
		}, func(ctx context.Context, addr string) error {
			c, err := Dial(ctx, addr, Options{Timeout: timeout})
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Auth(ctx, "u", "p", AuthUser); err != nil {
				return err
			}
			r, err := c.Retr(ctx, 1)
			if err != nil {
				return err
			}
			_, err = io.ReadAll(r)
			return err
		}},
		{"Pipelined", func(f *fakeConn) {
			f.login()
			f.capa([]string{"PIPELINING"})
			f.waitClose()
		}, func(ctx context.Context, addr string) error {
			c, err := Dial(ctx, addr, Options{Timeout: timeout})
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Auth(ctx, "u", "p", AuthUser); err != nil {
				return err
			}
			return c.RetrPipelined(ctx, []int{1, 2, 3}, 0, func(int, io.Reader) error { return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, tc.script)
			start := time.Now()
			err := tc.run(t.Context(), addr)
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("got %v, want ErrTimeout", err)
			}
			if !IsTemporary(err) {
				t.Errorf("a timeout is not temporary: %v", err)
			}
			if d := time.Since(start); d > 10*timeout {
				t.Errorf("took %v with a %v timeout", d, timeout)
			}
		})
	}
}

func TestHostileContextCancel(t *testing.T) {
	received := make(chan struct{})
	addr := fakeServer(t, func(f *fakeConn) {
		f.login()
		f.expect("RETR 1")
		io.WriteString(f.c, "+OK\r\nSubject: slow\r\n\r\nbody")
		close(received)
		f.waitClose()
	})
	c := fakeClient(t, addr, Options{}) // 30 s timeout
	ctx, cancel := context.WithCancel(t.Context())
	r, err := c.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-received
		cancel()
	}()
	start := time.Now()
	_, err = io.ReadAll(r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if err := c.Noop(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("NOOP after cancel: %v, want ErrClosed", err)
	}
}

// allocated returns the bytes allocated by f.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// endless writes chunk forever (until the client closes).
func endless(f *fakeConn, chunk []byte) {
	for {
		if _, err := f.c.Write(chunk); err != nil {
			return
		}
	}
}

func TestHostileGiantLines(t *testing.T) {
	chunk := []byte(strings.Repeat("A", 64<<10))
	t.Run("Greeting", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.c.Write([]byte("+OK "))
			endless(f, chunk)
		})
		var err error
		n := allocated(func() { _, err = Dial(t.Context(), addr, Options{}) })
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("Dial: %v, want ErrLineTooLong", err)
		}
		if n > 4<<20 {
			t.Errorf("allocated %d bytes for a giant greeting", n)
		}
	})
	t.Run("UIDL", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.login()
			f.capa([]string{"UIDL"})
			f.expect("UIDL")
			f.c.Write([]byte("+OK\r\n1 "))
			endless(f, chunk)
		})
		c := fakeClient(t, addr, Options{})
		var err error
		n := allocated(func() { _, err = c.UIDL(t.Context()) })
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("UIDL: %v, want ErrLineTooLong", err)
		}
		if n > 4<<20 {
			t.Errorf("allocated %d bytes for a giant UIDL line", n)
		}
	})
	t.Run("MessageLine", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.login()
			f.expect("RETR 1")
			f.c.Write([]byte("+OK\r\nSubject: giant\r\n\r\n"))
			endless(f, chunk)
		})
		c := fakeClient(t, addr, Options{})
		r, err := c.Retr(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		n := allocated(func() { got, err = io.Copy(io.Discard, r) })
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("reading: %v, want ErrLineTooLong", err)
		}
		if got > DefaultMaxMessageLine+64<<10 {
			t.Errorf("delivered %d bytes of a line over the %d cap", got, DefaultMaxMessageLine)
		}
		if n > 4<<20 {
			t.Errorf("allocated %d bytes for a giant message line", n)
		}
	})
	t.Run("LongMessageLineAllowed", func(t *testing.T) {
		long := strings.Repeat("x", 900<<10)
		addr := fakeServer(t, func(f *fakeConn) {
			f.login()
			f.expect("RETR 1")
			f.send("+OK", "Subject: long", "", long, ".")
			f.waitClose()
		})
		c := fakeClient(t, addr, Options{})
		r, err := c.Retr(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := "Subject: long\r\n\r\n" + long + "\r\n"; string(b) != want {
			t.Errorf("got %d bytes, want %d", len(b), len(want))
		}
	})
}

func TestHostileUIDL(t *testing.T) {
	t.Run("Duplicates", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.login()
			f.capa([]string{"UIDL"})
			f.expect("UIDL")
			f.send("+OK", "1 same", "2 same", "3   other  ", ".")
			f.waitClose()
		})
		c := fakeClient(t, addr, Options{})
		uids, err := c.UIDL(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := []MessageUID{{1, "same"}, {2, "same"}, {3, "other"}}
		if len(uids) != len(want) {
			t.Fatalf("UIDL %v, want %v", uids, want)
		}
		for i := range want {
			if uids[i] != want[i] {
				t.Errorf("UIDL %v, want %v", uids, want)
			}
		}
	})
	for _, tc := range []struct {
		name string
		caps []string
	}{
		{"NotInCAPA", []string{"TOP", "USER"}},
		{"NoCAPA", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, func(f *fakeConn) {
				f.login()
				f.capa(tc.caps)
				f.expect("UIDL")
				f.send("-ERR unknown command")
				f.expect("NOOP")
				f.send("+OK")
				f.waitClose()
			})
			c := fakeClient(t, addr, Options{})
			_, err := c.UIDL(t.Context())
			var pe *Error
			if !errors.Is(err, ErrNoUIDL) || !errors.As(err, &pe) {
				t.Fatalf("UIDL: %v, want ErrNoUIDL and *Error", err)
			}
			if IsTemporary(err) {
				t.Error("ErrNoUIDL is temporary")
			}
			if err := c.Noop(t.Context()); err != nil {
				t.Errorf("session not usable after ErrNoUIDL: %v", err)
			}
		})
	}
	t.Run("Garbage", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.login()
			f.capa([]string{"UIDL"})
			f.expect("UIDL")
			f.send("+OK", "one two", ".")
			f.waitClose()
		})
		c := fakeClient(t, addr, Options{})
		if _, err := c.UIDL(t.Context()); !errors.Is(err, ErrProtocol) {
			t.Fatalf("UIDL: %v, want ErrProtocol", err)
		}
	})
}

// retrServer answers CAPA with caps and RETR n with a message naming n. With
// check set and no PIPELINING, it fails the test if a command arrives before
// the reply to the previous one.
func retrServer(caps []string, check bool) func(f *fakeConn) {
	return func(f *fakeConn) {
		if !f.login() {
			return
		}
		f.capa(caps)
		for {
			cmd := f.read()
			if cmd == "" || cmd == "QUIT" {
				f.send("+OK bye")
				return
			}
			if check && !f.quiet() {
				f.t.Errorf("server: a command arrived before the reply to %q without PIPELINING", cmd)
			}
			n, ok := strings.CutPrefix(cmd, "RETR ")
			if !ok {
				f.send("-ERR unexpected " + cmd)
				continue
			}
			if n == "13" {
				f.send("-ERR [SYS/TEMP] no such message")
				continue
			}
			f.send("+OK", "Subject: "+n, "", "."+n, ".")
		}
	}
}

func TestRetrPipelined(t *testing.T) {
	numbers := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	fetch := func(t *testing.T, c *Client, numbers []int) ([]int, error) {
		var got []int
		err := c.RetrPipelined(t.Context(), numbers, 4, func(n int, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if want := "Subject: " + strconv.Itoa(n) + "\r\n\r\n" + strconv.Itoa(n) + "\r\n"; string(b) != want {
				t.Errorf("message %d: %q, want %q", n, b, want)
			}
			got = append(got, n)
			return nil
		})
		return got, err
	}

	for _, tc := range []struct {
		name      string
		caps      []string
		pipelined bool
	}{
		{"Pipelining", []string{"PIPELINING", "UIDL"}, true},
		{"NoPipelining", []string{"UIDL", "TOP"}, false},
		{"NoCAPA", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr traceLog
			addr := fakeServer(t, retrServer(tc.caps, !tc.pipelined))
			c := fakeClient(t, addr, Options{Trace: tr.trace})
			got, err := fetch(t, c, numbers)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(numbers) {
				t.Errorf("handled %v, want %v", got, numbers)
			}
			if p := pipelined(tr.String()); p != tc.pipelined {
				t.Errorf("pipelined %v, want %v:\n%s", p, tc.pipelined, tr.String())
			}
			if err := c.Quit(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("ErrStopsAndKeepsSession", func(t *testing.T) {
		addr := fakeServer(t, retrServer([]string{"PIPELINING"}, false))
		c := fakeClient(t, addr, Options{})
		got, err := fetch(t, c, []int{11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
		var pe *Error
		if !errors.As(err, &pe) || pe.Command != "RETR 13" || !pe.Temporary {
			t.Fatalf("RetrPipelined: %v, want the -ERR of RETR 13", err)
		}
		if len(got) != 2 {
			t.Errorf("handled %v, want [11 12]", got)
		}
		// The replies in flight were read: the session is in step.
		if got, err := fetch(t, c, []int{1, 2}); err != nil || len(got) != 2 {
			t.Errorf("fetch after an error: %v, %v", got, err)
		}
	})

	t.Run("HandlerErr", func(t *testing.T) {
		addr := fakeServer(t, retrServer([]string{"PIPELINING"}, false))
		c := fakeClient(t, addr, Options{})
		errStop := errors.New("storage full")
		calls := 0
		err := c.RetrPipelined(t.Context(), numbers, 4, func(n int, r io.Reader) error {
			calls++
			return errStop // without reading
		})
		if !errors.Is(err, errStop) || calls != 1 {
			t.Fatalf("RetrPipelined: %v after %d calls, want errStop after 1", err, calls)
		}
		if got, err := fetch(t, c, []int{5}); err != nil || len(got) != 1 {
			t.Errorf("fetch after a handler error: %v, %v", got, err)
		}
	})
}

func TestDelePipelined(t *testing.T) {
	for _, caps := range [][]string{{"PIPELINING"}, nil} {
		t.Run(strconv.Itoa(len(caps)), func(t *testing.T) {
			addr := fakeServer(t, func(f *fakeConn) {
				f.login()
				f.capa(caps)
				for {
					cmd := f.read()
					if cmd == "" {
						return
					}
					if cmd == "DELE 7" {
						f.send("-ERR message 7 already deleted")
						continue
					}
					f.send("+OK marked")
				}
			})
			c := fakeClient(t, addr, Options{})
			numbers := make([]int, 300)
			for i := range numbers {
				numbers[i] = i + 100
			}
			if err := c.DelePipelined(t.Context(), numbers); err != nil {
				t.Fatal(err)
			}
			err := c.DelePipelined(t.Context(), []int{5, 6, 7, 8, 9})
			var pe *Error
			if !errors.As(err, &pe) || pe.Command != "DELE 7" {
				t.Fatalf("DelePipelined: %v, want the -ERR of DELE 7", err)
			}
			if err := c.Noop(t.Context()); err != nil {
				t.Errorf("NOOP after a DELE error: %v", err)
			}
		})
	}
}

func TestHostileSTLS(t *testing.T) {
	t.Run("NotOffered", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.send("+OK ready")
			f.capa([]string{"USER", "UIDL"})
			if cmd := f.read(); cmd != "" && cmd != "QUIT" {
				t.Errorf("server: got %q after CAPA without STLS", cmd)
			}
		})
		_, err := Dial(t.Context(), addr, Options{Security: SecurityStartTLS})
		if !errors.Is(err, ErrNoSTLS) || IsTemporary(err) {
			t.Fatalf("Dial: %v, want ErrNoSTLS, not temporary", err)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.send("+OK ready")
			f.capa(nil)
			f.expect("STLS")
			f.send("-ERR not now")
			f.waitClose()
		})
		_, err := Dial(t.Context(), addr, Options{Security: SecurityStartTLS})
		if !errors.Is(err, ErrNoSTLS) {
			t.Fatalf("Dial: %v, want ErrNoSTLS", err)
		}
	})
	t.Run("DataAfterReply", func(t *testing.T) {
		addr := fakeServer(t, func(f *fakeConn) {
			f.send("+OK ready")
			f.capa([]string{"STLS"})
			f.expect("STLS")
			// One write, as an attacker injects it into the reply's packet:
			// two writes could reach the client apart, after it looked.
			f.send("+OK begin TLS\r\n+OK injected")
			f.waitClose()
		})
		_, err := Dial(t.Context(), addr, Options{Security: SecurityStartTLS})
		if !errors.Is(err, ErrProtocol) {
			t.Fatalf("Dial: %v, want ErrProtocol", err)
		}
	})
}

func TestHostileAuthPlainContinuation(t *testing.T) {
	// A server that ignores the initial response and asks for it.
	addr := fakeServer(t, func(f *fakeConn) {
		f.send("+OK ready")
		f.capa([]string{"SASL PLAIN"})
		if cmd := f.read(); !strings.HasPrefix(cmd, "AUTH PLAIN ") {
			t.Errorf("server: got %q, want AUTH PLAIN", cmd)
		}
		f.send("+ ")
		if cmd := f.read(); cmd != "AHUAcA==" {
			t.Errorf("server: got %q, want the response", cmd)
		}
		f.send("+OK welcome")
		f.capa([]string{"PIPELINING"})
		f.waitClose()
	})
	var tr traceLog
	c := dial(t, addr, Options{Trace: tr.trace})
	if err := c.Auth(t.Context(), "u", "p", AuthAuto); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tr.String(), "AHUAcA==") {
		t.Errorf("trace shows the credentials:\n%s", tr.String())
	}
	if caps, err := c.Capabilities(t.Context()); err != nil || !caps.Has("pipelining") {
		t.Errorf("capabilities after login: %v, %v", caps, err)
	}
}
