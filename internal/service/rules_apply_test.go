package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// Applying rules by hand: admins only (an employee neither on others' mail
// nor with an admin's rule ID, and sees no rule names), only active rules
// set to run manually, and a chosen rule only when it is one of those.
func TestApplyRulesRights(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	stored, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Invoice 7", "pay now")), "API")
	if err != nil {
		t.Fatal(err)
	}
	markRead := func(name string, active, manual bool) int64 {
		t.Helper()
		rule, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{Name: ptr(name), Active: ptr(active), OnReceive: ptr(false),
			OnManual: ptr(manual), Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"invoice"}}},
			Actions: &service.RuleActionsInput{Read: ptr("read")}})
		if err != nil {
			t.Fatal(err)
		}
		return rule.ID
	}
	inactive := markRead("Off", false, true)
	receiptOnly := markRead("On receipt only", true, false)
	selection := service.MessageSelection{IDs: []int64{stored.ID}}
	isRead := func() bool {
		t.Helper()
		view, err := env.Service.MessageSummary(ctx, env.Admin, stored.ID)
		if err != nil {
			t.Fatal(err)
		}
		return view.Read
	}

	// Neither an inactive rule nor one not set to run manually runs,
	// whether all are applied or it is named.
	if n, err := env.Service.ApplyRules(ctx, env.Admin, selection, 0); err != nil || n != 0 {
		t.Fatalf("all manual rules: %d, %v", n, err)
	}
	for _, id := range []int64{inactive, receiptOnly} {
		_, err := env.Service.ApplyRules(ctx, env.Admin, selection, id)
		if got := fieldError(t, err, "en")["rule_id"]; got != "Choose an active rule set to run manually" {
			t.Errorf("rule %d: %q", id, got)
		}
	}
	if _, err := env.Service.ApplyRules(ctx, env.Admin, selection, 999999); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("a rule that does not exist: %v", err)
	}
	if isRead() {
		t.Fatal("a rule that may not run changed the message")
	}
	if manual, err := env.Service.ManualRules(ctx, env.Admin, inbox); err != nil || len(manual) != 0 {
		t.Errorf("manual rules offered: %+v, %v", manual, err)
	}

	// An employee may not, on another's message nor with an admin's rule,
	// and learns no rule names.
	manual := markRead("By hand", true, true)
	employee := env.AddUser(t, "emma", "employee-pass", store.RoleUser)
	for _, id := range []int64{0, manual} {
		if _, err := env.Service.ApplyRules(ctx, employee, selection, id); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("employee applies rule %d: %v", id, err)
		}
		if _, err := env.Service.ApplyRules(ctx, employee, service.MessageSelection{Filter: &store.MessageFilter{}}, id); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("employee applies rule %d to all they see: %v", id, err)
		}
	}
	if _, err := env.Service.MessageAction(ctx, employee, selection, service.ActionApplyRules); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("employee's apply_rules action: %v", err)
	}
	if _, err := env.Service.ManualRules(ctx, employee, 0); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("employee lists manual rules: %v", err)
	}
	if isRead() {
		t.Fatal("an employee's apply changed the message")
	}

	// The admin: the active manual rule is offered and applies, alone or
	// with the others.
	if offered, err := env.Service.ManualRules(ctx, env.Admin, inbox); err != nil || len(offered) != 1 || offered[0].ID != manual {
		t.Errorf("manual rules offered: %+v, %v", offered, err)
	}
	if n, err := env.Service.ApplyRules(ctx, env.Admin, selection, manual); err != nil || n != 1 || !isRead() {
		t.Fatalf("the chosen rule: %d, %v", n, err)
	}
}
