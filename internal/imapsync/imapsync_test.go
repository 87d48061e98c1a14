package imapsync_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"pochta.dev/pochta/internal/imapsync"
	"pochta.dev/pochta/internal/protoline"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testmail"
	"pochta.dev/pochta/internal/testpeer"
	"pochta.dev/pochta/internal/worklog"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll()
	os.Exit(code)
}

// recorder keeps the work log's lines in memory.
type recorder struct {
	mu      sync.Mutex
	entries []store.LogEntry
	changed chan struct{} // closed and replaced at every Record
}

func (r *recorder) Record(_ context.Context, entries ...store.LogEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entries...)
	if r.changed != nil {
		close(r.changed)
	}
	r.changed = make(chan struct{})
}

// waitFor waits until a line of the mailbox contains text, failing the
// test at the deadline.
func (r *recorder) waitFor(t *testing.T, mailboxID int64, text string, deadline time.Duration) {
	t.Helper()
	r.waitCount(t, mailboxID, text, 1, deadline)
}

// waitCount waits until n lines of the mailbox contain text.
func (r *recorder) waitCount(t *testing.T, mailboxID int64, text string, n int, deadline time.Duration) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		r.mu.Lock()
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()
		if strings.Count(r.text(mailboxID), text) >= n {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no %q in the work log after %v:\n%s", text, deadline, r.text(mailboxID))
		}
	}
}

// text gives the lines of a mailbox in English, one a line.
func (r *recorder) text(mailboxID int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.entries {
		if e.MailboxID == mailboxID {
			b.WriteString(worklog.Text("en", e) + "\n")
		}
	}
	return b.String()
}

// fixture is one Dovecot with users, Pochta over SQLite and a Syncer.
type fixture struct {
	dovecot *testpeer.DovecotServer
	env     *servicetest.Env
	log     *recorder
	syncer  *imapsync.Syncer
	siteID  int64
	ownerID int64
	owner   *service.Actor
}

// users are added before Dovecot serves its first login: it does not always
// see users added to its passwd-file later.
var userNames = []string{"many", "basic", "tls", "stls", "wrong", "ranged", "seen", "moved", "expunged", "kept", "trashed",
	"validity", "unsafe", "idle", "idleback", "large", "renamed", "connected"}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dovecot := testpeer.Dovecot(t)
	for _, name := range userNames {
		dovecot.AddUser(name, "secret-"+name)
	}
	env := servicetest.New(t)
	owner := env.AddUser(t, "owner", "owner-password-1", "user")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(dovecot.CertPEM)
	log := &recorder{}
	f := &fixture{dovecot: dovecot, env: env, log: log, siteID: env.Admin.User.SiteID, ownerID: owner.User.ID, owner: owner}
	f.syncer = imapsync.New(imapsync.Config{
		Store:    env.Store,
		Intake:   env.Service.Intake(),
		Log:      log,
		Password: func(m store.Mailbox) (string, error) { return "secret-" + m.Login, nil },
		Dialer:   servicetest.LoopbackDialer{},
		RootCAs:  pool,
	})
	return f
}

