package main

import (
	"context"
	"fmt"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/rules/rulestore"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
)

// judgedSetup readies a bench database for the intake's judges at their
// realistic cost (issue 14's figure "with spam rating on and 20 rules"):
// 20 active rules on receipt, of every kind of condition, which a
// generated message seldom matches (a subject rule matches a few in a
// hundred: a rule that fires writes its log lines and jobs, which is the
// rules' work, not their cost of judging), and a spam filter trained on 400 generated
// messages (200 each way), so that every message is rated from the
// database's counts.
func judgedSetup(ctx context.Context, st *store.Store, mailboxID int64) error {
	for i, rule := range judgedRules(mailboxID) {
		if _, err := rules.Compile(rule); err != nil {
			return fmt.Errorf("bench rule %d: %w", i+1, err)
		}
		row := rulestore.ToRow(rule)
		if err := st.CreateRule(ctx, &row); err != nil {
			return err
		}
	}
	return judgedTraining(func(tokens []string, class spam.Class) error {
		return spam.Train(ctx, spam.Store{St: st}, tokens, class)
	})
}

// judgedTraining gives learn the tokens and class of the 400 generated
// messages (200 each way) that the judged fetch's spam filter is trained on.
func judgedTraining(learn func(tokens []string, class spam.Class) error) error {
	g := newGenerator(99)
	for i := range 400 {
		class := spam.Ham
		if i%2 == 1 {
			class = spam.Spam
		}
		if err := learn(spam.Tokenize(mime.Parse(g.message(i, 4096, ""), mime.Options{})), class); err != nil {
			return err
		}
	}
	return nil
}

// judgedRules are the 20 rules of judgedSetup, half of them on mailboxID.
func judgedRules(mailboxID int64) []rules.Rule {
	conditions := []rules.Condition{
		{Field: rules.FieldSubject, Op: rules.OpContains, Values: []string{"invoice", "счёт", "payment"}},
		{Field: rules.FieldSender, Op: rules.OpContains, Values: []string{"@example.net", "noreply@"}},
		{Field: rules.FieldRecipient, Op: rules.OpEquals, Values: []string{"sales@example.com"}},
		{Field: rules.FieldBody, Op: rules.OpRegex, Values: []string{`\border\s+#?\d{6}\b`}},
		{Field: rules.FieldHeader, Header: "X-Mailer", Op: rules.OpContains, Values: []string{"bulk", "mass"}},
		{Field: rules.FieldAll, Op: rules.OpContains, Values: []string{"unsubscribe-zz"}},
		{Field: rules.FieldAttachment, Op: rules.OpRegex, Values: []string{`\.(exe|scr|js)$`}},
		{Field: rules.FieldBody, Op: rules.OpContains, Values: []string{"выигрыш", "lottery", "unsubscribe"}},
		{Field: rules.FieldSubject, Op: rules.OpRegex, Values: []string{`^re:\s`, `^fwd?:\s`}},
		{Field: rules.FieldSender, Op: rules.OpEquals, Values: []string{"boss@example.com"}},
	}
	var out []rules.Rule
	for i := range 20 {
		rule := rules.Rule{Name: fmt.Sprintf("bench rule %d", i+1), Active: true, Sort: 100 + i, OnReceive: true,
			Conditions: []rules.Condition{conditions[i%len(conditions)]}}
		if i%2 == 0 {
			rule.MailboxID = mailboxID
		}
		switch i % 4 {
		case 0:
			rule.Actions.Read = rules.Read
		case 1:
			rule.Spam = &rules.Threshold{Op: rules.OpGreater, Value: 90}
			rule.Actions.Spam = rules.Spam
		case 2:
			rule.Size = &rules.SizeLimit{Op: rules.OpGreater, Value: 1, Unit: rules.UnitMB}
			rule.Actions.Read = rules.Unread
		case 3:
			rule.Conditions = append(rule.Conditions, conditions[(i+3)%len(conditions)])
			rule.Actions.Read = rules.Read
		}
		out = append(out, rule)
	}
	return out
}
