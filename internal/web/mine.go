package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// "My mailboxes": an employee's own IMAP mailboxes, apart from the admin's
// mailbox pages (which admins keep for every user mailbox). The employee
// connects one by choosing a mail service of their site, tests the login
// without leaving the form, picks the folders the test listed and the
// initial range; the list says each mailbox's state in plain words. Every
// right and the per-user limit are the service's: these pages only offer
// what it allows.

// myMailboxesPath is the list's address; a mailbox's pages are under it.
const myMailboxesPath = "/my/mailboxes"

// myMailboxRow is one of the employee's mailboxes in their list.
type myMailboxRow struct {
	service.MailboxView
	// Failure is the last sync's failure in plain words ("" after a
	// successful one).
	Failure string
}

type myMailboxesData struct {
	Mailboxes []myMailboxRow
	Allowance service.MailboxAllowance
}

// myMailboxesAllowed answers 403 to whoever may not connect mailboxes of
// their own (auditors).
func (s *server) myMailboxesAllowed(w http.ResponseWriter, r *http.Request, session *service.WebSession) bool {
	return s.allowed(w, r, session.Actor.CanAddMailbox(store.MailboxIMAP))
}

func (s *server) myMailboxesPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.myMailboxesAllowed(w, r, session) {
		return nil
	}
	actor := session.Actor
	ctx := r.Context()
	data := s.newPage(w, r, session, "page.my_mailboxes.title", "my")
	content := myMailboxesData{}
	filter := store.MailboxFilter{Types: []string{store.MailboxIMAP}, OwnerID: actor.User.ID}
	cursor := ""
	for {
		page, err := s.svc.Mailboxes(ctx, actor, filter, store.MailboxSort{Column: "name"}, cursor, 500)
		if err != nil {
			return err
		}
		for _, m := range page.Items {
			content.Mailboxes = append(content.Mailboxes, myMailboxRow{MailboxView: m, Failure: service.MailboxFailure(data.Lang, m)})
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	allowance, err := s.svc.OwnMailboxAllowance(ctx, actor)
	if err != nil {
		return err
	}
	content.Allowance = allowance
	data.Content = content
	s.render(w, r, http.StatusOK, "my_mailboxes", data)
	return nil
}

// myServicesData is the first step of "Connect a mailbox": the site's
// active mail services as cards.
type myServicesData struct {
	Services  []service.MailServiceView
	Allowance service.MailboxAllowance
}

// myFolder is one folder of the form's choice.
type myFolder struct {
	Name    string `json:"name"`
	Label   string `json:"label"` // its role in words, "" for none
	Checked bool   `json:"checked"`
}

// myMailboxForm is the connect and change form of an employee's mailbox.
type myMailboxForm struct {
	New     bool
	Mailbox service.MailboxView
	Service service.MailServiceView
	// Manual: the service names no server ("other"), so the employee
	// types it.
	Manual           bool
	Name             string
	Login            string
	Password         string // typed, shown again only after a test without script
	Server           string
	Port             string
	Security         string
	Folders          []myFolder
	SyncRange        string
	DeleteFromServer bool
	SyncRanges       []string
	testState
	Errors  map[string]string
	Summary []summaryItem
}

// myMailboxFields is the order of the form, for its error summary.
var myMailboxFields = []string{"service_id", "name", "server", "port", "security", "login", "password", "folders", "sync_range", "delete_from_server"}

// folderChoice lists folder names as the form's choice, all ticked.
func folderChoice(names []string) []myFolder {
	out := make([]myFolder, 0, len(names))
	for _, name := range names {
		out = append(out, myFolder{Name: name, Checked: true})
	}
	return out
}

// chosenFolders are the ticked folders' names.
func (f myMailboxForm) chosenFolders() []string {
	var names []string
	for _, folder := range f.Folders {
		if folder.Checked {
			names = append(names, folder.Name)
		}
	}
	return names
}

func (s *server) newMyMailboxPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.myMailboxesAllowed(w, r, session) {
		return nil
	}
	actor := session.Actor
	ctx := r.Context()
	allowance, err := s.svc.OwnMailboxAllowance(ctx, actor)
	if err != nil {
		return err
	}
	chosen := r.URL.Query().Get("service")
	if chosen == "" || allowance.Full() {
		data := s.newPage(w, r, session, "page.my_mailbox_new.title", "my")
		active := true
		services, err := s.svc.MailServices(ctx, actor, store.MailServiceFilter{SiteID: actor.User.SiteID, Active: &active})
		if err != nil {
			return err
		}
		data.Content = myServicesData{Services: services, Allowance: allowance}
		s.render(w, r, http.StatusOK, "my_services", data)
		return nil
	}
	serviceID, ok := service.ParseID(chosen)
	if !ok {
		return service.ErrNotFound
	}
	chosenService, err := s.svc.MailService(ctx, actor, serviceID)
	if err != nil || !chosenService.Active {
		return service.ErrNotFound
	}
	form := myMailboxForm{New: true, Service: chosenService, Manual: chosenService.Server == "",
		Folders: folderChoice([]string{"INBOX"}), SyncRange: "month", Security: "tls", Port: "993"}
	s.renderMyMailboxForm(w, r, session, http.StatusOK, form)
	return nil
}

