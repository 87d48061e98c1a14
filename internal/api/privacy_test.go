package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// apiPrivacy is user A's private things through the API, and the texts
// that would tell of them.
type apiPrivacy struct {
	*harness
	bob, auditor                                        string
	aliceID, mailboxID, messageID, attachmentID, ruleID int64
	tokenID, queuedID, serviceID                        int64
	secrets                                             []string
}

func newAPIPrivacy(t *testing.T) *apiPrivacy {
	t.Helper()
	ctx := context.Background()
	h := newHarness(t)
	h.env.Service.SetSMTPControl(&fakeSMTP{})
	alice := h.env.AddUser(t, "alice", "alice-password-1", store.RoleUser)
	bob := h.env.AddUser(t, "bob", "bob-password-1", store.RoleUser)
	auditor := h.env.AddUser(t, "watcher", "watcher-password-1", store.RoleAuditor)
	services, err := h.env.Service.MailServices(ctx, alice, store.MailServiceFilter{})
	if err != nil || len(services) == 0 {
		t.Fatalf("services: %v %v", services, err)
	}
	text := func(s string) *string { return &s }
	imap := store.MailboxIMAP
	mailbox, err := h.env.Service.CreateMailbox(ctx, alice, service.MailboxInput{Type: &imap, Name: text("Alicebox Secret"),
		ServiceID: &services[0].ID, Login: text("alice.private@gmail.com"), Password: text("alice-mail-secret")})
	if err != nil {
		t.Fatal(err)
	}
	message, attachment := addMessage(t, h, mailbox.ID)
	if err := h.env.Store.AddLog(ctx, store.LogEntry{Level: store.LevelInfo, Type: "imap", MailboxID: mailbox.ID,
		Text: "Alice log line of her sync"}); err != nil {
		t.Fatal(err)
	}
	rule, err := h.env.Service.CreateRule(ctx, h.env.Admin, service.RuleInput{Name: text("Alice rule Secret"),
		MailboxID:  service.Optional[int64]{Set: true, Value: &mailbox.ID},
		Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"report"}}},
		Actions:    &service.RuleActionsInput{Read: text("read")}})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := h.env.Service.CreateToken(ctx, alice, alice.User.ID, "Alice token Secret")
	if err != nil {
		t.Fatal(err)
	}
	return &apiPrivacy{harness: h, bob: h.tokenFor(t, bob), auditor: h.tokenFor(t, auditor), aliceID: alice.User.ID,
		mailboxID: mailbox.ID, messageID: message, attachmentID: attachment, ruleID: rule.ID, tokenID: token.ID,
		queuedID: enqueue(t, h), serviceID: services[0].ID,
		// addMessage's subject, attachment and sender, and A's names.
		secrets: []string{"Alicebox Secret", "alice.private", "Quarterly report", "numbers", "отчёт", "a@example.com",
			"Alice log line", "Alice rule Secret", "Alice token Secret"}}
}

// snapshot is what no request of B's may change.
func (f *apiPrivacy) snapshot(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, path := range []string{fmt.Sprintf("/api/v1/mailboxes/%d", f.mailboxID), fmt.Sprintf("/api/v1/messages/%d", f.messageID),
		fmt.Sprintf("/api/v1/rules/%d", f.ruleID), fmt.Sprintf("/api/v1/users/%d", f.aliceID), "/api/v1/settings",
		fmt.Sprintf("/api/v1/queue/%d", f.queuedID)} {
		rec := f.do(t, f.admin, http.MethodGet, path, "")
		parts = append(parts, fmt.Sprintf("%s %d %s", path, rec.Code, rec.Body.String()))
	}
	tokens, err := f.env.Store.Tokens(context.Background(), f.aliceID)
	if err != nil {
		t.Fatal(err)
	}
	owned, err := f.env.Store.CountOwnedMailboxes(context.Background(), f.aliceID)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(parts, "\n") + fmt.Sprintf("\ntokens %d, mailboxes %d", len(tokens), owned)
}

