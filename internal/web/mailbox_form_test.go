package web

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// Passwords the tests type into mailbox forms; no rendered page may hold one.
const (
	pop3Password = "pop-secret-Q7x"
	imapPassword = "imap-secret-K9z"
	userPassword = "joe-imap-secret-W4"
)

func noPasswords(t *testing.T, r result) {
	t.Helper()
	wantNoBody(t, r, pop3Password, imapPassword, userPassword, "pop-secret-changed")
}

func pop3Values(name string) url.Values {
	return url.Values{"site": {"s1"}, "type": {"pop3"}, "form_type": {"pop3"}, "name": {name}, "description": {"Sales inbox"},
		"checkbox": {"active", "no_verify", "apop", "delete_from_server"}, "active": {"1"}, "delete_from_server": {"1"},
		"server": {"pop.example.com"}, "port": {"110"}, "security": {"none"}, "login": {"sales"}, "password": {pop3Password},
		"check_interval": {"10"}, "max_messages": {"50"}, "max_message_size_kb": {"2048"}, "keep_days": {"90"}, "charset": {"koi8-r"}}
}

func smtpValues(name string) url.Values {
	return url.Values{"site": {"s1"}, "type": {"smtp"}, "form_type": {"smtp"}, "name": {name},
		"checkbox": {"active", "relay", "relay_auth_only"}, "active": {"1"}, "relay": {"1"}, "relay_auth_only": {"1"},
		"listen": {"*"}, "listen_port": {"2525"}, "domains": {""}, "max_messages": {"0"}, "max_message_size_kb": {""},
		"keep_days": {"0"}, "charset": {""}}
}

func imapValues(name string, serviceID, ownerID int64) url.Values {
	return url.Values{"site": {"s1"}, "type": {"imap"}, "form_type": {"imap"}, "name": {name},
		"checkbox": {"active", "no_verify"}, "active": {"1"}, "service_id": {strconv.FormatInt(serviceID, 10)},
		"owner_id": {strconv.FormatInt(ownerID, 10)}, "server": {""}, "port": {"993"}, "security": {"tls"},
		"login": {"someone@gmail.com"}, "password": {imapPassword}, "web_url": {""}, "folders": {"INBOX\r\nSent"},
		"sync_range": {"week"}}
}

// createdID reads the new mailbox's ID from a redirect to its page.
func createdID(t *testing.T, r result) int64 {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	loc := r.header.Get("Location")
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/mailboxes/"), 10, 64)
	if err != nil || !strings.HasPrefix(loc, "/mailboxes/") {
		t.Fatalf("Location %q is not a mailbox page", loc)
	}
	return id
}

func storedMailbox(t *testing.T, ts *testServer, id int64) store.Mailbox {
	t.Helper()
	m, err := ts.env.Store.MailboxByID(context.Background(), id)
	if err != nil {
		t.Fatalf("mailbox %d: %v", id, err)
	}
	return m
}

func mailboxPasswordOf(t *testing.T, ts *testServer, id int64) string {
	t.Helper()
	password, err := ts.env.Service.MailboxPassword(storedMailbox(t, ts, id))
	if err != nil {
		t.Fatal(err)
	}
	return password
}

