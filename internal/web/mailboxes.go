package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// The mailbox list (SPEC.md "Mailboxes"): filter, sort, keyset paging,
// inline rename and on/off, a row menu, and group actions on the checked
// rows or on everything the filter matches. The form of one mailbox is
// mailbox_form.go's.

// mailboxPageSizes are the page sizes the list offers (mailboxDefaultSize
// when none is asked for).
var mailboxPageSizes = []int{20, 50, 100}

const mailboxDefaultSize = 50

// mailboxSortColumns are the columns the list sorts by (the store's names).
var mailboxSortColumns = []string{"name", "active", "server", "type", "site", "updated_at", "id"}

// kindAll is the kind filter's value for every type; the others are the
// store's kinds (store.MailboxType).
const kindAll = "all"

// kindTypes gives the mailbox types the kind filter means; nil for a kind
// the filter does not offer.
func kindTypes(kind string) []string {
	if kind == kindAll {
		return store.MailboxTypeNames()
	}
	return store.MailboxTypesOfKind(kind)
}

// mailboxFilterFields are the query fields of the filter, in the order of
// the form; the group form carries them with the prefix "f_".
var mailboxFilterFields = []string{"id", "name", "type", "server", "kind", "active", "site"}

// mailboxesQuery is what the list's URL asks for.
type mailboxesQuery struct {
	ID     string // one ID or several, separated by commas or spaces
	Name   string
	Type   string // "", pop3, smtp or imap
	Server string
	Kind   string // system, user or all
	Active string // "", "yes" or "no"
	Site   string // a site code
	Sort   string
	Desc   bool
	Cursor string
	Size   int

	defaultKind string
}

// readMailboxesQuery reads the list's query (or, with prefix "f_", the
// filter a group form carries), falling back to the defaults for anything
// missing or unknown. The kind defaults to system mailboxes, or to user
// mailboxes for a user, whose own mailboxes are all user ones.
func readMailboxesQuery(values url.Values, prefix string, actor *service.Actor) mailboxesQuery {
	get := func(name string) string { return strings.TrimSpace(values.Get(prefix + name)) }
	q := mailboxesQuery{ID: get("id"), Name: get("name"), Type: get("type"), Server: get("server"), Kind: get("kind"),
		Active: get("active"), Site: get("site"), Sort: get("sort"), Desc: get("desc") == "1", Cursor: get("cursor"),
		defaultKind: store.KindSystem}
	if actor != nil && !actor.CanReadAll() {
		q.defaultKind = store.KindUser
		q.Site = "" // a user's mailboxes are all of their own site
	}
	if kindTypes(q.Kind) == nil {
		q.Kind = q.defaultKind
	}
	if _, known := store.MailboxTypeOf(q.Type); !known {
		q.Type = ""
	}
	if q.Active != "yes" && q.Active != "no" {
		q.Active = ""
	}
	if !listContains(mailboxSortColumns, q.Sort) {
		q.Sort, q.Desc = "name", false
	}
	q.Size = readPageSize(get("size"), mailboxPageSizes, mailboxDefaultSize)
	return q
}

// filterValue gives the query value of one filter field.
func (q mailboxesQuery) filterValue(name string) string {
	switch name {
	case "id":
		return q.ID
	case "name":
		return q.Name
	case "type":
		return q.Type
	case "server":
		return q.Server
	case "kind":
		return q.Kind
	case "active":
		return q.Active
	case "site":
		return q.Site
	}
	return ""
}

// FilterSet reports whether the filter differs from the default one.
func (q mailboxesQuery) FilterSet() bool {
	return q.ID != "" || q.Name != "" || q.Type != "" || q.Server != "" || q.Kind != q.defaultKind || q.Active != "" || q.Site != ""
}

