package fetch_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/testmail"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// A hostile in-process POP3 server, for what Dovecot will not do: drop the
// connection in the middle of a RETR, stall, send garbage or giant lines,
// repeat UIDLs or have no UIDL at all. It serves a mailbox of messages over
// any number of sessions, applying DELE at QUIT as a real server does, and
// records every command it receives. A hook may take over a RETR to
// misbehave.

type fakeMessage struct {
	uid  string // "" when the server has no UIDL
	data string // CRLF lines, not dot-stuffed
}

type fakePOP3 struct {
	t        *testing.T
	listener net.Listener
	addr     *net.TCPAddr

	mu       sync.Mutex
	messages []fakeMessage
	noUIDL   bool
	commands [][]string // per session, every command received
	// retr, when set, is called for each RETR in the given session (from
	// 1) before the message is sent; returning false means it handled the
	// command (and should have closed or stalled the connection).
	retr func(session, n int, w *bufio.Writer, c net.Conn) bool
	// reply, when set, may replace the reply to any command: returning
	// true means it handled it.
	reply func(session int, command string, w *bufio.Writer, c net.Conn) bool

	wait sync.WaitGroup
}

func newFakePOP3(t *testing.T, messages ...fakeMessage) *fakePOP3 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakePOP3{t: t, listener: l, addr: l.Addr().(*net.TCPAddr), messages: messages}
	s.wait.Add(1)
	go func() {
		defer s.wait.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.commands = append(s.commands, nil)
			session := len(s.commands)
			s.mu.Unlock()
			s.wait.Add(1)
			go func() {
				defer s.wait.Done()
				defer c.Close()
				// A net for a stuck test, not a limit on a slow one: a loaded
				// machine under -race takes tens of seconds to store 9 MB.
				c.SetDeadline(time.Now().Add(3 * time.Minute))
				s.serve(session, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.wait.Wait()
	})
	return s
}

// sessionCommands returns the commands of a session (from 1).
func (s *fakePOP3) sessionCommands(session int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if session < 1 || session > len(s.commands) {
		return nil
	}
	return append([]string(nil), s.commands[session-1]...)
}

func (s *fakePOP3) left() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.messages)
}

func (s *fakePOP3) serve(session int, c net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	s.mu.Lock()
	messages := append([]fakeMessage(nil), s.messages...) // this session's view
	noUIDL := s.noUIDL
	s.mu.Unlock()
	deleted := map[int]bool{}
	send := func(lines ...string) {
		for _, line := range lines {
			w.WriteString(line + "\r\n")
		}
	}
	send("+OK fake POP3 ready")
	w.Flush()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		command := strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.commands[session-1] = append(s.commands[session-1], command)
		hook, retrHook := s.reply, s.retr
		s.mu.Unlock()
		if hook != nil && hook(session, command, w, c) {
			w.Flush()
			continue
		}
		verb, arg, _ := strings.Cut(command, " ")
		number := func() (int, bool) {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 || n > len(messages) || deleted[n] {
				send("-ERR no such message")
				return 0, false
			}
			return n, true
		}
		switch strings.ToUpper(verb) {
		case "CAPA":
			send("+OK", "USER", "PIPELINING")
			if !noUIDL {
				send("UIDL")
			}
			send(".")
		case "USER", "PASS", "NOOP", "RSET":
			send("+OK")
		case "LIST":
			send("+OK")
			for i, m := range messages {
				if !deleted[i+1] {
					send(fmt.Sprintf("%d %d", i+1, len(m.data)))
				}
			}
			send(".")
		case "UIDL":
			if noUIDL {
				send("-ERR unknown command")
				break
			}
			send("+OK")
			for i, m := range messages {
				if !deleted[i+1] {
					send(fmt.Sprintf("%d %s", i+1, m.uid))
				}
			}
			send(".")
		case "RETR":
			n, ok := number()
			if !ok {
				break
			}
			if retrHook != nil && !retrHook(session, n, w, c) {
				w.Flush()
				return
			}
			send(fmt.Sprintf("+OK %d octets", len(messages[n-1].data)))
			for _, l := range strings.SplitAfter(messages[n-1].data, "\r\n") {
				if strings.HasPrefix(l, ".") {
					w.WriteString(".")
				}
				w.WriteString(l)
			}
			send(".")
		case "DELE":
			if n, ok := number(); ok {
				deleted[n] = true
				send("+OK deleted")
			}
		case "QUIT":
			s.mu.Lock()
			var kept []fakeMessage
			for _, m := range s.messages {
				gone := false
				for i, seen := range messages {
					gone = gone || (deleted[i+1] && seen == m)
				}
				if !gone {
					kept = append(kept, m)
				}
			}
			s.messages = kept
			s.mu.Unlock()
			send("+OK bye")
			w.Flush()
			return
		default:
			send("-ERR unknown command")
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}

type hostileEnv struct {
	env *servicetest.Env
}

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	return &hostileEnv{env: servicetest.New(t)}
}

