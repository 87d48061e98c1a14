package servicetest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// FakeServer is a listener of a test's own on 127.0.0.1: a minimal POP3
// or IMAP server, or another service that only greets.
type FakeServer struct {
	Host string
	Port int

	connections atomic.Int64
}

// FakePOP3Messages and FakePOP3Size are what a fake POP3 server's STAT says.
const (
	FakePOP3Messages = 2
	FakePOP3Size     = 3072
)

// FakeIMAPGreeting makes NewFakeServer an IMAP server.
const FakeIMAPGreeting = "* OK [CAPABILITY IMAP4rev1 STATUS=SIZE] fake IMAP ready"

// NewFakeServer starts a FakeServer that sends greeting. A greeting that
// starts with "+OK" makes a POP3 server that takes any login and password
// and holds FakePOP3Messages messages (FakePOP3Size bytes); "* OK" an IMAP
// server whose INBOX holds as many (FakeIMAPGreeting); any other greeting
// ("SSH-2.0-...") is all the server says. It stops at the test's cleanup.
func NewFakeServer(t testing.TB, greeting string) *FakeServer {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().(*net.TCPAddr)
	server := &FakeServer{Host: address.IP.String(), Port: address.Port}
	var handlers sync.WaitGroup
	var open sync.Map // net.Conn -> struct{}, closed at cleanup
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			server.connections.Add(1)
			open.Store(conn, struct{}{})
			handlers.Go(func() {
				defer open.Delete(conn)
				defer conn.Close()
				serveFake(conn, greeting)
			})
		}
	}()
	t.Cleanup(func() {
		listener.Close()
		<-accepting
		open.Range(func(conn, _ any) bool {
			conn.(net.Conn).Close()
			return true
		})
		handlers.Wait()
	})
	return server
}

// PortText is the port as a form sends it.
func (s *FakeServer) PortText() string { return strconv.Itoa(s.Port) }

// Connections counts the connections accepted so far. A connection counts
// before the server sends anything, so once a client has read a greeting,
// every connection opened before its own is counted.
func (s *FakeServer) Connections() int { return int(s.connections.Load()) }

func serveFake(conn net.Conn, greeting string) {
	fmt.Fprintf(conn, "%s\r\n", greeting)
	reader := bufio.NewReader(conn)
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			return
		}
		if strings.HasPrefix(greeting, "* OK") {
			if !answerIMAP(conn, line) {
				return
			}
			continue
		}
		if !strings.HasPrefix(greeting, "+OK") {
			continue // not POP3: say nothing more
		}
		command, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(command) {
		case "CAPA":
			fmt.Fprint(conn, "+OK\r\nUSER\r\nUIDL\r\n.\r\n")
		case "USER", "PASS", "NOOP", "RSET":
			fmt.Fprint(conn, "+OK\r\n")
		case "STAT":
			fmt.Fprintf(conn, "+OK %d %d\r\n", FakePOP3Messages, FakePOP3Size)
		case "QUIT":
			fmt.Fprint(conn, "+OK bye\r\n")
			return
		default:
			fmt.Fprint(conn, "-ERR unknown command\r\n")
		}
	}
}

// answerIMAP answers one IMAP command line; false ends the session.
func answerIMAP(conn net.Conn, line string) bool {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		fmt.Fprint(conn, "* BAD empty command\r\n")
		return true
	}
	tag, command := fields[0], strings.ToUpper(fields[1])
	switch command {
	case "CAPABILITY":
		fmt.Fprintf(conn, "* CAPABILITY IMAP4rev1 STATUS=SIZE\r\n%s OK done\r\n", tag)
	case "LOGIN", "NOOP", "LIST":
		fmt.Fprintf(conn, "%s OK done\r\n", tag)
	case "STATUS":
		fmt.Fprintf(conn, "* STATUS INBOX (MESSAGES %d SIZE %d)\r\n%s OK done\r\n", FakePOP3Messages, FakePOP3Size, tag)
	case "LOGOUT":
		fmt.Fprintf(conn, "* BYE bye\r\n%s OK done\r\n", tag)
		return false
	default:
		fmt.Fprintf(conn, "%s BAD unknown command\r\n", tag)
	}
	return true
}
