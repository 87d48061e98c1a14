package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/download"
	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// serviceFields is the order of the mail service form, for the error summary.
var serviceFields = []string{"site", "active", "name", "type", "server", "port", "security", "web_url", "sort",
	"smtp_server", "smtp_port", "smtp_same_login", "icon", "logo", "oauth_preset", "oauth_client_id", "oauth_client_secret",
	"oauth_auth_url", "oauth_token_url", "oauth_scopes", "oauth_mechanism"}

// logoTypes are the image types a logo upload may have; the type is sniffed
// from the content, not taken from the browser's word.
var logoTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// maxLogoBytes is the largest logo the service accepts.
const maxLogoBytes = 256 << 10

type servicesFilter struct {
	ID     string
	Site   string
	Active string // "", "yes" or "no"
	Name   string
	Server string
}

func (f servicesFilter) Set() bool {
	return f.ID != "" || f.Site != "" || f.Active != "" || f.Name != "" || f.Server != ""
}

type servicesData struct {
	Services []service.MailServiceView
	Sites    []store.Site
	Filter   servicesFilter
	Back     string // this list's URL, to come back to after a group action
}

type serviceForm struct {
	New           bool
	ReadOnly      bool
	Service       service.MailServiceView // the stored service (edit only)
	Site          string
	Active        bool
	Name          string
	Type          string
	Server        string
	Port          string
	Security      string
	WebURL        string
	Sort          string
	SMTPServer    string
	SMTPPort      string
	SMTPSameLogin bool
	Icon          string
	// OAuth2 client: the secret is never shown (Service.HasOAuthSecret
	// says whether one is stored).
	OAuthPreset    string
	OAuthClientID  string
	OAuthAuthURL   string
	OAuthTokenURL  string
	OAuthScopes    string
	OAuthMechanism string
	OAuthPresets   []service.OAuthPreset
	Icons          []string
	Sites          []store.Site
	Errors         map[string]string
	Summary        []summaryItem
}

// servicesDeleteData is the confirmation page of a group delete.
type servicesDeleteData struct {
	Services []service.MailServiceView
	Back     string
	Form     deleteForm
}

// servicesPage lists mail services with a filter; admins get the group
// actions. Which services a reader sees is the service's to decide.
func (s *server) servicesPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	query := r.URL.Query()
	content := servicesData{Back: r.URL.RequestURI(), Filter: servicesFilter{
		ID: strings.TrimSpace(query.Get("id")), Site: query.Get("site"), Active: query.Get("active"),
		Name: strings.TrimSpace(query.Get("name")), Server: strings.TrimSpace(query.Get("server")),
	}}
	sites, err := s.svc.Sites(r.Context(), session.Actor)
	if err != nil {
		return err
	}
	content.Sites = sites
	filter := store.MailServiceFilter{Name: content.Filter.Name, Server: content.Filter.Server}
	matchNothing := false
	if content.Filter.ID != "" {
		id, err := strconv.ParseInt(content.Filter.ID, 10, 64)
		if err != nil || id <= 0 {
			matchNothing = true
		}
		filter.ID = id
	}
	if content.Filter.Site != "" {
		siteID, ok := siteIDByCode(sites, content.Filter.Site)
		filter.SiteID, matchNothing = siteID, matchNothing || !ok
	}
	switch content.Filter.Active {
	case "yes", "no":
		active := content.Filter.Active == "yes"
		filter.Active = &active
	default:
		content.Filter.Active = ""
	}
	if !matchNothing {
		list, err := s.svc.MailServices(r.Context(), session.Actor, filter)
		if err != nil {
			return err
		}
		content.Services = list
	}
	data := s.newPage(w, r, session, "page.services.title", "services")
	data.Content = content
	s.render(w, r, http.StatusOK, "services", data)
	return nil
}

func (s *server) newServicePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	form := serviceForm{New: true, Site: s.defaultSiteCode(r), Active: true, Type: store.MailboxIMAP, Security: "tls", Sort: "100",
		SMTPSameLogin: true}
	s.renderServiceForm(w, r, session, http.StatusOK, form)
	return nil
}