func (h *hostileEnv) mailbox(t *testing.T, server *fakePOP3, deleteAfter bool) int64 {
	t.Helper()
	// The test set the server's hooks without the lock; taking it orders
	// those writes before the sessions' reads.
	server.mu.Lock()
	server.mu.Unlock() //nolint:staticcheck // an empty critical section, on purpose
	input := service.MailboxInput{
		Type: ptr("pop3"), Name: ptr(fmt.Sprintf("Hostile %s", t.Name())), Server: ptr("127.0.0.1"),
		Port: ptr(server.addr.Port), Login: ptr("u"), Password: ptr("p"), DeleteFromServer: ptr(deleteAfter),
	}
	m, err := h.env.Service.CreateMailbox(context.Background(), h.env.Admin, input)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func (h *hostileEnv) check(t *testing.T, id int64) service.CheckResult {
	t.Helper()
	result, err := h.env.Service.CheckMailbox(context.Background(), h.env.Admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return result
}

// subjects lists the stored messages' subjects, sorted by subject, with
// repeats (a message stored twice shows twice).
func (h *hostileEnv) subjects(t *testing.T, id int64) []string {
	t.Helper()
	page, err := h.env.Service.Messages(context.Background(), h.env.Admin, store.MessageFilter{MailboxIDs: []int64{id}}, store.MessageSort{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range page.Items {
		subjects = append(subjects, m.Subject)
	}
	slices.Sort(subjects)
	return subjects
}

func fakeMessages(n int, withUIDL bool) []fakeMessage {
	var list []fakeMessage
	for i := 1; i <= n; i++ {
		uid := ""
		if withUIDL {
			uid = fmt.Sprintf("uid-%03d", i)
		}
		list = append(list, fakeMessage{uid: uid, data: string(mail(i, fmt.Sprintf("M%02d", i)))})
	}
	return list
}

func wantSubjects(n int) string {
	var list []string
	for i := 1; i <= n; i++ {
		list = append(list, fmt.Sprintf("M%02d", i))
	}
	return strings.Join(list, ",")
}

func hasCommand(commands []string, verb string) bool {
	for _, c := range commands {
		if strings.HasPrefix(strings.ToUpper(c), verb) {
			return true
		}
	}
	return false
}

// TestHostileDropMidRetr: the connection drops in the middle of the fourth
// message. The three before it are stored, nothing is deleted (no DELE or
// QUIT reached the server), and the next fetch, from a healthy server,
// stores the rest and deletes everything, storing nothing twice.
func TestHostileDropMidRetr(t *testing.T) {
	h := newHostileEnv(t)
	server := newFakePOP3(t, fakeMessages(8, true)...)
	server.retr = func(session, n int, w *bufio.Writer, c net.Conn) bool {
		if session != 1 || n != 4 {
			return true
		}
		w.WriteString("+OK 300 octets\r\nFrom: x@example.com\r\nSubject: half a mess")
		w.Flush()
		c.(*net.TCPConn).SetLinger(0) // a reset, as a dying server would give
		c.Close()
		return false
	}
	id := h.mailbox(t, server, true)
	got := h.check(t, id)
	if got.Error == "" {
		t.Fatalf("a dropped connection gave no error: %+v", got)
	}
	if subjects := strings.Join(h.subjects(t, id), ","); subjects != wantSubjects(3) {
		t.Errorf("after the drop, stored %q, want the three before it", subjects)
	}
	first := server.sessionCommands(1)
	if hasCommand(first, "DELE") || hasCommand(first, "QUIT") {
		t.Errorf("DELE or QUIT reached the server in the dropped session: %q", first)
	}
	if server.left() != 8 {
		t.Errorf("%d left on the server after the drop, want 8", server.left())
	}
	box, _ := h.env.Store.MailboxByID(context.Background(), id)
	if box.FailureStreak != 1 || box.LastError == "" || box.LastErrorReason != string(receive.Closed) {
		t.Errorf("failure not recorded: streak %d, error %q (%s)", box.FailureStreak, box.LastError, box.LastErrorReason)
	}
	// The drop is one error line of the log, said with its context.
	errorLines, err := h.env.Service.Log(context.Background(), h.env.Admin, store.LogFilter{MailboxID: id, Level: store.LevelError})
	if err != nil || len(errorLines) != 1 || !strings.HasPrefix(errorLines[0].Text, "Checking failed: ") {
		t.Errorf("error lines: %+v, %v", errorLines, err)
	}

	got = h.check(t, id)
	if got.Error != "" || got.Received != 5 {
		t.Fatalf("second fetch: %+v, want 5 received", got)
	}
	if subjects := strings.Join(h.subjects(t, id), ","); subjects != wantSubjects(8) {
		t.Errorf("after the second fetch, stored %q", subjects)
	}
	second := server.sessionCommands(2)
	for i := 1; i <= 3; i++ {
		if hasCommand(second, fmt.Sprintf("RETR %d", i)) {
			t.Errorf("message %d, stored before the drop, was downloaded again: %q", i, second)
		}
	}
	if server.left() != 0 {
		t.Errorf("%d left on the server, want 0", server.left())
	}
	box, _ = h.env.Store.MailboxByID(context.Background(), id)
	if box.FailureStreak != 0 || box.LastError != "" {
		t.Errorf("success did not clear the failure: %+v", box)
	}
}

// TestHostileStall: the server stops answering in the middle of a message.
// The fetch fails with a timeout within the connection timeout (set to 1 s)
// and records it on the mailbox; nothing is deleted.
func TestHostileStall(t *testing.T) {
	for _, where := range []string{"at CAPA", "mid-RETR"} {
		t.Run(where, func(t *testing.T) {
			h := newHostileEnv(t)
			ctx := context.Background()
			if _, err := h.env.Service.UpdateSettings(ctx, h.env.Admin, service.SettingsInput{ConnectionTimeout: ptr(1)}); err != nil {
				t.Fatal(err)
			}
			server := newFakePOP3(t, fakeMessages(3, true)...)
			release := make(chan struct{})
			defer close(release)
			stall := func(w *bufio.Writer) {
				w.Flush()
				select {
				case <-release:
				case <-time.After(20 * time.Second):
				}
			}
			if where == "at CAPA" {
				server.reply = func(session int, command string, w *bufio.Writer, c net.Conn) bool {
					if command == "CAPA" {
						stall(w)
						return true
					}
					return false
				}
			} else {
				server.retr = func(session, n int, w *bufio.Writer, c net.Conn) bool {
					if n != 2 {
						return true
					}
					w.WriteString("+OK\r\nSubject: stalled\r\n\r\nfirst line of the body\r\n")
					stall(w)
					return false
				}
			}
			id := h.mailbox(t, server, true)
			started := time.Now()
			got := h.check(t, id)
			took := time.Since(started)
			if got.Reason != receive.Timeout || !strings.Contains(got.Detail, "timeout") {
				t.Errorf("result %+v, want a timeout", got)
			}
			if took > 5*time.Second {
				t.Errorf("the stall took %v to notice with a 1 s timeout", took)
			}
			box, _ := h.env.Store.MailboxByID(ctx, id)
			if box.FailureStreak != 1 || !strings.Contains(box.LastError, "timeout") {
				t.Errorf("timeout not recorded: streak %d, error %q", box.FailureStreak, box.LastError)
			}
			want := ""
			if where == "mid-RETR" {
				want = wantSubjects(1)
			}
			if subjects := strings.Join(h.subjects(t, id), ","); subjects != want {
				t.Errorf("stored %q, want %q", subjects, want)
			}
			if hasCommand(server.sessionCommands(1), "DELE") || server.left() != 3 {
				t.Errorf("something was deleted: %q", server.sessionCommands(1))
			}
		})
	}
}

// TestHostileGarbage: replies that are not POP3, and lines too long to
// hold, end the fetch with an error, without a panic, without storing a
// partial or wrong message and without deleting anything.
func TestHostileGarbage(t *testing.T) {
	giant := strings.Repeat("x", 2<<20) // longer than any line the client holds
	tests := []struct {
		name  string
		reply func(command string, w *bufio.Writer) bool
		retr  func(n int, w *bufio.Writer) bool
		want  string // subjects stored
	}{
		{name: "garbage reply to LIST", reply: func(command string, w *bufio.Writer) bool {
			if command == "LIST" {
				w.WriteString("HELLO? \x00\xff\r\n")
				return true
			}
			return false
		}},
		{name: "garbage line in UIDL listing", reply: func(command string, w *bufio.Writer) bool {
			if command == "UIDL" {
				w.WriteString("+OK\r\n1 uid-001\r\nthis is not a listing\r\n.\r\n")
				return true
			}
			return false
		}},
		{name: "giant status line", reply: func(command string, w *bufio.Writer) bool {
			if command == "LIST" {
				w.WriteString("+OK " + giant + "\r\n")
				return true
			}
			return false
		}},
		{name: "garbage reply to RETR", retr: func(n int, w *bufio.Writer) bool {
			if n == 2 {
				w.WriteString("SURPRISE\r\nSubject: not a message\r\n.\r\n")
				return false
			}
			return true
		}, want: wantSubjects(1)},
		{name: "giant line inside a message", retr: func(n int, w *bufio.Writer) bool {
			if n == 2 {
				w.WriteString("+OK\r\nSubject: giant\r\n\r\n" + giant + "\r\nend\r\n.\r\n")
				return false
			}
			return true
		}, want: wantSubjects(1)},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			h := newHostileEnv(t)
			server := newFakePOP3(t, fakeMessages(3, true)...)
			if test.reply != nil {
				server.reply = func(session int, command string, w *bufio.Writer, c net.Conn) bool {
					return test.reply(command, w)
				}
			}
			if test.retr != nil {
				server.retr = func(session, n int, w *bufio.Writer, c net.Conn) bool {
					if !test.retr(n, w) {
						w.Flush()
						// Let the client read what was sent before the close.
						c.(*net.TCPConn).CloseWrite()
						time.Sleep(200 * time.Millisecond)
						return false
					}
					return true
				}
			}
			id := h.mailbox(t, server, true)
			got := h.check(t, id)
			if got.Error == "" {
				t.Errorf("no error: %+v", got)
			}
			if subjects := strings.Join(h.subjects(t, id), ","); subjects != test.want {
				t.Errorf("stored %q, want %q", subjects, test.want)
			}
			if hasCommand(server.sessionCommands(1), "DELE") || server.left() != 3 {
				t.Errorf("something was deleted: %q", server.sessionCommands(1))
			}
			box, _ := h.env.Store.MailboxByID(context.Background(), id)
			if box.FailureStreak != 1 || box.LastError == "" {
				t.Errorf("failure not recorded: streak %d, error %q", box.FailureStreak, box.LastError)
			}
		})
	}
}

// TestHostileDuplicateUIDL: a broken server gives two different messages
// the same UIDL. Both are stored, once each, and neither again on the next
// fetch; with delete after receipt both are deleted.
func TestHostileDuplicateUIDL(t *testing.T) {
	for _, deleteAfter := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%v", deleteAfter), func(t *testing.T) {
			h := newHostileEnv(t)
			messages := fakeMessages(4, true)
			messages[2].uid = messages[1].uid // M02 and M03 share a UIDL
			server := newFakePOP3(t, messages...)
			id := h.mailbox(t, server, deleteAfter)
			if got := h.check(t, id); got.Error != "" || got.Received != 4 {
				t.Fatalf("first fetch: %+v", got)
			}
			if got := h.check(t, id); got.Error != "" || got.Received != 0 {
				t.Errorf("second fetch: %+v, want nothing new", got)
			}
			if subjects := strings.Join(h.subjects(t, id), ","); subjects != wantSubjects(4) {
				t.Errorf("stored %q", subjects)
			}
			if second := server.sessionCommands(2); hasCommand(second, "RETR") {
				t.Errorf("the second fetch downloaded again: %q", second)
			}
			want := 4
			if deleteAfter {
				want = 0
			}
			if server.left() != want {
				t.Errorf("%d left on the server, want %d", server.left(), want)
			}
		})
	}
}

