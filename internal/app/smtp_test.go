package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
)

// The SMTP server is wired: an active SMTP mailbox gets a listener, which
// the service's status, the API's and /metrics report.
func TestSMTPServerWired(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SMTPHostname: "mx.test"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	if _, err := a.Service.Bootstrap(ctx, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	server, active := "127.0.0.1", true
	name, kind := "Inbound", "smtp"
	if _, err := a.Service.CreateMailbox(ctx, service.System, service.MailboxInput{Type: &kind, Name: &name, Server: &server, Port: &port, Active: &active}); err != nil {
		t.Fatal(err)
	}
	go func() { a.SMTP.Run(ctx); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	var status service.SMTPStatus
	for {
		status, err = a.Service.SMTPStatus(ctx, service.System)
		if err != nil {
			t.Fatal(err)
		}
		if status.Running && len(status.Listeners) == 1 && status.Listeners[0].Listening {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := net.Dial("tcp", net.JoinHostPort(server, itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	greeting := make([]byte, 100)
	n, _ := c.Read(greeting)
	c.Close()
	if !strings.HasPrefix(string(greeting[:n]), "220 mx.test ESMTP") {
		t.Fatalf("greeting %q", greeting[:n])
	}
	if err := a.Queue.Enqueue(ctx, "alice@example.test", []string{"bob@elsewhere.test"}, strings.NewReader("Subject: queued\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	recorder := httptest.NewRecorder()
	a.Handler().ServeHTTP(recorder, httptest.NewRequest("GET", "/metrics", nil))
	address := `address="` + net.JoinHostPort(server, itoa(port)) + `"`
	for _, want := range []string{"pochta_smtp_running 1", "pochta_smtp_connections_total 1", "pochta_smtp_listeners_failed 0",
		"pochta_smtp_listener_up{" + address, "pochta_smtp_listener_connections_total{" + address, `pochta_queue_messages{state="queued"} 1`,
		`pochta_queue_messages{state="deferred"} 0`, "pochta_queue_oldest_message_age_seconds ", "pochta_queue_attempts_total 0",
		`pochta_queue_recipients_total{outcome="failed"} 0`, "pochta_queue_stats_error 0", "pochta_smtp_started_at_seconds ",
		"pochta_smtp_messages_received_total 0", "pochta_smtp_listener_started_at_seconds{" + address,
		"pochta_intake_commits_total 0", "pochta_intake_messages_committed_total 0"} {
		if !strings.Contains(recorder.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(recorder.Body.String(), "pochta_smtp_started_at_seconds 0\n") {
		t.Error("/metrics: a running server's start time is 0")
	}

	// The API's status carries every field API.md names.
	request := httptest.NewRequest("GET", "/api/v1/smtp/status", nil)
	request.SetBasicAuth("admin", "admin-password-1")
	recorder = httptest.NewRecorder()
	a.Handler().ServeHTTP(recorder, request)
	var body map[string]any
	if err := json.Unmarshal(recorder.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d %q: %v", recorder.Code, recorder.Body, err)
	}
	for _, field := range []string{"running", "started_at", "received", "connections_total", "connections_now", "listeners"} {
		if _, ok := body[field]; !ok {
			t.Errorf("GET /api/v1/smtp/status lacks %q: %s", field, recorder.Body)
		}
	}
	if listeners, _ := body["listeners"].([]any); len(listeners) != 1 || body["running"] != true || body["started_at"] == nil {
		t.Errorf("GET /api/v1/smtp/status: %s", recorder.Body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
