package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// RuleCondition is one text condition of a rule, stored in the rule's
// conditions column as JSON (the API's shape).
type RuleCondition struct {
	Field  string   `json:"field"`
	Header string   `json:"header,omitempty"`
	Op     string   `json:"op"`
	Values []string `json:"values"`
}

// Rule is a mail rule (package rules says what its fields mean; the store
// keeps them as they are given).
type Rule struct {
	ID            int64
	MailboxID     int64 // 0: every mailbox
	Active        bool
	Name          string
	Description   string
	Sort          int
	OnReceive     bool
	OnManual      bool
	Template      string
	Conditions    []RuleCondition
	SpamOp        string // "", "<" or ">": "" is no spam condition
	SpamValue     int
	SizeOp        string // "", "<" or ">": "" is no size condition
	SizeValue     int64
	SizeUnit      string
	ActionRead    string
	ActionSpam    string
	ActionDelete  bool
	ActionStop    bool
	ForwardTo     []string
	WebhookURL    string
	WebhookSecret []byte // sealed by the service
	CreatedAt     time.Time
	UpdatedAt     time.Time
	MailboxName   string // read only: the mailbox's name, "" for every mailbox
}

// Rule events, as [Store.ActiveRules] takes them.
const (
	RuleOnReceive = "receive"
	RuleOnManual  = "manual"
)

const ruleColumns = `r.id, r.mailbox_id, r.active, r.name, r.description, r.sort, r.on_receive, r.on_manual, r.template,
	r.conditions, r.spam_op, r.spam_value, r.size_op, r.size_value, r.size_unit, r.action_read, r.action_spam,
	r.action_delete, r.action_stop, r.forward_to, r.webhook_url, r.webhook_secret, r.created_at, r.updated_at,
	COALESCE((SELECT name FROM mailboxes WHERE id = r.mailbox_id), '')`

func scanRule(row interface{ Scan(...any) error }) (Rule, error) {
	var r Rule
	var mailboxID nullInt
	var conditions, forward string
	var created, updated int64
	err := row.Scan(&r.ID, &mailboxID, &r.Active, &r.Name, &r.Description, &r.Sort, &r.OnReceive, &r.OnManual, &r.Template,
		&conditions, &r.SpamOp, &r.SpamValue, &r.SizeOp, &r.SizeValue, &r.SizeUnit, &r.ActionRead, &r.ActionSpam,
		&r.ActionDelete, &r.ActionStop, &forward, &r.WebhookURL, &r.WebhookSecret, &created, &updated, &r.MailboxName)
	if err != nil {
		return r, mapError(err)
	}
	r.MailboxID = mailboxID.value
	if err := json.Unmarshal([]byte(conditions), &r.Conditions); err != nil {
		return r, fmt.Errorf("rule %d: conditions: %w", r.ID, err)
	}
	if r.Conditions == nil {
		r.Conditions = []RuleCondition{}
	}
	r.ForwardTo = splitList(forward)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// nullInt scans a nullable integer as 0 for NULL.
type nullInt struct{ value int64 }

func (n *nullInt) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.value = 0
	case int64:
		n.value = v
	default:
		return fmt.Errorf("nullInt: %T", src)
	}
	return nil
}

const ruleWriteColumns = `mailbox_id, active, name, name_key, description, sort, on_receive, on_manual, template, conditions,
	spam_op, spam_value, size_op, size_value, size_unit, action_read, action_spam, action_delete, action_stop, forward_to,
	webhook_url, webhook_secret`

func ruleWriteArgs(r *Rule) ([]any, error) {
	conditions := r.Conditions
	if conditions == nil {
		conditions = []RuleCondition{}
	}
	for i := range conditions {
		if conditions[i].Values == nil {
			conditions[i].Values = []string{}
		}
	}
	encoded, err := json.Marshal(conditions)
	if err != nil {
		return nil, err
	}
	return []any{optionalID(r.MailboxID), r.Active, r.Name, strings.ToLower(r.Name), r.Description, r.Sort, r.OnReceive,
		r.OnManual, r.Template, string(encoded), r.SpamOp, r.SpamValue, r.SizeOp, r.SizeValue, r.SizeUnit, r.ActionRead,
		r.ActionSpam, r.ActionDelete, r.ActionStop, joinList(r.ForwardTo), r.WebhookURL, r.WebhookSecret}, nil
}

