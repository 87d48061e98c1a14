package smtpd

import (
	"crypto/tls"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	served := Policy{Domains: []string{"example.test", "other.example"}}
	relay := Policy{Domains: served.Domains, Relay: true}
	authOnly := Policy{Domains: served.Domains, Relay: true, RelayAuthOnly: true}
	all := Policy{}
	tests := []struct {
		policy Policy
		to     string
		auth   bool
		want   Decision
	}{
		{served, "bob@example.test", false, Local},
		{served, "Bob@EXAMPLE.Test", false, Local},
		{served, "bob@other.example", false, Local},
		{served, "bob@elsewhere.test", false, Unknown},
		{served, "bob@elsewhere.test", true, Unknown},
		{served, "bob@sub.example.test", false, Unknown},
		{served, "bob@example.test.", false, Unknown},
		{served, "user%elsewhere.test@example.test", false, Local},
		{served, "elsewhere.test!user@example.test", false, Local},
		{served, "user@elsewhere.test@example.test", false, Local},
		{served, "user@[127.0.0.1]", false, Unknown},
		{relay, "bob@elsewhere.test", false, Relayed},
		{authOnly, "bob@elsewhere.test", false, Denied},
		{authOnly, "bob@elsewhere.test", true, Relayed},
		{authOnly, "bob@example.test", false, Local},
		{all, "bob@anything.test", false, Local},
		{all, "", false, Invalid},
		{authOnly, "@example.test:bob@elsewhere.test", true, Invalid},
		{authOnly, "bob", true, Invalid},
		{authOnly, "bob@", true, Invalid},
		{authOnly, "@elsewhere.test", true, Invalid},
		{authOnly, "bob@elsewhere.test\r\nRCPT TO:<x@y>", true, Invalid},
		{authOnly, "bob@ex ample.test", true, Invalid},
	}
	for _, tt := range tests {
		if got := Decide(tt.policy, tt.to, tt.auth); got != tt.want {
			t.Errorf("Decide(%+v, %q, auth %v) = %v, want %v", tt.policy, tt.to, tt.auth, got, tt.want)
		}
	}
}

// The scanner flags every smuggling line end and nothing in ordinary mail.
func TestSmuggleScanner(t *testing.T) {
	bad := []string{"\n.\n", "\n.\r\n", "\r.\r", "\r.\r\n", "\r\n.\n", "\r\n.\r", "\n.\r", "\r.\n", "\r\n.\rX", "\r\n.\r\r\n"}
	for _, seq := range bad {
		for _, split := range []int{0, 1, 2, 3} { // across writes too
			s := &smuggleScanner{}
			data := "DATA\r\nSubject: x\r\n\r\nbody" + seq + "more\r\n.\r\n"
			cut := strings.Index(data, seq) + min(split, len(seq))
			s.Write([]byte(data[:cut]))
			s.Write([]byte(data[cut:]))
			if s.count() == 0 {
				t.Errorf("%q (split %d) not flagged", seq, split)
			}
		}
	}
	good := []string{
		"DATA\r\nSubject: x\r\n\r\nbody\r\n..\r\n...dots\r\n.x\r\n.\r\n",
		"250 2.0.0 OK\r\nMAIL FROM:<a.b@c.d>\r\n",
		"Subject: lf only\n\nbody\nwith . dots.\nand.\n.more\r\n.\r\n",
	}
	for _, data := range good {
		s := &smuggleScanner{}
		s.Write([]byte(data))
		if s.count() != 0 {
			t.Errorf("%q flagged", data)
		}
	}
}

// The scanner's jumps from dot to dot find what a look at every byte finds,
// however the stream is cut into writes.
func TestSmuggleScannerMatchesByteByByte(t *testing.T) {
	random := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("\r\n.ab")
	for range 20000 {
		data := make([]byte, random.IntN(40))
		for i := range data {
			data[i] = alphabet[random.IntN(len(alphabet))]
		}
		want := bytewiseSmuggling(data)
		s := &smuggleScanner{}
		for rest := data; len(rest) > 0; {
			n := 1 + random.IntN(len(rest))
			s.Write(rest[:n])
			rest = rest[n:]
		}
		if got := s.count(); got != want {
			t.Fatalf("%q: %d sequences, byte by byte %d", data, got, want)
		}
	}
}

