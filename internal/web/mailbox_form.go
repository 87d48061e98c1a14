package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// mailboxFields is the order of the mailbox form (both tabs) of a POP3 or
// SMTP mailbox, for the error summary. SMTP's listen address and port are
// "listen" and "listen_port" on the page (the service calls them server
// and port).
var mailboxFields = []string{"site", "active", "name", "description", "type",
	"server", "port", "security", "verify_cert", "login", "password", "apop", "delete_from_server", "check_interval",
	"listen", "listen_port", "domains", "relay", "relay_auth_only",
	"max_messages", "max_message_size_kb", "keep_days", "charset"}

// imapMailboxFields is the order of an IMAP mailbox's form, whose mail
// service comes before the server it fills.
var imapMailboxFields = []string{"site", "active", "name", "description", "type",
	"service_id", "server", "port", "security", "verify_cert", "login", "password", "web_url", "delete_from_server", "owner_id", "folders", "sync_range"}

// mailboxForm is the state of the mailbox form: every field as typed, for
// all three types (only the current type's fields are shown and read).
type mailboxForm struct {
	New         bool
	ReadOnly    bool
	Admin       bool // chooses site and owner
	CanSwitch   bool // a new system mailbox: POP3 <-> SMTP
	Mailbox     service.MailboxView
	Type        string
	Site        string
	Active      bool
	Name        string
	Description string

	// POP3 and IMAP.
	Server           string
	Port             string
	Security         string
	NoVerify         bool
	Login            string
	APOP             bool
	DeleteFromServer bool
	CheckInterval    string

	// SMTP.
	Listen        string
	ListenPort    string
	Domains       string
	Relay         bool
	RelayAuthOnly bool

	// IMAP.
	ServiceID string
	OwnerID   string
	WebURL    string
	Folders   string
	SyncRange string

	// Tab "Additional" (POP3 and SMTP).
	MaxMessages      string
	MaxMessageSizeKB string
	KeepDays         string
	Charset          string

	testState
	// Password is the password typed, shown again only on the page that
	// answers "Test connection" (never the stored one).
	Password string

	Sites       []store.Site
	Services    []service.MailServiceView
	Users       []service.UserView
	Charsets    []string
	SyncRanges  []string
	SiteCharset string
	MultiSite   bool
	AttachLimit string // the info line of tab "Additional"; "" when unknown
	Errors      map[string]string
	Summary     []summaryItem
}

// System reports whether the form is for a system mailbox (two tabs).
func (f mailboxForm) System() bool {
	t, _ := store.MailboxTypeOf(f.Type)
	return t.Kind == store.KindSystem
}

// defaultSecurity is the TLS choice a new mailbox of kind starts with.
func defaultSecurity(kind string) string {
	if t, ok := store.MailboxTypeOf(kind); ok {
		return t.Security
	}
	return "none"
}

// newMailboxCheckInterval is a new POP3 mailbox's check interval in the
// form, in minutes: the seed module's users know its ten minutes, and a
// mailbox that checks only by hand surprised them.
const newMailboxCheckInterval = "10" // service.DefaultCheckInterval, as text

// newMailboxForm is the form of a new mailbox of kind with SPEC.md's
// defaults (and a check every ten minutes). The POP3 and SMTP fields are both filled, so that a new system
// mailbox can switch between them.
func newMailboxForm(kind string) mailboxForm {
	f := mailboxForm{New: true, Type: kind, Active: true, Security: defaultSecurity(kind),
		Port: strconv.Itoa(service.DefaultPort(kind, defaultSecurity(kind))), CheckInterval: newMailboxCheckInterval,
		Listen: "*", ListenPort: "25", MaxMessages: "0", MaxMessageSizeKB: "0", KeepDays: "0"}
	if kind == store.MailboxSMTP {
		f.Port = strconv.Itoa(service.DefaultPort(store.MailboxPOP3, "none"))
	}
	if kind == store.MailboxIMAP {
		f.Folders, f.SyncRange = "INBOX", "month"
	}
	return f
}

