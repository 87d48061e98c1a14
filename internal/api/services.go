package api

import (
	"fmt"
	"net/http"
	"strconv"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// listServices lists the mail services, filtered by ID, site code, active,
// and part of the name or server. A portal has a handful, so the list comes
// whole: next_cursor is always "". Users see the active ones of their site.
func (a *api) listServices(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	filter := store.MailServiceFilter{
		ID:     q.id("id"),
		Active: q.boolean("active"),
		Name:   q.get("name"),
		Server: q.get("server"),
	}
	siteID, err := q.siteID(a, r, actor)
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	filter.SiteID = siteID
	if err := q.err(); err != nil {
		return err
	}
	services, err := a.svc.MailServices(r.Context(), actor, filter)
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	return respond(w, http.StatusOK, listBody[service.MailServiceView]{Items: services})
}

func (a *api) getService(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	view, err := a.svc.MailService(r.Context(), actor, id)
	if err != nil {
		return fmt.Errorf("get service %d: %w", id, err)
	}
	return respond(w, http.StatusOK, view)
}

func (a *api) createService(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.MailServiceInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	view, err := a.svc.CreateMailService(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("create service: %w", err)
	}
	w.Header().Set("Location", Prefix+"services/"+strconv.FormatInt(view.ID, 10))
	return respond(w, http.StatusCreated, view)
}

func (a *api) updateService(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var input service.MailServiceInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	view, err := a.svc.UpdateMailService(r.Context(), actor, id, input)
	if err != nil {
		return fmt.Errorf("update service %d: %w", id, err)
	}
	return respond(w, http.StatusOK, view)
}

func (a *api) deleteService(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteMailService(r.Context(), actor, id); err != nil {
		return fmt.Errorf("delete service %d: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
