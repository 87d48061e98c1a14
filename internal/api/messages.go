package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/download"
	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// messageSorts are the values "sort" takes: a column, "-" first for newest
// (largest) first. The default is "-date".
var messageSorts = []string{"date", "received_at", "size", "id"}

// messageFilter reads the message filters of GET /messages.
func messageFilter(q *query) store.MessageFilter {
	filter := store.MessageFilter{
		IDs:     q.ids("id"),
		Query:   q.get("q"),
		From:    q.get("from"),
		To:      q.get("to"),
		Subject: q.get("subject"),
		Text:    q.get("text"),
		Spam:    q.oneOf("spam", "error.invalid", "yes", "no", "unknown"),
		Read:    q.boolean("read"),
		Since:   q.time("since"),
		Until:   q.time("until"),
	}
	if ids := q.ids("mailbox_id"); len(ids) > 0 {
		filter.MailboxIDs = ids
	}
	return filter
}

// messageList is the JSON of GET /messages.
type messageList struct {
	Items      []service.MessageView `json:"items"`
	NextCursor string                `json:"next_cursor"`
}

func (a *api) listMessages(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	filter := messageFilter(q)
	limit, cursor := q.limitOr(defaultMessageLimit), q.get("cursor")
	order := store.MessageSort{Column: "date"}
	if raw := q.get("sort"); raw != "" {
		order.Column, order.Ascending = strings.TrimPrefix(raw, "-"), !strings.HasPrefix(raw, "-")
		if !containsString(messageSorts, order.Column) {
			q.fail("sort", "error.invalid", i18n.Key("field.sort"))
		}
	}
	if err := q.err(); err != nil {
		return err
	}
	page, err := a.svc.Messages(r.Context(), actor, filter, order, cursor, limit)
	if errors.Is(err, store.ErrBadCursor) {
		return &service.ValidationError{Fields: map[string]i18n.Message{"cursor": i18n.M("error.invalid", i18n.Key("field.cursor"))}}
	}
	if err != nil {
		return fmt.Errorf("list messages: %w", err)
	}
	return respond(w, http.StatusOK, messageList{Items: page.Items, NextCursor: page.NextCursor})
}

// defaultMessageLimit is the page size of GET /messages without "limit".
const defaultMessageLimit = 50

func containsString(list []string, item string) bool {
	for _, candidate := range list {
		if candidate == item {
			return true
		}
	}
	return false
}

// getMessage gives one message. The API does not mark it read (scripts
// reading mail should not change what people see); remote_images=allow keeps
// remote images in the sanitised HTML.
func (a *api) getMessage(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	options := service.MessageOptions{
		AllowRemote: r.URL.Query().Get("remote_images") == "allow",
		CIDURL: func(attachmentID int64) string {
			return Prefix + "messages/" + strconv.FormatInt(id, 10) + "/attachments/" + strconv.FormatInt(attachmentID, 10)
		},
	}
	view, err := a.svc.Message(r.Context(), actor, id, options)
	if err != nil {
		return fmt.Errorf("get message %d: %w", id, err)
	}
	return respond(w, http.StatusOK, view)
}

