package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

func newRule(t *testing.T, st *store.Store, r store.Rule) store.Rule {
	t.Helper()
	if err := st.CreateRule(context.Background(), &r); err != nil {
		t.Fatalf("create rule %q: %v", r.Name, err)
	}
	return r
}

func TestRuleRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clock := &fixedClock{now: time.Date(2026, 5, 4, 10, 0, 0, 123456789, time.UTC)}
		st.SetClock(clock.Now)
		site := newSite(t, st, "s1")
		mailbox := newMailbox(t, st, site.ID, 0)
		rule := newRule(t, st, store.Rule{
			MailboxID: mailbox, Active: true, Name: "Счета от поставщиков", Description: "с вложением", Sort: 300,
			OnReceive: true, Template: "manual",
			Conditions: []store.RuleCondition{
				{Field: "subject", Op: "contains", Values: []string{"счёт", "invoice"}},
				{Field: "header", Header: "X-Mailer", Op: "regex", Values: []string{`^Outlook \d+`}},
			},
			SpamOp: "<", SpamValue: 50, SizeOp: ">", SizeValue: 2, SizeUnit: "mb",
			ActionRead: "read", ActionSpam: "not_spam", ActionStop: true,
			ForwardTo: []string{"a@example.com", "b@example.com"}, WebhookURL: "https://hooks.example/in", WebhookSecret: []byte{1, 2, 3},
		})
		if rule.ID == 0 || !rule.CreatedAt.Equal(clock.now.Truncate(time.Microsecond)) {
			t.Fatalf("created %+v", rule)
		}
		got, err := st.RuleByID(ctx, rule.ID)
		if err != nil {
			t.Fatal(err)
		}
		rule.MailboxName = "box"
		if !reflect.DeepEqual(got, rule) {
			t.Fatalf("read back\n got %+v\nwant %+v", got, rule)
		}

		clock.Advance(time.Minute)
		rule.MailboxID, rule.Conditions, rule.ForwardTo, rule.WebhookSecret = 0, nil, nil, nil
		rule.Name, rule.Active, rule.SpamOp, rule.SpamValue = "Всё подряд", false, "", 0
		if err := st.UpdateRule(ctx, &rule); err != nil {
			t.Fatal(err)
		}
		got, err = st.RuleByID(ctx, rule.ID)
		if err != nil {
			t.Fatal(err)
		}
		rule.MailboxName, rule.Conditions, rule.ForwardTo = "", []store.RuleCondition{}, []string{}
		if !reflect.DeepEqual(got, rule) || !got.UpdatedAt.After(got.CreatedAt) {
			t.Fatalf("updated\n got %+v\nwant %+v", got, rule)
		}

		missing := store.Rule{ID: rule.ID + 100, Name: "x"}
		if err := st.UpdateRule(ctx, &missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update of a missing rule: %v", err)
		}
		orphan := store.Rule{MailboxID: mailbox + 100, Name: "x"}
		if err := st.CreateRule(ctx, &orphan); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule of a missing mailbox: %v", err)
		}
		bad := store.Rule{Name: "x", Conditions: []store.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"a\x00"}}}}
		if err := st.CreateRule(ctx, &bad); err == nil {
			// JSON escapes the NUL: stored alike on both backends.
			if got, err := st.RuleByID(ctx, bad.ID); err != nil || got.Conditions[0].Values[0] != "a\x00" {
				t.Errorf("NUL in a condition: %+v, %v", got.Conditions, err)
			}
		}
		if err := st.DeleteRule(ctx, rule.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RuleByID(ctx, rule.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted rule: %v", err)
		}
		if err := st.DeleteRule(ctx, rule.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
	})
}