// storedMailboxForm is the form of a stored mailbox.
func storedMailboxForm(m service.MailboxView) mailboxForm {
	f := mailboxForm{Mailbox: m, Type: m.Type, Site: m.Site, Active: m.Active, Name: m.Name, Description: m.Description,
		Security: m.Security, NoVerify: !m.VerifyCert, Login: m.Login, APOP: m.APOP, DeleteFromServer: m.DeleteFromServer,
		CheckInterval: strconv.Itoa(m.CheckInterval), Domains: strings.Join(m.Domains, "\n"), Relay: m.Relay,
		RelayAuthOnly: m.RelayAuthOnly, WebURL: m.WebURL, Folders: strings.Join(m.Folders, "\n"), SyncRange: m.SyncRange,
		MaxMessages: strconv.Itoa(m.MaxMessages), MaxMessageSizeKB: strconv.Itoa(m.MaxMessageSizeKB),
		KeepDays: strconv.Itoa(m.KeepDays), Charset: m.Charset}
	if m.Type == store.MailboxSMTP {
		f.Listen, f.ListenPort = m.Server, portText(m.Port)
	} else {
		f.Server, f.Port = m.Server, portText(m.Port)
	}
	if m.ServiceID != nil {
		f.ServiceID = strconv.FormatInt(*m.ServiceID, 10)
	}
	if m.OwnerID != nil {
		f.OwnerID = strconv.FormatInt(*m.OwnerID, 10)
	}
	return f
}

// mailboxKind reads ?type= of the new mailbox page: a known type, else pop3.
func mailboxKind(text string) string {
	if _, known := store.MailboxTypeOf(text); known {
		return text
	}
	return store.MailboxPOP3
}

func (s *server) newMailboxPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	actor := session.Actor
	if !actor.CanChangeMail() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	kind := mailboxKind(r.URL.Query().Get("type"))
	if !actor.CanAddMailbox(kind) {
		kind = store.MailboxIMAP // a user connects their own mailbox only
	}
	form := newMailboxForm(kind)
	if site, err := s.svc.DefaultSite(r.Context()); err == nil {
		form.Site = site.Code
	}
	s.renderMailboxForm(w, r, session, http.StatusOK, form)
	return nil
}

// readMailboxForm lays what the browser sent over form (the defaults of a
// new mailbox, or the stored one): only fields the page had are read, so a
// hidden section keeps its values. Checkboxes count only when marked.
func readMailboxForm(r *http.Request, form *mailboxForm) {
	text := func(name string, target *string) {
		if formHas(r, name) {
			*target = formValue(r, name)
		}
	}
	text("site", &form.Site)
	text("name", &form.Name)
	text("description", &form.Description)
	text("server", &form.Server)
	text("port", &form.Port)
	text("security", &form.Security)
	text("login", &form.Login)
	text("check_interval", &form.CheckInterval)
	text("listen", &form.Listen)
	text("listen_port", &form.ListenPort)
	text("domains", &form.Domains)
	text("service_id", &form.ServiceID)
	text("owner_id", &form.OwnerID)
	text("web_url", &form.WebURL)
	text("folders", &form.Folders)
	text("sync_range", &form.SyncRange)
	text("max_messages", &form.MaxMessages)
	text("max_message_size_kb", &form.MaxMessageSizeKB)
	text("keep_days", &form.KeepDays)
	text("charset", &form.Charset)
	checked := func(name string) bool { return r.PostForm.Get(name) != "" }
	for _, marked := range r.PostForm[checkboxMarker] {
		switch marked {
		case "active":
			form.Active = checked(marked)
		case "no_verify":
			form.NoVerify = checked(marked)
		case "apop":
			form.APOP = checked(marked)
		case "delete_from_server":
			form.DeleteFromServer = checked(marked)
		case "relay":
			form.Relay = checked(marked)
		case "relay_auth_only":
			form.RelayAuthOnly = checked(marked)
		}
	}
}

