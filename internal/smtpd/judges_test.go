package smtpd_test

import (
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// The rules on receipt run on SMTP deliveries too: a rule that marks read
// and one that deletes, each decided in the message's one write, the
// sender answered 250 either way.
func TestRulesOnSMTPReceipt(t *testing.T) {
	e := newEnv(t, options{mailbox: service.MailboxInput{Domains: &[]string{"example.test"}}})
	for _, rule := range []service.RuleInput{
		{Name: ptr("Mark"), Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"mark me"}}},
			Actions: &service.RuleActionsInput{Read: ptr("read")}},
		{Name: ptr("Drop"), Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"drop me"}}},
			Actions: &service.RuleActionsInput{Delete: ptr(true)}},
	} {
		if _, err := e.svc.Service.CreateRule(e.ctx, e.svc.Admin, rule); err != nil {
			t.Fatal(err)
		}
	}
	for _, subject := range []string{"Please MARK ME", "Please drop me"} {
		out, code := e.swaks("--from", "sender@far.test", "--to", "bob@example.test", "--header", "Subject: "+subject)
		if code != 0 {
			t.Fatalf("swaks exit %d:\n%s", code, out)
		}
		contains(t, out, "250 2.0.0")
	}
	page, err := e.svc.Service.Messages(e.ctx, e.svc.Admin, store.MessageFilter{MailboxIDs: []int64{e.mailbox}}, store.MessageSort{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Subject != "Please MARK ME" || !page.Items[0].Read {
		t.Errorf("stored: %+v", page.Items)
	}
}
