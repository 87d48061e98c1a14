package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// "Apply rules" in the message view: all manual rules or one chosen among
// the active manual rules of the message's mailbox; an employee is offered
// none and may apply none, on their own mail or another's.
func TestApplyRulesFromView(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	f := msgSetup(t, ts)
	rule := func(name string, active, manual bool) int64 {
		t.Helper()
		view, err := ts.env.Service.CreateRule(ctx, ts.env.Admin, service.RuleInput{Name: &name, Active: &active, OnReceive: new(bool),
			OnManual: &manual, Actions: &service.RuleActionsInput{Spam: &[]string{"spam"}[0]}})
		if err != nil {
			t.Fatal(err)
		}
		return view.ID
	}
	chosen := rule("Junk by hand", true, true)
	off := rule("Switched off", false, true)
	rule("Receipt only", true, false)
	id := func(n int64) string { return strconv.FormatInt(n, 10) }

	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	view := "/messages/" + mblID(f.report)
	r := b.get(view)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<select id="apply-rule" name="rule_id">`, `<option value="">Apply all manual rules</option>`,
		`<option value="`+id(chosen)+`">Apply rule: Junk by hand</option>`, `value="apply_rules"`)
	wantNoBody(t, r, "Switched off", "Receipt only")
	// The chosen rule alone.
	r = b.postForm(view+"/action", url.Values{"action": {"apply_rules"}, "rule_id": {id(chosen)}, "back": {view}})
	wantStatus(t, r, http.StatusSeeOther)
	if m, _ := msgGet(t, ts, f.report); m.Spam != "yes" {
		t.Errorf("the chosen rule did not apply: %+v", m)
	}
	// A rule switched off is refused, whatever the form says.
	b.get(view)
	wantStatus(t, b.postForm("/messages/"+mblID(f.news)+"/action", url.Values{"action": {"apply_rules"}, "rule_id": {id(off)}, "back": {view}}),
		http.StatusBadRequest)
	if m, _ := msgGet(t, ts, f.news); m.Spam != "unknown" {
		t.Errorf("a switched-off rule applied: %+v", m)
	}

	// An employee (joe): no rule offered in the list or the view; applying
	// is refused on his own message and on another's, named rule or not.
	u := ts.signIn(t, "joe", "password-joe")
	r = u.get("/messages")
	wantNoBody(t, r, `name="rule_id"`, "Junk by hand", `value="apply_rules"`)
	r = u.get("/messages/" + mblID(f.joeMail))
	wantStatus(t, r, http.StatusOK)
	wantNoBody(t, r, `name="rule_id"`, "Junk by hand", `value="apply_rules"`)
	for _, form := range []url.Values{{"action": {"apply_rules"}}, {"action": {"apply_rules"}, "rule_id": {id(chosen)}}} {
		form.Set("back", "/messages")
		wantStatus(t, u.postForm("/messages/"+mblID(f.joeMail)+"/action", form), http.StatusForbidden)
		wantStatus(t, u.postForm("/messages/"+mblID(f.annMail)+"/action", form), http.StatusNotFound)
		group := url.Values{"id": {mblID(f.joeMail), mblID(f.annMail), mblID(f.news)}}
		for k, v := range form {
			group[k] = v
		}
		wantStatus(t, u.postForm("/messages/group", group), http.StatusForbidden)
	}
	for _, m := range []int64{f.joeMail, f.annMail, f.news} {
		if got, _ := msgGet(t, ts, m); got.Spam != "unknown" {
			t.Errorf("an employee's apply changed %d: %+v", m, got)
		}
	}
}