func TestActiveRulesAndCascade(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box, other := newMailbox(t, st, site.ID, 0), newMailbox(t, st, site.ID, 0)
		ids := map[string]int64{}
		for _, r := range []store.Rule{
			{Name: "all 500", Sort: 500, Active: true, OnReceive: true, OnManual: true},
			{Name: "box 100 receive", MailboxID: box, Sort: 100, Active: true, OnReceive: true},
			{Name: "box 500 manual", MailboxID: box, Sort: 500, Active: true, OnManual: true},
			{Name: "other 50", MailboxID: other, Sort: 50, Active: true, OnReceive: true, OnManual: true},
			{Name: "box inactive", MailboxID: box, Sort: 1, OnReceive: true, OnManual: true},
			{Name: "all 100", Sort: 100, Active: true, OnReceive: true},
		} {
			ids[r.Name] = newRule(t, st, r).ID
		}
		names := func(list []store.Rule) []string {
			var out []string
			for _, r := range list {
				out = append(out, r.Name)
			}
			return out
		}
		tests := []struct {
			mailbox int64
			event   string
			want    []string
		}{
			{box, store.RuleOnReceive, []string{"box 100 receive", "all 100", "all 500"}}, // same sort: by ID
			{box, store.RuleOnManual, []string{"all 500", "box 500 manual"}},
			{other, store.RuleOnReceive, []string{"other 50", "all 100", "all 500"}},
		}
		for _, test := range tests {
			list, err := st.ActiveRules(ctx, test.mailbox, test.event)
			if err != nil || !slices.Equal(names(list), test.want) {
				t.Errorf("mailbox %d %s: %q, %v; want %q", test.mailbox, test.event, names(list), err, test.want)
			}
		}
		if _, err := st.ActiveRules(ctx, box, "sometimes"); err == nil {
			t.Error("an unknown event was taken")
		}
		if m, err := st.MailboxByID(ctx, box); err != nil || m.RulesCount != 3 {
			t.Errorf("the mailbox counts %d rules, %v", m.RulesCount, err)
		}
		if err := st.DeleteMailbox(ctx, box); err != nil {
			t.Fatal(err)
		}
		list, err := st.ActiveRules(ctx, other, store.RuleOnReceive)
		if err != nil || len(list) != 3 {
			t.Errorf("after deleting a mailbox: %q, %v", names(list), err)
		}
		if _, err := st.RuleByID(ctx, ids["box 500 manual"]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted mailbox's rule: %v", err)
		}
	})
}

