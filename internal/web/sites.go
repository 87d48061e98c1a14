package web

import (
	"errors"
	"net/http"
	"net/url"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// siteFields is the order of the site form, for the error summary.
var siteFields = []string{"code", "name", "domain", "charset", "language", "time_zone"}

// commonCharsets are offered as suggestions; any charset the decoder knows
// is accepted.
var commonCharsets = []string{"UTF-8", "windows-1251", "KOI8-R", "ISO-8859-1", "ISO-8859-5", "ISO-8859-15", "windows-1252", "IBM866"}

type sitesData struct {
	Sites []store.Site
}

type siteForm struct {
	New      bool
	ReadOnly bool
	Site     store.Site // the stored site, for its dates (edit only)
	Code     string
	Name     string
	Domain   string
	Charset  string
	Language string
	TimeZone string
	Zones    []string
	// ServerZone is the zone an empty field takes.
	ServerZone string
	Charsets   []string
	Errors     map[string]string
	Summary    []summaryItem
}

// sitesPage lists the sites by code.
func (s *server) sitesPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	sites, err := s.svc.Sites(r.Context(), session.Actor)
	if err != nil {
		return err
	}
	data := s.newPage(w, r, session, "page.sites.title", "sites")
	data.Content = sitesData{Sites: sites}
	s.render(w, r, http.StatusOK, "sites", data)
	return nil
}

func (s *server) newSitePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !session.Actor.IsAdmin() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	s.renderSiteForm(w, r, session, http.StatusOK, siteForm{New: true, Charset: "UTF-8", Language: i18n.Fallback, TimeZone: s.svc.ServerZone()})
	return nil
}

// siteInput reads the site form. The code is sent only when creating: it is
// fixed afterwards.
func siteInput(r *http.Request, creating bool) (service.SiteInput, siteForm) {
	form := siteForm{
		New: creating, Code: formValue(r, "code"), Name: formValue(r, "name"), Domain: formValue(r, "domain"),
		Charset: formValue(r, "charset"), Language: formValue(r, "language"), TimeZone: formValue(r, "time_zone"),
	}
	input := service.SiteInput{Name: &form.Name, Domain: &form.Domain, Charset: &form.Charset, Language: &form.Language,
		TimeZone: &form.TimeZone}
	if creating {
		input.Code = &form.Code
	}
	return input, form
}

func (s *server) createSite(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	input, form := siteInput(r, true)
	site, err := s.svc.CreateSite(r.Context(), session.Actor, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		form.Errors = fieldErrors
		s.renderSiteForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.site_created")
	http.Redirect(w, r, "/sites/"+url.PathEscape(site.Code), http.StatusSeeOther)
	return nil
}

func (s *server) sitePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	site, err := s.svc.Site(r.Context(), session.Actor, r.PathValue("code"))
	if err != nil {
		return err
	}
	s.renderSiteForm(w, r, session, http.StatusOK, siteForm{
		Site: site, Code: site.Code, Name: site.Name, Domain: site.Domain, Charset: site.Charset, Language: site.Language,
		TimeZone: site.TimeZone,
	})
	return nil
}

func (s *server) updateSite(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	code := r.PathValue("code")
	input, form := siteInput(r, false)
	site, err := s.svc.UpdateSite(r.Context(), session.Actor, code, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		form.Site, form.Code, form.Errors = site, code, fieldErrors
		s.renderSiteForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, "/sites/"+url.PathEscape(site.Code), http.StatusSeeOther)
	return nil
}

func (s *server) renderSiteForm(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, form siteForm) {
	data := s.formPage(w, r, session, "site", form.New, form.Code)
	form.ReadOnly = !session.Actor.IsAdmin()
	form.Charsets, form.Zones, form.ServerZone = commonCharsets, service.TimeZones, s.svc.ServerZone()
	form.Summary = summaryOf(form.Errors, siteFields...)
	data.Content = form
	s.render(w, r, status, "site", data)
}

// deleteSitePage asks before deleting a site.
func (s *server) deleteSitePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	s.confirmDeleteSite(w, r, session, http.StatusOK, "")
	return nil
}

func (s *server) confirmDeleteSite(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, problem string) {
	if !session.Actor.IsAdmin() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return
	}
	site, err := s.svc.Site(r.Context(), session.Actor, r.PathValue("code"))
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	data := s.newPage(w, r, session, "page.site_delete.title", "sites")
	path := "/sites/" + url.PathEscape(site.Code)
	data.Content = confirmData{
		Question: i18n.Default.T(data.Lang, "confirm.delete_site", site.Name, site.Code),
		Action:   path + "/delete", Cancel: path, Error: problem,
	}
	s.render(w, r, status, "confirm", data)
}

// deleteSite deletes only with confirm=yes, which the confirmation page (or
// the JavaScript confirm dialog) adds; a bare POST shows the question.
func (s *server) deleteSite(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if formValue(r, "confirm") != "yes" {
		s.confirmDeleteSite(w, r, session, http.StatusOK, "")
		return nil
	}
	err := s.svc.DeleteSite(r.Context(), session.Actor, r.PathValue("code"))
	var conflict *service.ConflictError
	if errors.As(err, &conflict) {
		lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
		s.confirmDeleteSite(w, r, session, http.StatusConflict, i18n.Default.Message(lang, conflict.Message))
		return nil
	}
	if err != nil {
		return err
	}
	s.flash(w, r, "flash.site_deleted")
	http.Redirect(w, r, "/sites", http.StatusSeeOther)
	return nil
}

// formFailed handles the error of a form's service call: a validation error
// goes to invalid with the field texts in the reader's language (the form
// then re-renders with them), anything else gets its error page. It reports
// whether there was an error.
func (s *server) formFailed(w http.ResponseWriter, r *http.Request, session *service.WebSession, err error, invalid func(map[string]string)) bool {
	if err == nil {
		return false
	}
	var validation *service.ValidationError
	if errors.As(err, &validation) {
		invalid(validation.Translated(s.svc.UserLanguage(r.Context(), session.Actor.User)))
		return true
	}
	language := s.svc.UserLanguage(r.Context(), session.Actor.User)
	var conflict *service.ConflictError
	if errors.As(err, &conflict) {
		message := i18n.Default.Message(language, conflict.Message)
		fieldErrors := map[string]string{}
		for _, field := range conflict.Fields {
			fieldErrors[field] = message // the summary lists it once
		}
		if len(fieldErrors) == 0 {
			fieldErrors[""] = message
		}
		invalid(fieldErrors)
		return true
	}
	if errors.Is(err, service.ErrInvalidText) {
		// Keep what the person typed and say what is wrong, as for any
		// other mistake in the form.
		invalid(map[string]string{"": i18n.Default.T(language, "error.invalid_text")})
		return true
	}
	s.serviceError(w, r, err)
	return true
}
