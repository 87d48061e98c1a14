package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// roleFixture adds to a harness what the mutating requests below act on: a
// site nobody uses (deletable), a user who is neither caller, a mail service
// and a POP3 mailbox of the admin's.
type roleFixture struct {
	*harness
	victimID, serviceID, mailboxID, messageID int64
	queuedID                                  int64
	adminTokenID, ruleID                      int64
}

// addMessage stores a message with one attachment in a mailbox, as the
// receiving paths will, and gives its ID and the attachment's.
func addMessage(t *testing.T, h *harness, mailboxID int64) (int64, int64) {
	t.Helper()
	ctx := context.Background()
	m := &store.NewMessage{Message: store.Message{MailboxID: mailboxID, Subject: "Quarterly report", From: "a@example.com"},
		Content: store.Content{Text: "numbers"},
		Raw:     []byte("Subject: Quarterly report\r\n\r\nnumbers\r\n"), SaveSource: true,
		Attachments: []store.Attachment{{Filename: "отчёт.pdf", ContentType: "application/pdf", Size: 3, Data: []byte("pdf")}}}
	id, _, err := h.env.Store.InsertMessage(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	attachments, err := h.env.Store.Attachments(ctx, id)
	if err != nil || len(attachments) != 1 {
		t.Fatalf("attachments: %v %v", attachments, err)
	}
	return id, attachments[0].ID
}

func newRoleFixture(t *testing.T) *roleFixture {
	t.Helper()
	h := newHarness(t)
	h.env.Service.SetSMTPControl(&fakeSMTP{})
	h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"spare","name":"Spare"}`)
	victim := h.env.AddUser(t, "victim", "victim-password", store.RoleUser)
	service := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/services", `{"site":"s1","name":"Spare service"}`))
	mailbox := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/mailboxes",
		`{"type":"pop3","name":"Spare mailbox","server":"pop.example.com","login":"spare","password":"spare-secret"}`))
	message, _ := addMessage(t, h, mailbox.ID)
	_, token, err := h.env.Service.CreateToken(context.Background(), h.env.Admin, h.env.Admin.User.ID, "admin's")
	if err != nil {
		t.Fatal(err)
	}
	rule := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/rules",
		`{"name":"Spare rule","conditions":[{"field":"subject","op":"contains","values":["report"]}],"actions":{"read":"read"}}`))
	return &roleFixture{harness: h, victimID: victim.User.ID, serviceID: service.ID, mailboxID: mailbox.ID, messageID: message,
		adminTokenID: token.ID, queuedID: enqueue(t, h), ruleID: rule.ID}
}

// snapshot is what the admin reads of everything the mutating routes can
// change, plus the token count (tokens have no GET).
func (f *roleFixture) snapshot(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, path := range []string{
		"/api/v1/sites", "/api/v1/sites/s1", "/api/v1/sites/spare", "/api/v1/users", "/api/v1/settings",
		fmt.Sprintf("/api/v1/users/%d", f.adminID), fmt.Sprintf("/api/v1/users/%d", f.userID),
		fmt.Sprintf("/api/v1/users/%d", f.auditorID), fmt.Sprintf("/api/v1/users/%d", f.victimID),
		"/api/v1/services", "/api/v1/mailboxes", fmt.Sprintf("/api/v1/mailboxes/%d", f.mailboxID),
		"/api/v1/messages", fmt.Sprintf("/api/v1/messages/%d", f.messageID), "/api/v1/queue", "/api/v1/rules", "/api/v1/spam",
	} {
		parts = append(parts, f.expect(t, http.StatusOK, f.admin, "GET", path, "").Body.String())
	}
	var tokens int
	if err := f.env.Store.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM tokens`).Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	// Mailbox passwords are write-only: compare what is stored.
	rows, err := f.env.Store.DB().QueryContext(context.Background(), `SELECT id, password_enc FROM mailboxes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var sealed []byte
		if err := rows.Scan(&id, &sealed); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("mailbox %d password %x", id, sealed))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(parts, "\n") + fmt.Sprintf("\ntokens: %d", tokens)
}

// mutation is a request to a mutating route that an admin could make.
type mutation struct {
	route string // the route's "METHOD path" as in the route table
	path  string
	body  string
	// userStatus is what a user gets when not 403: 404 for another's
	// mailbox, whose existence a user does not learn.
	userStatus int
}

// auditorStatus is what an auditor gets on a route when not 403: 404 for
// another's token, whose existence no one but an admin learns.
var auditorStatus = map[string]int{"DELETE /api/v1/tokens/{id}": http.StatusNotFound,
	"POST /api/v1/rules/test": http.StatusOK} // the dry run changes nothing: auditors may

func (f *roleFixture) mutations(selfID int64) []mutation {
	victim := fmt.Sprintf("/api/v1/users/%d", f.victimID)
	self := fmt.Sprintf("/api/v1/users/%d", selfID)
	service := fmt.Sprintf("/api/v1/services/%d", f.serviceID)
	mailbox := fmt.Sprintf("/api/v1/mailboxes/%d", f.mailboxID)
	message := fmt.Sprintf("/api/v1/messages/%d", f.messageID)
	rule := fmt.Sprintf("/api/v1/rules/%d", f.ruleID)
	return []mutation{
		{"POST /api/v1/rules", "/api/v1/rules", `{"name":"Intruder","actions":{"delete":true}}`, 0},
		{"POST /api/v1/messages/{id}/actions", message + "/actions", fmt.Sprintf(`{"action":"apply_rules","rule_id":%d}`, f.ruleID), http.StatusNotFound},
		{"PATCH /api/v1/rules/{id}", rule, `{"active":false}`, 0},
		{"DELETE /api/v1/rules/{id}", rule, "", 0},
		{"POST /api/v1/rules/actions", "/api/v1/rules/actions", `{"action":"delete","filter":{}}`, 0},
		{"POST /api/v1/rules/test", "/api/v1/rules/test", fmt.Sprintf(`{"message_id":%d}`, f.messageID), 0},
		{"POST /api/v1/spam/train", "/api/v1/spam/train?class=spam", "Subject: poison\r\n\r\nham words\r\n", 0},
		{"POST /api/v1/sites", "/api/v1/sites", `{"code":"x1","name":"New"}`, 0},
		{"PATCH /api/v1/sites/{code}", "/api/v1/sites/s1", `{"name":"Changed"}`, 0},
		{"DELETE /api/v1/sites/{code}", "/api/v1/sites/spare", "", 0},
		{"POST /api/v1/users", "/api/v1/users", `{"login":"intruder","password":"long-enough","role":"admin"}`, 0},
		{"PATCH /api/v1/users/{id}", victim, `{"name":"Changed"}`, 0},
		{"PATCH /api/v1/users/{id}", victim, `{"password":"new-password-1"}`, 0},
		{"PATCH /api/v1/users/{id}", self, `{"role":"admin"}`, 0},
		{"PATCH /api/v1/users/{id}", self, `{"active":false}`, 0},
		{"PATCH /api/v1/users/{id}", self, `{"login":"renamed"}`, 0},
		{"DELETE /api/v1/users/{id}", victim, "", 0},
		{"DELETE /api/v1/users/{id}", self, "", 0},
		{"POST /api/v1/tokens", "/api/v1/tokens", fmt.Sprintf(`{"user_id":%d,"name":"stolen"}`, f.adminID), 0},
		{"DELETE /api/v1/tokens/{id}", fmt.Sprintf("/api/v1/tokens/%d", f.adminTokenID), "", http.StatusNotFound},
		{"PATCH /api/v1/settings", "/api/v1/settings", `{"check_spam":false}`, 0},
		{"POST /api/v1/smtp/start", "/api/v1/smtp/start", "", 0},
		{"POST /api/v1/smtp/stop", "/api/v1/smtp/stop", "", 0},
		{"POST /api/v1/queue/{id}/retry", fmt.Sprintf("/api/v1/queue/%d/retry", f.queuedID), "", 0},
		{"DELETE /api/v1/queue/{id}", fmt.Sprintf("/api/v1/queue/%d", f.queuedID), "", 0},
		{"POST /api/v1/services", "/api/v1/services", `{"site":"s1","name":"New service"}`, 0},
		{"PATCH /api/v1/services/{id}", service, `{"name":"Changed"}`, 0},
		{"PATCH /api/v1/services/{id}", service, `{"active":false}`, 0},
		{"PUT /api/v1/services/{id}/logo", service + "/logo", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 0},
		{"DELETE /api/v1/services/{id}/logo", service + "/logo", "", 0},
		{"DELETE /api/v1/services/{id}", service, "", 0},
		{"POST /api/v1/mailboxes", "/api/v1/mailboxes", `{"type":"smtp","name":"New SMTP","port":2525}`, 0},
		{"POST /api/v1/mailboxes", "/api/v1/mailboxes", `{"type":"pop3","name":"New POP3","server":"pop.example.com","login":"x","password":"secret"}`, 0},
		{"PATCH /api/v1/mailboxes/{id}", mailbox, `{"name":"Changed"}`, http.StatusNotFound},
		{"PATCH /api/v1/mailboxes/{id}", mailbox, `{"password":"stolen-password"}`, http.StatusNotFound},
		{"POST /api/v1/messages/{id}/actions", message + "/actions", `{"action":"spam"}`, http.StatusNotFound},
		{"POST /api/v1/messages/actions", "/api/v1/messages/actions", fmt.Sprintf(`{"action":"read","ids":[%d]}`, f.messageID), http.StatusOK},
		{"POST /api/v1/messages/actions", "/api/v1/messages/actions", `{"action":"unread","filter":{}}`, http.StatusOK},
		{"DELETE /api/v1/messages/{id}", message, "", http.StatusNotFound},
		{"POST /api/v1/mailboxes/{id}/check", mailbox + "/check", "", http.StatusNotFound},
		{"POST /api/v1/mailboxes/check", "/api/v1/mailboxes/check", "", http.StatusOK},
		{"POST /api/v1/mailboxes/test", "/api/v1/mailboxes/test", fmt.Sprintf(`{"id":%d}`, f.mailboxID), http.StatusNotFound},
		{"POST /api/v1/mailboxes/{id}/messages", mailbox + "/messages", "Subject: planted\r\n\r\nbody\r\n", http.StatusNotFound},
		{"DELETE /api/v1/mailboxes/{id}", mailbox, "", http.StatusNotFound},
		// A user's group action reaches only their own mailboxes: another's
		// is reported as not found, and a filter matches none of them.
		{"POST /api/v1/mailboxes/actions", "/api/v1/mailboxes/actions", fmt.Sprintf(`{"action":"delete","ids":[%d]}`, f.mailboxID), http.StatusOK},
		{"POST /api/v1/mailboxes/actions", "/api/v1/mailboxes/actions", `{"action":"deactivate","filter":{}}`, http.StatusOK},
	}
}

func TestMutatingRoutesForbidden(t *testing.T) {
	f := newRoleFixture(t)
	covered := map[string]bool{}
	for _, m := range f.mutations(0) {
		covered[m.route] = true
	}
	for _, rt := range (&api{}).routes() {
		if rt.method != http.MethodGet && !covered[rt.method+" "+rt.path] {
			t.Errorf("mutating route %s %s has no forbidden-role case", rt.method, rt.path)
		}
	}
	for _, caller := range []struct {
		name string
		auth string
		id   int64
	}{{"auditor", f.auditor, f.auditorID}, {"user", f.user, f.userID}} {
		for _, m := range f.mutations(caller.id) {
			t.Run(caller.name+" "+m.route+" "+m.body, func(t *testing.T) {
				before := f.snapshot(t)
				want, text := http.StatusForbidden, "You do not have the right to do this"
				if caller.name == "user" && m.userStatus != 0 {
					want, text = m.userStatus, "Not found"
				}
				if status := auditorStatus[m.route]; caller.name == "auditor" && status != 0 {
					want, text = status, "Not found"
				}
				got := decodeAs[errorBody](t, f.expect(t, want, caller.auth, strings.Fields(m.route)[0], m.path, m.body))
				if want != http.StatusOK && got.Error != text {
					t.Errorf("error = %q", got.Error)
				}
				if after := f.snapshot(t); after != before {
					t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	}
}

// The same requests succeed for an admin, so the cases above test rights
// and not broken requests.
func TestMutationsSucceedForAdmin(t *testing.T) {
	f := newRoleFixture(t)
	spareAdmin := f.addAdmin(t, "second", "")
	for _, m := range f.mutations(f.userID) {
		rec := f.do(t, spareAdmin, strings.Fields(m.route)[0], m.path, m.body)
		if rec.Code >= 300 {
			t.Errorf("%s %s %s: status %d, body %s", m.route, m.path, m.body, rec.Code, rec.Body)
		}
	}
}

func TestAuditorReadsEverything(t *testing.T) {
	f := newLogFixture(t)
	h := f.h
	message, attachment := addMessage(t, h, f.other)
	h.expect(t, http.StatusOK, h.admin, "PUT", fmt.Sprintf("/api/v1/services/%d/logo", firstServiceID(t, h)), "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	queued := enqueue(t, h)
	rule := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/rules", `{"name":"Read by auditors"}`))
	reads := map[string]string{
		"GET /api/v1/queue":                                     "/api/v1/queue",
		"GET /api/v1/queue/{id}":                                fmt.Sprintf("/api/v1/queue/%d", queued),
		"GET /api/v1/rules":                                     "/api/v1/rules",
		"GET /api/v1/rules/{id}":                                fmt.Sprintf("/api/v1/rules/%d", rule.ID),
		"GET /api/v1/spam":                                      "/api/v1/spam",
		"GET /api/v1/messages":                                  "/api/v1/messages",
		"GET /api/v1/messages/{id}":                             fmt.Sprintf("/api/v1/messages/%d", message),
		"GET /api/v1/messages/{id}/raw":                         fmt.Sprintf("/api/v1/messages/%d/raw", message),
		"GET /api/v1/messages/{id}/attachments/{attachment_id}": fmt.Sprintf("/api/v1/messages/%d/attachments/%d", message, attachment),
		"GET /api/v1/openapi.json":                              "/api/v1/openapi.json",
		"GET /api/v1/sites":                                     "/api/v1/sites",
		"GET /api/v1/sites/{code}":                              "/api/v1/sites/s1",
		"GET /api/v1/users":                                     "/api/v1/users",
		"GET /api/v1/tokens":                                    "/api/v1/tokens",
		"GET /api/v1/users/{id}":                                fmt.Sprintf("/api/v1/users/%d", h.adminID),
		"GET /api/v1/settings":                                  "/api/v1/settings",
		"GET /api/v1/smtp/status":                               "/api/v1/smtp/status",
		"GET /api/v1/log":                                       "/api/v1/log",
		"GET /api/v1/services":                                  "/api/v1/services",
		"GET /api/v1/services/{id}":                             fmt.Sprintf("/api/v1/services/%d", firstServiceID(t, h)),
		"GET /api/v1/services/{id}/logo":                        fmt.Sprintf("/api/v1/services/%d/logo", firstServiceID(t, h)),
		"GET /api/v1/mailboxes":                                 "/api/v1/mailboxes",
		"GET /api/v1/mailboxes/{id}":                            fmt.Sprintf("/api/v1/mailboxes/%d", f.other),
	}
	for _, rt := range (&api{}).routes() {
		if rt.method != http.MethodGet {
			continue
		}
		path, ok := reads[rt.method+" "+rt.path]
		if !ok {
			t.Errorf("read route %s %s has no auditor case", rt.method, rt.path)
			continue
		}
		rec := h.expect(t, http.StatusOK, h.auditor, "GET", path, "")
		switch rt.path {
		case "/api/v1/users", "/api/v1/log", "/api/v1/sites", "/api/v1/services", "/api/v1/mailboxes", "/api/v1/messages", "/api/v1/queue":
			if items := decodeAs[listBody[any]](t, rec).Items; len(items) < 1 {
				t.Errorf("%s: the auditor sees nothing", path)
			}
		}
	}
	if got := f.list(t, h.auditor, ""); len(strings.Split(got, ",")) != len(f.texts) {
		t.Errorf("auditor's log = %s, want all %d rows", got, len(f.texts))
	}
}

// A caller without the right to a route hears 403 whatever they send: the
// route's right is checked before its input is read (issue 11, finding 5:
// a user's PATCH /settings with an unknown field got 400, which said what
// the route takes before saying that it was not theirs).
func TestRightsBeforeInput(t *testing.T) {
	f := newRoleFixture(t)
	// Routes anyone signed in may use: the service alone decides, once it
	// has read what is asked (whose token).
	anyone := map[string]bool{"POST /api/v1/tokens": true, "DELETE /api/v1/tokens/{id}": true}
	routes := map[string]route{}
	for _, rt := range (&api{}).routes() {
		key := rt.method + " " + rt.path
		routes[key] = rt
		if rt.method != http.MethodGet && rt.may == nil && !anyone[key] {
			t.Errorf("mutating route %s checks no right before reading its input", key)
		}
	}
	for _, caller := range []struct {
		role string
		auth string
		id   int64
	}{{store.RoleAuditor, f.auditor, f.auditorID}, {store.RoleUser, f.user, f.userID}} {
		actor := &service.Actor{User: store.User{ID: caller.id, Role: caller.role}}
		for _, m := range f.mutations(caller.id) {
			probe := httptest.NewRequest(strings.Fields(m.route)[0], m.path, nil)
			probe.SetPathValue("id", path.Base(m.path))
			if may := routes[m.route].may; may == nil || may(actor, probe) {
				continue // the caller may use the route: their input is read
			}
			for _, body := range []string{`{"not_a_field":true}`, `{"name":`, `[]`} {
				t.Run(caller.role+" "+m.route+" "+body, func(t *testing.T) {
					got := decodeAs[errorBody](t, f.expect(t, http.StatusForbidden, caller.auth, strings.Fields(m.route)[0], m.path, body))
					if got.Error != "You do not have the right to do this" {
						t.Errorf("error = %q", got.Error)
					}
				})
			}
		}
	}
}

// enqueue puts a message in the outbound queue, due in an hour (so that
// nothing delivers it during the test).
func enqueue(t *testing.T, h *harness) int64 {
	t.Helper()
	ids, err := h.env.Store.EnqueueOutbound(context.Background(), store.NewOutbound{Sender: "alice@example.test",
		Recipients: []string{"bob@elsewhere.test"}, Raw: []byte("Subject: queued\r\n\r\nbody\r\n"), Subject: "queued",
		NotBefore: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}