// TestHostileRepeatedNumbers: a broken server's UIDL says message 2 twice
// (with two UIDs) and names a message 9 that LIST does not have. Each
// message is downloaded, stored and deleted once, message 9 is never asked
// for, and the work log says that lines were left out.
func TestHostileRepeatedNumbers(t *testing.T) {
	h := newHostileEnv(t)
	server := newFakePOP3(t, fakeMessages(3, true)...)
	server.reply = func(session int, command string, w *bufio.Writer, c net.Conn) bool {
		if session == 1 && command == "UIDL" {
			w.WriteString("+OK\r\n1 uid-001\r\n2 uid-002\r\n2 uid-bogus\r\n3 uid-003\r\n9 uid-009\r\n.\r\n")
			return true
		}
		return false
	}
	id := h.mailbox(t, server, true)
	if got := h.check(t, id); got.Error != "" || got.Received != 3 {
		t.Fatalf("fetch: %+v", got)
	}
	if subjects := strings.Join(h.subjects(t, id), ","); subjects != wantSubjects(3) {
		t.Errorf("stored %q", subjects)
	}
	counts := map[string]int{}
	for _, command := range server.sessionCommands(1) {
		counts[command]++
	}
	for _, command := range []string{"RETR 1", "RETR 2", "RETR 3", "DELE 1", "DELE 2", "DELE 3"} {
		if counts[command] != 1 {
			t.Errorf("%q sent %d times, want once: %q", command, counts[command], server.sessionCommands(1))
		}
	}
	if counts["RETR 9"] != 0 || counts["DELE 9"] != 0 {
		t.Errorf("message 9, which LIST does not have, was asked for: %q", server.sessionCommands(1))
	}
	if server.left() != 0 {
		t.Errorf("%d left on the server", server.left())
	}
	entries, err := h.env.Store.Log(context.Background(), store.LogFilter{MailboxID: id, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	said := false
	for _, entry := range entries {
		for _, part := range entry.Parts {
			said = said || part.Key == "log.pop3_listing_ignored" && len(part.Args) == 1 && part.Args[0] == "2"
		}
	}
	if !said {
		t.Errorf("the work log does not say that two lines were left out")
	}
}

// fetchTwiceWithoutUIDL makes a mailbox on a server without UIDL that
// holds three messages and fetches it twice: the first fetch stores the
// three, the second nothing (they are recognised by their content).
func (h *hostileEnv) fetchTwiceWithoutUIDL(t *testing.T, server *fakePOP3, deleteAfter bool) int64 {
	t.Helper()
	server.noUIDL = true
	id := h.mailbox(t, server, deleteAfter)
	if got := h.check(t, id); got.Error != "" || got.Received != 3 {
		t.Fatalf("first fetch: %+v", got)
	}
	if got := h.check(t, id); got.Error != "" || got.Received != 0 {
		t.Errorf("second fetch: %+v, want nothing new", got)
	}
	if subjects := strings.Join(h.subjects(t, id), ","); subjects != wantSubjects(3) {
		t.Errorf("stored %q", subjects)
	}
	return id
}

// TestHostileNoUIDL: a server without UIDL. Messages are stored once; a
// second fetch keeping them on the server stores nothing new (they are
// recognised by their content); with delete after receipt they are
// deleted.
func TestHostileNoUIDL(t *testing.T) {
	for _, deleteAfter := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%v", deleteAfter), func(t *testing.T) {
			h := newHostileEnv(t)
			server := newFakePOP3(t, fakeMessages(3, false)...)
			h.fetchTwiceWithoutUIDL(t, server, deleteAfter)
			want := 3
			if deleteAfter {
				want = 0
				if !hasCommand(server.sessionCommands(1), "DELE") {
					t.Errorf("no DELE: %q", server.sessionCommands(1))
				}
			}
			if server.left() != want {
				t.Errorf("%d left on the server, want %d", server.left(), want)
			}
		})
	}
}