func countMailboxes(t *testing.T, ts *testServer) int64 {
	t.Helper()
	page, err := ts.env.Service.Mailboxes(context.Background(), ts.env.Admin, store.MailboxFilter{}, store.MailboxSort{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(page.Items))
}

func TestMailboxFormPOP3(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	r := b.get("/mailboxes/new?type=pop3")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>New system mailbox</h1>", `href="#tab-mailbox"`, `href="#tab-additional"`, `id="port" name="port" type="number" value="110"`,
		`name="change_type"`, `data-for-type="smtp" disabled hidden`, "Attachments larger than 51200 KB are dropped",
		"Site charset (UTF-8)", "Test connection", "/static/mailbox.js?v=",
		"It uses the password typed in the form, or the saved password when the field is empty.")
	// A new system mailbox offers "add mailbox and create a rule".
	wantBody(t, r, `name="create_rule"`, "Add mailbox and create a rule")
	wantNoBody(t, r, "type the password again")

	// A field error, with what was typed kept but the password.
	r = b.postForm("/mailboxes", pop3Values(""))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Name is required", `id="name-error"`, `value="pop.example.com"`, `value="sales"`, `value="2048"`,
		`<option value="koi8-r" selected>`, `<a href="#name">`)
	noPasswords(t, r)
	form := pop3Values("Sales")
	form.Set("check_interval", "often")
	r = b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Check interval (minutes) must be a whole number")
	if n := countMailboxes(t, ts); n != 0 {
		t.Fatalf("%d mailboxes stored after failed saves", n)
	}

	// Created with TLS and the plain default port: the port follows.
	form = pop3Values("Sales")
	form.Set("security", "tls")
	id := createdID(t, b.postForm("/mailboxes", form))
	m := storedMailbox(t, ts, id)
	if m.Type != store.MailboxPOP3 || m.Port != 995 || m.Security != "tls" || m.VerifyCert != true || !m.DeleteFromServer || m.APOP ||
		m.CheckInterval != 10 || m.MaxMessages != 50 || m.MaxMessageSizeKB != 2048 || m.KeepDays != 90 || m.Charset != "koi8-r" ||
		m.Description != "Sales inbox" || !m.Active {
		t.Errorf("stored %+v", m)
	}
	if got := mailboxPasswordOf(t, ts, id); got != pop3Password {
		t.Errorf("stored password %q", got)
	}
	path := "/mailboxes/" + strconv.FormatInt(id, 10)
	r = b.get(path)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Mailbox created", "<h1>Mailbox “Sales”</h1>", `value="995"`, `<option value="tls" selected>`,
		"Leave empty to keep the stored password.", path+"/delete", `id="password" name="password" type="password" value=""`)
	wantNoBody(t, r, `name="change_type"`, `name="create_rule"`, `data-for-type="smtp"`)
	noPasswords(t, r)

	// Edit with an empty password keeps it; TLS off with the TLS default
	// port goes back to 110.
	form = pop3Values("Sales")
	form.Set("security", "none")
	form.Set("port", "995")
	form.Set("password", "")
	form.Add("checkbox", "apop")
	form.Set("apop", "1")
	wantStatus(t, b.postForm(path, form), http.StatusSeeOther)
	m = storedMailbox(t, ts, id)
	if m.Port != 110 || m.Security != "none" || !m.APOP {
		t.Errorf("after edit %+v", m)
	}
	if got := mailboxPasswordOf(t, ts, id); got != pop3Password {
		t.Errorf("an empty password changed the stored one to %q", got)
	}
	noPasswords(t, b.get(path))

	// An explicit non-default port stays, whatever TLS does.
	form.Set("security", "tls")
	form.Set("port", "1995")
	form.Set("password", "pop-secret-changed")
	wantStatus(t, b.postForm(path, form), http.StatusSeeOther)
	if m = storedMailbox(t, ts, id); m.Port != 1995 || m.Security != "tls" {
		t.Errorf("explicit port: %+v", m)
	}
	if got := mailboxPasswordOf(t, ts, id); got != "pop-secret-changed" {
		t.Errorf("new password not stored: %q", got)
	}
	// Unchanged TLS: the port is what was typed.
	form.Set("port", "110")
	wantStatus(t, b.postForm(path, form), http.StatusSeeOther)
	if m = storedMailbox(t, ts, id); m.Port != 110 {
		t.Errorf("port with unchanged TLS: %d", m.Port)
	}
	// A field error on edit keeps the typed values and says so by the field.
	form.Set("server", "")
	r = b.postForm(path, form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Mail server (POP3) is required", `id="server-error"`, "<h1>Mailbox “Sales”</h1>")
	noPasswords(t, r)

	// Without JavaScript, "Change" shows the SMTP fields and saves nothing;
	// so does a type picked without pressing it.
	form = pop3Values("Relay box")
	form.Set("type", "smtp")
	form.Set("change_type", "1")
	r = b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `id="listen"`, `value="Relay box"`, `data-for-type="pop3" disabled hidden`, `<option value="smtp" selected>`)
	form.Del("change_type")
	wantStatus(t, b.postForm("/mailboxes", form), http.StatusOK)
	if n := countMailboxes(t, ts); n != 1 {
		t.Errorf("changing the type stored a mailbox: %d", n)
	}

	// "Add mailbox and create a rule": the mailbox is saved and the new
	// rule's form opens for it.
	form = pop3Values("With rule")
	form.Set("create_rule", "manual")
	r = b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusSeeOther)
	list, _ := ts.env.Service.Mailboxes(context.Background(), ts.env.Admin, store.MailboxFilter{Name: "With rule"}, store.MailboxSort{}, "", 10)
	if len(list.Items) != 1 {
		t.Fatalf("mailbox with rule not created: %+v", list)
	}
	want := "/rules/new?template=manual&mailbox_id=" + strconv.FormatInt(list.Items[0].ID, 10)
	if loc := r.header.Get("Location"); loc != want {
		t.Errorf("Location %q, want %q", loc, want)
	}
	wantBody(t, b.get(want), `<option value="`+strconv.FormatInt(list.Items[0].ID, 10)+`" selected>`)
}

