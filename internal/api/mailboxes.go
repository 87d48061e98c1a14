package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// defaultMailboxLimit is the page size of GET /mailboxes without "limit".
const defaultMailboxLimit = 50

// mailboxSorts are the columns "sort" takes, each optionally prefixed "-".
var mailboxSorts = []string{"id", "name", "active", "server", "type", "site", "updated_at"}

// mailboxList is the JSON of GET /mailboxes: a list with the number of
// mailboxes matching the filter.
type mailboxList struct {
	Items      []service.MailboxView `json:"items"`
	NextCursor string                `json:"next_cursor"`
	Total      int64                 `json:"total"`
}

// listMailboxes pages the mailboxes. Admins and auditors see all, a user
// their own. Without "type" or "kind" every type is listed.
func (a *api) listMailboxes(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	limit, cursor := q.limitOr(defaultMailboxLimit), q.get("cursor")
	filter := store.MailboxFilter{
		IDs:    q.ids("id"),
		Name:   q.get("name"),
		Types:  q.allOf("type", "error.mailbox_type", store.MailboxTypeNames()...),
		Server: q.get("server"),
		Active: q.boolean("active"),
	}
	empty := false // the type and kind filters exclude each other
	if kind := q.oneOf("kind", "error.invalid", store.KindSystem, store.KindUser); kind != "" {
		kinds := store.MailboxTypesOfKind(kind)
		if len(filter.Types) == 0 {
			filter.Types = kinds
		} else {
			filter.Types = slices.DeleteFunc(filter.Types, func(t string) bool { return !slices.Contains(kinds, t) })
			empty = len(filter.Types) == 0
		}
	}
	var order store.MailboxSort
	if raw := q.get("sort"); raw != "" {
		order.Column, order.Descending = strings.TrimPrefix(raw, "-"), strings.HasPrefix(raw, "-")
		if !slices.Contains(mailboxSorts, order.Column) {
			q.fail("sort", "error.invalid", i18n.Key("field.sort"))
		}
	}
	siteID, err := q.siteID(a, r, actor)
	if err != nil {
		return fmt.Errorf("list mailboxes: %w", err)
	}
	filter.SiteID = siteID
	if err := q.err(); err != nil {
		return err
	}
	if empty {
		return respond(w, http.StatusOK, mailboxList{Items: []service.MailboxView{}})
	}
	page, err := a.svc.Mailboxes(r.Context(), actor, filter, order, cursor, limit)
	if errors.Is(err, store.ErrBadCursor) {
		return &service.ValidationError{Fields: map[string]i18n.Message{"cursor": i18n.M("error.invalid", i18n.Key("field.cursor"))}}
	}
	if err != nil {
		return fmt.Errorf("list mailboxes: %w", err)
	}
	if page.Items == nil {
		page.Items = []service.MailboxView{}
	}
	return respond(w, http.StatusOK, mailboxList{Items: page.Items, NextCursor: page.NextCursor, Total: page.Total})
}

func (a *api) getMailbox(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	view, err := a.svc.Mailbox(r.Context(), actor, id)
	if err != nil {
		return fmt.Errorf("get mailbox %d: %w", id, err)
	}
	return respond(w, http.StatusOK, view)
}

func (a *api) createMailbox(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.MailboxInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	view, err := a.svc.CreateMailbox(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("create mailbox: %w", err)
	}
	w.Header().Set("Location", Prefix+"mailboxes/"+strconv.FormatInt(view.ID, 10))
	return respond(w, http.StatusCreated, view)
}

func (a *api) updateMailbox(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var input service.MailboxInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	view, err := a.svc.UpdateMailbox(r.Context(), actor, id, input)
	if err != nil {
		return fmt.Errorf("update mailbox %d: %w", id, err)
	}
	return respond(w, http.StatusOK, view)
}

