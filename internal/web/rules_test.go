package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// The rules pages: a form with a regex error at its field, a saved rule in
// the list in words, inline active, applying it from the message list,
// its log; auditors read, change nothing.
func TestRulesPages(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	port, name := 2525, "Inbound"
	box, err := ts.env.Service.CreateMailbox(ctx, ts.env.Admin, service.MailboxInput{Type: &[]string{store.MailboxSMTP}[0], Name: &name, Port: &port})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ts.env.Service.ImportMessage(ctx, ts.env.Admin, box.ID, strings.NewReader("Subject: Order 12345\r\nFrom: a@example.com\r\n\r\nhello\r\n"), "API")
	if err != nil {
		t.Fatal(err)
	}

	wantBody(t, b.get("/rules/new?template=webhook"), `name="webhook_url" value="https://"`)
	form := url.Values{"name": {"Orders"}, "sort": {"100"}, "mailbox_id": {strconv.FormatInt(box.ID, 10)}, "template": {"manual"},
		"on_manual": {"1"}, "active": {"1"}, "cond_field": {"subject", "subject"}, "cond_header": {"", ""}, "cond_op": {"regex", "contains"},
		"cond_values": {`order\s+(\d+`, ""}, "read": {"read"}, "spam": {"unchanged"}}
	r := b.postForm("/rules", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="conditions.0.values"`, "is not a valid regular expression", `href="#conditions.0.values"`)
	form.Set("cond_values", `order\s+\d+`)
	form["cond_values"] = []string{`order\s+\d+`, ""}
	r = b.postForm("/rules", form)
	wantStatus(t, r, http.StatusSeeOther)
	location := r.header.Get("Location")
	if !strings.HasPrefix(location, "/rules/") {
		t.Fatalf("created at %q", location)
	}
	id := strings.TrimPrefix(location, "/rules/")
	wantBody(t, b.get(location), `value="Orders"`, `order\s&#43;\d&#43;`)
	list := b.get("/rules")
	wantBody(t, list, "Orders", "mark as read", `action="/rules/`+id+`/active"`, `/log?rule_id=`+id)

	// Apply it from the message list: the message is read, the log says so.
	b.get("/messages")
	r = b.postForm("/messages/group", url.Values{"action": {"apply_rules"}, "rule_id": {id}, "id": {strconv.FormatInt(stored.ID, 10)}, "back": {"/messages"}})
	wantStatus(t, r, http.StatusSeeOther) // redirect after POST, the flash on the list
	wantBody(t, b.get(r.header.Get("Location")), "Rules matched 1 messages")
	if view, _ := ts.env.Service.MessageSummary(ctx, ts.env.Admin, stored.ID); !view.Read {
		t.Error("apply rule did not mark the message read")
	}
	wantBody(t, b.get("/log?rule_id="+id), "Processing with rule ["+id+"] Orders (manually)")

	// Inline active.
	b.get("/rules")
	wantStatus(t, b.postForm("/rules/"+id+"/active", url.Values{"active": {"0"}, "back": {"/rules"}}), http.StatusSeeOther)
	wantBody(t, b.get("/rules?active=no"), "Orders")

	// An auditor reads the list, may not change.
	ts.addUser(t, "audrey", store.RoleAuditor)
	auditor := ts.signIn(t, "audrey", "password-"+"audrey")
	wantBody(t, auditor.get("/rules"), "Orders")
	wantNoBody(t, auditor.get("/rules"), `action="/rules/group"`)
	auditor.get("/rules")
	wantStatus(t, auditor.postForm("/rules/"+id+"/active", url.Values{"active": {"1"}}), http.StatusForbidden)
}

// The dry run page: a stored message or a pasted source, which rules would
// fire and why, nothing changed.
func TestRulesDryRunPage(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	if _, err := ts.env.Service.CreateRule(ctx, ts.env.Admin, service.RuleInput{Name: &[]string{"Greetings"}[0],
		Conditions: &[]service.RuleCondition{{Field: "body", Op: "contains", Values: []string{"привет"}}},
		Actions:    &service.RuleActionsInput{Delete: &[]bool{true}[0]}}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, b.get("/rules/test"), `name="raw"`)
	r := b.postForm("/rules/test", url.Values{"raw": {"Subject: hi\r\n\r\nПРИВЕТ всем\r\n"}, "event": {"receive"}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Greetings", "ПРИВЕТ", "message deleted")
	r = b.postForm("/rules/test", url.Values{"raw": {"Subject: hi\r\n\r\nhello\r\n"}})
	wantBody(t, r, "No rule would fire")
	wantStatus(t, b.get("/rules/test?message_id=99999"), http.StatusNotFound)
}
