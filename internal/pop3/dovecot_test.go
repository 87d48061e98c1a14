package pop3

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/testpeer"
)

// These tests run against a real Dovecot (testpeer.Dovecot): they are
// skipped when it is not installed, and fail instead under CI=true or
// POCHTA_REQUIRE_PEERS=1.

type dovecot struct {
	*testpeer.DovecotServer
	users int
}

// preUsers is how many users startDovecot creates up front: Dovecot may not
// see a user added within a second after it last read the passwd-file.
const preUsers = 20

func startDovecot(t testing.TB) *dovecot {
	t.Helper()
	d := &dovecot{DovecotServer: testpeer.Dovecot(t)}
	for i := 1; i <= preUsers; i++ {
		d.AddUser(fmt.Sprintf("user%d", i), fmt.Sprintf("secret-%d", i))
	}
	return d
}

func (d *dovecot) plainAddr() string {
	return net.JoinHostPort(d.Host, strconv.Itoa(d.POP3Port))
}

func (d *dovecot) tlsAddr() string {
	return net.JoinHostPort(d.Host, strconv.Itoa(d.POP3SPort))
}

// newUser returns an unused user and its password, after delivering msgs
// to it.
func (d *dovecot) newUser(t testing.TB, msgs ...[]byte) (login, password string) {
	t.Helper()
	d.users++
	if d.users > preUsers {
		t.Fatal("startDovecot: raise preUsers")
	}
	login, password = fmt.Sprintf("user%d", d.users), fmt.Sprintf("secret-%d", d.users)
	for _, m := range msgs {
		if err := d.Deliver(login, m); err != nil {
			t.Fatal(err)
		}
	}
	return login, password
}