// url gives the list's URL for q, leaving out defaults to keep it short.
func (q mailboxesQuery) url() string {
	values := url.Values{}
	for _, name := range mailboxFilterFields {
		if value := q.filterValue(name); value != "" && !(name == "kind" && value == q.defaultKind) {
			values.Set(name, value)
		}
	}
	if q.Sort != "name" || q.Desc {
		values.Set("sort", q.Sort)
		if q.Desc {
			values.Set("desc", "1")
		}
	}
	if q.Size != mailboxDefaultSize {
		values.Set("size", strconv.Itoa(q.Size))
	}
	if q.Cursor != "" {
		values.Set("cursor", q.Cursor)
	}
	return withQuery("/mailboxes", values)
}

// urlAt gives the list's URL for q at another page.
func (q mailboxesQuery) urlAt(cursor string) string {
	q.Cursor = cursor
	return q.url()
}

// filter turns the query into the store's filter. nothing is true when the
// query cannot match any mailbox (a malformed ID, an unknown site, a
// protocol outside the kind), so there is no need to ask.
func (q mailboxesQuery) filter(sites []store.Site) (filter store.MailboxFilter, nothing bool) {
	filter = store.MailboxFilter{Name: q.Name, Server: q.Server}
	ids, ok := parseIDList(q.ID)
	if !ok {
		return filter, true
	}
	filter.IDs = ids
	for _, kind := range kindTypes(q.Kind) {
		if q.Type == "" || q.Type == kind {
			filter.Types = append(filter.Types, kind)
		}
	}
	if len(filter.Types) == 0 {
		return filter, true
	}
	if q.Active != "" {
		active := q.Active == "yes"
		filter.Active = &active
	}
	if q.Site != "" {
		siteID, ok := siteIDByCode(sites, q.Site)
		if !ok {
			return filter, true
		}
		filter.SiteID = siteID
	}
	return filter, false
}

// mailboxesData is the content of the list page.
type mailboxesData struct {
	Rows      []service.MailboxView
	Total     int64
	Query     mailboxesQuery
	Sites     []store.Site
	Sizes     []int
	Sorts     map[string]listSortLink
	Next      string // the next page's URL, "" on the last
	First     string // the first page's URL, "" on the first
	Hidden    []listHidden
	Back      string                 // this list's URL, to come back to after an action
	CanChange bool                   // may rename, switch, check, delete and add
	AddSystem bool                   // may add system mailboxes (admins)
	Failed    []service.GroupFailure // what an action could not change, and why
}

// mailboxesDeleteData is the confirmation page of a delete.
type mailboxesDeleteData struct {
	Mailboxes []service.MailboxView
	Total     int64 // how many are to be deleted
	More      int64 // matching ones not listed
	Messages  int64
	Rules     int64
	Form      deleteForm
}

// filterSites are the sites the filter offers: every site to admins and
// auditors, none to a user, whose mailboxes are all of their own site.
func (s *server) filterSites(r *http.Request, actor *service.Actor) ([]store.Site, error) {
	if !actor.CanReadAll() {
		return nil, nil
	}
	return s.svc.Sites(r.Context(), actor)
}

// mailboxesPage lists mailboxes. Which ones a reader sees is the service's
// to decide: everything for admins and auditors, their own for a user.
func (s *server) mailboxesPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	s.renderMailboxes(w, r, session, r.URL.RequestURI(), http.StatusOK, func(*page, *mailboxesData) {})
	return nil
}

