package fetch_test

import (
	"bytes"
	"context"
	"io"
	"pochta.dev/pochta/internal/testmail"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// checkLarge finds the message with subject among a mailbox's messages and
// checks it against its source and attachment: the source streamed back
// byte for byte, the attachment's bytes, the text.
func checkLarge(t *testing.T, env *servicetest.Env, mailboxID int64, subject string, raw, attachment []byte) {
	t.Helper()
	ctx := context.Background()
	page, err := env.Service.Messages(ctx, env.Admin, store.MessageFilter{MailboxIDs: []int64{mailboxID}}, store.MessageSort{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	for _, m := range page.Items {
		if m.Subject == subject {
			if id != 0 {
				t.Errorf("%q stored twice", subject)
			}
			id = m.ID
		}
	}
	if id == 0 {
		t.Fatalf("%q not stored", subject)
	}
	source, size, err := env.Service.MessageSource(ctx, env.Admin, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(source)
	source.Close()
	if err != nil || size != int64(len(raw)) || !bytes.Equal(got, raw) {
		t.Errorf("%q: source of %d bytes (size %d, %v), want the %d bytes delivered", subject, len(got), size, err, len(raw))
	}
	view, err := env.Service.Message(ctx, env.Admin, id, service.MessageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(view.Text, "Квитанция") || !strings.Contains(view.Text, "\n.a line that starts with a dot") ||
		view.Size != int64(len(raw)) || len(view.Attachments) != 1 || len(view.ParseErrors) != 0 {
		t.Fatalf("%q: text %q, size %d, attachments %+v, notes %q", subject, view.Text, view.Size, view.Attachments, view.ParseErrors)
	}
	a, body, err := env.Service.MessageAttachment(ctx, env.Admin, id, view.Attachments[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(body)
	body.Close()
	if err != nil || a.Size != int64(len(attachment)) || !bytes.Equal(got, attachment) {
		t.Errorf("%q: attachment of %d bytes (size %d, %v), want the %d bytes encoded", subject, len(got), a.Size, err, len(attachment))
	}
}

// TestFetchLargeFromDovecot: a Dovecot mailbox with one message over
// intake.MaxInMemory (spooled to a file as it is read) among small ones,
// fetched with delete after receipt: every message is stored once, the
// large one byte for byte with its attachment and text, the server is
// empty afterwards, and a second fetch stores nothing.
func TestFetchLargeFromDovecot(t *testing.T) {
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser("large", "secret-large")
	f := &fixture{dovecot: dovecot, env: servicetest.New(t)}
	box := f.mailbox(t, "large", service.MailboxInput{DeleteFromServer: ptr(true)})
	raw, attachment := testmail.Large(11, "Large backup", 9<<20+777)
	if len(raw) <= intake.MaxInMemory {
		t.Fatalf("the test message (%d bytes) is not large", len(raw))
	}
	f.deliver(t, "large", mail(1, "Small one"), raw, mail(2, "Small two"), mail(3, "Small three"))

	if got := f.check(t, box.ID); got.Received != 4 || got.Error != "" {
		t.Fatalf("first check: %+v", got)
	}
	if n := f.onServer(t, "large"); n != 0 {
		t.Errorf("%d left on the server, want 0", n)
	}
	var subjects []string
	for _, m := range f.stored(t, box.ID) {
		subjects = append(subjects, m.Subject)
	}
	if len(subjects) != 4 {
		t.Errorf("stored %q, want 4 messages", subjects)
	}
	checkLarge(t, f.env, box.ID, "Large backup", raw, attachment)
	if got := f.check(t, box.ID); got.Received != 0 || got.Error != "" {
		t.Errorf("second check: %+v", got)
	}
	if n := len(f.stored(t, box.ID)); n != 4 {
		t.Errorf("%d stored after the second check, want 4", n)
	}
	// The work log names the large message once, with its size.
	log, _ := f.env.Service.Log(context.Background(), f.env.Admin, store.LogFilter{MailboxID: box.ID, Limit: 1000})
	logged := 0
	for _, entry := range log {
		if strings.Contains(entry.Text, "Receiving mail: Large backup (") {
			logged++
		}
	}
	if logged != 1 {
		t.Errorf("the large message is logged %d times", logged)
	}
}