// TestOneFetchPerMailboxInProcess: "Receive mail now" while a fetch of the
// same mailbox runs in the same process is turned away (the lease alone
// would let it in: its holder is the process).
func TestOneFetchPerMailboxInProcess(t *testing.T) {
	h := newHostileEnv(t)
	server := newFakePOP3(t, fakeMessages(2, true)...)
	started, release := make(chan struct{}), make(chan struct{})
	server.retr = func(session, n int, w *bufio.Writer, c net.Conn) bool {
		if session == 1 && n == 1 {
			close(started)
			<-release
		}
		return true
	}
	id := h.mailbox(t, server, true)
	first := make(chan service.CheckResult, 1)
	go func() {
		result, _ := h.env.Service.CheckMailbox(context.Background(), h.env.Admin, id)
		first <- result
	}()
	<-started
	second := h.check(t, id)
	close(release)
	if second.Error == "" || second.Received != 0 {
		t.Errorf("a second fetch of a mailbox being fetched: %+v", second)
	}
	if got := <-first; got.Error != "" || got.Received != 2 {
		t.Errorf("first fetch: %+v", got)
	}
	if server.sessionCommands(2) != nil {
		t.Errorf("the second fetch connected: %q", server.sessionCommands(2))
	}
	if got := h.check(t, id); got.Error != "" {
		t.Errorf("a fetch after the first ended: %+v", got)
	}
}

