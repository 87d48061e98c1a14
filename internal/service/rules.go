package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/net/idna"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/netguard"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/rules/rulestore"
	"pochta.dev/pochta/internal/store"
)

// Rules (SPEC.md "Rules"). Admins manage them; auditors read them (never a
// webhook's secret, which nobody reads back); users neither: a rule may act
// on every mailbox.

// RuleCondition is one text condition as the API names it.
type RuleCondition struct {
	Field  string   `json:"field"`
	Header string   `json:"header,omitempty"`
	Op     string   `json:"op"`
	Values []string `json:"values"`
}

// RuleThreshold is the spam probability condition.
type RuleThreshold struct {
	Op    string `json:"op"`
	Value int    `json:"value"`
}

// RuleSize is the size condition.
type RuleSize struct {
	Op    string `json:"op"`
	Value int64  `json:"value"`
	Unit  string `json:"unit"`
}

// RuleWebhook is the webhook action as it is shown: its secret never is.
type RuleWebhook struct {
	URL       string `json:"url"`
	HasSecret bool   `json:"has_secret"`
}

// RuleActions are a rule's actions as the API names them.
type RuleActions struct {
	Read      string       `json:"read"`
	Spam      string       `json:"spam"`
	Delete    bool         `json:"delete"`
	Stop      bool         `json:"stop"`
	ForwardTo []string     `json:"forward_to"`
	Webhook   *RuleWebhook `json:"webhook"`
}

// RuleView is a rule as API.md "rule" names it, with the plain-language
// summary the list shows.
type RuleView struct {
	ID          int64           `json:"id"`
	MailboxID   *int64          `json:"mailbox_id"` // nil: every mailbox
	MailboxName string          `json:"mailbox_name"`
	Active      bool            `json:"active"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Sort        int             `json:"sort"`
	OnReceive   bool            `json:"on_receive"`
	OnManual    bool            `json:"on_manual"`
	Template    string          `json:"template"`
	Conditions  []RuleCondition `json:"conditions"`
	SpamRating  *RuleThreshold  `json:"spam_rating"`
	Size        *RuleSize       `json:"size"`
	Actions     RuleActions     `json:"actions"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	// Summary says the rule in words ("If the subject contains "invoice":
	// mark as read"); the front ends translate it.
	Summary i18n.Message `json:"-"`
}

// Optional is a field of a patch that may be absent, null or a value: the
// rule's mailbox (null: every mailbox), its spam and size conditions and
// its webhook (null: none).
type Optional[T any] struct {
	Set   bool // the field was given
	Value *T   // nil: null
}

// UnmarshalJSON records that the field was given.
func (o *Optional[T]) UnmarshalJSON(data []byte) error {
	o.Set = true
	if string(data) == "null" {
		o.Value = nil
		return nil
	}
	var value T
	if err := json.Unmarshal(data, &value); err != nil {
		return err
	}
	o.Value = &value
	return nil
}

// Some is an Optional set to value.
func Some[T any](value T) Optional[T] { return Optional[T]{Set: true, Value: &value} }

// RuleWebhookInput sets the webhook action. An empty Secret keeps the one
// stored (a new webhook needs one).
type RuleWebhookInput struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// RuleActionsInput changes a rule's actions; nil fields stay.
type RuleActionsInput struct {
	Read      *string                    `json:"read,omitempty"`
	Spam      *string                    `json:"spam,omitempty"`
	Delete    *bool                      `json:"delete,omitempty"`
	Stop      *bool                      `json:"stop,omitempty"`
	ForwardTo *[]string                  `json:"forward_to,omitempty"`
	Webhook   Optional[RuleWebhookInput] `json:"webhook"`
}

// RuleInput creates or changes a rule; absent fields stay (or take the
// defaults on create: every mailbox, active, sort 500, on receipt and
// manually, template "manual").
type RuleInput struct {
	MailboxID   Optional[int64]         `json:"mailbox_id"`
	Active      *bool                   `json:"active,omitempty"`
	Name        *string                 `json:"name,omitempty"`
	Description *string                 `json:"description,omitempty"`
	Sort        *int                    `json:"sort,omitempty"`
	OnReceive   *bool                   `json:"on_receive,omitempty"`
	OnManual    *bool                   `json:"on_manual,omitempty"`
	Template    *string                 `json:"template,omitempty"`
	Conditions  *[]RuleCondition        `json:"conditions,omitempty"`
	SpamRating  Optional[RuleThreshold] `json:"spam_rating"`
	Size        Optional[RuleSize]      `json:"size"`
	Actions     *RuleActionsInput       `json:"actions,omitempty"`
}