// bytewiseSmuggling counts the sequences as the scanner did before it
// jumped between dots: every byte against the four before it.
func bytewiseSmuggling(data []byte) int64 {
	var w [4]byte
	var found int64
	for _, b := range data {
		switch {
		case b == '\n' && w[3] == '.' && isBreak(w[2]):
			found++
		case w[3] == '\r' && w[2] == '.' && isBreak(w[1]) && b != '\n':
			found++
		case b == '\n' && w[3] == '\r' && w[2] == '.' && (w[1] == '\r' || (w[1] == '\n' && w[0] != '\r')):
			found++
		}
		w[0], w[1], w[2], w[3] = w[1], w[2], w[3], b
	}
	return found
}

func TestTraceHeaderCleansClientValues(t *testing.T) {
	h := string(TraceHeader(TraceInfo{Helo: "evil\r\nX-Injected: 1", ClientIP: "192.0.2.1\r\nX: y", Hostname: "mx.test",
		Authenticated: "bob\nX-Auth: 1", ID: "ID1", From: "a\r\nX-From: 1@b", Recipients: []string{"c\r\nX-To: 1@d"},
		TLS:  &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256},
		Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}))
	for _, line := range strings.Split(strings.TrimSuffix(h, "\r\n"), "\r\n") {
		if strings.HasPrefix(line, "X-Injected") || strings.HasPrefix(line, "X-Auth") || strings.HasPrefix(line, "X-From") ||
			strings.HasPrefix(line, "X-To") || strings.HasPrefix(line, "X:") || strings.ContainsAny(line, "\r\n") {
			t.Errorf("injected line %q", line)
		}
	}
	for _, want := range []string{"Return-Path: <aX-From: 1@b>\r\n", "Received: from evilX-Injected: 1 ([unknown])\r\n",
		"with ESMTPSA id ID1", "(using TLS 1.3 with cipher TLS_AES_128_GCM_SHA256)", "(authenticated as bobX-Auth: 1)",
		";\r\n\tSun, 06 Dec 2026 12:00:00 +0000\r\n"} {
		if !strings.Contains(h, want) {
			t.Errorf("want %q in\n%s", want, h)
		}
	}
}

func TestLoginServer(t *testing.T) {
	for _, initial := range []bool{false, true} {
		var got [2]string
		s := newLoginServer(func(u, p string) error { got = [2]string{u, p}; return nil })
		var ch []byte
		var done bool
		var err error
		if initial {
			ch, done, err = s.Next([]byte("alice"))
		} else {
			ch, done, err = s.Next(nil)
			if string(ch) != "Username:" || done || err != nil {
				t.Fatalf("first challenge %q %v %v", ch, done, err)
			}
			ch, done, err = s.Next([]byte("alice"))
		}
		if string(ch) != "Password:" || done || err != nil {
			t.Fatalf("password challenge %q %v %v", ch, done, err)
		}
		if _, done, err = s.Next([]byte("secret")); !done || err != nil || got != [2]string{"alice", "secret"} {
			t.Fatalf("end: %v %v %v", done, err, got)
		}
		if _, _, err := s.Next([]byte("more")); err == nil {
			t.Fatal("a response after the end was taken")
		}
	}
}

// The scanner on a ~4 KB message, against the byte-by-byte loop it
// replaced: go test -run '^$' -bench SmuggleScanner ./internal/smtpd
func BenchmarkSmuggleScanner(b *testing.B) {
	message := []byte("Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+" end.\r\n", 55) + ".\r\n")
	b.Run("jumps", func(b *testing.B) {
		b.SetBytes(int64(len(message)))
		s := &smuggleScanner{}
		for b.Loop() {
			s.Write(message)
		}
	})
	b.Run("bytewise", func(b *testing.B) {
		b.SetBytes(int64(len(message)))
		for b.Loop() {
			bytewiseSmuggling(message)
		}
	})
}

func TestPathForm(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"first.last+tag@example.com", "first.last+tag@example.com"},
		{"иван@пример.рф", "иван@пример.рф"},
		{"john doe@example.com", `"john doe"@example.com`},
		{"user@other@example.com", `"user@other"@example.com`},
		{`a"b\c@example.com`, `"a\"b\\c"@example.com`},
		{".lead@example.com", `".lead"@example.com`},
		{"two..dots@example.com", `"two..dots"@example.com`},
		{"", ""},
		{"postmaster", "postmaster"},
	} {
		if got := pathForm(tc.in); got != tc.want {
			t.Errorf("pathForm(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