// readMyMailboxForm lays what the browser sent over form.
func readMyMailboxForm(r *http.Request, form *myMailboxForm) {
	form.Name = formValue(r, "name")
	form.Login = formValue(r, "login")
	if form.Manual {
		form.Server, form.Port, form.Security = formValue(r, "server"), formValue(r, "port"), formValue(r, "security")
	}
	form.SyncRange = formValue(r, "sync_range")
	// Every folder the page listed comes back as "folder_shown", the
	// ticked ones as "folder" too.
	if shown := r.PostForm["folder_shown"]; len(shown) > 0 {
		ticked := r.PostForm["folder"]
		form.Folders = form.Folders[:0]
		for _, name := range shown {
			form.Folders = append(form.Folders, myFolder{Name: name, Checked: slices.Contains(ticked, name)})
		}
	}
	if slices.Contains(r.PostForm[checkboxMarker], "delete_from_server") {
		form.DeleteFromServer = r.PostForm.Get("delete_from_server") != ""
	}
}

// myMailboxInput is the service's input of the form.
func myMailboxInput(r *http.Request, form myMailboxForm) service.MailboxInput {
	folders := form.chosenFolders()
	if folders == nil {
		folders = []string{}
	}
	name := form.Name
	if name == "" {
		name = form.Login // a mailbox is known by its address unless named
	}
	input := service.MailboxInput{Name: &name, Login: &form.Login, Folders: &folders, SyncRange: &form.SyncRange,
		DeleteFromServer: &form.DeleteFromServer}
	if form.New {
		kind := store.MailboxIMAP
		input.Type, input.ServiceID = &kind, &form.Service.ID
	}
	if form.Manual {
		input.Server, input.Security = &form.Server, &form.Security
		if port, err := strconv.Atoi(form.Port); err == nil {
			input.Port = &port
		} else {
			zero := 0
			input.Port = &zero // said as the port's range error
		}
	}
	// A mailbox signed in with OAuth2 logs in with its token: a password
	// typed for it would be stored and never used.
	if password := r.PostForm.Get("password"); password != "" && !form.Mailbox.OAuth {
		input.Password = &password
	}
	return input
}

