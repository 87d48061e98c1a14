package service_test

import (
	"context"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// Rules on receipt on the POP3 path, from a real Dovecot: a rule that
// marks read is on the stored row, a rule that deletes stores nothing
// (and the message is not fetched again), each in the work log.
func TestRulesOnPOP3Receipt(t *testing.T) {
	dovecot := testpeer.Dovecot(t)
	dovecot.AddUser("ruled", "ruled-secret")
	for _, subject := range []string{"Invoice 7", "Junk offer", "Plain note"} {
		if err := dovecot.Deliver("ruled", []byte(message(subject, "body of "+subject))); err != nil {
			t.Fatal(err)
		}
	}
	env := servicetest.New(t)
	ctx := context.Background()
	box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("Dovecot"),
		Server: ptr(dovecot.Host), Port: ptr(dovecot.POP3Port), Security: ptr("none"), Login: ptr("ruled"), Password: ptr("ruled-secret")})
	if err != nil {
		t.Fatal(err)
	}
	markRead := storeRule(t, env, rules.Rule{Name: "Invoices read", Active: true, Sort: 100, OnReceive: true, MailboxID: box.ID,
		Conditions: []rules.Condition{{Field: rules.FieldSubject, Op: rules.OpContains, Values: []string{"invoice"}}},
		Actions:    rules.Actions{Read: rules.Read}})
	deleteJunk := storeRule(t, env, rules.Rule{Name: "No junk", Active: true, Sort: 200, OnReceive: true,
		Conditions: []rules.Condition{{Field: rules.FieldSubject, Op: rules.OpContains, Values: []string{"JUNK"}}},
		Actions:    rules.Actions{Delete: true}})

	result, err := env.Service.CheckMailbox(ctx, env.Admin, box.ID)
	if err != nil || result.Error != "" {
		t.Fatalf("receive: %+v, %v", result, err)
	}
	page, err := env.Store.Messages(ctx, store.MessageFilter{MailboxIDs: []int64{box.ID}}, store.MessageSort{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, m := range page.Items {
		read[m.Subject] = m.Read
	}
	if len(read) != 2 || !read["Invoice 7"] || read["Plain note"] {
		t.Fatalf("stored (subject: read): %v", read)
	}
	for rule, want := range map[int64]string{markRead: "Invoices read (on receipt)", deleteJunk: "No junk (on receipt)"} {
		log, err := env.Service.Log(ctx, env.Admin, store.LogFilter{RuleID: rule})
		if err != nil {
			t.Fatal(err)
		}
		if text := logText(log); !strings.Contains(text, want) || strings.Count(text, "Processing with rule") != 1 {
			t.Errorf("rule %d's log:\n%s", rule, text)
		}
	}

	// A second receipt finds nothing new: the deleted message is not
	// fetched and judged again.
	if again, err := env.Service.CheckMailbox(ctx, env.Admin, box.ID); err != nil || again.Error != "" || again.Received != 0 {
		t.Fatalf("second receive: %+v, %v", again, err)
	}
	log, _ := env.Service.Log(ctx, env.Admin, store.LogFilter{RuleID: deleteJunk})
	if n := strings.Count(logText(log), "Processing with rule"); n != 1 {
		t.Errorf("the deleting rule ran %d times", n)
	}
}