func TestMailboxFormSMTP(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/mailboxes/new?type=smtp")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `id="listen" name="listen" type="text" value="*"`, `value="25"`, `<option value="smtp" selected>`)

	r = b.postForm("/mailboxes", smtpValues(""))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Name is required", `value="2525"`)
	form := smtpValues("Inbound")
	form.Set("listen", "not a host!")
	r = b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="listen-error"`, "Listen address must be *")

	// Relay without domains is ignored (the form disables it).
	id := createdID(t, b.postForm("/mailboxes", smtpValues("Inbound")))
	m := storedMailbox(t, ts, id)
	if m.Type != store.MailboxSMTP || m.Server != "*" || m.Port != 2525 || m.Relay || m.RelayAuthOnly || len(m.Domains) != 0 || m.Login != "" {
		t.Errorf("stored %+v", m)
	}
	path := "/mailboxes/" + strconv.FormatInt(id, 10)
	r = b.get(path)
	wantBody(t, r, `id="relay" name="relay" value="1" disabled`, `value="2525"`)

	// With domains, relay is kept.
	form = smtpValues("Inbound")
	form.Set("domains", "Example.com  example.org\nexample.net")
	wantStatus(t, b.postForm(path, form), http.StatusSeeOther)
	m = storedMailbox(t, ts, id)
	if !m.Relay || !m.RelayAuthOnly || strings.Join(m.Domains, " ") != "example.com example.org example.net" {
		t.Errorf("with domains %+v", m)
	}

	// The same port taken by another active SMTP mailbox: the address and
	// port fields are marked, and the summary says it once.
	r = b.postForm("/mailboxes", smtpValues("Second"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `The address *:2525 is already in use by the active SMTP mailbox &#34;Inbound&#34; (ID `, `value="Second"`,
		`id="listen-error"`, `id="listen_port-error"`)
	if n := strings.Count(r.body, "is already in use"); n != 3 {
		t.Errorf("the clash is said %d times, want 3 (summary, address, port)", n)
	}
	if n := countMailboxes(t, ts); n != 1 {
		t.Errorf("%d mailboxes after the conflict", n)
	}
}

