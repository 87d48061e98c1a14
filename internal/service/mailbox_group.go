package service

import (
	"context"
	"errors"
	"sort"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/store"
)

// Group actions on mailboxes.
const (
	GroupActivate   = "activate"
	GroupDeactivate = "deactivate"
	GroupDelete     = "delete"
)

// MailboxSelection names the mailboxes of a group action: the checked IDs,
// or, when Filter is set, every mailbox the filter matches (as the actor
// sees them).
type MailboxSelection struct {
	IDs    []int64              `json:"ids,omitempty"`
	Filter *store.MailboxFilter `json:"-"`
}

// GroupFailure is one mailbox a group action could not change, and why.
type GroupFailure struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Error string `json:"error"`
}

// GroupResult says what a group action did.
type GroupResult struct {
	Done   int            `json:"done"`
	Failed []GroupFailure `json:"failed"`
}

// MailboxGroupAction activates, deactivates or deletes the selected
// mailboxes one by one, with the same rights and rules as a single change:
// a mailbox that cannot be changed (an SMTP address in use, say) is reported
// and the others go ahead. language is that of the reader of the failures.
func (s *Service) MailboxGroupAction(ctx context.Context, actor *Actor, selection MailboxSelection, action, language string) (GroupResult, error) {
	result := GroupResult{Failed: []GroupFailure{}}
	if action != GroupActivate && action != GroupDeactivate && action != GroupDelete {
		return result, &ValidationError{Fields: map[string]i18n.Message{"action": i18n.M("error.invalid", i18n.Key("field.action"))}}
	}
	if !actor.CanChangeMail() {
		return result, ErrForbidden
	}
	ids := selection.IDs
	if selection.Filter != nil {
		// Collect first, then change: deleting while paging would move
		// the pages under the cursor.
		ids = nil
		cursor := ""
		for {
			page, err := s.Mailboxes(ctx, actor, *selection.Filter, store.MailboxSort{}, cursor, 1000)
			if err != nil {
				return result, err
			}
			for _, m := range page.Items {
				ids = append(ids, m.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	for _, id := range ids {
		var name string
		if m, err := s.Mailbox(ctx, actor, id); err == nil {
			name = m.Name
		}
		var err error
		switch action {
		case GroupActivate, GroupDeactivate:
			err = s.SetMailboxActive(ctx, actor, id, action == GroupActivate)
		case GroupDelete:
			err = s.DeleteMailbox(ctx, actor, id)
		}
		if err == nil {
			result.Done++
			continue
		}
		result.Failed = append(result.Failed, GroupFailure{ID: id, Name: name, Error: s.errorText(err, language)})
	}
	s.audit(ctx, actor, "mailboxes "+action, "ids", selection.IDs, "all", selection.Filter != nil, "done", result.Done,
		"failed", len(result.Failed))
	return result, nil
}

// errorText gives an error as a reader of language should see it.
func (s *Service) errorText(err error, language string) string {
	var validation *ValidationError
	var conflict *ConflictError
	switch {
	case errors.As(err, &validation):
		translated := validation.Translated(language)
		fields := make([]string, 0, len(translated))
		for field := range translated {
			fields = append(fields, field)
		}
		sort.Strings(fields)
		texts := make([]string, 0, len(fields))
		for _, field := range fields {
			texts = append(texts, translated[field])
		}
		return strings.Join(texts, "; ")
	case errors.As(err, &conflict):
		return i18n.Default.Message(language, conflict.Message)
	case errors.Is(err, ErrForbidden):
		return i18n.Default.T(language, "error.forbidden")
	case errors.Is(err, ErrNotFound):
		return i18n.Default.T(language, "error.not_found")
	}
	s.logger.Error("group action failed", "error", err)
	return i18n.Default.T(language, "error.internal")
}