// Rule templates ("New rule": manual settings or a template).
const (
	TemplateManual  = "manual"
	TemplateWebhook = "webhook"
	TemplateForward = "forward"
)

// RuleTemplates lists the templates in the order "New rule" offers them.
var RuleTemplates = []string{TemplateManual, TemplateWebhook, TemplateForward}

// Limits of a rule's own texts.
const (
	MaxRuleSort          = 1_000_000
	MaxWebhookSecret     = 200
	DefaultRuleSort      = 500
	maxRuleDescription   = MaxDescriptionLength
	ruleSecretFieldLabel = "rules.action.webhook_secret"
)

func ruleView(r store.Rule) RuleView {
	rule := rulestore.FromRow(r)
	view := RuleView{ID: r.ID, MailboxName: r.MailboxName, Active: r.Active, Name: r.Name, Description: r.Description, Sort: r.Sort,
		OnReceive: r.OnReceive, OnManual: r.OnManual, Template: r.Template, Conditions: []RuleCondition{},
		Actions: RuleActions{Read: r.ActionRead, Spam: r.ActionSpam, Delete: r.ActionDelete, Stop: r.ActionStop,
			ForwardTo: append([]string{}, r.ForwardTo...)},
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Summary: rules.Describe(rule)}
	if r.MailboxID != 0 {
		id := r.MailboxID
		view.MailboxID = &id
	}
	for _, c := range r.Conditions {
		view.Conditions = append(view.Conditions, RuleCondition{Field: c.Field, Header: c.Header, Op: c.Op, Values: append([]string{}, c.Values...)})
	}
	if r.SpamOp != "" {
		view.SpamRating = &RuleThreshold{Op: r.SpamOp, Value: r.SpamValue}
	}
	if r.SizeOp != "" {
		view.Size = &RuleSize{Op: r.SizeOp, Value: r.SizeValue, Unit: r.SizeUnit}
	}
	if r.WebhookURL != "" {
		view.Actions.Webhook = &RuleWebhook{URL: r.WebhookURL, HasSecret: len(r.WebhookSecret) > 0}
	}
	return view
}

// RuleListFilter narrows [Service.Rules]: SPEC.md's filters by name, ID,
// mailbox (0: any; AllMailboxes: the rules of every mailbox) and active.
type RuleListFilter struct {
	ID           int64
	Name         string
	MailboxID    int64
	AllMailboxes bool
	Active       *bool
}

func (f RuleListFilter) store() store.RuleFilter {
	filter := store.RuleFilter{Name: f.Name, Active: f.Active, AllMailboxes: f.AllMailboxes}
	if f.ID != 0 {
		filter.IDs = []int64{f.ID}
	}
	if f.MailboxID != 0 {
		filter.MailboxIDs = []int64{f.MailboxID}
	}
	return filter
}

// RulePage is a page of rules.
type RulePage struct {
	Items      []RuleView `json:"items"`
	NextCursor string     `json:"next_cursor"`
	Total      int64      `json:"total"`
}

// Rules lists rules to admins and auditors.
func (s *Service) Rules(ctx context.Context, actor *Actor, filter RuleListFilter, order store.RuleSort, cursor string, limit int) (RulePage, error) {
	if err := requireReadAll(actor); err != nil {
		return RulePage{}, err
	}
	page, err := s.store.Rules(ctx, filter.store(), order, cursor, limit)
	if err != nil {
		return RulePage{}, err
	}
	out := RulePage{Items: make([]RuleView, 0, len(page.Items)), NextCursor: page.NextCursor, Total: page.Total}
	for _, r := range page.Items {
		out.Items = append(out.Items, ruleView(r))
	}
	return out, nil
}

