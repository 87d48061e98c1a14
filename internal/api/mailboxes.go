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

// mailboxKinds are the values of the "kind" filter: system mailboxes (POP3
// and SMTP, set up by admins) and user mailboxes (IMAP).
var mailboxKinds = map[string][]string{
	"system": {store.MailboxPOP3, store.MailboxSMTP},
	"user":   {store.MailboxIMAP},
}

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
		Types:  q.allOf("type", "error.mailbox_type", store.MailboxPOP3, store.MailboxSMTP, store.MailboxIMAP),
		Server: q.get("server"),
		Active: q.boolean("active"),
	}
	empty := false // the type and kind filters exclude each other
	if kind := q.oneOf("kind", "error.invalid", "system", "user"); kind != "" {
		if len(filter.Types) == 0 {
			filter.Types = mailboxKinds[kind]
		} else {
			filter.Types = slices.DeleteFunc(filter.Types, func(t string) bool { return !slices.Contains(mailboxKinds[kind], t) })
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
