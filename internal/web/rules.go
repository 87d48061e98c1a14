package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// The rules pages (SPEC.md "Rules"): the list with each rule in words,
// inline active and sort, filters, group actions and paging; the form with
// its conditions and actions and every error at its field; "New rule" from
// manual settings or a template.

type rulesFilter struct {
	ID, Name, Mailbox, Active string
}

func (f rulesFilter) Set() bool {
	return f.ID != "" || f.Name != "" || f.Mailbox != "" || f.Active != ""
}

type ruleRow struct {
	service.RuleView
	SummaryText string
}

type rulesData struct {
	Rules       []ruleRow
	Mailboxes   []service.MailboxView
	Filter      rulesFilter
	Back        string
	Next, First string
	Total       int64
	CanChange   bool
	Templates   []string
}

const rulesPageSize = 50

// rulesPage lists rules (admins and auditors).
func (s *server) rulesPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.allowed(w, r, session.Actor.CanReadAll()) {
		return nil
	}
	query := r.URL.Query()
	content := rulesData{Back: r.URL.RequestURI(), CanChange: session.Actor.IsAdmin(), Templates: service.RuleTemplates,
		Filter: rulesFilter{ID: strings.TrimSpace(query.Get("id")), Name: strings.TrimSpace(query.Get("name")),
			Mailbox: query.Get("mailbox_id"), Active: query.Get("active")}}
	mailboxes, err := s.visibleMailboxes(r, session.Actor)
	if err != nil {
		return err
	}
	content.Mailboxes = mailboxes
	filter := service.RuleListFilter{Name: content.Filter.Name}
	nothing := false
	if content.Filter.ID != "" {
		id, ok := service.ParseID(content.Filter.ID)
		filter.ID, nothing = id, !ok
	}
	switch content.Filter.Mailbox {
	case "":
	case "all":
		filter.AllMailboxes = true
	default:
		id, ok := service.ParseID(content.Filter.Mailbox)
		filter.MailboxID, nothing = id, nothing || !ok
	}
	switch content.Filter.Active {
	case "yes", "no":
		active := content.Filter.Active == "yes"
		filter.Active = &active
	default:
		content.Filter.Active = ""
	}
	cursor := query.Get("cursor")
	if !nothing {
		page, err := s.svc.Rules(r.Context(), session.Actor, filter, store.RuleSort{Column: "sort"}, cursor, rulesPageSize)
		if s.listFailed(w, r, err) {
			return nil
		}
		lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
		for _, rule := range page.Items {
			content.Rules = append(content.Rules, ruleRow{RuleView: rule, SummaryText: i18n.Default.Message(lang, rule.Summary)})
		}
		content.Total = page.Total
		at := func(c string) string {
			values := url.Values{}
			for name, value := range map[string]string{"id": content.Filter.ID, "name": content.Filter.Name,
				"mailbox_id": content.Filter.Mailbox, "active": content.Filter.Active, "cursor": c} {
				if value != "" {
					values.Set(name, value)
				}
			}
			if len(values) == 0 {
				return "/rules"
			}
			return "/rules?" + values.Encode()
		}
		content.First, content.Next = pageLinks(cursor, page.NextCursor, at)
	}
	data := s.newPage(w, r, session, "page.rules.title", "rules")
	data.Content = content
	s.render(w, r, http.StatusOK, "rules", data)
	return nil
}

// rulesBack keeps a "come back to" address within the rules list.
func rulesBack(back string) string {
	if back == "/rules" || (strings.HasPrefix(back, "/rules?") && !strings.ContainsAny(back, "\\\r\n")) {
		return back
	}
	return "/rules"
}

// switchRule turns one rule on or off from the list.
func (s *server) switchRule(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	active := formValue(r, "active") == "1"
	if _, err := s.svc.UpdateRule(r.Context(), session.Actor, id, service.RuleInput{Active: &active}); err != nil {
		return err
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, rulesBack(formValue(r, "back")), http.StatusSeeOther)
	return nil
}

// sortRule sets one rule's sort from the list.
func (s *server) sortRule(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	sort, err := strconv.Atoi(formValue(r, "sort"))
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	if _, err := s.svc.UpdateRule(r.Context(), session.Actor, id, service.RuleInput{Sort: &sort}); err != nil {
		return err
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, rulesBack(formValue(r, "back")), http.StatusSeeOther)
	return nil
}

