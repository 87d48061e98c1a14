package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// loopbackService adds a mail service for the test's Dovecot and lets
// users' connections reach loopback.
func loopbackService(t *testing.T, ts *testServer, dovecot *testpeer.DovecotServer) service.MailServiceView {
	t.Helper()
	ctx := context.Background()
	site, err := ts.env.Service.DefaultSite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name, server, security, port := "Loopback Dovecot", dovecot.Host, "none", dovecot.IMAPPort
	created, err := ts.env.Service.CreateMailService(ctx, ts.env.Admin, service.MailServiceInput{Site: &site.Code, Name: &name,
		Server: &server, Port: &port, Security: &security})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.env.Service.UpdateSettings(ctx, ts.env.Admin, service.SettingsInput{AllowedNetworks: &[]string{"127.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	return created
}

// postScript posts a form as the page's script does for "Test connection".
func (b *browser) postScript(path string, form url.Values) result {
	b.t.Helper()
	form.Set("csrf_token", b.csrf)
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(testHeader, "1")
	return b.do(req)
}

// An employee connects their own IMAP mailbox from "My mailboxes": the
// service cards, a test that lists the folders, the folder and range
// choice, the limit of the settings, change, receive now and disconnect;
// another employee and an auditor reach none of it.
func TestMyMailboxes(t *testing.T) {
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser("employee", "employee-secret")
	if err := dovecot.Deliver("employee", msgMail{From: "boss@example.com", To: "employee@example.com", Subject: "Welcome aboard",
		Date: msgDay(1), Text: "Hello"}.raw()); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)
	dovecotService := loopbackService(t, ts, dovecot)
	ts.addUser(t, "anna", store.RoleUser)
	ts.addUser(t, "boris", store.RoleUser)
	ts.addUser(t, "audit", store.RoleAuditor)
	anna := ts.signIn(t, "anna", "password-anna")

	r := anna.get("/my/mailboxes")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "You have not connected a mailbox yet", `href="/my/mailboxes/new"`, `href="/my/mailboxes"`)
	r = anna.get("/my/mailboxes/new")
	wantStatus(t, r, http.StatusOK)
	serviceLink := "/my/mailboxes/new?service=" + strconv.FormatInt(dovecotService.ID, 10)
	wantBody(t, r, `class="service-grid"`, serviceLink, "Loopback Dovecot", "gmail")
	r = anna.get(serviceLink)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Loopback Dovecot", `name="folder" value="INBOX" checked`, `value="month" selected`)

	form := url.Values{"service_id": {strconv.FormatInt(dovecotService.ID, 10)}, "login": {"employee"}, "password": {"wrong"},
		"folder_shown": {"INBOX"}, "folder": {"INBOX"}, "sync_range": {"all"}, "test_connection": {"1"}}
	r = anna.postScript("/my/mailboxes", form)
	wantStatus(t, r, http.StatusOK)
	var answer testAnswer
	if err := json.Unmarshal([]byte(r.body), &answer); err != nil || answer.OK || !strings.Contains(answer.Text, "login or the password") {
		t.Errorf("test with a wrong password: %s %v", r.body, err)
	}
	form.Set("password", "employee-secret")
	r = anna.postScript("/my/mailboxes", form)
	answer = testAnswer{}
	if err := json.Unmarshal([]byte(r.body), &answer); err != nil || !answer.OK || len(answer.Folders) == 0 {
		t.Fatalf("test: %s %v", r.body, err)
	}
	if first := answer.Folders[0]; first.Name != "INBOX" || !first.Checked || first.Label != "" {
		t.Errorf("folders: %+v", answer.Folders)
	}
	// Without script the form comes back with the folders to choose.
	r = anna.postForm("/my/mailboxes", form)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Connected: 1 messages", `name="folder" value="INBOX" checked`)
	if n := countMailboxes(t, ts); n != 0 {
		t.Fatalf("%d mailboxes after testing", n)
	}

	form.Del("test_connection")
	form.Set("checkbox", "delete_from_server")
	form.Set("delete_from_server", "1")
	r = anna.postForm("/my/mailboxes", form)
	wantStatus(t, r, http.StatusSeeOther)
	location := r.header.Get("Location")
	id := strings.TrimPrefix(location, "/messages?mailbox_id=")
	if id == location {
		t.Fatalf("after connecting: %s", location)
	}
	mailboxID, _ := strconv.ParseInt(id, 10, 64)
	stored, err := ts.env.Store.MailboxByID(context.Background(), mailboxID)
	if err != nil || stored.OwnerID == 0 || stored.Name != "employee" || !stored.DeleteFromServer || stored.SyncRange != "all" {
		t.Fatalf("stored: %+v %v", stored, err)
	}

	// Receive mail now, from the list; the list says the state.
	r = anna.postForm("/my/mailboxes/"+id+"/check", url.Values{})
	wantStatus(t, r, http.StatusSeeOther)
	r = anna.get("/my/mailboxes")
	wantBody(t, r, "Received 1 new messages.", "1 messages, 1 new", "Last sync:")
	r = anna.get("/messages?mailbox_id=" + id)
	wantBody(t, r, "Welcome aboard")

	// Change: the folders chosen and the range.
	r = anna.get("/my/mailboxes/" + id)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `value="employee"`, `name="folder" value="INBOX" checked`)
	r = anna.postForm("/my/mailboxes/"+id, url.Values{"login": {"employee"}, "folder_shown": {"INBOX", "Sent"},
		"folder": {"INBOX", "Sent"}, "sync_range": {"week"}, "name": {"Work"}, "checkbox": {"delete_from_server"}})
	wantStatus(t, r, http.StatusSeeOther)
	stored, _ = ts.env.Store.MailboxByID(context.Background(), mailboxID)
	if stored.Name != "Work" || strings.Join(stored.Folders, ",") != "INBOX,Sent" || stored.SyncRange != "week" || stored.DeleteFromServer {
		t.Errorf("after the change: %+v", stored)
	}

	// No folder ticked: said under the folders, nothing saved.
	r = anna.postForm("/my/mailboxes/"+id, url.Values{"login": {"employee"}, "folder_shown": {"INBOX", "Sent"}, "sync_range": {"week"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Tick one folder at least")

	// The limit of the settings: one mailbox each.
	limit := 1
	if _, err := ts.env.Service.UpdateSettings(context.Background(), ts.env.Admin, service.SettingsInput{UserMailboxesPerUser: &limit}); err != nil {
		t.Fatal(err)
	}
	r = anna.get("/my/mailboxes")
	wantBody(t, r, "as many mailboxes as allowed (1)")
	wantNoBody(t, r, `href="/my/mailboxes/new"`)
	r = anna.postForm("/my/mailboxes", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "1")
	if n := countMailboxes(t, ts); n != 1 {
		t.Fatalf("%d mailboxes past the limit", n)
	}

	// Another employee: none of it.
	boris := ts.signIn(t, "boris", "password-boris")
	wantNoBody(t, boris.get("/my/mailboxes"), "Work", "employee")
	for _, path := range []string{"/my/mailboxes/" + id, "/my/mailboxes/" + id + "/delete"} {
		wantStatus(t, boris.get(path), http.StatusNotFound)
	}
	for _, path := range []string{"/my/mailboxes/" + id, "/my/mailboxes/" + id + "/check", "/my/mailboxes/" + id + "/delete"} {
		r := boris.postForm(path, url.Values{"login": {"boris"}, "sync_range": {"all"}})
		wantStatus(t, r, http.StatusNotFound)
		wantNoBody(t, r, "Work", "employee")
	}
	// An auditor reads the admin's pages, changes nothing, connects nothing.
	audit := ts.signIn(t, "audit", "password-audit")
	wantStatus(t, audit.get("/my/mailboxes"), http.StatusForbidden)
	wantStatus(t, audit.postForm("/my/mailboxes", form), http.StatusForbidden)
	wantStatus(t, audit.postForm("/my/mailboxes/"+id+"/delete", url.Values{}), http.StatusForbidden)

	// Disconnect, after the confirmation.
	r = anna.get("/my/mailboxes/" + id + "/delete")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Disconnect the mailbox «Work»?")
	wantStatus(t, anna.postForm("/my/mailboxes/"+id+"/delete", url.Values{}), http.StatusSeeOther)
	if n := countMailboxes(t, ts); n != 0 {
		t.Fatalf("%d mailboxes after disconnecting", n)
	}
}