func TestMailboxFormIMAPAndRights(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	joe := ts.addUser(t, "joe", store.RoleUser)
	ann := ts.addUser(t, "ann", store.RoleUser)
	ts.addUser(t, "audit", store.RoleAuditor)
	gmail := findService(t, ts, "gmail")
	b := ts.signIn(t, "admin", servicetest.AdminPassword)

	r := b.get("/mailboxes/new?type=imap")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>New user mailbox</h1>", `data-server="imap.gmail.com"`, `name="owner_id"`, ">joe<", "INBOX", `<option value="month" selected>`)
	wantNoBody(t, r, `href="#tab-additional"`, `name="create_rule"`, `name="change_type"`)

	r = b.postForm("/mailboxes", imapValues("", gmail.ID, ann.User.ID))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Name is required")
	noPasswords(t, r)
	r = b.postForm("/mailboxes", imapValues("Ann's gmail", 0, 0))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Mail service is required", "Owner is required")

	// No server typed: the service's is filled in.
	annBox := createdID(t, b.postForm("/mailboxes", imapValues("Ann's gmail", gmail.ID, ann.User.ID)))
	m := storedMailbox(t, ts, annBox)
	if m.Server != "imap.gmail.com" || m.Port != 993 || m.Security != "tls" || m.OwnerID != ann.User.ID || m.ServiceID != gmail.ID ||
		m.SyncRange != "week" || strings.Join(m.Folders, ",") != "INBOX,Sent" || m.VerifyCert != true {
		t.Errorf("stored %+v", m)
	}
	if got := mailboxPasswordOf(t, ts, annBox); got != imapPassword {
		t.Errorf("stored password %q", got)
	}
	annPath := "/mailboxes/" + strconv.FormatInt(annBox, 10)
	r = b.get(annPath)
	wantBody(t, r, `value="imap.gmail.com"`, "Sent", `<option value="week" selected>`, `name="delete_from_server" value="1">`)
	noPasswords(t, r)
	// "Delete on the server too" is the admin's to set as well.
	values := imapValues("Ann's gmail", gmail.ID, ann.User.ID)
	values.Add("checkbox", "delete_from_server")
	values.Set("delete_from_server", "1")
	wantStatus(t, b.postForm(annPath, values), http.StatusSeeOther)
	if m := storedMailbox(t, ts, annBox); !m.DeleteFromServer {
		t.Errorf("delete on the server too not stored: %+v", m)
	}
	wantBody(t, b.get(annPath), `name="delete_from_server" value="1" checked>`)
	values.Del("delete_from_server")
	wantStatus(t, b.postForm(annPath, values), http.StatusSeeOther)
	if m := storedMailbox(t, ts, annBox); m.DeleteFromServer {
		t.Errorf("delete on the server too not cleared: %+v", m)
	}

	// A user: their own IMAP mailbox only, whatever the form says.
	u := ts.signIn(t, "joe", "password-joe")
	r = u.get("/mailboxes/new?type=pop3")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>New user mailbox</h1>", `name="service_id"`)
	wantNoBody(t, r, `name="owner_id"`, `name="site"`, `name="change_type"`)
	form := imapValues("Joe's mail", gmail.ID, ann.User.ID)
	form.Set("type", "pop3")
	form.Set("password", userPassword)
	joeBox := createdID(t, u.postForm("/mailboxes", form))
	if m := storedMailbox(t, ts, joeBox); m.OwnerID != joe.User.ID || m.Type != store.MailboxIMAP {
		t.Errorf("a user's mailbox: %+v", m)
	}
	joePath := "/mailboxes/" + strconv.FormatInt(joeBox, 10)
	r = u.get(joePath)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Mailbox “Joe&#39;s mail”</h1>", `value="imap.gmail.com"`)
	wantNoBody(t, r, "notice.read_only", `<fieldset class="plain" disabled>`)
	noPasswords(t, r)
	form = imapValues("Joe's own mail", gmail.ID, 0)
	form.Set("password", "")
	wantStatus(t, u.postForm(joePath, form), http.StatusSeeOther)
	if m := storedMailbox(t, ts, joeBox); m.Name != "Joe's own mail" || m.OwnerID != joe.User.ID {
		t.Errorf("a user's edit: %+v", m)
	}
	if got := mailboxPasswordOf(t, ts, joeBox); got != userPassword {
		t.Errorf("the user's edit changed the password to %q", got)
	}
	// Someone else's mailbox does not exist for them.
	wantStatus(t, u.get(annPath), http.StatusNotFound)
	wantStatus(t, u.postForm(annPath, imapValues("Mine now", gmail.ID, joe.User.ID)), http.StatusNotFound)
	if m := storedMailbox(t, ts, annBox); m.Name != "Ann's gmail" {
		t.Errorf("a user changed someone else's mailbox: %+v", m)
	}

	// An auditor reads, changes nothing.
	pop3 := createdID(t, b.postForm("/mailboxes", pop3Values("Support")))
	pop3Path := "/mailboxes/" + strconv.FormatInt(pop3, 10)
	a := ts.signIn(t, "audit", "password-audit")
	r = a.get(pop3Path)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<fieldset class="plain" disabled>`, "You can view this page but not change it.")
	wantNoBody(t, r, `class="btn btn-primary"`)
	noPasswords(t, r)
	r = a.get(annPath)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<fieldset class="plain" disabled>`)
	wantStatus(t, a.get("/mailboxes/new?type=pop3"), http.StatusForbidden)
	before := countMailboxes(t, ts)
	wantStatus(t, a.postForm("/mailboxes", pop3Values("Hacked")), http.StatusForbidden)
	wantStatus(t, a.postForm(pop3Path, pop3Values("Hacked")), http.StatusForbidden)
	wantStatus(t, a.postForm(annPath, imapValues("Hacked", gmail.ID, ann.User.ID)), http.StatusForbidden)
	if after := countMailboxes(t, ts); after != before {
		t.Errorf("auditor created a mailbox: %d -> %d", before, after)
	}
	if m := storedMailbox(t, ts, pop3); m.Name != "Support" {
		t.Errorf("auditor changed a mailbox: %+v", m)
	}
	view, err := ts.env.Service.Mailbox(ctx, ts.env.Admin, annBox)
	if err != nil || view.Name != "Ann's gmail" {
		t.Errorf("auditor changed an IMAP mailbox: %+v %v", view, err)
	}
}