// renderMailboxes renders the list at listURL (a safe /mailboxes URL),
// which is the request's own URL for GET and the list a POST came from
// otherwise; extra adds a notice or the result of an action.
func (s *server) renderMailboxes(w http.ResponseWriter, r *http.Request, session *service.WebSession, listURL string, status int, extra func(*page, *mailboxesData)) {
	actor := session.Actor
	parsed, err := url.Parse(listURL)
	if err != nil {
		parsed = &url.URL{Path: "/mailboxes"}
	}
	q := readMailboxesQuery(parsed.Query(), "", actor)
	content := mailboxesData{Query: q, Sizes: mailboxPageSizes, Back: q.url(), CanChange: actor.CanChangeMail(),
		AddSystem: actor.CanAddMailbox(store.MailboxPOP3), Sorts: map[string]listSortLink{}}
	sites, err := s.filterSites(r, actor)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	content.Sites = sites
	filter, nothing := q.filter(sites)
	nextCursor := ""
	if !nothing {
		list, err := s.svc.Mailboxes(r.Context(), actor, filter, store.MailboxSort{Column: q.Sort, Descending: q.Desc}, q.Cursor, q.Size)
		if s.listFailed(w, r, err) {
			return
		}
		content.Total = list.Total
		content.Rows = list.Items
		nextCursor = list.NextCursor
	}
	content.First, content.Next = pageLinks(q.Cursor, nextCursor, q.urlAt)
	for _, column := range mailboxSortColumns {
		link := q
		link.Cursor, link.Sort, link.Desc = "", column, column == q.Sort && !q.Desc
		content.Sorts[column] = listSortLink{URL: link.url(), Current: column == q.Sort, Desc: q.Desc}
	}
	content.Hidden = filterHidden(mailboxFilterFields, q.filterValue)
	data := s.newPage(w, r, session, "page.mailboxes.title", "mailboxes")
	data.Path = content.Back
	extra(data, &content)
	data.Content = content
	s.render(w, r, status, "mailboxes", data)
}

// safeMailboxesBack keeps a "come back to" address within the list.
func safeMailboxesBack(back string) string { return safeListBack(back, "/mailboxes") }

// mailboxChangeAllowed answers 403 to a reader who may change nothing
// (auditors), before anything else is looked at.
func (s *server) mailboxChangeAllowed(w http.ResponseWriter, r *http.Request, session *service.WebSession) bool {
	return s.allowed(w, r, session.Actor.CanChangeMail())
}

// mailboxErrorText gives the text of an error a change of one mailbox
// returned, when it is the person's to fix (a bad name, an address in use);
// ok is false for anything else, which is the error page's.
func (s *server) mailboxErrorText(r *http.Request, session *service.WebSession, err error) (text string, ok bool) {
	language := s.svc.UserLanguage(r.Context(), session.Actor.User)
	var validation *service.ValidationError
	var conflict *service.ConflictError
	switch {
	case errors.As(err, &validation):
		var texts []string
		for _, item := range summaryOf(validation.Translated(language), "name", "active") {
			texts = append(texts, item.Message)
		}
		return strings.Join(texts, "; "), true
	case errors.As(err, &conflict):
		return i18n.Default.Message(language, conflict.Message), true
	case errors.Is(err, service.ErrInvalidText):
		return i18n.Default.T(language, "error.invalid_text"), true
	}
	return "", false
}

// mailboxChanged finishes an inline change: back to the list with a flash,
// or the list again with the reason when the change was refused.
func (s *server) mailboxChanged(w http.ResponseWriter, r *http.Request, session *service.WebSession, id int64, err error, flash string) {
	back := safeMailboxesBack(formValue(r, "back"))
	if err != nil {
		text, ok := s.mailboxErrorText(r, session, err)
		if !ok {
			s.serviceError(w, r, err)
			return
		}
		name := ""
		if m, err := s.svc.Mailbox(r.Context(), session.Actor, id); err == nil {
			name = m.Name
		}
		s.renderMailboxes(w, r, session, back, http.StatusUnprocessableEntity, func(data *page, content *mailboxesData) {
			content.Failed = []service.GroupFailure{{ID: id, Name: name, Error: text}}
		})
		return
	}
	s.flash(w, r, flash)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// renameMailbox is the list's inline edit of a name.
func (s *server) renameMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.mailboxChangeAllowed(w, r, session) {
		return nil
	}
	name := formValue(r, "name")
	_, err := s.svc.UpdateMailbox(r.Context(), session.Actor, id, service.MailboxInput{Name: &name})
	s.mailboxChanged(w, r, session, id, err, "flash.mailbox_renamed")
	return nil
}

// switchMailbox is the list's inline on/off: active=1 or active=0.
func (s *server) switchMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.mailboxChangeAllowed(w, r, session) {
		return nil
	}
	var active bool
	switch formValue(r, "active") {
	case "1":
		active = true
	case "0":
	default:
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	err := s.svc.SetMailboxActive(r.Context(), session.Actor, id, active)
	flash := "flash.mailbox_deactivated"
	if active {
		flash = "flash.mailbox_activated"
	}
	s.mailboxChanged(w, r, session, id, err, flash)
	return nil
}

