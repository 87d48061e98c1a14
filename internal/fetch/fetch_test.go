package fetch_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll()
	os.Exit(code)
}

func ptr[T any](value T) *T { return &value }

// mail makes a small message; the number makes each one distinct.
func mail(n int, subject string) []byte {
	return []byte(fmt.Sprintf("From: Sender <sender@example.com>\r\nTo: box@example.com\r\nSubject: %s\r\nMessage-ID: <m%d@example.com>\r\n\r\nBody of message %d.\r\n.line that starts with a dot\r\n", subject, n, n))
}

// fixture is one Dovecot with a user per test, and Pochta over SQLite.
type fixture struct {
	dovecot *testpeer.DovecotServer
	env     *servicetest.Env
}

// users are added before Dovecot serves its first login: it does not always
// see users added to its passwd-file later.
var userNames = []string{"plain", "deleting", "counted", "sized", "tls", "stls", "apop", "wrong", "many", "charset", "noverify"}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dovecot := testpeer.Dovecot(t)
	for _, name := range userNames {
		dovecot.AddUser(name, "secret-"+name)
	}
	return &fixture{dovecot: dovecot, env: servicetest.New(t)}
}

func (f *fixture) mailbox(t *testing.T, user string, input service.MailboxInput) service.MailboxView {
	t.Helper()
	input.Type, input.Name, input.Server = ptr("pop3"), ptr("POP3 "+user), ptr(f.dovecot.Host)
	input.Login, input.Password = ptr(user), ptr("secret-"+user)
	if input.Port == nil {
		input.Port = ptr(f.dovecot.POP3Port)
	}
	m, err := f.env.Service.CreateMailbox(context.Background(), f.env.Admin, input)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) deliver(t *testing.T, user string, messages ...[]byte) {
	t.Helper()
	for _, raw := range messages {
		if err := f.dovecot.Deliver(user, raw); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) check(t *testing.T, id int64) service.CheckResult {
	t.Helper()
	result, err := f.env.Service.CheckMailbox(context.Background(), f.env.Admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return result
}

// logLines gives the texts of a mailbox's work log lines of one level, as
// the service says them (in English), newest first.
func (f *fixture) logLines(t *testing.T, mailboxID int64, level string) []string {
	t.Helper()
	log, err := f.env.Service.Log(context.Background(), f.env.Admin, store.LogFilter{MailboxID: mailboxID, Level: level, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, entry := range log {
		texts = append(texts, entry.Text)
	}
	return texts
}

// onServer counts the messages left in a user's Maildir.
func (f *fixture) onServer(t *testing.T, user string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(f.dovecot.Dir, "mail", user, "Maildir", sub))
		n += len(entries)
	}
	return n
}

func (f *fixture) stored(t *testing.T, mailboxID int64) []service.MessageView {
	t.Helper()
	page, err := f.env.Service.Messages(context.Background(), f.env.Admin, store.MessageFilter{MailboxIDs: []int64{mailboxID}}, store.MessageSort{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func TestFetchFromDovecot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	t.Run("plain, keep on server", func(t *testing.T) {
		box := f.mailbox(t, "plain", service.MailboxInput{})
		f.deliver(t, "plain", mail(1, "One"), mail(2, "Two"), mail(3, "Three"))
		if got := f.check(t, box.ID); got.Received != 3 || got.Error != "" {
			t.Fatalf("first check: %+v", got)
		}
		if got := f.check(t, box.ID); got.Received != 0 || got.Error != "" {
			t.Errorf("second check: %+v", got)
		}
		if n := f.onServer(t, "plain"); n != 3 {
			t.Errorf("%d left on the server, want 3", n)
		}
		messages := f.stored(t, box.ID)
		if len(messages) != 3 {
			t.Fatalf("%d stored", len(messages))
		}
		raw, err := f.env.Source(ctx, f.env.Admin, messages[0].ID)
		if err != nil || !strings.Contains(string(raw), "\r\n.line that starts with a dot\r\n") {
			t.Errorf("source not dot-unstuffed exactly: %q %v", raw, err)
		}
		log, _ := f.env.Service.Log(ctx, f.env.Admin, store.LogFilter{MailboxID: box.ID, Limit: 1000})
		var text strings.Builder
		for _, entry := range log {
			text.WriteString(entry.Text + "\n")
		}
		if strings.Contains(text.String(), "secret-plain") || !strings.Contains(text.String(), "AUTH PLAIN ***") ||
			!strings.Contains(text.String(), "Receiving mail: One") || !strings.Contains(text.String(), "Received 0 new messages") {
			t.Errorf("work log:\n%s", text.String())
		}
	})

	t.Run("delete after receipt", func(t *testing.T) {
		box := f.mailbox(t, "deleting", service.MailboxInput{DeleteFromServer: ptr(true)})
		f.deliver(t, "deleting", mail(1, "One"), mail(2, "Two"))
		if got := f.check(t, box.ID); got.Received != 2 {
			t.Fatalf("check: %+v", got)
		}
		if n := f.onServer(t, "deleting"); n != 0 {
			t.Errorf("%d left on the server, want 0", n)
		}
		f.deliver(t, "deleting", mail(3, "Three"))
		if got := f.check(t, box.ID); got.Received != 1 || len(f.stored(t, box.ID)) != 3 {
			t.Errorf("after one more: %+v", got)
		}
	})

	t.Run("max messages per connection", func(t *testing.T) {
		box := f.mailbox(t, "counted", service.MailboxInput{MaxMessages: ptr(2), DeleteFromServer: ptr(true)})
		f.deliver(t, "counted", mail(1, "a"), mail(2, "b"), mail(3, "c"), mail(4, "d"), mail(5, "e"))
		for i, want := range []int{2, 2, 1, 0} {
			if got := f.check(t, box.ID); got.Received != want {
				t.Errorf("run %d: received %d, want %d (%s)", i+1, got.Received, want, got.Error)
			}
		}
		if n := len(f.stored(t, box.ID)); n != 5 {
			t.Errorf("%d stored, want 5", n)
		}
	})

	t.Run("max size leaves large messages on the server", func(t *testing.T) {
		box := f.mailbox(t, "sized", service.MailboxInput{MaxMessageSizeKB: ptr(1), DeleteFromServer: ptr(true)})
		large := append(mail(1, "Large"), []byte(strings.Repeat("x", 4000)+"\r\n")...)
		f.deliver(t, "sized", large, mail(2, "Small"))
		if got := f.check(t, box.ID); got.Received != 1 {
			t.Errorf("check: %+v", got)
		}
		f.check(t, box.ID)
		if n := f.onServer(t, "sized"); n != 1 {
			t.Errorf("%d left on the server, want the large one", n)
		}
		log, _ := f.env.Service.Log(ctx, f.env.Admin, store.LogFilter{MailboxID: box.ID, Limit: 1000})
		found := false
		for _, entry := range log {
			found = found || strings.Contains(entry.Text, "left on the server")
		}
		if !found {
			t.Error("the large message is not logged")
		}
	})

	t.Run("implicit TLS with a self-signed certificate", func(t *testing.T) {
		box := f.mailbox(t, "tls", service.MailboxInput{Security: ptr("tls"), Port: ptr(f.dovecot.POP3SPort)})
		f.deliver(t, "tls", mail(1, "Secret"))
		got := f.check(t, box.ID)
		if got.Received != 0 || got.Reason != receive.Certificate || !strings.Contains(got.Error, `tick "Don't verify the certificate"`) ||
			!strings.Contains(got.Detail, "certificate") {
			t.Errorf("with verification on: %+v", got)
		}
		stored, _ := f.env.Store.MailboxByID(ctx, box.ID)
		if stored.FailureStreak != 1 || stored.LastError == "" || stored.LastErrorReason != string(receive.Certificate) {
			t.Errorf("failure not recorded: streak %d, error %q (%s)", stored.FailureStreak, stored.LastError, stored.LastErrorReason)
		}
		if _, err := f.env.Service.UpdateMailbox(ctx, f.env.Admin, box.ID, service.MailboxInput{VerifyCert: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if got := f.check(t, box.ID); got.Received != 1 || got.Error != "" {
			t.Errorf("with verification off: %+v", got)
		}
		stored, _ = f.env.Store.MailboxByID(ctx, box.ID)
		if stored.FailureStreak != 0 || stored.LastError != "" || stored.LastErrorReason != "" {
			t.Errorf("success did not clear the failure: %+v", stored)
		}
	})

	t.Run("STARTTLS", func(t *testing.T) {
		box := f.mailbox(t, "stls", service.MailboxInput{Security: ptr("starttls"), VerifyCert: ptr(false)})
		f.deliver(t, "stls", mail(1, "Upgraded"))
		if got := f.check(t, box.ID); got.Received != 1 || got.Error != "" {
			t.Errorf("check: %+v", got)
		}
		// The log says how it connected, in words, not the client's codes.
		info := f.logLines(t, box.ID, store.LevelInfo)
		all := strings.Join(info, "\n")
		if !strings.Contains(all, ", then STARTTLS") || !strings.Contains(all, "Secured: TLS 1.") || strings.Contains(all, "(starttls)") {
			t.Errorf("connect lines: %q", info)
		}
	})

	t.Run("APOP", func(t *testing.T) {
		box := f.mailbox(t, "apop", service.MailboxInput{APOP: ptr(true)})
		f.deliver(t, "apop", mail(1, "Digest"))
		if got := f.check(t, box.ID); got.Received != 1 || got.Error != "" {
			t.Errorf("check: %+v", got)
		}
		log, _ := f.env.Service.Log(ctx, f.env.Admin, store.LogFilter{MailboxID: box.ID, Limit: 1000})
		for _, entry := range log {
			if strings.HasPrefix(entry.Text, "APOP ") && !strings.Contains(entry.Text, "***") {
				t.Errorf("APOP digest not masked: %q", entry.Text)
			}
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		box := f.mailbox(t, "wrong", service.MailboxInput{CheckInterval: ptr(5)})
		if _, err := f.env.Service.UpdateMailbox(ctx, f.env.Admin, box.ID, service.MailboxInput{Password: ptr("not-the-password")}); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		got := f.check(t, box.ID)
		if got.Error != "The server did not accept the login or the password" || got.Reason != receive.Login || !strings.Contains(got.Detail, "***: -ERR [AUTH]") {
			t.Fatalf("a wrong password: %+v", got)
		}
		stored, _ := f.env.Store.MailboxByID(ctx, box.ID)
		// One failure doubles the 5-minute interval (plus up to 10% jitter).
		if wait := stored.NextCheckAt.Sub(started); wait < 10*time.Minute || wait > 12*time.Minute {
			t.Errorf("next check in %v after a failure, want about 10 minutes", wait)
		}
	})

	t.Run("nothing listens at the port", func(t *testing.T) {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closedPort := listener.Addr().(*net.TCPAddr).Port
		listener.Close()
		box := f.mailbox(t, "plain", service.MailboxInput{Port: ptr(closedPort)})
		got := f.check(t, box.ID)
		if got.Reason != receive.Refused || got.Error != "The server refused the connection: check the server name and the port" {
			t.Errorf("check: %+v", got)
		}
		// The failure is logged once, with its context, not once as the
		// client met it and again as the check ended.
		errorLines := f.logLines(t, box.ID, store.LevelError)
		if len(errorLines) != 1 || !strings.HasPrefix(errorLines[0], "Checking failed: pop3 127.0.0.1:") || !strings.Contains(errorLines[0], "connection refused") {
			t.Errorf("error lines: %q", errorLines)
		}
	})

	t.Run("1,000 messages", func(t *testing.T) {
		box := f.mailbox(t, "many", service.MailboxInput{DeleteFromServer: ptr(true)})
		for i := range 1000 {
			f.deliver(t, "many", mail(i, fmt.Sprintf("Message %d", i)))
		}
		if got := f.check(t, box.ID); got.Received != 1000 || got.Error != "" {
			t.Fatalf("check: %+v", got)
		}
		if n := f.onServer(t, "many"); n != 0 {
			t.Errorf("%d left on the server", n)
		}
		if n := len(f.stored(t, box.ID)); n != 1000 {
			t.Errorf("%d stored", n)
		}
	})

	t.Run("legacy charset", func(t *testing.T) {
		box := f.mailbox(t, "charset", service.MailboxInput{Charset: ptr("koi8-r")})
		// "Привет" in KOI8-R, with no charset declared anywhere.
		raw := []byte("Subject: \xf0\xd2\xc9\xd7\xc5\xd4\r\nFrom: a@example.com\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n")
		f.deliver(t, "charset", raw)
		if got := f.check(t, box.ID); got.Received != 1 {
			t.Fatalf("check: %+v", got)
		}
		if messages := f.stored(t, box.ID); len(messages) != 1 || messages[0].Subject != "Привет" {
			t.Errorf("subject %q", messages[0].Subject)
		}
	})
}