// fakePOP3 answers one POP3 session on loopback: a greeting, USER/PASS
// (only password "right"), STAT with two messages, QUIT.
func fakePOP3(t *testing.T) (host string, port string) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func(conn net.Conn) {
				defer conn.Close()
				lines := bufio.NewReader(conn)
				fmt.Fprint(conn, "+OK fake ready\r\n")
				for {
					line, err := lines.ReadString('\n')
					if err != nil {
						return
					}
					command := strings.ToUpper(strings.Fields(line + " x")[0])
					switch {
					case command == "CAPA":
						fmt.Fprint(conn, "+OK\r\nUSER\r\nUIDL\r\n.\r\n")
					case command == "USER":
						fmt.Fprint(conn, "+OK\r\n")
					case command == "PASS" && strings.TrimSpace(line) == "PASS right":
						fmt.Fprint(conn, "+OK logged in\r\n")
					case command == "PASS":
						fmt.Fprint(conn, "-ERR [AUTH] invalid password\r\n")
					case command == "STAT":
						fmt.Fprint(conn, "+OK 2 3072\r\n")
					case command == "QUIT":
						fmt.Fprint(conn, "+OK bye\r\n")
						return
					default:
						fmt.Fprint(conn, "-ERR unknown\r\n")
					}
				}
			}(conn)
		}
	}()
	host, port, _ = net.SplitHostPort(listener.Addr().String())
	return host, port
}

func TestMailboxFormTestConnection(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	host, port := fakePOP3(t)
	form := pop3Values("Sales")
	form.Set("server", host)
	form.Set("port", port)
	form.Set("security", "none")
	form.Set("password", "right")
	form.Set("test_connection", "1")
	r := b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Connected: 2 messages (3072 bytes) on the server. Nothing was saved.")
	noPasswords(t, r)
	if n := countMailboxes(t, ts); n != 0 {
		t.Fatalf("testing saved %d mailboxes", n)
	}
	form.Set("password", "wrong")
	r = b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusOK)
	// Plain words first, the server's own reply beside them.
	wantBody(t, r, "The test failed: The server did not accept the login or the password", `class="error-detail mono"`, "invalid password")

	// On a stored mailbox an empty password field means the stored one.
	form.Set("password", "right")
	form.Del("test_connection")
	r = b.postForm("/mailboxes", form)
	wantStatus(t, r, http.StatusSeeOther)
	location := r.header.Get("Location")
	form.Set("password", "")
	form.Set("test_connection", "1")
	r = b.postForm(location, form)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Connected: 2 messages")
}