// checkMailbox is "Check now": it receives mail for the mailbox at once and
// sends the browser to the page that says "Received N new messages" or the
// server's error, with links to the mailbox's messages and its log.
func (s *server) checkMailbox(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.mailboxChangeAllowed(w, r, session) {
		return nil
	}
	result, err := s.svc.CheckMailbox(r.Context(), session.Actor, id)
	if err != nil {
		return err
	}
	s.redirectChecked(w, r, []service.CheckResult{result})
	return nil
}

// checkAllMailboxes is "Receive mail now" for every POP3 mailbox the
// actor may check.
func (s *server) checkAllMailboxes(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.mailboxChangeAllowed(w, r, session) {
		return nil
	}
	results, err := s.svc.CheckAll(r.Context(), session.Actor)
	if err != nil {
		return err
	}
	s.redirectChecked(w, r, results)
	return nil
}

// checkedListed is how many results the page after "Receive mail now"
// names; the address holds each as a few characters.
const checkedListed = 300

// redirectChecked sends the browser after a POST of "Receive mail now" to
// /mailboxes/checked, which says the outcome: F5 there receives nothing
// again, and the address opens again. The address carries each mailbox's
// ID and count, or the kind of its error ("12.3", "14.login"); the page
// reads the names and the error's own text from the mailboxes, so that an
// address made up elsewhere can say no text of its own.
func (s *server) redirectChecked(w http.ResponseWriter, r *http.Request, results []service.CheckResult) {
	values := url.Values{}
	for i, result := range results {
		if i == checkedListed {
			values.Set("more", strconv.Itoa(len(results)-checkedListed))
			break
		}
		outcome := strconv.Itoa(result.Received)
		if result.Error != "" {
			outcome = "other"
			if result.Reason != "" {
				outcome = string(result.Reason)
			}
		}
		values.Add("m", strconv.FormatInt(result.MailboxID, 10)+"."+outcome)
	}
	if back := safeMailboxesBack(formValue(r, "back")); back != "/mailboxes" {
		values.Set("back", back)
	}
	http.Redirect(w, r, "/mailboxes/checked?"+values.Encode(), http.StatusSeeOther)
}

// checkedData is the content of the "Receive mail now" results page.
type checkedData struct {
	Results []service.CheckResult
	More    int // results past those listed
	Back    string
}

// checkedPage says the outcome of "Receive mail now" (see redirectChecked).
func (s *server) checkedPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	data := s.newPage(w, r, session, "page.checked.title", "mailboxes")
	query := r.URL.Query()
	content := checkedData{Back: safeMailboxesBack(query.Get("back"))}
	content.More, _ = strconv.Atoi(query.Get("more"))
	for _, item := range query["m"] {
		idText, outcome, _ := strings.Cut(item, ".")
		id, ok := service.ParseID(idText)
		if !ok {
			continue
		}
		mailbox, err := s.svc.Mailbox(r.Context(), session.Actor, id)
		if err != nil {
			continue // gone since, or not the reader's: nothing to say
		}
		result := service.CheckResult{MailboxID: id, Name: mailbox.Name}
		if received, err := strconv.Atoi(outcome); err == nil && received >= 0 {
			result.Received = received
		} else {
			key := "fetch_error." + outcome
			if text := i18n.Default.T(data.Lang, key); text != key && !strings.ContainsAny(outcome, "./ ") {
				result.Error = text
			} else {
				result.Error = i18n.Default.T(data.Lang, "fetch_error.other")
			}
			result.Detail = mailbox.LastError
		}
		content.Results = append(content.Results, result)
	}
	data.Content = content
	s.render(w, r, http.StatusOK, "checked", data)
	return nil
}

// deleteMailboxPage asks before deleting one mailbox: the group
// confirmation page with that mailbox alone.
func (s *server) deleteMailboxPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.mailboxChangeAllowed(w, r, session) {
		return nil
	}
	s.confirmDeleteMailboxes(w, r, session, service.MailboxSelection{IDs: []int64{id}}, nil, safeMailboxesBack(r.URL.Query().Get("back")))
	return nil
}

