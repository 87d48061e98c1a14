package rules

import "pochta.dev/pochta/internal/store"

// FromStore gives the rule a stored row holds.
func FromStore(row store.Rule) Rule {
	r := Rule{
		ID: row.ID, MailboxID: row.MailboxID, Name: row.Name, Description: row.Description, Active: row.Active,
		Sort: row.Sort, OnReceive: row.OnReceive, OnManual: row.OnManual, Template: row.Template,
		Actions: Actions{Read: row.ActionRead, Spam: row.ActionSpam, Delete: row.ActionDelete, Stop: row.ActionStop},
	}
	for _, c := range row.Conditions {
		r.Conditions = append(r.Conditions, Condition{Field: Field(c.Field), Header: c.Header, Op: Op(c.Op),
			Values: append([]string(nil), c.Values...)})
	}
	if row.SpamOp != "" {
		r.Spam = &Threshold{Op: Op(row.SpamOp), Value: row.SpamValue}
	}
	if row.SizeOp != "" {
		r.Size = &SizeLimit{Op: Op(row.SizeOp), Value: row.SizeValue, Unit: row.SizeUnit}
	}
	if len(row.ForwardTo) > 0 {
		r.Actions.ForwardTo = append([]string(nil), row.ForwardTo...)
	}
	if row.WebhookURL != "" {
		r.Actions.Webhook = &Webhook{URL: row.WebhookURL, Secret: row.WebhookSecret}
	}
	return r
}

// Row gives the stored row of the rule (without its times, which the store
// sets).
func (r Rule) Row() store.Rule {
	row := store.Rule{
		ID: r.ID, MailboxID: r.MailboxID, Active: r.Active, Name: r.Name, Description: r.Description, Sort: r.Sort,
		OnReceive: r.OnReceive, OnManual: r.OnManual, Template: r.Template, Conditions: []store.RuleCondition{},
		SizeUnit: UnitB, ActionRead: r.Actions.Read, ActionSpam: r.Actions.Spam, ActionDelete: r.Actions.Delete,
		ActionStop: r.Actions.Stop, ForwardTo: append([]string{}, r.Actions.ForwardTo...),
	}
	if row.ActionRead == "" {
		row.ActionRead = Unchanged
	}
	if row.ActionSpam == "" {
		row.ActionSpam = Unchanged
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