// serviceInput reads the mail service form. Numbers that are not numbers
// are field errors here, before the service sees the form; checkboxes count
// only when the form marked them as present.
func (s *server) serviceInput(r *http.Request, lang string) (service.MailServiceInput, serviceForm, map[string]string) {
	form := serviceForm{
		Site: formValue(r, "site"), Name: formValue(r, "name"), Type: formValue(r, "type"), Server: formValue(r, "server"),
		Port: formValue(r, "port"), Security: formValue(r, "security"), WebURL: formValue(r, "web_url"), Sort: formValue(r, "sort"),
		SMTPServer: formValue(r, "smtp_server"), SMTPPort: formValue(r, "smtp_port"), Icon: formValue(r, "icon"),
		Active: r.PostForm.Get("active") != "", SMTPSameLogin: r.PostForm.Get("smtp_same_login") != "",
		OAuthPreset: formValue(r, "oauth_preset"), OAuthClientID: formValue(r, "oauth_client_id"),
		OAuthAuthURL: formValue(r, "oauth_auth_url"), OAuthTokenURL: formValue(r, "oauth_token_url"),
		OAuthScopes: formValue(r, "oauth_scopes"), OAuthMechanism: formValue(r, "oauth_mechanism"),
	}
	// The secret is not kept in the form: a page sent back with errors
	// asks for it again rather than echoing it into the HTML.
	secret := r.PostForm.Get("oauth_client_secret")
	input := service.MailServiceInput{
		Site: &form.Site, Name: &form.Name, Type: &form.Type, Server: &form.Server, Security: &form.Security,
		WebURL: &form.WebURL, SMTPServer: &form.SMTPServer, Icon: &form.Icon,
		OAuthPreset: &form.OAuthPreset, OAuthClientID: &form.OAuthClientID, OAuthClientSecret: &secret,
		OAuthAuthURL: &form.OAuthAuthURL, OAuthTokenURL: &form.OAuthTokenURL, OAuthScopes: &form.OAuthScopes,
		OAuthMechanism: &form.OAuthMechanism,
	}
	fieldErrors := map[string]string{}
	number := func(name, text string, empty int) *int {
		if text == "" {
			return &empty
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			fieldErrors[name] = i18n.Default.T(lang, "error.whole_number", i18n.Key("field."+name))
			return nil
		}
		return &n
	}
	input.Port = number("port", form.Port, 0)
	input.SMTPPort = number("smtp_port", form.SMTPPort, 0)
	input.Sort = number("sort", form.Sort, 100)
	for _, marked := range r.PostForm[checkboxMarker] {
		switch marked {
		case "active":
			input.Active = &form.Active
		case "smtp_same_login":
			input.SMTPSameLogin = &form.SMTPSameLogin
		}
	}
	if r.PostForm.Get("remove_logo") != "" {
		input.Logo = []byte{}
	}
	if r.MultipartForm != nil {
		if file, _, err := r.FormFile("logo"); err == nil {
			defer file.Close()
			logo, err := io.ReadAll(io.LimitReader(file, maxLogoBytes+1))
			if err != nil {
				fieldErrors["logo"] = i18n.Default.T(lang, "error.logo", i18n.Key("field.logo"))
			} else if len(logo) > 0 {
				input.Logo, input.LogoType = logo, http.DetectContentType(logo)
				known := false
				for _, allowed := range logoTypes {
					known = known || input.LogoType == allowed
				}
				if !known {
					// The service turns this into its own "must be an image" error.
					input.LogoType = "application/octet-stream"
				}
			}
		}
	}
	return input, form, fieldErrors
}

func (s *server) createService(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	input, form, parseErrors := s.serviceInput(r, lang)
	form.New = true
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	if len(parseErrors) > 0 {
		form.Errors = parseErrors
		s.renderServiceForm(w, r, session, http.StatusUnprocessableEntity, form)
		return nil
	}
	created, err := s.svc.CreateMailService(r.Context(), session.Actor, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		form.Errors = fieldErrors
		s.renderServiceForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.service_created")
	http.Redirect(w, r, "/services/"+strconv.FormatInt(created.ID, 10), http.StatusSeeOther)
	return nil
}

func (s *server) servicePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	stored, err := s.svc.MailService(r.Context(), session.Actor, id)
	if err != nil {
		return err
	}
	s.renderServiceForm(w, r, session, http.StatusOK, serviceForm{
		Service: stored, Site: stored.Site, Active: stored.Active, Name: stored.Name, Type: stored.Type,
		Server: stored.Server, Port: portText(stored.Port), Security: stored.Security, WebURL: stored.WebURL,
		Sort: strconv.Itoa(stored.Sort), SMTPServer: stored.SMTPServer, SMTPPort: portText(stored.SMTPPort),
		SMTPSameLogin: stored.SMTPSameLogin, Icon: stored.Icon, OAuthClientID: stored.OAuthClientID,
		OAuthAuthURL: stored.OAuthAuthURL, OAuthTokenURL: stored.OAuthTokenURL, OAuthScopes: stored.OAuthScopes,
		OAuthMechanism: stored.OAuthMechanism,
	})
	return nil
}

// portText shows an unset port (0) as an empty field.
func portText(port int) string {
	if port == 0 {
		return ""
	}
	return strconv.Itoa(port)
}

