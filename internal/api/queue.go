package api

import (
	"errors"
	"fmt"
	"net/http"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// listQueue pages the outbound queue (admins), newest first, filtered by
// status.
func (a *api) listQueue(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	filter := service.QueueFilter{Status: q.oneOf("status", "error.choice", service.QueueStatuses...), Cursor: q.get("cursor"),
		Limit: q.limit()}
	if err := q.err(); err != nil {
		return err
	}
	page, err := a.svc.OutboundQueue(r.Context(), actor, filter)
	if errors.Is(err, store.ErrBadCursor) {
		return &service.ValidationError{Fields: map[string]i18n.Message{"cursor": i18n.M("error.invalid", i18n.Key("field.cursor"))}}
	}
	if err != nil {
		return fmt.Errorf("list queue: %w", err)
	}
	return respond(w, http.StatusOK, listBody[service.QueuedMessage]{Items: page.Items, NextCursor: page.NextCursor})
}

func (a *api) getQueued(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	message, err := a.svc.OutboundMessage(r.Context(), actor, id)
	if err != nil {
		return fmt.Errorf("get queued message: %w", err)
	}
	return respond(w, http.StatusOK, message)
}

// retryQueued makes a waiting message due now and answers with it.
func (a *api) retryQueued(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.svc.RetryOutbound(r.Context(), actor, id); err != nil {
		return fmt.Errorf("retry queued message: %w", err)
	}
	return a.getQueued(w, r, actor)
}

func (a *api) deleteQueued(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteOutbound(r.Context(), actor, id); err != nil {
		return fmt.Errorf("delete queued message: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