// mailboxInput turns the form into the service's input for its type. Numbers
// that are not numbers are field errors here; an empty port is the type's
// default. oldSecurity is the stored TLS choice (or a new mailbox's default):
// when the TLS choice changed and the port was the old choice's default, the
// port follows (what the page's script does in the browser; the API, by
// contrast, stores exactly what it is given).
func mailboxInput(form *mailboxForm, lang string, actor *service.Actor, oldSecurity string) (service.MailboxInput, map[string]string) {
	fieldErrors := map[string]string{}
	number := func(name, label, text string, empty int) *int {
		if text == "" {
			return &empty
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			fieldErrors[name] = i18n.Default.T(lang, "error.whole_number", i18n.Key("field."+label))
			return nil
		}
		return &n
	}
	kind := form.Type
	input := service.MailboxInput{Active: &form.Active, Name: &form.Name, Description: &form.Description}
	if form.New {
		input.Type = &form.Type
		if actor.CanAssignMailboxes() {
			input.Site = &form.Site
		}
	}
	switch kind {
	case store.MailboxPOP3, store.MailboxIMAP:
		port := number("port", "port", form.Port, service.DefaultPort(kind, form.Security))
		if port != nil && form.Security != oldSecurity && *port == service.DefaultPort(kind, oldSecurity) {
			*port = service.DefaultPort(kind, form.Security)
		}
		if port != nil {
			form.Port = strconv.Itoa(*port)
		}
		verify := !form.NoVerify
		input.Server, input.Port, input.Security, input.VerifyCert, input.Login = &form.Server, port, &form.Security, &verify, &form.Login
	case store.MailboxSMTP:
		input.Server = &form.Listen
		input.Port = number("listen_port", "port", form.ListenPort, 25)
		domains := strings.Fields(form.Domains)
		input.Domains, input.Relay, input.RelayAuthOnly = &domains, &form.Relay, &form.RelayAuthOnly
	}
	switch kind {
	case store.MailboxPOP3:
		input.APOP, input.DeleteFromServer = &form.APOP, &form.DeleteFromServer
		input.CheckInterval = number("check_interval", "check_interval", form.CheckInterval, 0)
	case store.MailboxIMAP:
		id := int64(0)
		if form.ServiceID != "" {
			parsed, err := strconv.ParseInt(form.ServiceID, 10, 64)
			if err != nil {
				fieldErrors["service_id"] = i18n.Default.T(lang, "error.invalid", i18n.Key("field.service_id"))
			}
			id = parsed
		}
		input.ServiceID = &id
		if actor.CanAssignMailboxes() {
			owner := int64(0)
			if form.OwnerID != "" {
				parsed, err := strconv.ParseInt(form.OwnerID, 10, 64)
				if err != nil {
					fieldErrors["owner_id"] = i18n.Default.T(lang, "error.invalid", i18n.Key("field.owner_id"))
				}
				owner = parsed
			}
			input.OwnerID = &owner
		}
		folders := strings.Split(strings.ReplaceAll(form.Folders, "\r", ""), "\n")
		input.WebURL, input.Folders, input.SyncRange = &form.WebURL, &folders, &form.SyncRange
		input.DeleteFromServer = &form.DeleteFromServer
	}
	if kind == store.MailboxPOP3 || kind == store.MailboxSMTP {
		input.MaxMessages = number("max_messages", "max_messages", form.MaxMessages, 0)
		input.MaxMessageSizeKB = number("max_message_size_kb", "max_message_size_kb", form.MaxMessageSizeKB, 0)
		input.KeepDays = number("keep_days", "keep_days", form.KeepDays, 0)
		input.Charset = &form.Charset
	}
	return input, fieldErrors
}

// pageFieldErrors renames the service's field names to the page's: an SMTP
// mailbox's server and port are its listen address and port.
func pageFieldErrors(kind string, fieldErrors map[string]string) map[string]string {
	if kind != store.MailboxSMTP {
		return fieldErrors
	}
	out := make(map[string]string, len(fieldErrors))
	for name, message := range fieldErrors {
		switch name {
		case "server":
			name = "listen"
		case "port":
			name = "listen_port"
		}
		out[name] = message
	}
	return out
}

func (s *server) createMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	actor := session.Actor
	if !actor.CanChangeMail() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	kind := mailboxKind(formValue(r, "type"))
	if !actor.CanAddMailbox(kind) {
		kind = store.MailboxIMAP
	}
	shown := mailboxKind(formValue(r, "form_type"))
	form := newMailboxForm(kind)
	readMailboxForm(r, &form)
	// "Change" (without JavaScript), or a type picked but not applied:
	// show the other type's fields, saving nothing.
	if kind != store.MailboxIMAP && (formHas(r, "change_type") || shown != kind) {
		form.Errors = nil
		s.renderMailboxForm(w, r, session, http.StatusOK, form)
		return nil
	}
	lang := s.svc.UserLanguage(r.Context(), actor.User)
	input, parseErrors := mailboxInput(&form, lang, actor, defaultSecurity(kind))
	if password := r.PostForm.Get("password"); password != "" {
		input.Password = &password
	}
	invalid := func(fieldErrors map[string]string) {
		form.Errors = pageFieldErrors(kind, fieldErrors)
		s.renderMailboxForm(w, r, session, http.StatusUnprocessableEntity, form)
	}
	if len(parseErrors) > 0 {
		invalid(parseErrors)
		return nil
	}
	if formHas(r, "test_connection") {
		s.testMailboxConnection(w, r, session, form, service.TestInput{MailboxInput: input})
		return nil
	}
	created, err := s.svc.CreateMailbox(r.Context(), actor, input)
	if s.formFailed(w, r, session, err, invalid) {
		return nil
	}
	s.flash(w, r, "flash.mailbox_created")
	id := strconv.FormatInt(created.ID, 10)
	// "Add mailbox and create a rule": the new rule's form for it.
	if template := formValue(r, "create_rule"); slices.Contains(service.RuleTemplates, template) && actor.IsAdmin() {
		http.Redirect(w, r, "/rules/new?template="+template+"&mailbox_id="+id, http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/mailboxes/"+id, http.StatusSeeOther)
	return nil
}

func (s *server) mailboxPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	stored, err := s.svc.Mailbox(r.Context(), session.Actor, id)
	if err != nil {
		return err
	}
	s.renderMailboxForm(w, r, session, http.StatusOK, storedMailboxForm(stored))
	return nil
}

