package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

func TestRuleCRUDAndRights(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	auditor := env.AddUser(t, "audrey", "auditor-pass", store.RoleAuditor)
	user := env.AddUser(t, "ulysses", "user-password", store.RoleUser)

	// Field errors, the regex's at its field.
	_, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{
		MailboxID:  service.Some(int64(99999)),
		Conditions: &[]service.RuleCondition{{Field: "subject", Op: "regex", Values: []string{`(unclosed`}}},
		Actions:    &service.RuleActionsInput{Webhook: service.Some(service.RuleWebhookInput{URL: "https://hooks.example.com/x"})},
	})
	var invalid *service.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("invalid rule: %v", err)
	}
	for _, field := range []string{"name", "mailbox_id", "conditions.0.values", "actions.webhook.secret"} {
		if _, ok := invalid.Fields[field]; !ok {
			t.Errorf("no error at %s: %v", field, invalid.Fields)
		}
	}

	created, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{
		Name: ptr("Invoices"), MailboxID: service.Some(inbox),
		Conditions: &[]service.RuleCondition{{Field: "subject", Op: "regex", Values: []string{`invoice\s+\d+`}}},
		SpamRating: service.Some(service.RuleThreshold{Op: "<", Value: 50}),
		Actions: &service.RuleActionsInput{Read: ptr("read"),
			Webhook: service.Some(service.RuleWebhookInput{URL: "https://hooks.example.com/x", Secret: "s3cret"})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.MailboxID == nil || *created.MailboxID != inbox || !created.Active || created.Sort != 500 || !created.OnReceive ||
		created.Actions.Webhook == nil || !created.Actions.Webhook.HasSecret || created.SpamRating == nil || created.Template != "manual" {
		t.Errorf("created: %+v", created)
	}
	// The secret is sealed in the store, never shown.
	row, _ := env.Store.RuleByID(ctx, created.ID)
	if strings.Contains(string(row.WebhookSecret), "s3cret") {
		t.Error("webhook secret stored in the clear")
	}
	// A patch keeps what it does not name; null clears.
	updated, err := env.Service.UpdateRule(ctx, env.Admin, created.ID, service.RuleInput{Sort: ptr(10), SpamRating: service.Optional[service.RuleThreshold]{Set: true},
		Actions: &service.RuleActionsInput{Webhook: service.Some(service.RuleWebhookInput{URL: "https://hooks.example.com/y"})}})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Sort != 10 || updated.SpamRating != nil || updated.Name != "Invoices" || updated.Actions.Webhook.URL != "https://hooks.example.com/y" ||
		!updated.Actions.Webhook.HasSecret || len(updated.Conditions) != 1 {
		t.Errorf("updated: %+v", updated)
	}

	// Rights: auditors read, change nothing; users neither.
	if _, err := env.Service.Rule(ctx, auditor, created.ID); err != nil {
		t.Errorf("auditor reads: %v", err)
	}
	if _, err := env.Service.UpdateRule(ctx, auditor, created.ID, service.RuleInput{Sort: ptr(1)}); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("auditor changes: %v", err)
	}
	if _, err := env.Service.Rules(ctx, user, service.RuleListFilter{}, store.RuleSort{}, "", 10); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("user lists: %v", err)
	}
	if err := env.Service.DeleteRule(ctx, user, created.ID); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("user deletes: %v", err)
	}

	// Group actions.
	if n, err := env.Service.RuleGroupAction(ctx, env.Admin, service.RuleDeactivate, []int64{created.ID}, nil); err != nil || n != 1 {
		t.Errorf("deactivate: %d, %v", n, err)
	}
	page, _ := env.Service.Rules(ctx, env.Admin, service.RuleListFilter{Active: ptr(false)}, store.RuleSort{}, "", 10)
	if len(page.Items) != 1 || page.Items[0].Summary.Key == "" {
		t.Errorf("inactive rules: %+v", page)
	}
	if n, err := env.Service.RuleGroupAction(ctx, env.Admin, service.RuleDelete, nil, &service.RuleListFilter{Name: "invo"}); err != nil || n != 1 {
		t.Errorf("delete by filter: %d, %v", n, err)
	}
}