// mailboxesDeleteListed is how many mailboxes the confirmation of a delete
// of everything matching a filter names; the rest it counts.
const mailboxesDeleteListed = 50

func (s *server) confirmDeleteMailboxes(w http.ResponseWriter, r *http.Request, session *service.WebSession, selection service.MailboxSelection, hidden []listHidden, back string) {
	content := mailboxesDeleteData{Form: deleteForm{Action: "/mailboxes/group", Back: back, Hidden: hidden}}
	add := func(m service.MailboxView) {
		content.Mailboxes = append(content.Mailboxes, m)
		content.Messages += m.MessagesTotal
		content.Rules += m.RulesCount
	}
	if selection.Filter != nil {
		list, err := s.svc.Mailboxes(r.Context(), session.Actor, *selection.Filter, store.MailboxSort{Column: "name"}, "", mailboxesDeleteListed)
		if err != nil {
			s.serviceError(w, r, err)
			return
		}
		for _, m := range list.Items {
			add(m)
		}
		content.Form.All, content.Total, content.More = true, list.Total, list.Total-int64(len(list.Items))
		content.Form.Disabled = list.Total == 0
	} else {
		for _, id := range selection.IDs {
			m, err := s.svc.Mailbox(r.Context(), session.Actor, id)
			if err != nil {
				s.serviceError(w, r, err)
				return
			}
			add(m)
			content.Form.IDs = append(content.Form.IDs, m.ID)
		}
		content.Total = int64(len(content.Mailboxes))
	}
	data := s.newPage(w, r, session, "page.mailboxes_delete.title", "mailboxes")
	data.Content = content
	s.render(w, r, http.StatusOK, "mailboxes_delete", data)
}

// mailboxesGroup runs a group action: activate, deactivate or delete (which
// asks first unless confirm=yes), on the checked mailboxes or, with all=1,
// on everything the filter carried in the f_ fields matches. The list comes
// back with "Done: N" and a line for each mailbox that could not be changed.
func (s *server) mailboxesGroup(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.mailboxChangeAllowed(w, r, session) {
		return nil
	}
	actor := session.Actor
	back := safeMailboxesBack(formValue(r, "back"))
	action := formValue(r, "action")
	if action != service.GroupActivate && action != service.GroupDeactivate && action != service.GroupDelete {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	var selection service.MailboxSelection
	var hidden []listHidden
	if groupAll(r) {
		q := readMailboxesQuery(r.PostForm, "f_", actor)
		sites, err := s.filterSites(r, actor)
		if err != nil {
			return err
		}
		filter, nothing := q.filter(sites)
		if nothing {
			filter.IDs = matchNoID()
		}
		selection.Filter = &filter
		hidden = filterHidden(mailboxFilterFields, q.filterValue)
	} else {
		ids, ok := s.checkedIDs(w, r, back)
		if !ok {
			return nil
		}
		selection.IDs = ids
	}
	if action == service.GroupDelete && !deleteConfirmed(r) {
		s.confirmDeleteMailboxes(w, r, session, selection, hidden, back)
		return nil
	}
	language := s.svc.UserLanguage(r.Context(), actor.User)
	result, err := s.svc.MailboxGroupAction(r.Context(), actor, selection, action, language)
	if err != nil {
		return err
	}
	// Redirect after POST: F5 repeats nothing. The mailboxes that could
	// not be changed are linked by ID, to open and see why.
	if len(result.Failed) > 0 {
		ids := make([]string, 0, len(result.Failed))
		for _, failed := range result.Failed {
			ids = append(ids, strconv.FormatInt(failed.ID, 10))
		}
		s.flashDone(w, r, "flash.mailboxes_failed_n", len(result.Failed), "/mailboxes?kind=all&id="+url.QueryEscape(strings.Join(ids, ",")))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	s.flashDone(w, r, "flash.mailboxes_"+action+"_n", result.Done, "")
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}