// Rule gives one rule to admins and auditors.
func (s *Service) Rule(ctx context.Context, actor *Actor, id int64) (RuleView, error) {
	if err := requireReadAll(actor); err != nil {
		return RuleView{}, err
	}
	r, err := s.store.RuleByID(ctx, id)
	if err != nil {
		return RuleView{}, wrapNotFound("rule", err)
	}
	return ruleView(r), nil
}

// ManualRules lists the active rules set to run manually that apply to
// messages of mailboxID (0: of any mailbox), for "apply rule: <name>"
// (admins: those who may apply them).
func (s *Service) ManualRules(ctx context.Context, actor *Actor, mailboxID int64) ([]RuleView, error) {
	if !actor.CanApplyRules() {
		return nil, ErrForbidden
	}
	rows, err := s.store.AllActiveRules(ctx)
	if err != nil {
		return nil, err
	}
	var out []RuleView
	for _, r := range rows {
		if r.OnManual && (mailboxID == 0 || r.MailboxID == 0 || r.MailboxID == mailboxID) {
			out = append(out, ruleView(r))
		}
	}
	return out, nil
}

// CreateRule adds a rule (admins).
func (s *Service) CreateRule(ctx context.Context, actor *Actor, input RuleInput) (RuleView, error) {
	if err := requireAdmin(actor); err != nil {
		return RuleView{}, err
	}
	row := store.Rule{Active: true, Sort: DefaultRuleSort, OnReceive: true, OnManual: true, Template: TemplateManual,
		ActionRead: rules.Unchanged, ActionSpam: rules.Unchanged}
	if err := s.applyRuleInput(ctx, &row, input, true); err != nil {
		return RuleView{}, err
	}
	if err := s.store.CreateRule(ctx, &row); err != nil {
		return RuleView{}, s.ruleStoreError(err)
	}
	s.rules.forget()
	s.audit(ctx, actor, "rule created", "rule_id", row.ID, "name", row.Name)
	return s.Rule(ctx, actor, row.ID)
}

// UpdateRule changes a rule (admins).
func (s *Service) UpdateRule(ctx context.Context, actor *Actor, id int64, input RuleInput) (RuleView, error) {
	if err := requireAdmin(actor); err != nil {
		return RuleView{}, err
	}
	row, err := s.store.RuleByID(ctx, id)
	if err != nil {
		return RuleView{}, wrapNotFound("rule", err)
	}
	if err := s.applyRuleInput(ctx, &row, input, false); err != nil {
		return RuleView{}, err
	}
	if err := s.store.UpdateRule(ctx, &row); err != nil {
		return RuleView{}, s.ruleStoreError(err)
	}
	s.rules.forget()
	s.audit(ctx, actor, "rule changed", "rule_id", row.ID, "name", row.Name)
	return s.Rule(ctx, actor, row.ID)
}

// DeleteRule removes a rule (admins); its log lines stay.
func (s *Service) DeleteRule(ctx context.Context, actor *Actor, id int64) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	if err := s.store.DeleteRule(ctx, id); err != nil {
		return wrapNotFound("rule", err)
	}
	s.rules.forget()
	s.audit(ctx, actor, "rule deleted", "rule_id", id)
	return nil
}

// Rule group actions.
const (
	RuleActivate   = "activate"
	RuleDeactivate = "deactivate"
	RuleDelete     = "delete"
)

