// Package rulestore converts between the rules engine's [rules.Rule] and the
// store's row ([store.Rule]). It is apart from package rules so that the
// engine, its tests and its fuzzing do not link the database drivers.
package rulestore

import (
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/store"
)

// FromRow gives the rule a stored row holds.
func FromRow(row store.Rule) rules.Rule {
	r := rules.Rule{
		ID: row.ID, MailboxID: row.MailboxID, Name: row.Name, Description: row.Description, Active: row.Active,
		Sort: row.Sort, OnReceive: row.OnReceive, OnManual: row.OnManual, Template: row.Template,
		Actions: rules.Actions{Read: row.ActionRead, Spam: row.ActionSpam, Delete: row.ActionDelete, Stop: row.ActionStop},
	}
	for _, c := range row.Conditions {
		r.Conditions = append(r.Conditions, rules.Condition{Field: rules.Field(c.Field), Header: c.Header, Op: rules.Op(c.Op),
			Values: append([]string(nil), c.Values...)})
	}
	if row.SpamOp != "" {
		r.Spam = &rules.Threshold{Op: rules.Op(row.SpamOp), Value: row.SpamValue}
	}
	if row.SizeOp != "" {
		r.Size = &rules.SizeLimit{Op: rules.Op(row.SizeOp), Value: row.SizeValue, Unit: row.SizeUnit}
	}
	if len(row.ForwardTo) > 0 {
		r.Actions.ForwardTo = append([]string(nil), row.ForwardTo...)
	}
	if row.WebhookURL != "" {
		r.Actions.Webhook = &rules.Webhook{URL: row.WebhookURL, Secret: row.WebhookSecret}
	}
	return r
}

// ToRow gives the stored row of the rule (without its times, which the
// store sets).
func ToRow(r rules.Rule) store.Rule {
	row := store.Rule{
		ID: r.ID, MailboxID: r.MailboxID, Active: r.Active, Name: r.Name, Description: r.Description, Sort: r.Sort,
		OnReceive: r.OnReceive, OnManual: r.OnManual, Template: r.Template, Conditions: []store.RuleCondition{},
		SizeUnit: rules.UnitB, ActionRead: r.Actions.Read, ActionSpam: r.Actions.Spam, ActionDelete: r.Actions.Delete,
		ActionStop: r.Actions.Stop, ForwardTo: append([]string{}, r.Actions.ForwardTo...),
	}
	if row.ActionRead == "" {
		row.ActionRead = rules.Unchanged
	}
	if row.ActionSpam == "" {
		row.ActionSpam = rules.Unchanged
	}
	for _, c := range r.Conditions {
		row.Conditions = append(row.Conditions, store.RuleCondition{Field: string(c.Field), Header: c.Header, Op: string(c.Op),
			Values: append([]string{}, c.Values...)})
	}
	if r.Spam != nil {
		row.SpamOp, row.SpamValue = string(r.Spam.Op), r.Spam.Value
	}
	if r.Size != nil {
		row.SizeOp, row.SizeValue, row.SizeUnit = string(r.Size.Op), r.Size.Value, r.Size.Unit
	}
	if r.Actions.Webhook != nil {
		row.WebhookURL, row.WebhookSecret = r.Actions.Webhook.URL, r.Actions.Webhook.Secret
	}
	return row
}
