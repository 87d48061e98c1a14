package service_test

import (
	"context"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/rules/rulestore"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// storeRuleAsIs writes a rule straight to the store, as an older Pochta
// saved it, past today's checks.
func storeRuleAsIs(t *testing.T, env *servicetest.Env, rule rules.Rule) int64 {
	t.Helper()
	row := rulestore.ToRow(rule)
	row.Template = "manual"
	if err := env.Store.CreateRule(context.Background(), &row); err != nil {
		t.Fatal(err)
	}
	return row.ID
}

// A rule saved under the earlier regex bound (5,000 instructions, now
// 1,000 at save) can still be switched off and renamed: only conditions
// as sent are held to today's bound.
func TestLegacyRuleCanBeSwitchedOff(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	large := `(?:[a-zа-я]\w?){1000}(?:[a-zа-я]\w?){339}\d`
	id := storeRuleAsIs(t, env, rules.Rule{Name: "Legacy", Active: true, OnReceive: true, MailboxID: inbox, Actions: rules.Actions{Read: rules.Read},
		Conditions: []rules.Condition{{Field: rules.FieldBody, Op: rules.OpRegex, Values: []string{large}}}})
	if _, err := env.Service.UpdateRule(ctx, env.Admin, id, service.RuleInput{Active: ptr(false), Name: ptr("Legacy, off")}); err != nil {
		t.Fatalf("switching the legacy rule off: %v", err)
	}
	conditions := []service.RuleCondition{{Field: "body", Op: "regex", Values: []string{large}}}
	if _, err := env.Service.UpdateRule(ctx, env.Admin, id, service.RuleInput{Conditions: &conditions}); err == nil {
		t.Error("the large regex sent again was saved; today's bound should refuse it")
	}
}

// A stored regex with an unended \Q (valid alone: it quotes to the end)
// neither panics nor fails the messages of its mailbox.
func TestStoredRegexWithOpenQuote(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	storeRuleAsIs(t, env, rules.Rule{Name: "Old", Active: true, OnReceive: true, MailboxID: inbox, Actions: rules.Actions{Read: rules.Read},
		Conditions: []rules.Condition{{Field: rules.FieldSubject, Op: rules.OpRegex, Values: []string{`invoice\Q`}}}})
	result, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Invoice 7", "pay")), "API")
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	stored, err := env.Store.MessageByID(ctx, result.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Read {
		t.Error("the rule did not mark the message read")
	}
}