func (s *server) createMyMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.myMailboxesAllowed(w, r, session) {
		return nil
	}
	actor := session.Actor
	serviceID, ok := service.ParseID(formValue(r, "service_id"))
	if !ok {
		return service.ErrNotFound
	}
	chosenService, err := s.svc.MailService(r.Context(), actor, serviceID)
	if err != nil {
		return err
	}
	form := myMailboxForm{New: true, Service: chosenService, Manual: chosenService.Server == "", Folders: folderChoice([]string{"INBOX"})}
	readMyMailboxForm(r, &form)
	input := myMailboxInput(r, form)
	if formHas(r, "test_connection") {
		s.testMyMailbox(w, r, session, form, service.TestInput{MailboxInput: input})
		return nil
	}
	if s.noFolderChosen(w, r, session, form) {
		return nil
	}
	created, err := s.svc.CreateMailbox(r.Context(), actor, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		form.Errors = fieldErrors
		form.Password = ""
		s.renderMyMailboxForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.mailbox_connected")
	// Its messages: opening them starts its first sync at once.
	http.Redirect(w, r, "/messages?mailbox_id="+strconv.FormatInt(created.ID, 10), http.StatusSeeOther)
	return nil
}

// noFolderChosen says under the folders that one at least is to be ticked
// (the service would take the INBOX for none, which the page did not say).
func (s *server) noFolderChosen(w http.ResponseWriter, r *http.Request, session *service.WebSession, form myMailboxForm) bool {
	if len(form.chosenFolders()) > 0 {
		return false
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	form.Errors, form.Password = map[string]string{"folders": i18n.Default.T(lang, "error.choose_folder")}, ""
	s.renderMyMailboxForm(w, r, session, http.StatusUnprocessableEntity, form)
	return true
}

// myMailbox gives the employee's own mailbox of the path: a mailbox they
// may not change (someone else's, or a system one) is not found here.
func (s *server) myMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) (service.MailboxView, bool, error) {
	id, ok := s.pathID(w, r)
	if !ok || !s.myMailboxesAllowed(w, r, session) {
		return service.MailboxView{}, false, nil
	}
	m, err := s.svc.Mailbox(r.Context(), session.Actor, id)
	if err != nil {
		return m, false, err
	}
	if !m.CanChange || m.Type != store.MailboxIMAP || m.OwnerID == nil || *m.OwnerID != session.Actor.User.ID {
		return m, false, service.ErrNotFound
	}
	return m, true, nil
}

// storedMyMailboxForm is the form of a stored mailbox.
func (s *server) storedMyMailboxForm(r *http.Request, session *service.WebSession, m service.MailboxView) myMailboxForm {
	form := myMailboxForm{Mailbox: m, Name: m.Name, Login: m.Login, Folders: folderChoice(m.Folders), SyncRange: m.SyncRange,
		DeleteFromServer: m.DeleteFromServer, Server: m.Server, Port: portText(m.Port), Security: m.Security}
	form.Service = service.MailServiceView{Name: m.ServiceName}
	if m.ServiceID != nil {
		if bound, err := s.svc.MailService(r.Context(), session.Actor, *m.ServiceID); err == nil {
			form.Service = bound
		}
	}
	form.Manual = form.Service.Server == ""
	return form
}

func (s *server) myMailboxPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	m, ok, err := s.myMailbox(w, r, session)
	if !ok {
		return err
	}
	s.renderMyMailboxForm(w, r, session, http.StatusOK, s.storedMyMailboxForm(r, session, m))
	return nil
}

func (s *server) updateMyMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	m, ok, err := s.myMailbox(w, r, session)
	if !ok {
		return err
	}
	form := s.storedMyMailboxForm(r, session, m)
	readMyMailboxForm(r, &form)
	input := myMailboxInput(r, form)
	if formHas(r, "test_connection") {
		s.testMyMailbox(w, r, session, form, service.TestInput{MailboxInput: input, ID: &m.ID})
		return nil
	}
	if s.noFolderChosen(w, r, session, form) {
		return nil
	}
	_, err = s.svc.UpdateMailbox(r.Context(), session.Actor, m.ID, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		form.Errors = fieldErrors
		s.renderMyMailboxForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, myMailboxesPath, http.StatusSeeOther)
	return nil
}