func dial(t testing.TB, addr string, opts Options) *Client {
	t.Helper()
	c, err := Dial(t.Context(), addr, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func login(t testing.TB, c *Client, user, password, method string) {
	t.Helper()
	if err := c.Auth(t.Context(), user, password, method); err != nil {
		t.Fatalf("Auth %s: %v", method, err)
	}
}

func stat(t testing.TB, c *Client) int {
	t.Helper()
	n, _, err := c.Stat(t.Context())
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	return n
}

// testMessages are delivered as they are; POP3 must give them back byte
// for byte: dot-stuffed lines, 8-bit text, a long line, an empty body.
var testMessages = [][]byte{
	[]byte("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n...three\r\n. \r\n.\tx\r\nend\r\n"),
	[]byte("From: bob@example.test\r\nSubject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4 \xcd\xc9\xd2\r\nПривет, мир\r\n\xff\xfe\x80 high bytes\r\n"),
	[]byte("From: bob@example.test\r\nSubject: long line\r\n\r\n" + strings.Repeat("0123456789", 20000) + "\r\n.\r\n"),
	[]byte("From: bob@example.test\r\nSubject: empty body\r\n\r\n"),
}

func TestDovecot(t *testing.T) {
	d := startDovecot(t)
	ctx := t.Context()

	t.Run("UserPass", func(t *testing.T) {
		user, pass := d.newUser(t, testMessages[0])
		var tr traceLog
		c := dial(t, d.plainAddr(), Options{Trace: tr.trace})
		login(t, c, user, pass, AuthUser)
		if n := stat(t, c); n != 1 {
			t.Errorf("STAT: %d messages, want 1", n)
		}
		caps, err := c.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"UIDL", "PIPELINING", "TOP", "RESP-CODES"} {
			if !caps.Has(want) {
				t.Errorf("CAPA after login lacks %s: %v", want, caps)
			}
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Noop(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Noop after Quit: %v, want ErrClosed", err)
		}
		log := tr.String()
		for _, want := range []string{"connect " + d.plainAddr() + " (none)", "send USER " + user, "send PASS ***", "send QUIT"} {
			if !tr.contains(want) {
				t.Errorf("trace lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, pass) {
			t.Errorf("trace shows the password:\n%s", log)
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		// Dovecot delays the reply to a failed login: run the methods at once.
		for _, method := range []string{AuthUser, AuthAPOP, AuthPlain} {
			user, pass := d.newUser(t)
			t.Run(method, func(t *testing.T) {
				t.Parallel()
				var tr traceLog
				c := dial(t, d.plainAddr(), Options{Trace: tr.trace})
				err := c.Auth(ctx, user, pass+"-wrong", method)
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("wrong password: %v, want *Error", err)
				}
				if pe.Temporary || IsTemporary(err) {
					t.Errorf("wrong password is temporary: %+v", pe)
				}
				if pe.Code != "AUTH" {
					t.Errorf("code %q, want AUTH (%s)", pe.Code, pe.Line)
				}
				if strings.Contains(err.Error(), pass) || strings.Contains(tr.String(), pass) {
					t.Errorf("the password shows in the error or trace: %v\n%s", err, tr.String())
				}
				want := map[string]string{AuthUser: "send PASS ***", AuthAPOP: "send APOP " + user + " ***", AuthPlain: "send AUTH PLAIN ***"}[method]
				if !tr.contains(want) {
					t.Errorf("trace lacks %q:\n%s", want, tr.String())
				}
				// The session is still usable after a -ERR.
				login(t, c, user, pass, method)
				c.Quit(ctx)
			})
		}
	})

	t.Run("APOP", func(t *testing.T) {
		user, pass := d.newUser(t, testMessages[0])
		var tr traceLog
		c := dial(t, d.plainAddr(), Options{Trace: tr.trace})
		if c.timestamp == "" {
			t.Fatalf("no APOP timestamp in greeting %q", c.Greeting())
		}
		login(t, c, user, pass, AuthAPOP)
		if !tr.contains("send APOP " + user + " ***") {
			t.Errorf("APOP not used:\n%s", tr.String())
		}
		if n := stat(t, c); n != 1 {
			t.Errorf("STAT: %d", n)
		}
	})

	t.Run("AuthPlain", func(t *testing.T) {
		user, pass := d.newUser(t)
		for _, method := range []string{AuthPlain, AuthAuto, ""} {
			var tr traceLog
			c := dial(t, d.plainAddr(), Options{Trace: tr.trace})
			login(t, c, user, pass, method)
			if !tr.contains("send AUTH PLAIN ***") {
				t.Errorf("%q: AUTH PLAIN not used:\n%s", method, tr.String())
			}
			c.Quit(ctx)
		}
	})

	t.Run("ImplicitTLS", func(t *testing.T) {
		user, pass := d.newUser(t, testMessages[0])
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(d.CertPEM)
		for _, tc := range []struct {
			name string
			opts Options
			ok   bool
		}{
			{"VerifyUnknownCA", Options{Security: SecurityTLS}, false},
			{"VerifyWrongName", Options{Security: SecurityTLS, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "mail.example.test"}}, false},
			{"InsecureSkipVerify", Options{Security: SecurityTLS, InsecureSkipVerify: true}, true},
			{"RootCAsByIP", Options{Security: SecurityTLS, TLSConfig: &tls.Config{RootCAs: pool}}, true},
			{"RootCAsByName", Options{Security: SecurityTLS, TLSConfig: d.TLSConfig()}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, err := Dial(ctx, d.tlsAddr(), tc.opts)
				if !tc.ok {
					var cv *tls.CertificateVerificationError
					if err == nil || !errors.As(err, &cv) || !errors.Is(err, ErrTLS) {
						t.Fatalf("Dial: %v, want a certificate verification error", err)
					}
					if IsTemporary(err) {
						t.Errorf("certificate error is temporary: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				if !c.TLS() {
					t.Error("TLS() is false")
				}
				login(t, c, user, pass, AuthUser)
				if n := stat(t, c); n != 1 {
					t.Errorf("STAT: %d", n)
				}
				if err := c.Quit(ctx); err != nil {
					t.Error(err)
				}
			})
		}
	})

	t.Run("STLS", func(t *testing.T) {
		user, pass := d.newUser(t, testMessages[0])
		if _, err := Dial(ctx, d.plainAddr(), Options{Security: SecurityStartTLS}); !errors.Is(err, ErrTLS) {
			t.Errorf("STLS with an unknown CA: %v, want ErrTLS", err)
		}
		var tr traceLog
		c := dial(t, d.plainAddr(), Options{Security: SecurityStartTLS, TLSConfig: d.TLSConfig(), Trace: tr.trace})
		if !c.TLS() {
			t.Fatal("not TLS after STLS")
		}
		caps, err := c.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if caps.Has("STLS") {
			t.Errorf("STLS still offered after STLS: %v", caps)
		}
		login(t, c, user, pass, AuthAuto)
		if n := stat(t, c); n != 1 {
			t.Errorf("STAT: %d", n)
		}
		if !tr.contains("send STLS") {
			t.Errorf("trace lacks STLS:\n%s", tr.String())
		}
		c.Quit(ctx)
	})

	t.Run("RoundTrip", func(t *testing.T) {
		user, pass := d.newUser(t, testMessages...)
		c := dial(t, d.plainAddr(), Options{})
		login(t, c, user, pass, AuthUser)
		count, total, err := c.Stat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		for _, m := range testMessages {
			want += int64(len(m))
		}
		if count != len(testMessages) || total != want {
			t.Errorf("STAT %d %d, want %d %d", count, total, len(testMessages), want)
		}
		list, err := c.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		uids, err := c.UIDL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(testMessages) || len(uids) != len(testMessages) {
			t.Fatalf("LIST %v, UIDL %v", list, uids)
		}
		var got [][]byte
		seen := map[string]bool{}
		for i, l := range list {
			if uids[i].Number != l.Number || uids[i].UID == "" || seen[uids[i].UID] {
				t.Errorf("UIDL line %d: %+v", i, uids[i])
			}
			seen[uids[i].UID] = true
			r, err := c.Retr(ctx, l.Number)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Noop(ctx); !errors.Is(err, ErrBusy) {
				t.Errorf("NOOP while a message is open: %v, want ErrBusy", err)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("RETR %d: %v", l.Number, err)
			}
			if int64(len(b)) != l.Size {
				t.Errorf("RETR %d: %d octets, LIST says %d", l.Number, len(b), l.Size)
			}
			if err := r.Close(); err != nil {
				t.Error(err)
			}
			got = append(got, b)
		}
		sameMessages(t, got, testMessages)

		// TOP 0 gives the header and the empty line; Close discards the rest.
		r, err := c.Top(ctx, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 5)
		if _, err := io.ReadFull(r, head); err != nil || string(head) != "From:" {
			t.Errorf("TOP: %q, %v", head, err)
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}

		// DELE then RSET keeps them; DELE then QUIT removes them.
		if err := c.Dele(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := c.Dele(ctx, 1); err == nil {
			t.Error("DELE of a deleted message succeeded")
		}
		if err := c.Rset(ctx); err != nil {
			t.Fatal(err)
		}
		if n := stat(t, c); n != len(testMessages) {
			t.Errorf("after RSET: %d messages", n)
		}
		for _, l := range list {
			if err := c.Dele(ctx, l.Number); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		c = dial(t, d.plainAddr(), Options{})
		login(t, c, user, pass, AuthUser)
		if n := stat(t, c); n != 0 {
			t.Errorf("after DELE and QUIT: %d messages, want 0", n)
		}
		c.Quit(ctx)
	})

	t.Run("Pipelined1000", func(t *testing.T) {
		const n = 1000
		msgs := make([][]byte, n)
		for i := range msgs {
			msgs[i] = generatedMessage(i, 1500+i%3000)
		}
		user, pass := d.newUser(t, msgs...)
		var tr traceLog
		c := dial(t, d.plainAddr(), Options{Trace: tr.trace})
		login(t, c, user, pass, AuthUser)
		list, err := c.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		numbers := make([]int, len(list))
		for i, l := range list {
			numbers[i] = l.Number
		}
		var got [][]byte
		err = c.RetrPipelined(ctx, numbers, 32, func(num int, r io.Reader) error {
			if num != numbers[len(got)] {
				t.Errorf("handle got message %d, want %d", num, numbers[len(got)])
			}
			b, err := io.ReadAll(r)
			got = append(got, b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sameMessages(t, got, msgs)
		if !pipelined(tr.String()) {
			t.Error("RETR commands were not pipelined")
		}
		if err := c.DelePipelined(ctx, numbers); err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		c = dial(t, d.plainAddr(), Options{})
		login(t, c, user, pass, AuthUser)
		if n := stat(t, c); n != 0 {
			t.Errorf("after DelePipelined and QUIT: %d messages, want 0", n)
		}
	})

	t.Run("ContextCancel", func(t *testing.T) {
		user, pass := d.newUser(t)
		c := dial(t, d.plainAddr(), Options{})
		login(t, c, user, pass, AuthUser)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := c.Noop(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("NOOP with a cancelled context: %v", err)
		}
		// A context that was cancelled before the operation leaves the
		// session usable.
		if err := c.Noop(ctx); err != nil {
			t.Error(err)
		}
		dctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-dctx.Done()
		if _, err := Dial(dctx, d.plainAddr(), Options{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Dial with an expired context: %v", err)
		}
	})
}

// pipelined reports whether the trace shows two RETR commands sent before
// a reply.
func pipelined(trace string) bool {
	run := 0
	for _, line := range strings.Split(trace, "\n") {
		switch {
		case strings.HasPrefix(line, "send RETR"):
			run++
			if run >= 2 {
				return true
			}
		default:
			run = 0
		}
	}
	return false
}

// generatedMessage returns a message of about size bytes with a unique
// subject and some dot-stuffed and 8-bit lines.
func generatedMessage(i, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: sender%d@example.test\r\nTo: alice@example.test\r\nSubject: message %d\r\nMessage-ID: <%d@example.test>\r\n\r\n", i, i, i)
	for line := 0; b.Len() < size; line++ {
		switch line % 7 {
		case 0:
			b.WriteString(".dot line\r\n")
		case 3:
			b.WriteString("Привет, это строка номер " + strconv.Itoa(line) + "\r\n")
		default:
			fmt.Fprintf(&b, "line %d of message %d: the quick brown fox jumps over the lazy dog\r\n", line, i)
		}
	}
	return b.Bytes()
}

// sameMessages fails unless got and want hold the same messages, in any
// order.
func sameMessages(t testing.TB, got, want [][]byte) {
	t.Helper()
	g := make([]string, len(got))
	for i, m := range got {
		g[i] = string(m)
	}
	w := make([]string, len(want))
	for i, m := range want {
		w[i] = string(m)
	}
	slices.Sort(g)
	slices.Sort(w)
	if len(g) != len(w) {
		t.Fatalf("got %d messages, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("message differs:\ngot  %q\nwant %q", clip(g[i], 300), clip(w[i], 300))
		}
	}
}