// CreateRule stores a new rule; an unknown mailbox is [ErrNotFound].
func (s *Store) CreateRule(ctx context.Context, r *Rule) error {
	args, err := ruleWriteArgs(r)
	if err != nil {
		return fmt.Errorf("create rule %q: %w", r.Name, err)
	}
	now := s.clock()
	args = append(args, micros(now), micros(now))
	id, err := s.insert(ctx, `INSERT INTO rules (`+ruleWriteColumns+`, created_at, updated_at) VALUES (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return fmt.Errorf("create rule %q: %w", r.Name, foreignKeyNotFound(err))
	}
	r.ID, r.CreatedAt, r.UpdatedAt = id, now, now
	return nil
}

// UpdateRule saves every field of a rule.
func (s *Store) UpdateRule(ctx context.Context, r *Rule) error {
	args, err := ruleWriteArgs(r)
	if err != nil {
		return fmt.Errorf("update rule %d: %w", r.ID, err)
	}
	now := s.clock()
	assignments := strings.ReplaceAll(strings.ReplaceAll(ruleWriteColumns, "\n\t", " "), ",", " = ?,") + " = ?"
	result, err := s.exec(ctx, `UPDATE rules SET `+assignments+`, updated_at = ? WHERE id = ?`, append(args, micros(now), r.ID)...)
	if err != nil {
		return fmt.Errorf("update rule %d: %w", r.ID, foreignKeyNotFound(mapError(err)))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("update rule %d: %w", r.ID, ErrNotFound)
	}
	r.UpdatedAt = now
	return nil
}

// DeleteRule removes a rule; its work log lines keep their text and lose
// the link (rule_id becomes NULL).
func (s *Store) DeleteRule(ctx context.Context, id int64) error {
	result, err := s.exec(ctx, `DELETE FROM rules WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete rule %d: %w", id, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("delete rule %d: %w", id, ErrNotFound)
	}
	return nil
}

// RuleByID finds a rule.
func (s *Store) RuleByID(ctx context.Context, id int64) (Rule, error) {
	r, err := scanRule(s.queryRow(ctx, `SELECT `+ruleColumns+` FROM rules r WHERE r.id = ?`, id))
	if err != nil {
		return r, fmt.Errorf("rule %d: %w", id, err)
	}
	return r, nil
}

// ActiveRules lists the active rules that run on a message of mailbox for
// event (RuleOnReceive or RuleOnManual): the mailbox's own and those of
// every mailbox, in run order (sort, then ID).
func (s *Store) ActiveRules(ctx context.Context, mailboxID int64, event string) ([]Rule, error) {
	var on string
	switch event {
	case RuleOnReceive:
		on = "r.on_receive"
	case RuleOnManual:
		on = "r.on_manual"
	default:
		return nil, fmt.Errorf("active rules: unknown event %q", event)
	}
	list, err := s.ruleList(ctx, `WHERE r.active = TRUE AND `+on+` = TRUE AND (r.mailbox_id = ? OR r.mailbox_id IS NULL)
		ORDER BY r.sort, r.id`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("active rules of mailbox %d: %w", mailboxID, err)
	}
	return list, nil
}

// RuleFilter narrows [Store.Rules]. Zero fields do not filter.
type RuleFilter struct {
	IDs []int64
	// MailboxIDs keeps the rules of these mailboxes; a non-nil empty slice
	// keeps none of them.
	MailboxIDs []int64
	// AllMailboxes keeps the rules for every mailbox (beside those of
	// MailboxIDs, or alone when MailboxIDs is nil).
	AllMailboxes bool
	Active       *bool
	Name         string // part of the name, any case (Cyrillic too)
}