func (s *server) updateMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	actor := session.Actor
	if !actor.CanChangeMail() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	stored, err := s.svc.Mailbox(r.Context(), actor, id)
	if err != nil {
		return err
	}
	form := storedMailboxForm(stored)
	readMailboxForm(r, &form)
	form.Site = stored.Site // fixed after creation
	lang := s.svc.UserLanguage(r.Context(), actor.User)
	input, parseErrors := mailboxInput(&form, lang, actor, stored.Security)
	if password := r.PostForm.Get("password"); password != "" {
		input.Password = &password
	}
	invalid := func(fieldErrors map[string]string) {
		form.Errors = pageFieldErrors(form.Type, fieldErrors)
		s.renderMailboxForm(w, r, session, http.StatusUnprocessableEntity, form)
	}
	if len(parseErrors) > 0 {
		invalid(parseErrors)
		return nil
	}
	if formHas(r, "test_connection") {
		s.testMailboxConnection(w, r, session, form, service.TestInput{MailboxInput: input, ID: &id})
		return nil
	}
	_, err = s.svc.UpdateMailbox(r.Context(), actor, id, input)
	if s.formFailed(w, r, session, err, invalid) {
		return nil
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, "/mailboxes/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

// testMailboxConnection is the form's "Test connection": it logs in with
// what the form holds (the stored password when the field is empty) and
// says the message count or the server's error, saving nothing. The
// page's script asks with X-Pochta-Test and gets JSON ({"ok", "text",
// "detail", "errors"}) to show under the button, the form untouched;
// without script the form comes back as typed, password included, with the
// outcome at its top.
func (s *server) testMailboxConnection(w http.ResponseWriter, r *http.Request, session *service.WebSession, form mailboxForm, input service.TestInput) {
	form.Password = r.PostForm.Get("password")
	render := func(status int) { s.renderMailboxForm(w, r, session, status, form) }
	fieldErrors := func(errs map[string]string) map[string]string {
		form.Errors = pageFieldErrors(form.Type, errs)
		return form.Errors
	}
	if _, ok := s.connectionTest(w, r, session, input, &form.testState, fieldErrors, render); !ok {
		return
	}
	if r.Header.Get(testHeader) == "1" {
		writeTestJSON(w, http.StatusOK, testAnswer{OK: form.TestOK, Text: form.TestText, Detail: form.TestDetail})
		return
	}
	render(http.StatusOK)
}

// testState is the outcome of a form's "Test connection", shown under its
// button (or at the form's top without script).
type testState struct {
	Tested, TestOK bool
	TestText       string
	// TestDetail is a failed test's error as the software said it.
	TestDetail string
}

// connectionTest runs a form's "Test connection" and puts its outcome in
// state. When the service refuses the test (too many, or a field's error)
// it answers by itself, JSON to the page's script or the form again
// through render, and returns false; fieldErrors keeps the errors on the
// form as the page names its fields and gives them back for the JSON.
func (s *server) connectionTest(w http.ResponseWriter, r *http.Request, session *service.WebSession, input service.TestInput,
	state *testState, fieldErrors func(map[string]string) map[string]string, render func(status int)) (service.TestResult, bool) {
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	byScript := r.Header.Get(testHeader) == "1"
	result, err := s.svc.TestConnection(r.Context(), session.Actor, input)
	if errors.Is(err, service.ErrTooManyTests) {
		// Said where the test's outcome goes, with the form as typed.
		state.Tested, state.TestText = true, i18n.Default.T(lang, "error.test_rate")
		if byScript {
			writeTestJSON(w, http.StatusTooManyRequests, testAnswer{Text: state.TestText})
		} else {
			render(http.StatusTooManyRequests)
		}
		return result, false
	}
	if s.formFailed(w, r, session, err, func(errs map[string]string) {
		shown := fieldErrors(errs)
		if byScript {
			writeTestJSON(w, http.StatusUnprocessableEntity, testAnswer{Text: i18n.Default.T(lang, "form.errors"), Errors: shown})
			return
		}
		render(http.StatusUnprocessableEntity)
	}) {
		return result, false
	}
	state.Tested, state.TestOK = true, result.OK
	if result.OK {
		state.TestText = i18n.Default.T(lang, "test.ok", result.Messages, result.Size)
	} else {
		state.TestText, state.TestDetail = i18n.Default.T(lang, "test.failed", result.Error), result.Detail
	}
	return result, true
}

// testHeader marks the page script's "Test connection", which wants JSON.
const testHeader = "X-Pochta-Test"

// testAnswer is "Test connection" said to the page's script.
type testAnswer struct {
	OK     bool              `json:"ok"`
	Text   string            `json:"text"`
	Detail string            `json:"detail,omitempty"`
	Errors map[string]string `json:"errors,omitempty"`
	// Folders are an IMAP server's folders to choose from ("My
	// mailboxes").
	Folders []myFolder `json:"folders,omitempty"`
}

func writeTestJSON(w http.ResponseWriter, status int, answer testAnswer) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer)
}