// largeFakeMessages are two small messages around one over
// intake.MaxInMemory (spooled as it is read), with UIDLs or without, and
// the large one's source and attachment.
func largeFakeMessages(t *testing.T, withUIDL bool) (messages []fakeMessage, raw, attachment []byte) {
	t.Helper()
	raw, attachment = testmail.Large(21, "M02", 9<<20+55)
	if len(raw) <= intake.MaxInMemory {
		t.Fatalf("the test message (%d bytes) is not large", len(raw))
	}
	messages = fakeMessages(3, withUIDL)
	messages[1].data = string(raw)
	return messages, raw, attachment
}

// noSpoolLeft fails the test when a spool file is left in dir.
func noSpoolLeft(t *testing.T, dir, when string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if intake.SpoolOwner(e.Name()) != 0 {
			t.Errorf("%s: spool file %s left behind", when, e.Name())
		}
	}
}

// TestHostileNoUIDLLarge: a server without UIDL holding a large message
// among small ones. The large one is keyed by its spool's hash (the same
// key the small ones get from their bytes), so that fetched twice it is
// stored once; with delete after receipt everything is deleted.
func TestHostileNoUIDLLarge(t *testing.T) {
	for _, deleteAfter := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%v", deleteAfter), func(t *testing.T) {
			spoolDir := t.TempDir()
			t.Setenv("TMPDIR", spoolDir)
			h := newHostileEnv(t)
			messages, raw, attachment := largeFakeMessages(t, false)
			server := newFakePOP3(t, messages...)
			id := h.fetchTwiceWithoutUIDL(t, server, deleteAfter)
			checkLarge(t, h.env, id, "M02", raw, attachment)
			known, err := h.env.Store.KnownUIDs(context.Background(), id, "")
			if err != nil {
				t.Fatal(err)
			}
			if key := "sha256:" + store.RawHash(raw); !known[key] {
				t.Errorf("the large message's key %s is not recorded: %v", key, known)
			}
			want := 3
			if deleteAfter {
				want = 0
			}
			if server.left() != want {
				t.Errorf("%d left on the server, want %d", server.left(), want)
			}
			noSpoolLeft(t, spoolDir, "after the fetches")
		})
	}
}

