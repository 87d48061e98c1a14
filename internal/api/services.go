package api

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/download"
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

// maxLogoBytes bounds an uploaded logo (the service refuses more than
// 256 KB; reading a little more lets it say so).
const maxLogoBytes = 256<<10 + 1

// getServiceLogo sends a service's uploaded logo.
func (a *api) getServiceLogo(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	logo, contentType, err := a.svc.MailServiceLogo(r.Context(), actor, id)
	if err == nil && (len(logo) == 0 || contentType == "") {
		err = service.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("logo of service %d: %w", id, err)
	}
	download.Write(w, r, download.Logo(contentType, len(logo)), bytes.NewReader(logo))
	return nil
}

// putServiceLogo sets a service's logo from the request body, an image
// (PNG, JPEG, GIF, WebP; not SVG) of at most 256 KB named by its
// Content-Type.
func (a *api) putServiceLogo(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	logo, err := io.ReadAll(io.LimitReader(r.Body, maxLogoBytes))
	if err != nil {
		return errorf(http.StatusBadRequest, "reading the logo: %v", err)
	}
	if len(logo) == 0 {
		return errorf(http.StatusBadRequest, "the body is empty: send the image (DELETE removes a logo)")
	}
	// The bytes say what the image is; a client's Content-Type (curl sends
	// a form type by default) only where they do not.
	contentType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if sniffed := http.DetectContentType(logo); strings.HasPrefix(sniffed, "image/") {
		contentType = sniffed
	}
	view, err := a.svc.UpdateMailService(r.Context(), actor, id, service.MailServiceInput{Logo: logo, LogoType: contentType})
	if err != nil {
		return fmt.Errorf("logo of service %d: %w", id, err)
	}
	return respond(w, http.StatusOK, view)
}

// deleteServiceLogo removes a service's uploaded logo (its icon stays).
func (a *api) deleteServiceLogo(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	view, err := a.svc.UpdateMailService(r.Context(), actor, id, service.MailServiceInput{Logo: []byte{}})
	if err != nil {
		return fmt.Errorf("logo of service %d: %w", id, err)
	}
	return respond(w, http.StatusOK, view)
}