// rulesGroup activates, deactivates or deletes the checked rules; delete
// asks first.
func (s *server) rulesGroup(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	back := rulesBack(formValue(r, "back"))
	action := formValue(r, "action")
	ids, ok := s.checkedIDs(w, r, back)
	if !ok {
		return nil
	}
	if action == service.RuleDelete && formValue(r, "confirm") != "yes" {
		lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
		var names []string
		for _, id := range ids {
			if rule, err := s.svc.Rule(r.Context(), session.Actor, id); err == nil {
				names = append(names, fmt.Sprintf("[%d] %s", rule.ID, rule.Name))
			}
		}
		data := s.newPage(w, r, session, "page.rules_delete.title", "rules")
		data.Content = rulesDeleteData{Names: names, IDs: ids, Back: back, Question: i18n.Default.T(lang, "rules.delete_question", len(ids))}
		s.render(w, r, http.StatusOK, "rules_delete", data)
		return nil
	}
	done, err := s.svc.RuleGroupAction(r.Context(), session.Actor, action, ids, nil)
	if err != nil {
		return err
	}
	// Said in words with the count, as the mailboxes' group actions are
	// ("Rules switched off: 2."), not a bare "Saved".
	s.flashDone(w, r, "flash.rules_"+action+"_n", done, "")
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

type rulesDeleteData struct {
	Names    []string
	IDs      []int64
	Back     string
	Question string
}

// conditionRow is one condition line of the form.
type conditionRow struct {
	Index  int
	Field  string
	Header string
	Op     string
	Values string // one per line
}

type ruleForm struct {
	New         bool
	ReadOnly    bool
	Rule        service.RuleView
	MailboxID   string // "" = all mailboxes
	Active      bool
	Name        string
	Description string
	Sort        string
	OnReceive   bool
	OnManual    bool
	Template    string
	Conditions  []conditionRow
	SpamOp      string
	SpamValue   string
	SizeOp      string
	SizeValue   string
	SizeUnit    string
	Read        string
	Spam        string
	Delete      bool
	Stop        bool
	ForwardTo   string
	WebhookURL  string
	HasSecret   bool
	Mailboxes   []service.MailboxView
	Fields      []rules.Field
	Ops         []rules.Op
	Errors      map[string]string
	Summary     []summaryItem
}

// blankConditions is how many empty condition lines the form offers.
const blankConditions = 2

func (f *ruleForm) padConditions() {
	for countBlank(f.Conditions) < blankConditions {
		f.Conditions = append(f.Conditions, conditionRow{Field: string(rules.FieldSubject), Op: string(rules.OpContains)})
	}
	for i := range f.Conditions {
		f.Conditions[i].Index = i
	}
}

func countBlank(rows []conditionRow) int {
	n := 0
	for _, row := range rows {
		if strings.TrimSpace(row.Values) == "" {
			n++
		}
	}
	return n
}

// newRulePage is "New rule": manual settings, or a template that fills the
// action it is about (?template=webhook|forward), for a mailbox when one
// is given (?mailbox_id=).
func (s *server) newRulePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	template := r.URL.Query().Get("template")
	if !slices.Contains(service.RuleTemplates, template) {
		template = service.TemplateManual
	}
	form := ruleForm{New: true, Active: true, Sort: strconv.Itoa(service.DefaultRuleSort), OnReceive: true, OnManual: true,
		Template: template, Read: rules.Unchanged, Spam: rules.Unchanged, SizeUnit: rules.UnitKB}
	if id, ok := service.ParseID(r.URL.Query().Get("mailbox_id")); ok {
		form.MailboxID = strconv.FormatInt(id, 10)
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	switch template {
	case service.TemplateWebhook:
		form.Name = i18n.Default.T(lang, "rules.template_name.webhook")
		form.WebhookURL = "https://"
	case service.TemplateForward:
		form.Name = i18n.Default.T(lang, "rules.template_name.forward")
	}
	s.renderRuleForm(w, r, session, http.StatusOK, form)
	return nil
}

func (s *server) rulePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	rule, err := s.svc.Rule(r.Context(), session.Actor, id)
	if err != nil {
		return err
	}
	form := ruleForm{Rule: rule, Active: rule.Active, Name: rule.Name, Description: rule.Description, Sort: strconv.Itoa(rule.Sort),
		OnReceive: rule.OnReceive, OnManual: rule.OnManual, Template: rule.Template, Read: rule.Actions.Read, Spam: rule.Actions.Spam,
		Delete: rule.Actions.Delete, Stop: rule.Actions.Stop, ForwardTo: strings.Join(rule.Actions.ForwardTo, "\n"), SizeUnit: rules.UnitKB}
	if rule.MailboxID != nil {
		form.MailboxID = strconv.FormatInt(*rule.MailboxID, 10)
	}
	for _, c := range rule.Conditions {
		form.Conditions = append(form.Conditions, conditionRow{Field: c.Field, Header: c.Header, Op: c.Op, Values: strings.Join(c.Values, "\n")})
	}
	if t := rule.SpamRating; t != nil {
		form.SpamOp, form.SpamValue = t.Op, strconv.Itoa(t.Value)
	}
	if size := rule.Size; size != nil {
		form.SizeOp, form.SizeValue, form.SizeUnit = size.Op, strconv.FormatInt(size.Value, 10), size.Unit
	}
	if hook := rule.Actions.Webhook; hook != nil {
		form.WebhookURL, form.HasSecret = hook.URL, hook.HasSecret
	}
	s.renderRuleForm(w, r, session, http.StatusOK, form)
	return nil
}