// RuleSort orders [Store.Rules]: a column and a direction.
type RuleSort struct {
	Column     string // "id" (default), "name", "sort", "active", "updated_at"
	Descending bool
}

var ruleSortColumns = map[string]string{
	"id": "r.id", "name": "r.name_key", "sort": "r.sort", "active": "r.active", "updated_at": "r.updated_at",
}

// RulePage is one page of rules and the cursor of the next.
type RulePage struct {
	Items      []Rule
	NextCursor string
	Total      int64 // how many match the filter
}

func (f RuleFilter) where() (string, []any) {
	var where []string
	var args []any
	if len(f.IDs) > 0 {
		where = append(where, "r.id IN ("+placeholders(len(f.IDs))+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.MailboxIDs != nil || f.AllMailboxes {
		var either []string
		if len(f.MailboxIDs) > 0 {
			either = append(either, "r.mailbox_id IN ("+placeholders(len(f.MailboxIDs))+")")
			for _, id := range f.MailboxIDs {
				args = append(args, id)
			}
		}
		if f.AllMailboxes {
			either = append(either, "r.mailbox_id IS NULL")
		}
		if len(either) == 0 {
			either = []string{"1 = 0"}
		}
		where = append(where, "("+strings.Join(either, " OR ")+")")
	}
	if f.Active != nil {
		where, args = append(where, "r.active = ?"), append(args, *f.Active)
	}
	if f.Name != "" {
		where, args = append(where, `r.name_key LIKE ? ESCAPE '\'`), append(args, "%"+likeEscape(strings.ToLower(f.Name))+"%")
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Rules lists a page of rules. Paging is by keyset (sort value, id), as
// every list.
func (s *Store) Rules(ctx context.Context, filter RuleFilter, order RuleSort, cursor string, limit int) (RulePage, error) {
	var page RulePage
	column, ok := ruleSortColumns[order.Column]
	if !ok {
		column, order.Column = "r.id", "id"
	}
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	where, args := filter.where()
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM rules r`+where, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count rules: %w", err)
	}
	where, orderBy, args, err := keysetPage(where, args, cursor, column, "r.id", order.Descending, "rules")
	if err != nil {
		return page, err
	}
	items, err := s.ruleList(ctx, where+orderBy+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("list rules: %w", err)
	}
	page.Items = items
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = nextKeysetCursor(last.ID, ruleSortValue(last, order.Column))
	}
	return page, nil
}

func ruleSortValue(r Rule, column string) any {
	switch column {
	case "name":
		return strings.ToLower(r.Name)
	case "sort":
		return r.Sort
	case "active":
		return r.Active
	case "updated_at":
		return micros(r.UpdatedAt)
	}
	return r.ID
}

func (s *Store) ruleList(ctx context.Context, clause string, args ...any) ([]Rule, error) {
	rows, err := s.query(ctx, `SELECT `+ruleColumns+` FROM rules r `+clause, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []Rule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// AllActiveRules lists every active rule, of every mailbox and event, in
// run order: what a process compiles once and keeps (see [Store.RulesVersion]).
func (s *Store) AllActiveRules(ctx context.Context) ([]Rule, error) {
	list, err := s.ruleList(ctx, `WHERE r.active = TRUE ORDER BY r.sort, r.id`)
	if err != nil {
		return nil, fmt.Errorf("active rules: %w", err)
	}
	return list, nil
}

// RulesVersion is a short text that changes whenever a rule is created,
// changed or deleted, by this process or another sharing the database: the
// number of rules, the highest ID and the latest change. Every write of a
// rule sets its updated_at to the store's clock, which moves forward, and a
// deletion lowers the count; a process keeping compiled rules reads this
// cheap value to know when to load them again.
func (s *Store) RulesVersion(ctx context.Context) (string, error) {
	var count, highest, latest int64
	err := s.queryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(MAX(updated_at), 0) FROM rules`).Scan(&count, &highest, &latest)
	if err != nil {
		return "", fmt.Errorf("rules version: %w", err)
	}
	return fmt.Sprintf("%d/%d/%d", count, highest, latest), nil
}