// Rules saved through the service apply to the next message at once;
// applied by hand they change stored messages, train the filter once, and
// log "(manually)"; the dry run says why without changing anything.
func TestApplyRulesManuallyAndDryRun(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	first, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Order 123456", "Привет, МИР")), "API")
	if err != nil {
		t.Fatal(err)
	}
	rule, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{Name: ptr("World"), OnReceive: ptr(false),
		Conditions: &[]service.RuleCondition{{Field: "body", Op: "contains", Values: []string{"мир"}}},
		Actions:    &service.RuleActionsInput{Read: ptr("read"), Spam: ptr("spam")}})
	if err != nil {
		t.Fatal(err)
	}
	dry, err := env.Service.TestRules(ctx, env.Admin, service.RuleTestInput{MessageID: first.ID, Event: rules.EventManual})
	if err != nil || len(dry.Matches) != 1 || dry.Matches[0].RuleID != rule.ID || len(dry.Matches[0].ReasonData) != 1 ||
		!strings.Contains(dry.Matches[0].ReasonData[0].Text, "МИР") {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if view, _ := env.Service.MessageSummary(ctx, env.Admin, first.ID); view.Read {
		t.Error("the dry run changed the message")
	}
	if dry, _ := env.Service.TestRules(ctx, env.Admin, service.RuleTestInput{Raw: []byte(message("x", "y")), MailboxID: inbox}); len(dry.Matches) != 0 {
		t.Errorf("dry run of a source that matches nothing: %+v", dry)
	}

	for range 2 { // twice: the training moves the counts once
		n, err := env.Service.MessageAction(ctx, env.Admin, service.MessageSelection{IDs: []int64{first.ID}}, service.ActionApplyRules)
		if err != nil || n != 1 {
			t.Fatalf("apply rules: %d, %v", n, err)
		}
	}
	view, _ := env.Service.MessageSummary(ctx, env.Admin, first.ID)
	if !view.Read || view.Spam != "yes" {
		t.Errorf("after applying: %+v", view)
	}
	state, err := env.Service.Spam(ctx, env.Admin)
	if err != nil || state.SpamMessages != 1 || state.HamMessages != 0 || state.Words == 0 || state.Ready {
		t.Errorf("spam state: %+v, %v", state, err)
	}
	// Not spam moves the counts over; back again restores them.
	if _, err := env.Service.MessageAction(ctx, env.Admin, service.MessageSelection{IDs: []int64{first.ID}}, service.ActionNotSpam); err != nil {
		t.Fatal(err)
	}
	if state, _ := env.Service.Spam(ctx, env.Admin); state.SpamMessages != 0 || state.HamMessages != 1 {
		t.Errorf("after not spam: %+v", state)
	}
	log, _ := env.Service.Log(ctx, env.Admin, store.LogFilter{RuleID: rule.ID})
	if text := logText(log); !strings.Contains(text, "World (manually)") || !strings.Contains(text, "marked as spam") {
		t.Errorf("rule's log:\n%s", text)
	}
	// A rule saved here applies on receipt at once (no wait for the cache).
	if _, err := env.Service.UpdateRule(ctx, env.Admin, rule.ID, service.RuleInput{OnReceive: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	second, _ := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Again", "мир")), "API")
	if view, _ := env.Service.MessageSummary(ctx, env.Admin, second.ID); !view.Read {
		t.Error("a rule changed through the service did not apply on the next receipt")
	}
	// Auditors may not apply rules.
	auditor := env.AddUser(t, "audrey", "auditor-pass", store.RoleAuditor)
	if _, err := env.Service.ApplyRules(ctx, auditor, service.MessageSelection{IDs: []int64{first.ID}}, 0); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("auditor applies: %v", err)
	}
}