func (s *server) updateService(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	input, form, parseErrors := s.serviceInput(r, lang)
	invalid := func(fieldErrors map[string]string) {
		if stored, err := s.svc.MailService(r.Context(), session.Actor, id); err == nil {
			form.Service = stored
		}
		form.Errors = fieldErrors
		s.renderServiceForm(w, r, session, http.StatusUnprocessableEntity, form)
	}
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	if len(parseErrors) > 0 {
		invalid(parseErrors)
		return nil
	}
	_, err := s.svc.UpdateMailService(r.Context(), session.Actor, id, input)
	if s.formFailed(w, r, session, err, invalid) {
		return nil
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, "/services/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

func (s *server) renderServiceForm(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, form serviceForm) {
	data := s.formPage(w, r, session, "service", form.New, form.Service.Name)
	sites, err := s.svc.Sites(r.Context(), session.Actor)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	form.Sites, form.Icons, form.OAuthPresets = sites, service.BuiltinIcons, service.OAuthPresets
	form.ReadOnly = !session.Actor.IsAdmin()
	form.Summary = summaryOf(form.Errors, serviceFields...)
	data.Content = form
	s.render(w, r, status, "service", data)
}

// serviceLogo serves an uploaded logo with its stored type, locked down so
// that the bytes can only ever be shown as an image.
func (s *server) serviceLogo(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	logo, contentType, err := s.svc.MailServiceLogo(r.Context(), session.Actor, id)
	if err == nil && (len(logo) == 0 || contentType == "") {
		err = service.ErrNotFound
	}
	if err != nil {
		return err
	}
	download.Write(w, r, download.Logo(contentType, len(logo)), bytes.NewReader(logo))
	return nil
}

// deleteServicePage asks before deleting one service: the group
// confirmation page with that service alone.
func (s *server) deleteServicePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	s.confirmDeleteServices(w, r, session, []int64{id}, "/services/"+strconv.FormatInt(id, 10))
	return nil
}

func (s *server) confirmDeleteServices(w http.ResponseWriter, r *http.Request, session *service.WebSession, ids []int64, back string) {
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return
	}
	var list []service.MailServiceView
	for _, id := range ids {
		one, err := s.svc.MailService(r.Context(), session.Actor, id)
		if err != nil {
			s.serviceError(w, r, err)
			return
		}
		list = append(list, one)
	}
	data := s.newPage(w, r, session, "page.services_delete.title", "services")
	data.Content = servicesDeleteData{Services: list, Back: back, Form: deleteForm{Action: "/services/group", Back: back, IDs: ids}}
	s.render(w, r, http.StatusOK, "services_delete", data)
}

// safeServicesBack keeps a "come back to" address within the services: the
// list, or the form of one service.
func safeServicesBack(back string) string {
	if strings.HasPrefix(back, "/services/") && !strings.ContainsAny(back, "\\\r\n") {
		return back
	}
	return safeListBack(back, "/services")
}

// servicesGroup runs a group action on the checked services: activate,
// deactivate, or delete (which asks first unless confirm=yes).
func (s *server) servicesGroup(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	back := safeServicesBack(formValue(r, "back"))
	action := formValue(r, "action")
	if action != "activate" && action != "deactivate" && action != "delete" {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	ids, ok := s.checkedIDs(w, r, back)
	if !ok {
		return nil
	}
	flash, done := "flash.services_deleted", 0
	switch action {
	case "delete":
		if !deleteConfirmed(r) {
			s.confirmDeleteServices(w, r, session, ids, back)
			return nil
		}
		for _, id := range ids {
			err := s.svc.DeleteMailService(r.Context(), session.Actor, id)
			if err != nil && !errors.Is(err, service.ErrNotFound) { // already gone is fine
				return err
			}
			if err == nil {
				done++
			}
		}
		if strings.HasPrefix(back, "/services/") {
			back = "/services"
		}
	default:
		active := action == "activate"
		flash = "flash.services_deactivated"
		if active {
			flash = "flash.services_activated"
		}
		for _, id := range ids {
			if _, err := s.svc.UpdateMailService(r.Context(), session.Actor, id, service.MailServiceInput{Active: &active}); err != nil {
				return err
			}
			done++
		}
	}
	s.flashDone(w, r, flash, done, "")
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// serviceIconURL is the template function serviceIcon: the static URL of a
// built-in icon, "" for none.
func serviceIconURL(statics *statics) func(string) string {
	return func(name string) string {
		if name == "" {
			return ""
		}
		if _, ok := statics.hashes["icons/"+name+".svg"]; !ok {
			return ""
		}
		return statics.url("icons/" + name + ".svg")
	}
}