// renderMailboxForm fills the choices of the form (sites, mail services,
// users, charsets) and renders it.
func (s *server) renderMailboxForm(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, form mailboxForm) {
	ctx, actor := r.Context(), session.Actor
	var data *page
	switch {
	case form.New && form.Type == store.MailboxIMAP:
		data = s.newPage(w, r, session, "page.mailbox_new_user.title", "mailboxes")
	case form.New:
		data = s.newPage(w, r, session, "page.mailbox_new_system.title", "mailboxes")
	default:
		data = s.newPage(w, r, session, "page.mailbox.title", "mailboxes")
		data.Title = i18n.Default.T(data.Lang, "page.mailbox.title", form.Mailbox.Name)
	}
	sites, err := s.svc.Sites(ctx, actor)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	form.Sites, form.MultiSite = sites, len(sites) > 1
	if !actor.CanAssignMailboxes() && form.New {
		for _, site := range sites {
			if site.ID == actor.User.SiteID {
				form.Site = site.Code
			}
		}
	}
	for _, site := range sites {
		if site.Code == form.Site {
			form.SiteCharset = site.Charset
		}
	}
	form.Admin = actor.CanAssignMailboxes()
	if form.New {
		form.ReadOnly = !actor.CanAddMailbox(form.Type)
	} else {
		form.ReadOnly = !form.Mailbox.CanChange
	}
	form.CanSwitch = form.New && form.System() && actor.CanAddMailbox(form.Type)
	form.Charsets, form.SyncRanges = service.MailboxCharsets, service.SyncRanges
	if form.Type == store.MailboxIMAP {
		if form.Services, err = s.mailboxServices(ctx, actor, form); err != nil {
			s.serviceError(w, r, err)
			return
		}
		if actor.CanReadAll() {
			if form.Users, err = s.svc.Users(ctx, actor, store.UserFilter{Limit: 1000}); err != nil {
				s.serviceError(w, r, err)
				return
			}
		}
	}
	if form.System() {
		// Only for those who may read the settings; the line is left out
		// otherwise.
		if settings, err := s.svc.Settings(ctx, actor); err == nil {
			if settings.MaxAttachmentSizeKB > 0 {
				form.AttachLimit = i18n.Default.T(data.Lang, "info.attachment_limit", settings.MaxAttachmentSizeKB)
			} else {
				form.AttachLimit = i18n.Default.T(data.Lang, "info.attachment_limit_storage")
			}
		}
	}
	if form.Type == store.MailboxIMAP {
		form.Summary = summaryOf(form.Errors, imapMailboxFields...)
	} else {
		form.Summary = summaryOf(form.Errors, mailboxFields...)
	}
	data.Content = form
	s.render(w, r, status, "mailbox", data)
}

// mailboxServices lists the mail services an IMAP mailbox may pick: the
// active ones (the page's script shows only those of the chosen site), plus
// the one it is bound to even if switched off since.
func (s *server) mailboxServices(ctx context.Context, actor *service.Actor, form mailboxForm) ([]service.MailServiceView, error) {
	active := true
	list, err := s.svc.MailServices(ctx, actor, store.MailServiceFilter{Active: &active})
	if err != nil {
		return nil, err
	}
	if form.ServiceID == "" {
		return list, nil
	}
	for _, one := range list {
		if strconv.FormatInt(one.ID, 10) == form.ServiceID {
			return list, nil
		}
	}
	if id, err := strconv.ParseInt(form.ServiceID, 10, 64); err == nil {
		if bound, err := s.svc.MailService(ctx, actor, id); err == nil {
			list = append(list, bound)
		}
	}
	return list, nil
}