func (a *api) deleteMessage(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := a.svc.MessageSummary(r.Context(), actor, id); err != nil {
		return fmt.Errorf("delete message %d: %w", id, err)
	}
	if _, err := a.svc.MessageAction(r.Context(), actor, service.MessageSelection{IDs: []int64{id}}, service.ActionDelete); err != nil {
		return fmt.Errorf("delete message %d: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getMessageSource sends the exact bytes as received.
func (a *api) getMessageSource(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	source, size, err := a.svc.MessageSource(r.Context(), actor, id)
	if err != nil {
		return fmt.Errorf("source of message %d: %w", id, err)
	}
	defer source.Close()
	download.Write(w, r, download.Source(id, size, false, ""), source)
	return nil
}

// getAttachment sends an attachment's exact bytes under its original name.
// It is always a download, and sandboxed, so that an HTML or SVG attachment
// cannot run as this site.
func (a *api) getAttachment(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	attachmentID, err := pathID(r, "attachment_id")
	if err != nil {
		return err
	}
	attachment, body, err := a.svc.MessageAttachment(r.Context(), actor, id, attachmentID)
	if err != nil {
		return fmt.Errorf("attachment %d of message %d: %w", attachmentID, id, err)
	}
	defer body.Close()
	download.Write(w, r, download.Attachment(attachment, false), body)
	return nil
}

// messageActionRequest is the body of the message action routes.
type messageActionRequest struct {
	Action string               `json:"action"`
	RuleID *int64               `json:"rule_id,omitempty"`
	IDs    []int64              `json:"ids,omitempty"`
	Filter *messageActionFilter `json:"filter,omitempty"`
}

type messageActionFilter struct {
	IDs        []int64 `json:"id,omitempty"`
	MailboxIDs []int64 `json:"mailbox_id,omitempty"`
	Query      string  `json:"q,omitempty"`
	From       string  `json:"from,omitempty"`
	To         string  `json:"to,omitempty"`
	Subject    string  `json:"subject,omitempty"`
	Text       string  `json:"text,omitempty"`
	Spam       string  `json:"spam,omitempty"`
	Read       *bool   `json:"read,omitempty"`
}

// actionResult answers a message action.
type actionResult struct {
	Done int `json:"done"`
}

func (a *api) messageAction(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var request messageActionRequest
	if err := decodeJSON(w, r, &request); err != nil {
		return err
	}
	if len(request.IDs) > 0 || request.Filter != nil {
		return &service.ValidationError{Fields: map[string]i18n.Message{"ids": i18n.M("error.invalid", i18n.Key("field.ids"))}}
	}
	if _, err := a.svc.MessageSummary(r.Context(), actor, id); err != nil {
		return fmt.Errorf("message %d: %w", id, err)
	}
	done, err := a.messageActionOn(r, actor, service.MessageSelection{IDs: []int64{id}}, request)
	if err != nil {
		return fmt.Errorf("message %d: %w", id, err)
	}
	return respond(w, http.StatusOK, actionResult{Done: done})
}

func (a *api) messagesAction(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var request messageActionRequest
	if err := decodeJSON(w, r, &request); err != nil {
		return err
	}
	if (len(request.IDs) == 0) == (request.Filter == nil) {
		return &service.ValidationError{Fields: map[string]i18n.Message{"ids": i18n.M("error.ids_or_filter")}}
	}
	selection := service.MessageSelection{IDs: request.IDs}
	if f := request.Filter; f != nil {
		if f.Spam != "" && f.Spam != "yes" && f.Spam != "no" && f.Spam != "unknown" {
			return &service.ValidationError{Fields: map[string]i18n.Message{"filter.spam": i18n.M("error.invalid", i18n.Key("field.spam"))}}
		}
		selection.Filter = &store.MessageFilter{IDs: f.IDs, Query: f.Query, From: f.From, To: f.To, Subject: f.Subject, Text: f.Text, Spam: f.Spam, Read: f.Read}
		if len(f.MailboxIDs) > 0 {
			selection.Filter.MailboxIDs = f.MailboxIDs
		}
	}
	done, err := a.messageActionOn(r, actor, selection, request)
	if err != nil {
		return fmt.Errorf("message action: %w", err)
	}
	return respond(w, http.StatusOK, actionResult{Done: done})
}

// maxMessageBytes bounds an uploaded message. The intake spools a large
// message to a file rather than memory; larger mail is not mail people send.
const maxMessageBytes = 200 << 20

// uploadResult answers POST /mailboxes/{id}/messages.
type uploadResult struct {
	ID          int64    `json:"id"`
	Duplicate   bool     `json:"duplicate"`
	ParseErrors []string `json:"parse_errors"`
}

// uploadMessage stores a raw message body as if it had been received
// by the mailbox. A byte-identical message already there is not stored
// twice: the answer is 200 with "duplicate": true and its ID, else 201.
func (a *api) uploadMessage(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	// Any Content-Type is taken: the body is the message, whatever a
	// client's default (curl --data-binary sends a form type) says.
	if r.ContentLength > maxMessageBytes {
		return errorf(http.StatusRequestEntityTooLarge, "message is larger than %d bytes", maxMessageBytes)
	}
	// The body is streamed into the intake: a large message is spooled to
	// a file, not held in memory.
	result, err := a.svc.ImportMessage(r.Context(), actor, id, http.MaxBytesReader(w, r.Body, maxMessageBytes), "API")
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(http.StatusRequestEntityTooLarge, "message is larger than %d bytes", maxMessageBytes)
		}
		return fmt.Errorf("upload to mailbox %d: %w", id, err)
	}
	status := http.StatusCreated
	if result.Duplicate {
		status = http.StatusOK
	} else {
		w.Header().Set("Location", Prefix+"messages/"+strconv.FormatInt(result.ID, 10))
	}
	if result.ParseErrors == nil {
		result.ParseErrors = []string{}
	}
	return respond(w, status, uploadResult{ID: result.ID, Duplicate: result.Duplicate, ParseErrors: result.ParseErrors})
}

// messageActionOn runs an action on a selection: "apply_rules" with a
// rule_id applies that rule alone, without one every manual rule.
func (a *api) messageActionOn(r *http.Request, actor *service.Actor, selection service.MessageSelection, request messageActionRequest) (int, error) {
	if request.RuleID != nil {
		if request.Action != service.ActionApplyRules {
			return 0, &service.ValidationError{Fields: map[string]i18n.Message{"rule_id": i18n.M("error.rule_id_apply")}}
		}
		return a.svc.ApplyRules(r.Context(), actor, selection, *request.RuleID)
	}
	return a.svc.MessageAction(r.Context(), actor, selection, request.Action)
}