func TestRuleListFiltersAndPages(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box, other := newMailbox(t, st, site.ID, 0), newMailbox(t, st, site.ID, 0)
		all := map[string]store.Rule{}
		for i, r := range []store.Rule{
			{Name: "Счета", MailboxID: box, Sort: 300, Active: true},
			{Name: "СЧЕТА старые", MailboxID: other, Sort: 100},
			{Name: "Spam 90%", Sort: 200, Active: true},
			{Name: "newsletters_x", MailboxID: box, Sort: 200},
			{Name: "alpha", Sort: 100, Active: true},
		} {
			r.OnReceive = i%2 == 0
			all[r.Name] = newRule(t, st, r)
		}
		yes, no := true, false
		tests := []struct {
			name   string
			filter store.RuleFilter
			want   []string
		}{
			{"everything", store.RuleFilter{}, []string{"Счета", "СЧЕТА старые", "Spam 90%", "newsletters_x", "alpha"}},
			{"Cyrillic name any case", store.RuleFilter{Name: "счета"}, []string{"Счета", "СЧЕТА старые"}},
			{"LIKE characters literal", store.RuleFilter{Name: "%"}, []string{"Spam 90%"}},
			{"underscore literal", store.RuleFilter{Name: "s_x"}, []string{"newsletters_x"}},
			{"mailbox", store.RuleFilter{MailboxIDs: []int64{box}}, []string{"Счета", "newsletters_x"}},
			{"mailbox and all", store.RuleFilter{MailboxIDs: []int64{other}, AllMailboxes: true}, []string{"СЧЕТА старые", "Spam 90%", "alpha"}},
			{"only all", store.RuleFilter{AllMailboxes: true}, []string{"Spam 90%", "alpha"}},
			{"no mailboxes", store.RuleFilter{MailboxIDs: []int64{}}, nil},
			{"active", store.RuleFilter{Active: &yes}, []string{"Счета", "Spam 90%", "alpha"}},
			{"inactive of box", store.RuleFilter{Active: &no, MailboxIDs: []int64{box}}, []string{"newsletters_x"}},
			{"ids", store.RuleFilter{IDs: []int64{all["alpha"].ID, all["Счета"].ID}}, []string{"Счета", "alpha"}},
		}
		for _, test := range tests {
			page, err := st.Rules(ctx, test.filter, store.RuleSort{}, "", 100)
			var got []string
			for _, r := range page.Items {
				got = append(got, r.Name)
			}
			if err != nil || !slices.Equal(got, test.want) || page.Total != int64(len(test.want)) {
				t.Errorf("%s: %q (total %d), %v; want %q", test.name, got, page.Total, err, test.want)
			}
		}

		// Every order, a page of two at a time, gives every rule once in
		// order.
		orders := []struct {
			sort store.RuleSort
			want []string
		}{
			{store.RuleSort{Column: "sort"}, []string{"СЧЕТА старые", "alpha", "Spam 90%", "newsletters_x", "Счета"}},
			{store.RuleSort{Column: "sort", Descending: true}, []string{"Счета", "newsletters_x", "Spam 90%", "alpha", "СЧЕТА старые"}},
			{store.RuleSort{Column: "name"}, []string{"alpha", "newsletters_x", "Spam 90%", "Счета", "СЧЕТА старые"}},
			{store.RuleSort{Column: "id", Descending: true}, []string{"alpha", "newsletters_x", "Spam 90%", "СЧЕТА старые", "Счета"}},
			{store.RuleSort{Column: "active"}, []string{"СЧЕТА старые", "newsletters_x", "Счета", "Spam 90%", "alpha"}},
			{store.RuleSort{Column: "updated_at"}, []string{"Счета", "СЧЕТА старые", "Spam 90%", "newsletters_x", "alpha"}},
		}
		for _, order := range orders {
			var got []string
			cursor := ""
			for range 10 {
				page, err := st.Rules(ctx, store.RuleFilter{}, order.sort, cursor, 2)
				if err != nil {
					t.Fatalf("%+v: %v", order.sort, err)
				}
				for _, r := range page.Items {
					got = append(got, r.Name)
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, order.want) {
				t.Errorf("%+v: %q, want %q", order.sort, got, order.want)
			}
		}
		if _, err := st.Rules(ctx, store.RuleFilter{}, store.RuleSort{}, "not a cursor", 2); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

// A rule row written before migration 0012 (the columns of 0001) reads
// after it with no conditions and is found by its name.
func TestMigration0012KeepsRules(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return t.TempDir() + "/old.db" },
		"postgres": func(t *testing.T) string { return testpeer.PostgresDSN(t) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			path := dsns[name](t)
			old, err := store.OpenUpTo(ctx, path, 10)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.DB().Exec(`INSERT INTO rules (name, sort, action_read, forward_to, created_at, updated_at)
				VALUES ('Old Rule', 7, 'read', 'a@example.com', 1, 1)`); err != nil {
				t.Fatal(err)
			}
			old.Close()
			st, err := store.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			page, err := st.Rules(ctx, store.RuleFilter{Name: "old r"}, store.RuleSort{}, "", 10)
			if err != nil || len(page.Items) != 1 {
				t.Fatalf("the old rule by name: %+v, %v", page, err)
			}
			r := page.Items[0]
			if r.Name != "Old Rule" || r.Sort != 7 || len(r.Conditions) != 0 || r.ActionRead != "read" ||
				!slices.Equal(r.ForwardTo, []string{"a@example.com"}) || r.MailboxID != 0 {
				t.Errorf("the old rule: %+v", r)
			}
		})
	}
}
