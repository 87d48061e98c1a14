package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// ruleSorts are the columns "sort" takes for rules, each optionally
// prefixed "-".
var ruleSorts = []string{"id", "name", "sort", "active", "updated_at"}

// ruleBody is API.md's rule with its description in words ("summary", in
// the caller's language).
type ruleBody struct {
	service.RuleView
	Summary string `json:"summary"`
}

type ruleList struct {
	Items      []ruleBody `json:"items"`
	NextCursor string     `json:"next_cursor"`
	Total      int64      `json:"total"`
}

func (a *api) ruleBody(r *http.Request, actor *service.Actor, view service.RuleView) ruleBody {
	language := a.svc.UserLanguage(r.Context(), actor.User)
	return ruleBody{RuleView: view, Summary: i18n.Default.Message(language, view.Summary)}
}

// listRules pages the rules (admins and auditors), filtered by id, name,
// mailbox_id ("all": the rules of every mailbox) and active.
func (a *api) listRules(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	limit, cursor := q.limit(), q.get("cursor")
	filter := service.RuleListFilter{ID: q.id("id"), Name: q.get("name"), Active: q.boolean("active")}
	if q.get("mailbox_id") == "all" {
		filter.AllMailboxes = true
	} else {
		filter.MailboxID = q.id("mailbox_id")
	}
	var order store.RuleSort
	if raw := q.get("sort"); raw != "" {
		order.Column, order.Descending = strings.TrimPrefix(raw, "-"), strings.HasPrefix(raw, "-")
		if !slices.Contains(ruleSorts, order.Column) {
			q.fail("sort", "error.invalid", i18n.Key("field.sort"))
		}
	}
	if err := q.err(); err != nil {
		return err
	}
	page, err := a.svc.Rules(r.Context(), actor, filter, order, cursor, limit)
	if errors.Is(err, store.ErrBadCursor) {
		return &service.ValidationError{Fields: map[string]i18n.Message{"cursor": i18n.M("error.invalid", i18n.Key("field.cursor"))}}
	}
	if err != nil {
		return fmt.Errorf("list rules: %w", err)
	}
	body := ruleList{Items: make([]ruleBody, 0, len(page.Items)), NextCursor: page.NextCursor, Total: page.Total}
	for _, view := range page.Items {
		body.Items = append(body.Items, a.ruleBody(r, actor, view))
	}
	return respond(w, http.StatusOK, body)
}

func (a *api) getRule(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	view, err := a.svc.Rule(r.Context(), actor, id)
	if err != nil {
		return fmt.Errorf("get rule %d: %w", id, err)
	}
	return respond(w, http.StatusOK, a.ruleBody(r, actor, view))
}

func (a *api) createRule(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.RuleInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	view, err := a.svc.CreateRule(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("create rule: %w", err)
	}
	w.Header().Set("Location", Prefix+"rules/"+strconv.FormatInt(view.ID, 10))
	return respond(w, http.StatusCreated, a.ruleBody(r, actor, view))
}

func (a *api) updateRule(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var input service.RuleInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	view, err := a.svc.UpdateRule(r.Context(), actor, id, input)
	if err != nil {
		return fmt.Errorf("update rule %d: %w", id, err)
	}
	return respond(w, http.StatusOK, a.ruleBody(r, actor, view))
}