// RuleGroupAction activates, deactivates or deletes the rules of ids, or
// every rule the filter matches when filter is not nil (admins). It
// reports how many rules it changed.
func (s *Service) RuleGroupAction(ctx context.Context, actor *Actor, action string, ids []int64, filter *RuleListFilter) (int, error) {
	if err := requireAdmin(actor); err != nil {
		return 0, err
	}
	if action != RuleActivate && action != RuleDeactivate && action != RuleDelete {
		return 0, &ValidationError{Fields: map[string]i18n.Message{"action": i18n.M("error.invalid", i18n.Key("field.action"))}}
	}
	storeFilter := store.RuleFilter{IDs: ids}
	if filter != nil {
		storeFilter = filter.store()
	} else if len(ids) == 0 {
		return 0, nil
	}
	// Collect first, then change: a change must not move rows under the
	// pages still to be read.
	var targets []store.Rule
	cursor := ""
	for {
		page, err := s.store.Rules(ctx, storeFilter, store.RuleSort{}, cursor, 500)
		if err != nil {
			return 0, err
		}
		targets = append(targets, page.Items...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	done := 0
	for _, r := range targets {
		var err error
		switch action {
		case RuleDelete:
			err = s.store.DeleteRule(ctx, r.ID)
		default:
			if r.Active == (action == RuleActivate) {
				continue
			}
			r.Active = action == RuleActivate
			err = s.store.UpdateRule(ctx, &r)
		}
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			s.rules.forget()
			return done, err
		}
		done++
	}
	s.rules.forget()
	s.audit(ctx, actor, "rules "+action, "ids", ids, "all", filter != nil, "done", done)
	return done, nil
}

func (s *Service) ruleStoreError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &ValidationError{Fields: map[string]i18n.Message{"mailbox_id": i18n.M("error.rule_mailbox")}}
	}
	return err
}

// applyRuleInput checks input and sets it on row: the service's own fields
// here, the conditions and actions by the engine's Compile, whose field
// errors join the others.
func (s *Service) applyRuleInput(ctx context.Context, row *store.Rule, input RuleInput, create bool) error {
	errs := fieldErrors{}
	if input.MailboxID.Set {
		row.MailboxID = 0
		if input.MailboxID.Value != nil && *input.MailboxID.Value != 0 {
			if _, err := s.store.MailboxByID(ctx, *input.MailboxID.Value); err != nil {
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				errs.add("mailbox_id", "error.rule_mailbox")
			}
			row.MailboxID = *input.MailboxID.Value
		}
	}
	setBool(&row.Active, input.Active)
	setText(&row.Name, input.Name)
	setText(&row.Description, input.Description)
	setInt(&row.Sort, input.Sort)
	setBool(&row.OnReceive, input.OnReceive)
	setBool(&row.OnManual, input.OnManual)
	setText(&row.Template, input.Template)
	if row.Name == "" {
		errs.add("name", "error.required", i18n.Key("field.name"))
	}
	tooLong(errs, "name", i18n.Key("field.name"), row.Name, MaxNameLength)
	tooLong(errs, "description", i18n.Key("field.description"), row.Description, maxRuleDescription)
	if row.Sort < 0 || row.Sort > MaxRuleSort {
		errs.add("sort", "error.range", i18n.Key("field.sort"), 0, MaxRuleSort)
	}
	if !slices.Contains(RuleTemplates, row.Template) {
		errs.add("template", "error.invalid", i18n.Key("field.template"))
	}
	if input.Conditions != nil {
		row.Conditions = []store.RuleCondition{}
		for _, c := range *input.Conditions {
			row.Conditions = append(row.Conditions, store.RuleCondition{Field: strings.TrimSpace(c.Field), Header: strings.TrimSpace(c.Header),
				Op: strings.TrimSpace(c.Op), Values: c.Values})
		}
	}
	if input.SpamRating.Set {
		row.SpamOp, row.SpamValue = "", 0
		if t := input.SpamRating.Value; t != nil {
			row.SpamOp, row.SpamValue = t.Op, t.Value
			if row.SpamOp == "" {
				errs.add("spam_rating.op", "error.rule_compare", i18n.Key("rules.field.spam_rating"))
			}
		}
	}
	if input.Size.Set {
		row.SizeOp, row.SizeValue, row.SizeUnit = "", 0, rules.UnitB
		if size := input.Size.Value; size != nil {
			row.SizeOp, row.SizeValue, row.SizeUnit = size.Op, size.Value, size.Unit
			if row.SizeOp == "" {
				errs.add("size.op", "error.rule_compare", i18n.Key("rules.field.size"))
			}
		}
	}
	if a := input.Actions; a != nil {
		setText(&row.ActionRead, a.Read)
		setText(&row.ActionSpam, a.Spam)
		setBool(&row.ActionDelete, a.Delete)
		setBool(&row.ActionStop, a.Stop)
		if a.ForwardTo != nil {
			row.ForwardTo = []string{}
			for _, address := range *a.ForwardTo {
				if address = strings.TrimSpace(address); address != "" {
					row.ForwardTo = append(row.ForwardTo, address)
				}
			}
		}
		if a.Webhook.Set {
			if hook := a.Webhook.Value; hook == nil || strings.TrimSpace(hook.URL) == "" {
				row.WebhookURL, row.WebhookSecret = "", nil
			} else {
				previous := row.WebhookURL
				row.WebhookURL = strings.TrimSpace(hook.URL)
				// Checked when it changes: an old rule's URL, saved when
				// the allowed networks held it, does not stop the rule
				// from being edited (the delivery's dialer refuses it).
				if host, internal := s.internalWebhookHost(ctx, row.WebhookURL); internal && row.WebhookURL != previous {
					errs.add("actions.webhook.url", "error.webhook_internal", i18n.Key("rules.action.webhook_url"), host)
				}
				switch {
				case hook.Secret != "":
					if !tooLong(errs, "actions.webhook.secret", i18n.Key(ruleSecretFieldLabel), hook.Secret, MaxWebhookSecret) {
						sealed, err := s.box.Seal(hook.Secret)
						if err != nil {
							return fmt.Errorf("seal the webhook secret: %w", err)
						}
						row.WebhookSecret = sealed
					}
				case len(row.WebhookSecret) == 0:
					errs.add("actions.webhook.secret", "error.required", i18n.Key(ruleSecretFieldLabel))
				}
			}
		}
	}
	if row.ActionRead == "" {
		row.ActionRead = rules.Unchanged
	}
	if row.ActionSpam == "" {
		row.ActionSpam = rules.Unchanged
	}
	// Conditions as sent are held to today's limits; a stored rule's
	// kept ones to the limits it was saved under, so that an old rule
	// can still be switched off, sorted or renamed.
	compile := rules.Compile
	if input.Conditions == nil {
		compile = rules.CompileStored
	}
	compiled, err := compile(rulestore.FromRow(*row))
	var invalid *rules.InvalidError
	switch {
	case errors.As(err, &invalid):
		for field, message := range invalid.Fields {
			if _, seen := errs[field]; !seen {
				errs[field] = message
			}
		}
	case err != nil:
		return err
	default:
		// Keep what the engine made of it: strings trimmed, blank ones
		// dropped, units and header names canonical.
		secret := row.WebhookSecret
		tidy := rulestore.ToRow(compiled.Rule())
		tidy.ID, tidy.CreatedAt, tidy.UpdatedAt, tidy.MailboxName = row.ID, row.CreatedAt, row.UpdatedAt, row.MailboxName
		if tidy.WebhookURL != "" {
			tidy.WebhookSecret = secret
		}
		*row = tidy
	}
	_ = create
	return errs.err()
}

