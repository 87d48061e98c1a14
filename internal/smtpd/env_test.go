package smtpd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"pochta.dev/pochta/internal/app"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/smtpd"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
	"pochta.dev/pochta/internal/worklog"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll()
	os.Exit(code)
}

func ptr[T any](v T) *T { return &v }

// env is a service over a fresh database with an SMTP server running on it,
// wired as internal/app wires it.
type env struct {
	t       *testing.T
	svc     *servicetest.Env
	server  *smtpd.Server
	relay   *recordingRelay
	mailbox int64
	host    string
	port    int
	ctx     context.Context
	// stop ends the server's Run and waits for it (as serve stopping).
	stop func()
}

// options change the test's server before it starts.
type options struct {
	mailbox  service.MailboxInput
	settings service.SettingsInput
	idle     time.Duration
	relay    smtpd.Relay
	dsn      string
	dataDir  string // "": a folder of the test's own
}

// newEnv starts a server with one SMTP mailbox on a free loopback port.
// The user "alice" (password "alice-password-1") can authenticate.
func newEnv(t *testing.T, o options) *env {
	t.Helper()
	svc := servicetest.New(t, o.dsn)
	ctx, cancel := context.WithCancel(context.Background())
	svc.AddUser(t, "alice", "alice-password-1", store.RoleUser)
	if _, err := svc.Service.UpdateSettings(ctx, svc.Admin, o.settings); err != nil {
		t.Fatal(err)
	}
	input := o.mailbox
	input.Type, input.Server = ptr("smtp"), ptr("127.0.0.1")
	if input.Name == nil {
		input.Name = ptr("Inbound")
	}
	input.Port = ptr(freePort(t))
	view, err := svc.Service.CreateMailbox(ctx, svc.Admin, input)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: svc, mailbox: view.ID, host: "127.0.0.1", port: *input.Port, ctx: ctx, relay: &recordingRelay{}}
	relay := o.relay
	if relay == nil {
		relay = e.relay
	}
	// The server as app wires it, with the test's relay and limits.
	config := app.SMTPConfig(svc.Service, slog.New(slog.DiscardHandler))
	config.Relay = relay
	config.Log = worklog.New(svc.Store, svc.Service, slog.New(slog.DiscardHandler))
	config.Hostname = "mx.test"
	config.DataDir = o.dataDir
	if config.DataDir == "" {
		config.DataDir = t.TempDir()
	}
	config.IdleTimeout = o.idle
	e.server = smtpd.New(config)
	e.server.Reload(ctx) // bind now: the test talks at once
	if e.server.Addr(view.ID) == nil {
		t.Fatalf("listener of mailbox %d not bound: %+v", view.ID, e.server.Status())
	}
	done := make(chan struct{})
	go func() { e.server.Run(ctx); close(done) }()
	e.stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(func() {
		e.stop()
		svc.Service.Close()
	})
	return e
}

func (e *env) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// messages gives the sources of the messages stored in a mailbox.
func (e *env) messages(mailbox int64) []string {
	e.t.Helper()
	page, err := e.svc.Store.Messages(e.ctx, store.MessageFilter{MailboxIDs: []int64{mailbox}}, store.MessageSort{}, "", 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range page.Items {
		source, err := e.svc.Source(e.ctx, e.svc.Admin, m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(source))
	}
	return out
}

func (e *env) count(mailbox int64) int {
	e.t.Helper()
	m, err := e.svc.Store.MailboxByID(e.ctx, mailbox)
	if err != nil {
		e.t.Fatal(err)
	}
	return int(m.MessagesTotal)
}

// swaks runs swaks against the server with args; it returns the transcript
// and swaks's exit status (0: the message was accepted).
func (e *env) swaks(args ...string) (string, int) {
	e.t.Helper()
	bin := testpeer.Swaks(e.t)
	all := append([]string{"--server", e.host, "--port", strconv.Itoa(e.port), "--helo", "client.test", "--timeout", "60"}, args...)
	cmd := exec.Command(bin, all...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		e.t.Fatalf("swaks: %v\n%s", err, out)
	}
	return string(out), 0
}

// rawSession is Python for the tests that speak SMTP by hand (smtplib
// would refuse what they send): a socket to the server and a reader of one
// reply, multi-line ones whole.
const rawSession = `import socket
def raw_session():
    c = socket.create_connection((HOST, PORT))
    f = c.makefile("rb")
    def reply():
        lines = []
        while True:
            line = f.readline()
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines).decode().strip()
    return c, reply
`

// python runs a Python program with smtplib; HOST and PORT are set in its
// globals. It returns what the program printed.
func (e *env) python(program string) string {
	e.t.Helper()
	bin := testpeer.Python(e.t)
	prelude := fmt.Sprintf("import smtplib, ssl, base64, sys, json\nHOST=%q\nPORT=%d\n", e.host, e.port) + rawSession
	cmd := exec.Command(bin, "-c", prelude+program)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

// recordingRelay accepts every relayed recipient and keeps the messages:
// the open-relay tests check that nothing reaches it.
type recordingRelay struct {
	mu       sync.Mutex
	checked  []string
	messages []relayed
}

type relayed struct {
	from string
	to   []string
	body string
}

func (r *recordingRelay) Check(_ context.Context, _, to string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked = append(r.checked, to)
	return nil
}

func (r *recordingRelay) Enqueue(_ context.Context, from string, to []string, message io.Reader) error {
	b, err := io.ReadAll(message)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, relayed{from, to, string(b)})
	return nil
}

func (r *recordingRelay) seen() ([]string, []relayed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.checked...), append([]relayed(nil), r.messages...)
}

var _ = intake.Delivery{}

func contains(t *testing.T, out, want string) {
	t.Helper()
	if !strings.Contains(out, want) {
		t.Fatalf("want %q in:\n%s", want, out)
	}
}
