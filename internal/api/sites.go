package api

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// listSites pages the sites by code. The service returns them all (a portal
// has a handful), so paging happens here, in Go's byte order, which does
// not depend on the database's collation.
func (a *api) listSites(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	limit, after := q.limit(), q.cursor()
	if err := q.err(); err != nil {
		return err
	}
	sites, err := a.svc.Sites(r.Context(), actor)
	if err != nil {
		return fmt.Errorf("list sites: %w", err)
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i].Code < sites[j].Code })
	start := sort.Search(len(sites), func(i int) bool { return sites[i].Code > after })
	page, more := trimPage(sites[start:], limit)
	body := listBody[store.Site]{Items: page}
	if more {
		body.NextCursor = encodeCursor(page[len(page)-1].Code)
	}
	return respond(w, http.StatusOK, body)
}

func (a *api) getSite(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	site, err := a.svc.Site(r.Context(), actor, r.PathValue("code"))
	if err != nil {
		return fmt.Errorf("get site: %w", err)
	}
	return respond(w, http.StatusOK, site)
}

func (a *api) createSite(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.SiteInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	site, err := a.svc.CreateSite(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("create site: %w", err)
	}
	w.Header().Set("Location", Prefix+"sites/"+url.PathEscape(site.Code))
	return respond(w, http.StatusCreated, site)
}

func (a *api) updateSite(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.SiteInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	site, err := a.svc.UpdateSite(r.Context(), actor, r.PathValue("code"), input)
	if err != nil {
		return fmt.Errorf("update site: %w", err)
	}
	return respond(w, http.StatusOK, site)
}

func (a *api) deleteSite(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	if err := a.svc.DeleteSite(r.Context(), actor, r.PathValue("code")); err != nil {
		return fmt.Errorf("delete site: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