func (a *api) deleteRule(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteRule(r.Context(), actor, id); err != nil {
		return fmt.Errorf("delete rule %d: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ruleActionRequest is the body of POST /rules/actions.
type ruleActionRequest struct {
	Action string  `json:"action"`
	IDs    []int64 `json:"ids,omitempty"`
	Filter *struct {
		ID        int64  `json:"id,omitempty"`
		Name      string `json:"name,omitempty"`
		MailboxID string `json:"mailbox_id,omitempty"` // an ID or "all"
		Active    *bool  `json:"active,omitempty"`
	} `json:"filter,omitempty"`
}

// ruleActions activates, deactivates or deletes the rules of ids or of a
// filter.
func (a *api) ruleActions(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var request ruleActionRequest
	if err := decodeJSON(w, r, &request); err != nil {
		return err
	}
	if (len(request.IDs) == 0) == (request.Filter == nil) {
		return &service.ValidationError{Fields: map[string]i18n.Message{"ids": i18n.M("error.ids_or_filter")}}
	}
	var filter *service.RuleListFilter
	if f := request.Filter; f != nil {
		filter = &service.RuleListFilter{ID: f.ID, Name: f.Name, Active: f.Active}
		switch f.MailboxID {
		case "":
		case "all":
			filter.AllMailboxes = true
		default:
			id, ok := service.ParseID(f.MailboxID)
			if !ok {
				return &service.ValidationError{Fields: map[string]i18n.Message{"filter.mailbox_id": i18n.M("error.invalid", i18n.Key("field.mailbox_id"))}}
			}
			filter.MailboxID = id
		}
	}
	done, err := a.svc.RuleGroupAction(r.Context(), actor, request.Action, request.IDs, filter)
	if err != nil {
		return fmt.Errorf("rule action: %w", err)
	}
	return respond(w, http.StatusOK, actionResult{Done: done})
}

// ruleTestRequest is the JSON body of the dry run; a message/rfc822 body
// is the message itself, with mailbox_id, event and rule_id as query
// parameters.
type ruleTestRequest struct {
	MessageID int64  `json:"message_id,omitempty"`
	MailboxID int64  `json:"mailbox_id,omitempty"`
	Raw       string `json:"raw,omitempty"`
	Event     string `json:"event,omitempty"`
	RuleID    int64  `json:"rule_id,omitempty"`
}

type ruleTestReason struct {
	Condition int      `json:"condition"` // its index in the rule's conditions; -1: spam probability or size
	Field     string   `json:"field"`
	Header    string   `json:"header,omitempty"`
	Op        string   `json:"op"`
	Value     string   `json:"value"`
	Values    []string `json:"values,omitempty"`
	Text      string   `json:"text"` // the message's text that matched
	Says      string   `json:"says"` // the reason in words
}

type ruleTestMatch struct {
	RuleID  int64            `json:"rule_id"`
	Name    string           `json:"name"`
	Reasons []ruleTestReason `json:"reasons"`
	Actions []string         `json:"actions"`
}

type ruleTestBody struct {
	Event     string          `json:"event"`
	MailboxID int64           `json:"mailbox_id"`
	Subject   string          `json:"subject"`
	Matches   []ruleTestMatch `json:"matches"`
	StoppedBy int64           `json:"stopped_by"`
}

// testRules is the dry run: which rules would fire on a message and why.
func (a *api) testRules(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.RuleTestInput
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		var request ruleTestRequest
		if err := decodeJSON(w, r, &request); err != nil {
			return err
		}
		input = service.RuleTestInput{MessageID: request.MessageID, MailboxID: request.MailboxID, Raw: []byte(request.Raw),
			Event: rules.Event(request.Event), RuleID: request.RuleID}
	} else {
		q := newQuery(r)
		input = service.RuleTestInput{MailboxID: q.id("mailbox_id"), RuleID: q.id("rule_id"), Event: rules.Event(q.get("event"))}
		if err := q.err(); err != nil {
			return err
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, service.MaxRuleTestSource))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(http.StatusRequestEntityTooLarge, "message is larger than %d bytes", service.MaxRuleTestSource)
		}
		if err != nil {
			return errorf(http.StatusBadRequest, "could not read the message: %v", err)
		}
		input.Raw = raw
	}
	result, err := a.svc.TestRules(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("test rules: %w", err)
	}
	language := a.svc.UserLanguage(r.Context(), actor.User)
	body := ruleTestBody{Event: string(result.Event), MailboxID: result.MailboxID, Subject: result.Subject, Matches: []ruleTestMatch{},
		StoppedBy: result.StoppedBy}
	for _, match := range result.Matches {
		out := ruleTestMatch{RuleID: match.RuleID, Name: match.Name, Reasons: []ruleTestReason{}, Actions: []string{}}
		for i, reason := range match.ReasonData {
			out.Reasons = append(out.Reasons, ruleTestReason{Condition: reason.Condition, Field: string(reason.Field), Header: reason.Header,
				Op: string(reason.Op), Value: reason.Value, Values: reason.Values, Text: reason.Text,
				Says: i18n.Default.Message(language, match.Reasons[i])})
		}
		for _, action := range match.Actions {
			out.Actions = append(out.Actions, i18n.Default.Message(language, action))
		}
		body.Matches = append(body.Matches, out)
	}
	return respond(w, http.StatusOK, body)
}

func (a *api) getSpam(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	state, err := a.svc.Spam(r.Context(), actor)
	if err != nil {
		return fmt.Errorf("spam state: %w", err)
	}
	return respond(w, http.StatusOK, state)
}

// spamTrainResult answers POST /spam/train: how many messages the body
// held, how many trainings bulk training on error made of them (a message
// the filter already rated clearly is not trained; one trained in two
// passes counts twice) and in how many passes.
type spamTrainResult struct {
	Messages int               `json:"messages"`
	Skipped  int               `json:"skipped"`
	Trained  int64             `json:"trained"`
	Passes   int               `json:"passes"`
	State    service.SpamState `json:"state"`
}

// trainSpam teaches the filter the messages of the body as ?class=spam or
// ham: one message (message/rfc822) or an mbox file (application/mbox),
// read whole, then trained in bulk (on error, up to three passes).
// Training stored messages is their spam / not spam action.
func (a *api) trainSpam(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	class := q.oneOf("class", "error.spam_class", "spam", "ham")
	if class == "" {
		q.fail("class", "error.spam_class")
	}
	if err := q.err(); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, service.MaxSpamUploadBytes)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	examples, skipped, err := service.SpamExamples(class, body, mediaType == "application/mbox")
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errorf(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", service.MaxSpamUploadBytes)
	}
	if err != nil {
		return fmt.Errorf("train spam (message %d): %w", len(examples)+skipped+1, err)
	}
	done, err := a.svc.TrainSpamBulk(r.Context(), actor, examples, nil)
	if err != nil {
		return fmt.Errorf("train spam: %w", err)
	}
	trained := done.Trained.Spam + done.Trained.Ham
	a.logger.Info("spam filter trained", "by", actor.User.Login, "class", class, "messages", len(examples),
		"skipped", skipped, "trained", trained, "passes", done.Pass)
	state, err := a.svc.SpamCounts(r.Context(), actor)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, spamTrainResult{Messages: len(examples), Skipped: skipped, Trained: trained, Passes: done.Pass, State: state})
}