// openAPIOperations lists every operation of openapi.json as "METHOD
// /path", the document the API test keeps in step with the route table.
func openAPIOperations(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var document struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &document); err != nil {
		t.Fatal(err)
	}
	var operations []string
	for path, methods := range document.Paths {
		for method := range methods {
			switch method {
			case "get", "post", "put", "patch", "delete":
				operations = append(operations, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(operations)
	return operations
}

// privacyRequest is how the walk calls one operation with A's IDs; open
// operations answer B with B's own things (lists, B's tokens, services of
// the site), which must hold nothing of A's.
type privacyRequest struct {
	body string
	open bool
}

func (f *apiPrivacy) requests() map[string]privacyRequest {
	return map[string]privacyRequest{
		"GET /openapi.json":                              {open: true},
		"GET /sites":                                     {open: true},
		"POST /sites":                                    {body: `{"code":"s9","name":"x"}`},
		"GET /sites/{code}":                              {open: true},
		"PATCH /sites/{code}":                            {body: `{"name":"x"}`},
		"DELETE /sites/{code}":                           {},
		"GET /users":                                     {open: true},
		"POST /users":                                    {body: `{"login":"x","password":"long-enough-1"}`},
		"GET /users/{id}":                                {},
		"PATCH /users/{id}":                              {body: `{"name":"x"}`},
		"DELETE /users/{id}":                             {},
		"GET /tokens":                                    {open: true},
		"POST /tokens":                                   {body: `{"name":"bob's"}`, open: true},
		"DELETE /tokens/{id}":                            {},
		"GET /settings":                                  {},
		"PATCH /settings":                                {body: `{"log_keep_days":1}`},
		"GET /smtp/status":                               {},
		"POST /smtp/start":                               {},
		"POST /smtp/stop":                                {},
		"GET /services":                                  {open: true},
		"POST /services":                                 {body: `{"site":"s1","name":"x"}`},
		"GET /services/{id}":                             {open: true},
		"PATCH /services/{id}":                           {body: `{"name":"x"}`},
		"DELETE /services/{id}":                          {},
		"GET /services/{id}/logo":                        {open: true},
		"PUT /services/{id}/logo":                        {body: "<svg/>"},
		"DELETE /services/{id}/logo":                     {},
		"GET /mailboxes":                                 {open: true},
		"POST /mailboxes":                                {body: fmt.Sprintf(`{"type":"imap","name":"x","owner_id":%d,"service_id":%d,"login":"b@example.com","password":"p"}`, f.aliceID, f.serviceID), open: true}, // B's own, never A's
		"POST /mailboxes/actions":                        {body: fmt.Sprintf(`{"action":"delete","ids":[%d]}`, f.mailboxID), open: true},
		"POST /mailboxes/check":                          {open: true},
		"POST /mailboxes/test":                           {body: fmt.Sprintf(`{"id":%d}`, f.mailboxID)},
		"GET /mailboxes/{id}":                            {},
		"PATCH /mailboxes/{id}":                          {body: `{"name":"Taken"}`},
		"DELETE /mailboxes/{id}":                         {},
		"POST /mailboxes/{id}/check":                     {},
		"POST /mailboxes/{id}/messages":                  {body: "Subject: planted\r\n\r\nbody\r\n"},
		"GET /messages":                                  {open: true},
		"POST /messages/actions":                         {body: fmt.Sprintf(`{"action":"delete","ids":[%d]}`, f.messageID), open: true},
		"GET /messages/{id}":                             {},
		"DELETE /messages/{id}":                          {},
		"GET /messages/{id}/raw":                         {},
		"GET /messages/{id}/attachments/{attachment_id}": {},
		"POST /messages/{id}/actions":                    {body: `{"action":"read"}`},
		"GET /rules":                                     {},
		"POST /rules":                                    {body: fmt.Sprintf(`{"name":"x","mailbox_id":%d}`, f.mailboxID)},
		"POST /rules/actions":                            {body: fmt.Sprintf(`{"action":"delete","ids":[%d]}`, f.ruleID)},
		"POST /rules/test":                               {body: fmt.Sprintf(`{"message_id":%d}`, f.messageID)},
		"GET /rules/{id}":                                {},
		"PATCH /rules/{id}":                              {body: `{"name":"x"}`},
		"DELETE /rules/{id}":                             {},
		"GET /spam":                                      {},
		"POST /spam/train":                               {body: fmt.Sprintf(`{"message_id":%d,"spam":true}`, f.messageID)},
		"GET /log":                                       {open: true},
		"GET /queue":                                     {},
		"GET /queue/{id}":                                {},
		"POST /queue/{id}/retry":                         {},
		"DELETE /queue/{id}":                             {},
	}
}

// path fills an operation's path with A's IDs: the mailbox, message,
// attachment, rule, user, token and queued message of the fixture.
func (f *apiPrivacy) path(operation string) string {
	_, path, _ := strings.Cut(operation, " ")
	id := map[string]int64{"/sites": 0, "/users": f.aliceID, "/tokens": f.tokenID, "/services": 1, "/mailboxes": f.mailboxID,
		"/messages": f.messageID, "/rules": f.ruleID, "/queue": f.queuedID}
	for prefix, value := range id {
		if strings.HasPrefix(path, prefix+"/{id}") {
			path = strings.Replace(path, "{id}", fmt.Sprint(value), 1)
		}
	}
	path = strings.Replace(path, "{attachment_id}", fmt.Sprint(f.attachmentID), 1)
	path = strings.Replace(path, "{code}", "s1", 1)
	query := ""
	switch operation[:strings.IndexByte(operation, ' ')] + " " + path {
	case "GET /messages", "GET /log", "GET /mailboxes", "GET /rules":
		query = fmt.Sprintf("?mailbox_id=%d&q=report&id=%d", f.mailboxID, f.mailboxID)
	}
	return strings.TrimSuffix(Prefix, "/") + path + query
}

// Issue 15's privacy walk of the API: every operation of openapi.json, as
// user B with user A's IDs, answers 403 or 404 (or B's own things, with
// nothing of A's), and changes nothing of A's; an auditor's changes are
// all refused.
func TestPrivacyWalkAPI(t *testing.T) {
	f := newAPIPrivacy(t)
	requests := f.requests()
	operations := openAPIOperations(t)
	for _, operation := range operations {
		if _, ok := requests[operation]; !ok {
			t.Errorf("operation %q has no case in the privacy walk", operation)
		}
	}
	for _, operation := range operations {
		request := requests[operation]
		method, _, _ := strings.Cut(operation, " ")
		path := f.path(operation)
		t.Run("user "+operation, func(t *testing.T) {
			before := f.snapshot(t)
			rec := f.do(t, f.bob, method, path, request.body)
			switch {
			case rec.Code == http.StatusForbidden || rec.Code == http.StatusNotFound:
			case request.open && rec.Code < 300:
			default:
				t.Errorf("%s %s: status %d %.300s", method, path, rec.Code, rec.Body)
			}
			for _, secret := range f.secrets {
				if strings.Contains(rec.Body.String(), secret) {
					t.Errorf("%s %s tells %q: %.300s", method, path, secret, rec.Body)
				}
			}
			if after := f.snapshot(t); after != before {
				t.Errorf("%s %s changed A's things:\nbefore %s\nafter  %s", method, path, before, after)
			}
		})
		if method == http.MethodGet || operation == "POST /rules/test" || operation == "POST /tokens" {
			continue // reads, the dry run, and an auditor's own token
		}
		t.Run("auditor "+operation, func(t *testing.T) {
			before := f.snapshot(t)
			rec := f.do(t, f.auditor, method, path, request.body)
			if rec.Code != http.StatusForbidden && !(operation == "DELETE /tokens/{id}" && rec.Code == http.StatusNotFound) {
				t.Errorf("%s %s as auditor: status %d %.300s", method, path, rec.Code, rec.Body)
			}
			if after := f.snapshot(t); after != before {
				t.Errorf("%s %s as auditor changed:\nbefore %s\nafter  %s", method, path, before, after)
			}
		})
	}
}