// ruleInput reads the rule form. Numbers that are not numbers are field
// errors here; blank condition lines are left out.
func (s *server) ruleInput(r *http.Request, lang string) (service.RuleInput, ruleForm, map[string]string) {
	form := ruleForm{
		MailboxID: formValue(r, "mailbox_id"), Name: formValue(r, "name"), Description: formValue(r, "description"),
		Sort: formValue(r, "sort"), Template: formValue(r, "template"), SpamOp: formValue(r, "spam_op"), SpamValue: formValue(r, "spam_value"),
		SizeOp: formValue(r, "size_op"), SizeValue: formValue(r, "size_value"), SizeUnit: formValue(r, "size_unit"),
		Read: formValue(r, "read"), Spam: formValue(r, "spam"), ForwardTo: r.PostForm.Get("forward_to"), WebhookURL: formValue(r, "webhook_url"),
		Active: r.PostForm.Get("active") != "", OnReceive: r.PostForm.Get("on_receive") != "", OnManual: r.PostForm.Get("on_manual") != "",
		Delete: r.PostForm.Get("delete") != "", Stop: r.PostForm.Get("stop") != "",
	}
	fieldErrors := map[string]string{}
	input := service.RuleInput{Name: &form.Name, Description: &form.Description, Template: &form.Template,
		Active: &form.Active, OnReceive: &form.OnReceive, OnManual: &form.OnManual}
	if form.Template == "" {
		input.Template = nil
	}
	if form.MailboxID == "" {
		input.MailboxID = service.Optional[int64]{Set: true}
	} else if id, ok := service.ParseID(form.MailboxID); ok {
		input.MailboxID = service.Some(id)
	} else {
		fieldErrors["mailbox_id"] = i18n.Default.T(lang, "error.rule_mailbox")
	}
	if sort, err := strconv.Atoi(form.Sort); err == nil {
		input.Sort = &sort
	} else {
		fieldErrors["sort"] = i18n.Default.T(lang, "error.whole_number", i18n.Key("field.sort"))
	}
	fields, headers, ops, values := r.PostForm["cond_field"], r.PostForm["cond_header"], r.PostForm["cond_op"], r.PostForm["cond_values"]
	conditions := []service.RuleCondition{}
	for i := range values {
		if strings.TrimSpace(values[i]) == "" || i >= len(fields) || i >= len(ops) {
			continue
		}
		header := ""
		if i < len(headers) {
			header = strings.TrimSpace(headers[i])
		}
		row := conditionRow{Field: fields[i], Header: header, Op: ops[i], Values: values[i]}
		form.Conditions = append(form.Conditions, row)
		conditions = append(conditions, service.RuleCondition{Field: row.Field, Header: row.Header, Op: row.Op,
			Values: strings.Split(strings.ReplaceAll(row.Values, "\r\n", "\n"), "\n")})
	}
	input.Conditions = &conditions
	input.SpamRating = service.Optional[service.RuleThreshold]{Set: true}
	if form.SpamOp != "" {
		value, err := strconv.Atoi(form.SpamValue)
		if err != nil {
			fieldErrors["spam_rating.value"] = i18n.Default.T(lang, "error.whole_number", i18n.Key("rules.field.spam_rating"))
		}
		input.SpamRating = service.Some(service.RuleThreshold{Op: form.SpamOp, Value: value})
	}
	input.Size = service.Optional[service.RuleSize]{Set: true}
	if form.SizeOp != "" {
		value, err := strconv.ParseInt(form.SizeValue, 10, 64)
		if err != nil {
			fieldErrors["size.value"] = i18n.Default.T(lang, "error.whole_number", i18n.Key("rules.field.size"))
		}
		input.Size = service.Some(service.RuleSize{Op: form.SizeOp, Value: value, Unit: form.SizeUnit})
	}
	var forward []string
	for _, line := range strings.FieldsFunc(form.ForwardTo, func(c rune) bool { return c == '\n' || c == '\r' || c == ',' }) {
		if line = strings.TrimSpace(line); line != "" {
			forward = append(forward, line)
		}
	}
	actions := &service.RuleActionsInput{Read: &form.Read, Spam: &form.Spam, Delete: &form.Delete, Stop: &form.Stop, ForwardTo: &forward}
	if form.WebhookURL == "" || form.WebhookURL == "https://" {
		actions.Webhook = service.Optional[service.RuleWebhookInput]{Set: true}
	} else {
		actions.Webhook = service.Some(service.RuleWebhookInput{URL: form.WebhookURL, Secret: r.PostForm.Get("webhook_secret")})
	}
	input.Actions = actions
	return input, form, fieldErrors
}