// testMyMailbox is the form's "Test connection", as the admin's mailbox
// form has it (JSON to the page's script, else the form again), with the
// server's folders to choose from: the ones ticked stay ticked, and a new
// mailbox has the INBOX ticked.
func (s *server) testMyMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession, form myMailboxForm, input service.TestInput) {
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	form.Password = r.PostForm.Get("password")
	kind := store.MailboxIMAP
	input.Type = &kind
	// A test needs no name, folders or range; the service would refuse
	// none of them, but they are not the connection's.
	input.Name, input.Folders, input.SyncRange, input.DeleteFromServer = nil, nil, nil, nil
	render := func(status int) { s.renderMyMailboxForm(w, r, session, status, form) }
	fieldErrors := func(errs map[string]string) map[string]string {
		form.Errors = errs
		return errs
	}
	result, ok := s.connectionTest(w, r, session, input, &form.testState, fieldErrors, render)
	if !ok {
		return
	}
	if result.OK {
		chosen := form.chosenFolders()
		form.Folders = form.Folders[:0]
		for _, folder := range result.Folders {
			if !folder.Selectable {
				continue
			}
			label := ""
			if folder.Role != "" {
				label = i18n.Default.T(lang, "value.folder_role."+strings.ToLower(folder.Role))
			}
			if strings.EqualFold(label, folder.Name) {
				label = "" // "Sent (Sent)" says nothing twice
			}
			form.Folders = append(form.Folders, myFolder{Name: folder.Name, Label: label, Checked: slices.Contains(chosen, folder.Name)})
		}
	}
	if r.Header.Get(testHeader) == "1" {
		answer := testAnswer{OK: form.TestOK, Text: form.TestText, Detail: form.TestDetail}
		if result.OK {
			answer.Folders = form.Folders
		}
		writeTestJSON(w, http.StatusOK, answer)
		return
	}
	render(http.StatusOK)
}

func (s *server) renderMyMailboxForm(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, form myMailboxForm) {
	var data *page
	if form.New {
		data = s.newPage(w, r, session, "page.my_mailbox_new.title", "my")
	} else {
		data = s.newPage(w, r, session, "page.mailbox.title", "my")
		data.Title = i18n.Default.T(data.Lang, "page.mailbox.title", form.Mailbox.Name)
	}
	form.SyncRanges = service.SyncRanges
	form.Summary = summaryOf(form.Errors, myMailboxFields...)
	data.Content = form
	s.render(w, r, status, "my_mailbox", data)
}

// myDeleteData is the confirmation of disconnecting a mailbox.
type myDeleteData struct {
	Mailbox service.MailboxView
}

func (s *server) deleteMyMailboxPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	m, ok, err := s.myMailbox(w, r, session)
	if !ok {
		return err
	}
	data := s.newPage(w, r, session, "page.my_mailbox_delete.title", "my")
	data.Content = myDeleteData{Mailbox: m}
	s.render(w, r, http.StatusOK, "my_delete", data)
	return nil
}

func (s *server) deleteMyMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	m, ok, err := s.myMailbox(w, r, session)
	if !ok {
		return err
	}
	if err := s.svc.DeleteMailbox(r.Context(), session.Actor, m.ID); err != nil {
		return err
	}
	s.flash(w, r, "flash.mailbox_disconnected")
	http.Redirect(w, r, myMailboxesPath, http.StatusSeeOther)
	return nil
}

// checkMyMailbox is "Receive mail now" of one of the employee's mailboxes:
// back to their list, which says a failure on the mailbox's row.
func (s *server) checkMyMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	m, ok, err := s.myMailbox(w, r, session)
	if !ok {
		return err
	}
	result, err := s.svc.CheckMailbox(r.Context(), session.Actor, m.ID)
	if err != nil {
		return err
	}
	if result.Error != "" {
		s.flash(w, r, "flash.receive_failed")
	} else {
		s.flashDone(w, r, "flash.received", result.Received, "/messages?mailbox_id="+strconv.FormatInt(m.ID, 10))
	}
	http.Redirect(w, r, myMailboxesPath, http.StatusSeeOther)
	return nil
}