// internalWebhookHost reports a webhook URL whose host is an address of
// this machine or of an internal network (in any spelling a resolver takes,
// 2130706433 and 0177.0.0.1 included) or the name localhost, unless the
// "allowed networks" setting lets it through: refused when the rule is
// saved, so the admin learns it at once rather than from a failed delivery.
// A name that resolves to such an address is refused at each delivery by
// the netguard dialer.
func (s *Service) internalWebhookHost(ctx context.Context, text string) (string, bool) {
	parsed, err := url.Parse(text)
	if err != nil {
		return "", false // the engine's URL check says so at the field
	}
	host := strings.ToLower(parsed.Hostname())
	// As a resolver will see it: fullwidth letters and ideographic full
	// stops ("ｌｏｃａｌｈｏｓｔ", "127。0。0。1") mapped as IDNA does.
	if mapped, err := idna.Lookup.ToASCII(host); err == nil {
		host = mapped
	}
	addr, ok := netguard.HostAddress(host)
	if bare := strings.TrimSuffix(host, "."); bare == "localhost" || strings.HasSuffix(bare, ".localhost") {
		addr, ok = netip.AddrFrom4([4]byte{127, 0, 0, 1}), true // RFC 6761: always this machine
	}
	if !ok {
		return "", false
	}
	return host, !s.networkPolicy(ctx).Allows(addr)
}