func (a *api) deleteMailbox(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteMailbox(r.Context(), actor, id); err != nil {
		return fmt.Errorf("delete mailbox %d: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mailboxActionRequest is the body of POST /mailboxes/actions: an action on
// the listed IDs, or on every mailbox a filter matches (the same filters as
// GET /mailboxes).
type mailboxActionRequest struct {
	Action string               `json:"action"`
	IDs    []int64              `json:"ids,omitempty"`
	Filter *mailboxActionFilter `json:"filter,omitempty"`
}

type mailboxActionFilter struct {
	IDs    []int64  `json:"id,omitempty"`
	Name   string   `json:"name,omitempty"`
	Types  []string `json:"type,omitempty"`
	Kind   string   `json:"kind,omitempty"`
	Server string   `json:"server,omitempty"`
	Active *bool    `json:"active,omitempty"`
	Site   string   `json:"site,omitempty"`
}

// mailboxActions activates, deactivates or deletes mailboxes in a group and
// answers with what was done and what failed, mailbox by mailbox.
func (a *api) mailboxActions(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var request mailboxActionRequest
	if err := decodeJSON(w, r, &request); err != nil {
		return err
	}
	if (len(request.IDs) == 0) == (request.Filter == nil) {
		return &service.ValidationError{Fields: map[string]i18n.Message{"ids": i18n.M("error.ids_or_filter")}}
	}
	selection := service.MailboxSelection{IDs: request.IDs}
	if f := request.Filter; f != nil {
		filter := store.MailboxFilter{IDs: f.IDs, Name: f.Name, Types: f.Types, Server: f.Server, Active: f.Active}
		for _, kind := range f.Types {
			if _, known := store.MailboxTypeOf(kind); !known {
				return &service.ValidationError{Fields: map[string]i18n.Message{"filter.type": i18n.M("error.mailbox_type", i18n.Key("field.type"))}}
			}
		}
		if f.Kind != "" {
			kinds := store.MailboxTypesOfKind(f.Kind)
			if kinds == nil {
				return &service.ValidationError{Fields: map[string]i18n.Message{"filter.kind": i18n.M("error.invalid", i18n.Key("field.kind"))}}
			}
			if len(filter.Types) == 0 {
				filter.Types = kinds
			} else if filter.Types = slices.DeleteFunc(filter.Types, func(t string) bool { return !slices.Contains(kinds, t) }); len(filter.Types) == 0 {
				return respond(w, http.StatusOK, service.GroupResult{Failed: []service.GroupFailure{}})
			}
		}
		if f.Site != "" {
			site, err := a.svc.Site(r.Context(), actor, f.Site)
			if err != nil {
				return &service.ValidationError{Fields: map[string]i18n.Message{"filter.site": i18n.M("error.unknown_site", i18n.Key("field.site"))}}
			}
			filter.SiteID = site.ID
		}
		selection.Filter = &filter
	}
	result, err := a.svc.MailboxGroupAction(r.Context(), actor, selection, request.Action, a.svc.UserLanguage(r.Context(), actor.User))
	if err != nil {
		return fmt.Errorf("mailbox group action: %w", err)
	}
	return respond(w, http.StatusOK, result)
}

// checkMailbox receives mail for one mailbox now. A server's failure is in
// "error" with 200: the request did what it was asked.
func (a *api) checkMailbox(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	result, err := a.svc.CheckMailbox(r.Context(), actor, id)
	if err != nil {
		return fmt.Errorf("check mailbox %d: %w", id, err)
	}
	return respond(w, http.StatusOK, result)
}

// checkAllMailboxes receives mail now for every active POP3 mailbox the
// caller may check.
func (a *api) checkAllMailboxes(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	results, err := a.svc.CheckAll(r.Context(), actor)
	if err != nil {
		return fmt.Errorf("check all mailboxes: %w", err)
	}
	if results == nil {
		results = []service.CheckResult{}
	}
	return respond(w, http.StatusOK, struct {
		Items []service.CheckResult `json:"items"`
	}{results})
}

// testMailbox logs in with the body's settings (a POP3 mailbox's fields, and
// "id" to use a stored mailbox's password) and reports the message count or
// the server's error, saving nothing.
func (a *api) testMailbox(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.TestInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	result, err := a.svc.TestConnection(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("test connection: %w", err)
	}
	return respond(w, http.StatusOK, result)
}