func (s *server) createRule(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	input, form, parseErrors := s.ruleInput(r, lang)
	form.New = true
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	if len(parseErrors) > 0 {
		form.Errors = parseErrors
		s.renderRuleForm(w, r, session, http.StatusUnprocessableEntity, form)
		return nil
	}
	created, err := s.svc.CreateRule(r.Context(), session.Actor, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		form.Errors = fieldErrors
		s.renderRuleForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.rule_created")
	http.Redirect(w, r, "/rules/"+strconv.FormatInt(created.ID, 10), http.StatusSeeOther)
	return nil
}

func (s *server) updateRule(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	input, form, parseErrors := s.ruleInput(r, lang)
	invalid := func(fieldErrors map[string]string) {
		if stored, err := s.svc.Rule(r.Context(), session.Actor, id); err == nil {
			form.Rule, form.HasSecret = stored, stored.Actions.Webhook != nil && stored.Actions.Webhook.HasSecret
		}
		form.Errors = fieldErrors
		s.renderRuleForm(w, r, session, http.StatusUnprocessableEntity, form)
	}
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	if len(parseErrors) > 0 {
		invalid(parseErrors)
		return nil
	}
	_, err := s.svc.UpdateRule(r.Context(), session.Actor, id, input)
	if s.formFailed(w, r, session, err, invalid) {
		return nil
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, "/rules/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

// ruleFields is the order of the rule form, for the error summary.
func ruleFields(conditions int) []string {
	fields := []string{"", "mailbox_id", "name", "description", "sort", "template", "conditions"}
	for i := range conditions {
		for _, part := range []string{"field", "header", "op", "values"} {
			fields = append(fields, fmt.Sprintf("conditions.%d.%s", i, part))
		}
	}
	return append(fields, "spam_rating.op", "spam_rating.value", "size.op", "size.value", "size.unit", "actions.read", "actions.spam",
		"actions.forward_to", "actions.webhook.url", "actions.webhook.secret")
}

func (s *server) renderRuleForm(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, form ruleForm) {
	data := s.formPage(w, r, session, "rule", form.New, form.Rule.Name)
	mailboxes, err := s.visibleMailboxes(r, session.Actor)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	form.Mailboxes, form.Fields, form.Ops = mailboxes, rules.Fields, rules.Ops
	form.ReadOnly = !session.Actor.IsAdmin()
	form.Summary = summaryOf(form.Errors, ruleFields(len(form.Conditions))...)
	form.padConditions()
	if form.Errors == nil {
		form.Errors = map[string]string{}
	}
	data.Content = form
	s.render(w, r, status, "rule", data)
}

// ruleDeletePage asks before deleting one rule.
func (s *server) ruleDeletePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	rule, err := s.svc.Rule(r.Context(), session.Actor, id)
	if err != nil {
		return err
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	data := s.newPage(w, r, session, "page.rules_delete.title", "rules")
	data.Content = rulesDeleteData{Names: []string{fmt.Sprintf("[%d] %s", rule.ID, rule.Name)}, IDs: []int64{id}, Back: "/rules",
		Question: i18n.Default.T(lang, "rules.delete_question", 1)}
	s.render(w, r, http.StatusOK, "rules_delete", data)
	return nil
}

// ruleTestData is the dry run's page: the form, and what it found.
type ruleTestData struct {
	MailboxID string
	MessageID string
	Raw       string
	Manual    bool
	Mailboxes []service.MailboxView
	Ran       bool
	Result    service.RuleTestResult
	Matches   []ruleTestMatch
	Errors    map[string]string
	Summary   []summaryItem
}

type ruleTestMatch struct {
	RuleID  int64
	Name    string
	Reasons []string
	Actions []string
}

// rulesTestPage is the dry run: which rules would fire on a stored message
// (?message_id=) or a pasted source, and why, changing nothing.
func (s *server) rulesTestPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.allowed(w, r, session.Actor.CanReadAll()) {
		return nil
	}
	var form ruleTestData
	if r.Method == http.MethodPost {
		form = ruleTestData{MailboxID: formValue(r, "mailbox_id"), MessageID: formValue(r, "message_id"), Raw: r.PostForm.Get("raw"),
			Manual: formValue(r, "event") == string(rules.EventManual)}
	} else {
		query := r.URL.Query()
		form = ruleTestData{MailboxID: query.Get("mailbox_id"), MessageID: query.Get("message_id"), Manual: query.Get("event") == string(rules.EventManual)}
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	form.Errors = map[string]string{}
	input := service.RuleTestInput{Raw: []byte(form.Raw), Event: rules.EventReceive}
	if form.Manual {
		input.Event = rules.EventManual
	}
	if form.MessageID != "" {
		id, ok := service.ParseID(form.MessageID)
		if !ok {
			form.Errors["message_id"] = i18n.Default.T(lang, "error.invalid", i18n.Key("field.message_id"))
		}
		input.MessageID = id
	}
	if form.MailboxID != "" {
		id, ok := service.ParseID(form.MailboxID)
		if !ok {
			form.Errors["mailbox_id"] = i18n.Default.T(lang, "error.rule_mailbox")
		}
		input.MailboxID = id
	}
	status := http.StatusOK
	if len(form.Errors) == 0 && (input.MessageID != 0 || len(input.Raw) > 0) {
		result, err := s.svc.TestRules(r.Context(), session.Actor, input)
		failed := s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
			form.Errors, status = fieldErrors, http.StatusUnprocessableEntity
		})
		if !failed {
			form.Ran, form.Result = true, result
			for _, match := range result.Matches {
				m := ruleTestMatch{RuleID: match.RuleID, Name: match.Name}
				for _, reason := range match.Reasons {
					m.Reasons = append(m.Reasons, i18n.Default.Message(lang, reason))
				}
				for _, action := range match.Actions {
					m.Actions = append(m.Actions, i18n.Default.Message(lang, action))
				}
				form.Matches = append(form.Matches, m)
			}
		}
	}
	mailboxes, err := s.visibleMailboxes(r, session.Actor)
	if err != nil {
		return err
	}
	form.Mailboxes = mailboxes
	form.Summary = summaryOf(form.Errors, "", "message_id", "mailbox_id", "raw", "event")
	data := s.newPage(w, r, session, "page.rules_test.title", "rules")
	data.Content = form
	s.render(w, r, status, "rules_test", data)
	return nil
}