// mailbox makes an IMAP mailbox of user on the fixture's Dovecot, over
// plain IMAP unless change says otherwise.
func (f *fixture) mailbox(t *testing.T, user string, change func(*store.Mailbox)) store.Mailbox {
	t.Helper()
	m := store.Mailbox{SiteID: f.siteID, Type: store.MailboxIMAP, Active: true, Name: "IMAP " + user, Server: "127.0.0.1",
		Port: f.dovecot.IMAPPort, Security: "none", VerifyCert: true, Login: user, OwnerID: f.ownerID,
		Folders: []string{"INBOX"}, SyncRange: "all", Domains: []string{}}
	if change != nil {
		change(&m)
	}
	if err := f.env.Store.CreateMailbox(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) sync(t *testing.T, id int64) imapsync.Result {
	t.Helper()
	result, err := f.syncer.Receive(context.Background(), id)
	if err != nil {
		t.Fatalf("sync: %v\n%s", err, f.log.text(id))
	}
	return result
}

// stored gives a mailbox's messages by subject.
func (f *fixture) stored(t *testing.T, mailboxID int64) map[string]store.Message {
	t.Helper()
	page, err := f.env.Store.Messages(context.Background(), store.MessageFilter{MailboxIDs: []int64{mailboxID}}, store.MessageSort{}, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	bySubject := map[string]store.Message{}
	for _, m := range page.Items {
		if _, twice := bySubject[m.Subject]; twice {
			t.Errorf("%q is stored twice", m.Subject)
		}
		bySubject[m.Subject] = m
	}
	return bySubject
}

// total is how many messages a mailbox holds (the count kept on its row).
func (f *fixture) total(t *testing.T, mailboxID int64) int {
	t.Helper()
	mailbox, err := f.env.Store.MailboxByID(context.Background(), mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	return int(mailbox.MessagesTotal)
}

// client is another mail client of the user's: the web mail, a phone.
func (f *fixture) client(t *testing.T, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(net.JoinHostPort("127.0.0.1", strconv.Itoa(f.dovecot.IMAPPort)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, "secret-"+user).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// mail makes a small message; the number makes each one distinct.
func mail(n int, subject string) []byte {
	return []byte(fmt.Sprintf("From: Sender <sender@example.com>\r\nTo: box@example.com\r\nSubject: %s\r\nMessage-ID: <m%d@example.com>\r\nDate: Mon, 1 Dec 2026 10:00:00 +0000\r\n\r\nBody of message %d.\r\n", subject, n, n))
}

// appendMessage puts a message into a folder as another client would.
func appendMessage(t *testing.T, c *imapclient.Client, folder string, raw []byte, date time.Time, flags ...imap.Flag) {
	t.Helper()
	command := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Time: date, Flags: flags})
	if _, err := command.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := command.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := command.Wait(); err != nil {
		t.Fatal(err)
	}
}

// uidOf finds a message's UID in a folder by subject.
func uidOf(t *testing.T, c *imapclient.Client, folder, subject string) imap.UID {
	t.Helper()
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	uids := found.AllUIDs()
	if len(uids) != 1 {
		t.Fatalf("%d messages %q in %s", len(uids), subject, folder)
	}
	return uids[0]
}

// flagsOf gives a message's flags on the server.
func flagsOf(t *testing.T, c *imapclient.Client, folder, subject string) []imap.Flag {
	t.Helper()
	uid := uidOf(t, c, folder, subject)
	messages, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(messages) != 1 {
		t.Fatalf("flags of %q: %v", subject, err)
	}
	return messages[0].Flags
}

func count(t *testing.T, c *imapclient.Client, folder string) int {
	t.Helper()
	status, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return int(*status.NumMessages)
}

func TestSyncFromDovecot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now()

	t.Run("folders with special use, read flags, nothing twice", func(t *testing.T) {
		c := f.client(t, "basic")
		for _, folder := range []string{"Sent", "Trash", "Junk", "Archive", "Projects"} {
			if err := c.Create(folder, nil).Wait(); err != nil {
				t.Fatal(err)
			}
		}
		appendMessage(t, c, "INBOX", mail(1, "Unread"), now)
		appendMessage(t, c, "INBOX", mail(2, "Read"), now, imap.FlagSeen)
		appendMessage(t, c, "Sent", mail(3, "Sent one"), now, imap.FlagSeen)
		appendMessage(t, c, "Projects", mail(4, "Not chosen"), now)
		box := f.mailbox(t, "basic", func(m *store.Mailbox) { m.Folders = []string{"INBOX", "Sent"} })

		folders, err := f.syncer.Folders(ctx, receive.Connection{Server: "127.0.0.1", Port: f.dovecot.IMAPPort, Security: "none",
			Login: "basic", Password: "secret-basic", Dialer: servicetest.LoopbackDialer{}})
		if err != nil {
			t.Fatal(err)
		}
		roles := map[string]string{}
		for _, folder := range folders {
			roles[folder.Name] = folder.Role
		}
		want := map[string]string{"INBOX": "Inbox", "Sent": "Sent", "Trash": "Trash", "Junk": "Junk", "Archive": "Archive", "Projects": ""}
		for name, role := range want {
			if got, ok := roles[name]; !ok || got != role {
				t.Errorf("folder %s: role %q (listed %v), want %q", name, got, ok, role)
			}
		}
		if folders[0].Name != "INBOX" {
			t.Errorf("INBOX not first: %+v", folders)
		}

		if got := f.sync(t, box.ID); got.Received != 3 {
			t.Errorf("first sync received %d, want 3", got.Received)
		}
		stored := f.stored(t, box.ID)
		if len(stored) != 3 || stored["Unread"].Read || !stored["Read"].Read || !stored["Sent one"].Read {
			t.Errorf("stored: %+v", stored)
		}
		if _, ok := stored["Not chosen"]; ok {
			t.Error("a folder not chosen was synced")
		}
		if got := f.sync(t, box.ID); got.Received != 0 {
			t.Errorf("second sync received %d", got.Received)
		}
		appendMessage(t, c, "INBOX", mail(5, "Later"), now)
		if got := f.sync(t, box.ID); got.Received != 1 {
			t.Errorf("third sync received %d, want 1", got.Received)
		}
		if n := len(f.stored(t, box.ID)); n != 4 {
			t.Errorf("%d stored, want 4", n)
		}
		if text := f.log.text(box.ID); !strings.Contains(text, "Folder INBOX: 1 new") || !strings.Contains(text, "Synced: 1 new messages") ||
			strings.Contains(text, "secret-basic") {
			t.Errorf("work log:\n%s", text)
		}
		mailbox, _ := f.env.Store.MailboxByID(ctx, box.ID)
		if mailbox.LastError != "" || mailbox.NextCheckAt.IsZero() {
			t.Errorf("check state: %q next %v", mailbox.LastError, mailbox.NextCheckAt)
		}
	})

	t.Run("IMAPS and STARTTLS with certificates verified", func(t *testing.T) {
		c := f.client(t, "tls")
		appendMessage(t, c, "INBOX", mail(1, "Secure"), now)
		for _, setup := range []struct {
			security string
			port     int
		}{{"tls", f.dovecot.IMAPSPort}, {"starttls", f.dovecot.IMAPPort}} {
			box := f.mailbox(t, "tls", func(m *store.Mailbox) {
				m.Name, m.Security, m.Port = "IMAP "+setup.security, setup.security, setup.port
			})
			if got := f.sync(t, box.ID); got.Received != 1 {
				t.Errorf("%s: received %d", setup.security, got.Received)
			}
			connection := receive.Connection{Server: "127.0.0.1", Port: setup.port, Security: setup.security, VerifyCert: true,
				Login: "tls", Password: "secret-tls", Dialer: servicetest.LoopbackDialer{}}
			if got, err := f.syncer.Test(ctx, connection); err != nil || got.Messages != 1 {
				t.Errorf("%s: test %+v %v", setup.security, got, err)
			}
			// A syncer that does not trust the test's certificate refuses
			// it, unless the mailbox says not to verify.
			strict := imapsync.New(imapsync.Config{Store: f.env.Store, Intake: f.env.Service.Intake()})
			_, err := strict.Test(ctx, connection)
			if reason := receive.ReasonOf(err); reason != receive.Certificate {
				t.Errorf("%s: unverifiable certificate: %v (%s)", setup.security, err, reason)
			}
			connection.VerifyCert = false
			if _, err := strict.Test(ctx, connection); err != nil {
				t.Errorf("%s: without verification: %v", setup.security, err)
			}
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		box := f.mailbox(t, "wrong", func(m *store.Mailbox) { m.Login = "wrong" })
		syncer := imapsync.New(imapsync.Config{Store: f.env.Store, Intake: f.env.Service.Intake(), Log: f.log,
			Password: func(store.Mailbox) (string, error) { return "not-the-password", nil }})
		_, err := syncer.Receive(ctx, box.ID)
		if reason := receive.ReasonOf(err); reason != receive.Login {
			t.Errorf("error %v, reason %q", err, reason)
		}
		mailbox, _ := f.env.Store.MailboxByID(ctx, box.ID)
		if mailbox.LastError == "" || mailbox.LastErrorReason != string(receive.Login) || mailbox.FailureStreak != 1 {
			t.Errorf("check state: %+v", mailbox)
		}
		if delay := mailbox.NextCheckAt.Sub(mailbox.LastCheckAt); delay < 20*time.Minute {
			t.Errorf("no backoff after a failure: next in %v", delay)
		}
	})

	t.Run("initial range, widened later", func(t *testing.T) {
		c := f.client(t, "ranged")
		appendMessage(t, c, "INBOX", mail(1, "Old"), now.AddDate(0, 0, -40))
		appendMessage(t, c, "INBOX", mail(2, "Last month"), now.AddDate(0, 0, -20))
		appendMessage(t, c, "INBOX", mail(3, "Recent"), now.AddDate(0, 0, -2))
		box := f.mailbox(t, "ranged", func(m *store.Mailbox) { m.SyncRange = "week" })
		f.sync(t, box.ID)
		if got := f.stored(t, box.ID); len(got) != 1 || got["Recent"].ID == 0 {
			t.Errorf("a week: %v", got)
		}
		box.SyncRange = "month"
		if err := f.env.Store.UpdateMailbox(ctx, &box); err != nil {
			t.Fatal(err)
		}
		f.sync(t, box.ID)
		if got := f.stored(t, box.ID); len(got) != 2 || got["Last month"].ID == 0 {
			t.Errorf("a month: %v", got)
		}
		box.SyncRange = "all"
		if err := f.env.Store.UpdateMailbox(ctx, &box); err != nil {
			t.Fatal(err)
		}
		f.sync(t, box.ID)
		if got := f.stored(t, box.ID); len(got) != 3 {
			t.Errorf("everything: %v", got)
		}
	})

	t.Run("seen both ways", func(t *testing.T) {
		c := f.client(t, "seen")
		appendMessage(t, c, "INBOX", mail(1, "Opened on the phone"), now)
		appendMessage(t, c, "INBOX", mail(2, "Read in Pochta"), now)
		appendMessage(t, c, "INBOX", mail(3, "Marked unread on the phone"), now, imap.FlagSeen)
		box := f.mailbox(t, "seen", nil)
		f.sync(t, box.ID)
		stored := f.stored(t, box.ID)
		// Another client reads one and marks one unread; the owner reads
		// one in Pochta.
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		store1 := func(subject string, op imap.StoreFlagsOp) {
			uid := uidOf(t, c, "INBOX", subject)
			if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
				t.Fatal(err)
			}
		}
		store1("Opened on the phone", imap.StoreFlagsAdd)
		store1("Marked unread on the phone", imap.StoreFlagsDel)
		if err := f.env.Store.SetMessagesRead(ctx, []int64{stored["Read in Pochta"].ID}, true); err != nil {
			t.Fatal(err)
		}
		f.sync(t, box.ID)
		stored = f.stored(t, box.ID)
		if !stored["Opened on the phone"].Read || stored["Marked unread on the phone"].Read || !stored["Read in Pochta"].Read {
			t.Errorf("in Pochta: %+v", stored)
		}
		if !slices.Contains(flagsOf(t, c, "INBOX", "Read in Pochta"), imap.FlagSeen) {
			t.Error("read in Pochta, not \\Seen on the server")
		}
		if slices.Contains(flagsOf(t, c, "INBOX", "Marked unread on the phone"), imap.FlagSeen) {
			t.Error("marked unread on the server, \\Seen again after the sync")
		}
		// And back: unread in Pochta.
		if err := f.env.Store.SetMessagesRead(ctx, []int64{stored["Read in Pochta"].ID}, false); err != nil {
			t.Fatal(err)
		}
		f.sync(t, box.ID)
		if slices.Contains(flagsOf(t, c, "INBOX", "Read in Pochta"), imap.FlagSeen) {
			t.Error("unread in Pochta, still \\Seen on the server")
		}
	})

	t.Run("moved between folders, not duplicated", func(t *testing.T) {
		c := f.client(t, "moved")
		if err := c.Create("Archive", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		appendMessage(t, c, "INBOX", mail(1, "Moving"), now)
		appendMessage(t, c, "INBOX", mail(2, "Staying"), now)
		box := f.mailbox(t, "moved", func(m *store.Mailbox) { m.Folders = []string{"INBOX", "Archive"} })
		f.sync(t, box.ID)
		before := f.stored(t, box.ID)
		uid := uidOf(t, c, "INBOX", "Moving")
		if _, err := c.Move(imap.UIDSetNum(uid), "Archive").Wait(); err != nil {
			t.Fatal(err)
		}
		got := f.sync(t, box.ID)
		after := f.stored(t, box.ID)
		if got.Received != 0 || len(after) != 2 || after["Moving"].ID != before["Moving"].ID {
			t.Errorf("after the move: %+v, %v (before %v)", got, after, before)
		}
		archived, err := f.env.Store.IMAPUIDs(ctx, box.ID, "Archive")
		if err != nil || len(archived) != 1 {
			t.Fatalf("Archive's UIDs: %v %v", archived, err)
		}
		for _, u := range archived {
			if u.MessageID != before["Moving"].ID {
				t.Errorf("Archive's UID points at %d, want %d", u.MessageID, before["Moving"].ID)
			}
		}
		inbox, _ := f.env.Store.IMAPUIDs(ctx, box.ID, "INBOX")
		if len(inbox) != 1 {
			t.Errorf("INBOX's UIDs after the move: %v", inbox)
		}
	})

	t.Run("expunge followed", func(t *testing.T) {
		c := f.client(t, "expunged")
		appendMessage(t, c, "INBOX", mail(1, "Going"), now)
		appendMessage(t, c, "INBOX", mail(2, "Staying"), now)
		box := f.mailbox(t, "expunged", nil)
		f.sync(t, box.ID)
		uid := uidOf(t, c, "INBOX", "Going")
		if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		f.sync(t, box.ID)
		if got := f.stored(t, box.ID); len(got) != 1 || got["Staying"].ID == 0 {
			t.Errorf("after the expunge: %v", got)
		}
	})

	t.Run("deleted in Pochta, kept on the server, never again", func(t *testing.T) {
		c := f.client(t, "kept")
		appendMessage(t, c, "INBOX", mail(1, "Deleted here"), now)
		appendMessage(t, c, "INBOX", mail(2, "Kept"), now)
		box := f.mailbox(t, "kept", nil)
		f.sync(t, box.ID)
		if _, err := f.env.Store.DeleteMessages(ctx, []int64{f.stored(t, box.ID)["Deleted here"].ID}); err != nil {
			t.Fatal(err)
		}
		f.sync(t, box.ID)
		if n := count(t, c, "INBOX"); n != 2 {
			t.Errorf("%d on the server, want 2", n)
		}
		// A copy under another UID (another client copies it) is not
		// imported either: its content is tombstoned.
		uid := uidOf(t, c, "INBOX", "Deleted here")
		if _, err := c.Copy(imap.UIDSetNum(uid), "INBOX").Wait(); err != nil {
			t.Fatal(err)
		}
		f.sync(t, box.ID)
		if got := f.stored(t, box.ID); len(got) != 1 {
			t.Errorf("after syncs: %v", got)
		}
	})

	t.Run("deleted in Pochta and on the server", func(t *testing.T) {
		c := f.client(t, "trashed")
		if err := c.Create("Trash", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		appendMessage(t, c, "INBOX", mail(1, "Trash me"), now)
		appendMessage(t, c, "INBOX", mail(2, "Keep me"), now)
		box := f.mailbox(t, "trashed", func(m *store.Mailbox) {
			m.DeleteFromServer, m.Folders = true, []string{"INBOX", "Trash"}
		})
		f.sync(t, box.ID)
		if _, err := f.env.Store.DeleteMessages(ctx, []int64{f.stored(t, box.ID)["Trash me"].ID}); err != nil {
			t.Fatal(err)
		}
		got := f.sync(t, box.ID)
		if got.Deleted != 1 || count(t, c, "INBOX") != 1 || count(t, c, "Trash") != 1 {
			t.Errorf("after the sync: %+v; INBOX %d, Trash %d", got, count(t, c, "INBOX"), count(t, c, "Trash"))
		}
		f.sync(t, box.ID)
		if stored := f.stored(t, box.ID); len(stored) != 1 || stored["Keep me"].ID == 0 {
			t.Errorf("stored: %v", stored)
		}
	})

	t.Run("UIDVALIDITY reset", func(t *testing.T) {
		c := f.client(t, "validity")
		appendMessage(t, c, "INBOX", mail(1, "First"), now)
		appendMessage(t, c, "INBOX", mail(2, "Second"), now, imap.FlagSeen)
		appendMessage(t, c, "INBOX", mail(3, "Deleted before"), now)
		c.Logout().Wait()
		box := f.mailbox(t, "validity", nil)
		f.sync(t, box.ID)
		before := f.stored(t, box.ID)
		if _, err := f.env.Store.DeleteMessages(ctx, []int64{before["Deleted before"].ID}); err != nil {
			t.Fatal(err)
		}
		if out, err := f.dovecot.Doveadm("mailbox", "update", "--uid-validity", "4242", "-u", "validity", "INBOX"); err != nil {
			t.Fatalf("doveadm cannot change UIDVALIDITY: %v %s", err, out)
		}
		got := f.sync(t, box.ID)
		after := f.stored(t, box.ID)
		if got.Received != 0 || len(after) != 2 || after["First"].ID != before["First"].ID || !after["Second"].Read {
			t.Errorf("after the reset: %+v %v", got, after)
		}
		if !strings.Contains(f.log.text(box.ID), "UIDVALIDITY changed") {
			t.Errorf("work log:\n%s", f.log.text(box.ID))
		}
		folders, _ := f.env.Store.IMAPFolders(ctx, box.ID)
		if folders["INBOX"].UIDValidity != 4242 {
			t.Errorf("cursor: %+v", folders["INBOX"])
		}
	})

	t.Run("CR LF refused before a byte is sent", func(t *testing.T) {
		for _, connection := range []receive.Connection{
			{Login: "unsafe\r\nA1 LOGOUT", Password: "secret-unsafe"},
			{Login: "unsafe", Password: "x\nA1 DELETE INBOX"},
		} {
			connection.Server, connection.Port, connection.Security = "127.0.0.1", f.dovecot.IMAPPort, "none"
			connection.Dialer = refusingDialer{t}
			_, err := f.syncer.Test(ctx, connection)
			if !errors.Is(err, protoline.ErrUnsafe) {
				t.Errorf("%q/%q: %v", connection.Login, connection.Password, err)
			}
		}
		box := f.mailbox(t, "unsafe", func(m *store.Mailbox) { m.Folders = []string{"INBOX\r\nA1 DELETE INBOX"} })
		if _, err := f.syncer.Receive(ctx, box.ID); !errors.Is(err, protoline.ErrUnsafe) {
			t.Errorf("folder name: %v", err)
		}
	})

	t.Run("a large message spooled, byte for byte", func(t *testing.T) {
		c := f.client(t, "large")
		raw, _ := testmail.Large(7, "Large over IMAP", 9<<20)
		appendMessage(t, c, "INBOX", raw, now)
		appendMessage(t, c, "INBOX", mail(1, "Small after it"), now)
		box := f.mailbox(t, "large", nil)
		if got := f.sync(t, box.ID); got.Received != 2 {
			t.Fatalf("received %d", got.Received)
		}
		id := f.stored(t, box.ID)["Large over IMAP"].ID
		source, size, err := f.env.Service.MessageSource(ctx, f.env.Admin, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(source)
		source.Close()
		if err != nil || size != int64(len(raw)) || !bytes.Equal(got, raw) {
			t.Errorf("source of %d bytes (size %d, %v), want the %d bytes appended", len(got), size, err, len(raw))
		}
	})

	t.Run("5,000 messages, then nothing new", func(t *testing.T) {
		if testing.Short() {
			t.Skip("5,000 messages")
		}
		const total = 5000
		for i := range total {
			if err := f.dovecot.Deliver("many", mail(100000+i, fmt.Sprintf("Many %d", i))); err != nil {
				t.Fatal(err)
			}
		}
		box := f.mailbox(t, "many", nil)
		if got := f.sync(t, box.ID); got.Received != total {
			t.Errorf("received %d, want %d", got.Received, total)
		}
		if got := f.sync(t, box.ID); got.Received != 0 {
			t.Errorf("second sync received %d", got.Received)
		}
		if n := f.total(t, box.ID); n != total {
			t.Errorf("%d stored, want %d", n, total)
		}
	})

	t.Run("a chosen folder renamed on the server", func(t *testing.T) {
		c := f.client(t, "renamed")
		if err := c.Create("Projects", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		appendMessage(t, c, "Projects", mail(1, "Project mail"), now)
		appendMessage(t, c, "INBOX", mail(2, "Inbox mail"), now)
		box := f.mailbox(t, "renamed", func(m *store.Mailbox) { m.Folders = []string{"INBOX", "Projects"} })
		f.sync(t, box.ID)
		if err := c.Rename("Projects", "Old projects", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		appendMessage(t, c, "INBOX", mail(3, "More inbox mail"), now)
		if got := f.sync(t, box.ID); got.Received != 1 {
			t.Errorf("received %d", got.Received)
		}
		if !strings.Contains(f.log.text(box.ID), "Folder Projects is not on the server") {
			t.Errorf("work log:\n%s", f.log.text(box.ID))
		}
		if got := f.stored(t, box.ID); len(got) != 3 {
			t.Errorf("stored: %v", got)
		}
	})
}

// refusingDialer fails the test if anything is dialled.
type refusingDialer struct{ t *testing.T }

func (d refusingDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	d.t.Error("dialled although the arguments are unsafe")
	return nil, errors.New("refused")
}

// The service's "Receive mail now" and "Test connection" for an IMAP
// mailbox go through this package, guarded: a user's server on loopback is
// refused until the allowed networks include it.
func TestServiceReceivesIMAP(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc := f.env.Service
	admin := f.env.Admin
	site, err := f.env.Store.SiteByID(ctx, f.siteID)
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	port, security := f.dovecot.IMAPPort, "none"
	mailService, err := svc.CreateMailService(ctx, admin, service.MailServiceInput{Site: &site.Code, Name: ptr("Loopback Dovecot"),
		Server: ptr("127.0.0.1"), Port: &port, Security: &security})
	if err != nil {
		t.Fatal(err)
	}
	c := f.client(t, "basic")
	appendMessage(t, c, "INBOX", mail(1, "Through the service"), time.Now())
	verify := false
	box, err := svc.CreateMailbox(ctx, admin, service.MailboxInput{Site: &site.Code, Type: ptr(store.MailboxIMAP), Name: ptr("Mine"),
		ServiceID: &mailService.ID, OwnerID: &f.ownerID, Login: ptr("basic"), Password: ptr("secret-basic"), VerifyCert: &verify,
		Security: &security, Port: &port, SyncRange: ptr("all")})
	if err != nil {
		t.Fatal(err)
	}
	result, err := svc.CheckMailbox(ctx, admin, box.ID)
	if err != nil || result.Reason != receive.Blocked {
		t.Fatalf("before allowing loopback: %+v %v", result, err)
	}
	if _, err := svc.UpdateSettings(ctx, admin, service.SettingsInput{AllowedNetworks: &[]string{"127.0.0.1/32"}}); err != nil {
		t.Fatal(err)
	}
	result, err = svc.CheckMailbox(ctx, admin, box.ID)
	if err != nil || result.Received != 1 || result.Error != "" {
		t.Fatalf("check now: %+v %v", result, err)
	}
	// The owner's "Receive mail now" for all their mailboxes syncs it.
	appendMessage(t, c, "INBOX", mail(2, "Checked by the owner"), time.Now())
	all, err := svc.CheckAll(ctx, f.owner)
	if err != nil || len(all) != 1 || all[0].MailboxID != box.ID || all[0].Received != 1 {
		t.Errorf("the owner's check of all: %+v %v", all, err)
	}
	imapType := store.MailboxIMAP
	tested, err := svc.TestConnection(ctx, admin, service.TestInput{ID: &box.ID, MailboxInput: service.MailboxInput{Type: &imapType}})
	if err != nil || !tested.OK || tested.Messages != 2 {
		t.Errorf("test connection: %+v %v", tested, err)
	}
	tested, err = svc.TestConnection(ctx, admin, service.TestInput{ID: &box.ID, MailboxInput: service.MailboxInput{Password: ptr("wrong")}})
	if err != nil || tested.OK || tested.Reason != receive.Login {
		t.Errorf("test with a wrong password: %+v %v", tested, err)
	}
}

// An employee connects their own mailbox as "My mailboxes" does: a test of
// the new connection through an active service of their site, which lists
// the server's folders, then the mailbox with the folders chosen, "delete
// on the server too" and the per-user limit; only the chosen folder is
// synced, and a folder added later is back-filled from the range.
func TestUserConnectsOwnMailbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc, admin, owner := f.env.Service, f.env.Admin, f.owner
	site, err := f.env.Store.SiteByID(ctx, f.siteID)
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	port, security, inactive := f.dovecot.IMAPPort, "none", false
	dovecotService, err := svc.CreateMailService(ctx, admin, service.MailServiceInput{Site: &site.Code, Name: ptr("Loopback Dovecot"),
		Server: ptr("127.0.0.1"), Port: &port, Security: &security})
	if err != nil {
		t.Fatal(err)
	}
	switchedOff, err := svc.CreateMailService(ctx, admin, service.MailServiceInput{Site: &site.Code, Name: ptr("Switched off"),
		Server: ptr("127.0.0.1"), Port: &port, Security: &security, Active: &inactive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateSettings(ctx, admin, service.SettingsInput{AllowedNetworks: &[]string{"127.0.0.1/32"}}); err != nil {
		t.Fatal(err)
	}
	c := f.client(t, "connected")
	if err := c.Create("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMessage(t, c, "INBOX", mail(1, "In the inbox"), time.Now())
	appendMessage(t, c, "Projects", mail(2, "In a project"), time.Now().AddDate(0, 0, -3))
	appendMessage(t, c, "Projects", mail(3, "An old project"), time.Now().AddDate(0, -6, 0))

	imapType := store.MailboxIMAP
	test := func(serviceID int64, password string) (service.TestResult, error) {
		return svc.TestConnection(ctx, owner, service.TestInput{MailboxInput: service.MailboxInput{Type: &imapType,
			ServiceID: &serviceID, Login: ptr("connected"), Password: &password}})
	}
	tested, err := test(dovecotService.ID, "secret-connected")
	if err != nil || !tested.OK || tested.Messages != 1 {
		t.Fatalf("the owner's test of a new connection: %+v %v", tested, err)
	}
	names := map[string]string{}
	for _, folder := range tested.Folders {
		names[folder.Name] = folder.Role
	}
	if role, ok := names["INBOX"]; !ok || role != "Inbox" || tested.Folders[0].Name != "INBOX" {
		t.Errorf("folders: %+v", tested.Folders)
	}
	if _, ok := names["Projects"]; !ok {
		t.Errorf("folders without Projects: %+v", tested.Folders)
	}
	if tested, err := test(dovecotService.ID, "wrong"); err != nil || tested.OK || tested.Reason != receive.Login || tested.Folders != nil {
		t.Errorf("a wrong password: %+v %v", tested, err)
	}
	var invalid *service.ValidationError
	if _, err := test(switchedOff.ID, "secret-connected"); !errors.As(err, &invalid) || invalid.Fields["service_id"].Key != "error.service_inactive" {
		t.Errorf("a switched-off service: %v", err)
	}
	if _, err := svc.TestConnection(ctx, owner, service.TestInput{MailboxInput: service.MailboxInput{Type: &imapType,
		Server: ptr("127.0.0.1"), Login: ptr("connected"), Password: ptr("secret-connected")}}); !errors.As(err, &invalid) {
		t.Errorf("a user's test without a service: %v", err)
	}
	pop3 := store.MailboxPOP3
	if _, err := svc.TestConnection(ctx, owner, service.TestInput{MailboxInput: service.MailboxInput{Type: &pop3,
		Server: ptr("127.0.0.1"), Login: ptr("connected"), Password: ptr("secret-connected")}}); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("a user's POP3 test: %v", err)
	}

	limit := 1
	if _, err := svc.UpdateSettings(ctx, admin, service.SettingsInput{UserMailboxesPerUser: &limit}); err != nil {
		t.Fatal(err)
	}
	yes := true
	input := service.MailboxInput{Type: &imapType, Name: ptr("My work mail"), ServiceID: &dovecotService.ID,
		Login: ptr("connected"), Password: ptr("secret-connected"), Folders: &[]string{"INBOX"}, SyncRange: ptr("week"),
		DeleteFromServer: &yes}
	box, err := svc.CreateMailbox(ctx, owner, input)
	if err != nil {
		t.Fatal(err)
	}
	if box.OwnerID == nil || *box.OwnerID != f.ownerID || !box.DeleteFromServer || box.Server != "127.0.0.1" || box.Port != port {
		t.Errorf("created: %+v", box)
	}
	if _, err := svc.CreateMailbox(ctx, owner, input); err == nil {
		t.Error("a second mailbox past the limit of one was created")
	} else if conflict, ok := service.IsConflict(err); !ok || conflict.Message.Key != "error.mailbox_limit" {
		t.Errorf("past the limit: %v", err)
	}
	if result, err := svc.CheckMailbox(ctx, owner, box.ID); err != nil || result.Received != 1 || result.Error != "" {
		t.Fatalf("receive now: %+v %v", result, err)
	}
	// A folder added afterwards is synced from the range: the project
	// of three days ago, not the one of six months ago.
	if _, err := svc.UpdateMailbox(ctx, owner, box.ID, service.MailboxInput{Folders: &[]string{"INBOX", "Projects"}}); err != nil {
		t.Fatal(err)
	}
	if result, err := svc.CheckMailbox(ctx, owner, box.ID); err != nil || result.Received != 1 {
		t.Fatalf("after adding a folder: %+v %v", result, err)
	}
	// Widening the range back-fills the old one.
	if _, err := svc.UpdateMailbox(ctx, owner, box.ID, service.MailboxInput{SyncRange: ptr("all")}); err != nil {
		t.Fatal(err)
	}
	if result, err := svc.CheckMailbox(ctx, owner, box.ID); err != nil || result.Received != 1 {
		t.Fatalf("after widening the range: %+v %v", result, err)
	}
	subjects := map[string]bool{}
	for _, m := range f.stored(t, box.ID) {
		subjects[m.Subject] = true
	}
	if len(subjects) != 3 {
		t.Errorf("stored: %v", subjects)
	}
	// Dropping a folder stops its sync: new mail there stays on the server.
	if _, err := svc.UpdateMailbox(ctx, owner, box.ID, service.MailboxInput{Folders: &[]string{"INBOX"}}); err != nil {
		t.Fatal(err)
	}
	appendMessage(t, c, "Projects", mail(4, "Not chosen any more"), time.Now())
	if result, err := svc.CheckMailbox(ctx, owner, box.ID); err != nil || result.Received != 0 {
		t.Errorf("after dropping a folder: %+v %v", result, err)
	}
}

// New mail is stored while IDLE holds the INBOX: the schedule's tick is an
// hour away, so only IDLE can have brought it in.
func TestIdleBringsNewMail(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	box := f.mailbox(t, "idle", nil)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.dovecot.CertPEM)
	syncer := imapsync.New(imapsync.Config{Store: f.env.Store, Intake: f.env.Service.Intake(), Log: f.log,
		Password: func(m store.Mailbox) (string, error) { return "secret-" + m.Login, nil },
		Dialer:   servicetest.LoopbackDialer{}, Tick: time.Hour, Idle: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		syncer.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	// The first sync, then the one the watcher wakes once it has
	// selected the INBOX: IDLE is under way after it.
	f.log.waitCount(t, box.ID, "Synced: 0 new messages", 2, time.Minute)
	sent := time.Now()
	if err := f.dovecot.Deliver("idle", mail(1, "Pushed")); err != nil {
		t.Fatal(err)
	}
	f.log.waitFor(t, box.ID, "Synced: 1 new messages", time.Minute)
	t.Logf("new mail stored %v after delivery", time.Since(sent))
	if got := f.stored(t, box.ID); got["Pushed"].ID == 0 {
		t.Errorf("stored: %v", got)
	}
}

// refusedFirst dials a port nothing listens on for its first connection
// (a real refusal: the server is down), then the address asked for.
type refusedFirst struct {
	closed string // an address whose listener is closed
	mu     sync.Mutex
	dials  int
	first  error // what the first dial said
}

func (d *refusedFirst) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.dials++
	first := d.dials == 1
	d.mu.Unlock()
	if !first {
		return servicetest.LoopbackDialer{}.DialContext(ctx, network, address)
	}
	conn, err := servicetest.LoopbackDialer{}.DialContext(ctx, network, d.closed)
	d.mu.Lock()
	d.first = err
	d.mu.Unlock()
	return conn, err
}

// A mailbox whose sync failed for a passing reason (the server refused the
// connection) is still watched: the IDLE watcher reconnects by its own
// backoff, wakes a sync once the INBOX is selected, and new mail is pushed,
// long before the schedule's backoff would try again (Tick is an hour).
func TestIdleAfterTransientFailure(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	box := f.mailbox(t, "idleback", nil)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dialer := &refusedFirst{closed: listener.Addr().String()}
	listener.Close()
	syncer := imapsync.New(imapsync.Config{Store: f.env.Store, Intake: f.env.Service.Intake(), Log: f.log,
		Password: func(m store.Mailbox) (string, error) { return "secret-" + m.Login, nil },
		Dialer:   dialer, Tick: time.Hour, Idle: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		syncer.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	// The first sync fails (refused); the watcher's connection wakes the
	// next, which succeeds: IDLE is under way after it.
	f.log.waitFor(t, box.ID, "Synced: 0 new messages", time.Minute)
	dialer.mu.Lock()
	first := dialer.first
	dialer.mu.Unlock()
	if imapsync.Reason(first) != receive.Refused {
		t.Fatalf("the first connection: %v (%q), want refused", first, imapsync.Reason(first))
	}
	sent := time.Now()
	if err := f.dovecot.Deliver("idleback", mail(1, "Pushed after a failure")); err != nil {
		t.Fatal(err)
	}
	f.log.waitFor(t, box.ID, "Synced: 1 new messages", time.Minute)
	t.Logf("new mail stored %v after delivery", time.Since(sent))
	if got := f.stored(t, box.ID); got["Pushed after a failure"].ID == 0 {
		t.Errorf("stored: %v", got)
	}
}

// Which failed mailboxes keep their IDLE watcher.
func TestWatched(t *testing.T) {
	for _, c := range []struct {
		streak int
		reason receive.Reason
		want   bool
	}{
		{0, "", true},
		{1, receive.Timeout, true},
		{3, receive.Refused, true},
		{1, receive.Closed, true},
		{1, receive.Temporary, true},
		{1, receive.Login, false},
		{1, receive.SignIn, false},
		{1, receive.Certificate, false},
		{1, receive.Blocked, false},
		{1, receive.Protocol, false},
	} {
		m := store.Mailbox{FailureStreak: c.streak, LastErrorReason: string(c.reason)}
		if got := imapsync.Watched(m); got != c.want {
			t.Errorf("streak %d, %q: watched %v, want %v", c.streak, c.reason, got, c.want)
		}
	}
}

// A sync stopped in the middle of its FETCH (its context ended, as when
// its lease is lost: the connection is then closed by another goroutine,
// mid-body) ends without a data race (run with -race), and the next sync
// brings the rest, nothing lost or stored twice or cut.
func TestSyncStoppedMidFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("40 MB of mail")
	}
	f := newFixture(t)
	const total = 400
	padding := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 1600)
	for i := range total {
		if err := f.dovecot.Deliver("large", append(mail(300000+i, fmt.Sprintf("Stopped %d", i)), padding...)); err != nil {
			t.Fatal(err)
		}
	}
	box := f.mailbox(t, "large", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := make(chan error, 1)
	go func() {
		_, err := f.syncer.Receive(ctx, box.ID)
		failed <- err
	}()
	var firstErr error
	finished := false
	for !finished && f.total(t, box.ID) == 0 {
		select {
		case firstErr = <-failed:
			finished = true
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if !finished {
		firstErr = <-failed
	}
	t.Logf("the stopped sync: %v; %d of %d stored", firstErr, f.total(t, box.ID), total)
	f.sync(t, box.ID)
	if n := f.total(t, box.ID); n != total {
		t.Errorf("%d stored after the stop, want %d", n, total)
	}
	for subject, m := range f.stored(t, box.ID) {
		if m.Size < int64(len(padding)) {
			t.Errorf("%q stored with %d bytes, less than its %d of padding", subject, m.Size, len(padding))
		}
	}
}

// Dovecot restarted in the middle of a sync: the sync fails, the next one
// brings the rest, nothing is lost or stored twice.
func TestServerRestartedMidSync(t *testing.T) {
	if testing.Short() {
		t.Skip("40 MB of mail and a restart")
	}
	f := newFixture(t)
	ctx := context.Background()
	// 400 messages of 100 KB: more than the sink reads ahead of its
	// commits, so the FETCH is still streaming when the server goes.
	const total = 400
	padding := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 1600)
	for i := range total {
		if err := f.dovecot.Deliver("renamed", append(mail(200000+i, fmt.Sprintf("Restart %d", i)), padding...)); err != nil {
			t.Fatal(err)
		}
	}
	box := f.mailbox(t, "renamed", nil)
	failed := make(chan error, 1)
	go func() {
		_, err := f.syncer.Receive(ctx, box.ID)
		failed <- err
	}()
	// Restart once the first messages are stored (or the sync is over).
	var firstErr error
	finished := false
	for !finished && f.total(t, box.ID) == 0 {
		select {
		case firstErr = <-failed:
			finished = true
		case <-time.After(time.Millisecond):
		}
	}
	restartAt := time.Now()
	if err := f.dovecot.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %v (finished before: %v)", time.Since(restartAt), finished)
	if !finished {
		firstErr = <-failed
	}
	mailbox, _ := f.env.Store.MailboxByID(ctx, box.ID)
	t.Logf("the interrupted sync: %v; %d of %d stored", firstErr, mailbox.MessagesTotal, total)
	f.sync(t, box.ID)
	if n := f.total(t, box.ID); n != total {
		t.Errorf("%d stored after the restart, want %d", n, total)
	}
	if uids, err := f.env.Store.IMAPUIDs(ctx, box.ID, "INBOX"); err != nil || len(uids) != total {
		t.Errorf("%d UIDs known, want %d (%v)", len(uids), total, err)
	}
	// None cut short: a body the restart broke off is not stored as if it
	// had ended there.
	for subject, m := range f.stored(t, box.ID) {
		if m.Size < int64(len(padding)) {
			t.Errorf("%q stored with %d bytes, less than its %d of padding", subject, m.Size, len(padding))
		}
	}
}