// TestHostileDropMidLargeRetr: the connection drops while a large message
// is being spooled. The message before it is stored, the partial one is
// not (and its spool files are removed), nothing is deleted; the next
// fetch stores the rest, the large one whole, and deletes everything.
func TestHostileDropMidLargeRetr(t *testing.T) {
	spoolDir := t.TempDir()
	t.Setenv("TMPDIR", spoolDir)
	h := newHostileEnv(t)
	messages, raw, attachment := largeFakeMessages(t, true)
	server := newFakePOP3(t, messages...)
	server.retr = func(session, n int, w *bufio.Writer, c net.Conn) bool {
		if session != 1 || n != 2 {
			return true
		}
		fmt.Fprintf(w, "+OK %d octets\r\n", len(raw))
		w.Write(raw[:intake.MaxInMemory+1<<20]) // past what is held in memory: spooling
		w.Flush()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		return false
	}
	id := h.mailbox(t, server, true)
	if got := h.check(t, id); got.Error == "" {
		t.Fatalf("a dropped connection gave no error: %+v", got)
	}
	if subjects := strings.Join(h.subjects(t, id), ","); subjects != "M01" {
		t.Errorf("after the drop, stored %q, want M01", subjects)
	}
	if first := server.sessionCommands(1); hasCommand(first, "DELE") || hasCommand(first, "QUIT") {
		t.Errorf("DELE or QUIT reached the server in the dropped session: %q", first)
	}
	noSpoolLeft(t, spoolDir, "after the drop")
	if got := h.check(t, id); got.Error != "" || got.Received != 2 {
		t.Fatalf("second fetch: %+v, want 2 received", got)
	}
	if subjects := strings.Join(h.subjects(t, id), ","); subjects != wantSubjects(3) {
		t.Errorf("after the second fetch, stored %q", subjects)
	}
	checkLarge(t, h.env, id, "M02", raw, attachment)
	if server.left() != 0 {
		t.Errorf("%d left on the server, want 0", server.left())
	}
	noSpoolLeft(t, spoolDir, "after the second fetch")
}
