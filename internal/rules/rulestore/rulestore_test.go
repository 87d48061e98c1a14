package rulestore_test

import (
	"reflect"
	"testing"

	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/rules/rulestore"
)

// A rule goes through its stored row and back unchanged, and a row the
// store gives compiles.
func TestStoreRowRoundTrip(t *testing.T) {
	rule := rules.Rule{ID: 3, MailboxID: 7, Name: "n", Description: "d", Active: true, Sort: 10, OnReceive: true, Template: "forward",
		Conditions: []rules.Condition{{Field: rules.FieldHeader, Header: "X-Tag", Op: rules.OpEquals, Values: []string{"a", "b"}}},
		Spam:       &rules.Threshold{Op: rules.OpGreater, Value: 90}, Size: &rules.SizeLimit{Op: rules.OpLess, Value: 5, Unit: rules.UnitKB},
		Actions: rules.Actions{Read: rules.Read, Spam: rules.Unchanged, ForwardTo: []string{"a@example.com"}, Webhook: &rules.Webhook{URL: "https://h.example/", Secret: []byte("s")}, Delete: true, Stop: true}}
	row := rulestore.ToRow(rule)
	if row.ActionSpam != "unchanged" || row.SpamOp != ">" || row.SizeUnit != "kb" || row.Conditions[0].Field != "header" {
		t.Errorf("row %+v", row)
	}
	back := rulestore.FromRow(row)
	if !reflect.DeepEqual(back, rule) {
		t.Errorf("back\n got %+v\nwant %+v", back, rule)
	}
	if _, err := rules.Compile(rulestore.FromRow(rulestore.ToRow(rules.Rule{Name: "empty"}))); err != nil {
		t.Errorf("an empty rule's row: %v", err)
	}
}
