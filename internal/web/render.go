package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pages holds one parsed template set per page: the shared layout plus the
// page's own file, which defines "content". Parsing each page separately lets
// every page define the same block names.
type pages struct {
	sets map[string]*template.Template
}

// loadPages parses every template at start-up. The templates are part of the
// binary, so an error is a programming error and panics (tests catch it).
func loadPages(statics *statics) *pages {
	funcs := template.FuncMap{
		"t":           translate,
		"datetime":    formatTime,
		"decimal":     formatDecimal,
		"addrshort":   shortAddresses,
		"listName":    func(text string) string { return i18n.Shorten(text, listNameLength) },
		"listText":    func(text string) string { return i18n.Shorten(text, listTextLength) },
		"listTitle":   func(text string) string { return i18n.Shorten(text, listTitleLength) },
		"asset":       statics.url,
		"dict":        dict,
		"serviceIcon": serviceIconURL(statics),
		"langName":    func(code string) string { return i18n.Default.T(code, "language.name") },
		// checkedType: Pochta goes and gets this type's mail (POP3, IMAP),
		// so "Receive mail now" and a check interval mean something.
		"checkedType": func(kind string) bool { t, _ := store.MailboxTypeOf(kind); return t.Checked },
		// checkEvery: the minutes between scheduled checks of a mailbox,
		// its own interval or its type's when unset (an IMAP mailbox is
		// synced every 10 minutes without one); 0 is by hand only.
		"checkEvery": func(kind string, interval int) int {
			if interval > 0 {
				return interval
			}
			t, _ := store.MailboxTypeOf(kind)
			return t.UnsetInterval
		},
		"listHas": listContains,
		"add1":    func(i int) int { return i + 1 },
		"slice4":  func(a, b, c, d string) []string { return []string{a, b, c, d} },
		"hasKey": func(m map[string]string, key string) bool {
			_, ok := m[key]
			return ok
		},
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &pages{sets: map[string]*template.Template{}}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" {
			continue
		}
		set := template.Must(template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", name))
		p.sets[base] = set
	}
	return p
}

// translate is the template function t: {{t $.Lang "key" args...}}.
func translate(lang, key string, args ...any) string {
	return i18n.Default.T(lang, key, args...)
}

// formatDecimal writes a number in the page's language (i18n
// Catalog.Decimal). No thousands separators: the pages use none.
func formatDecimal(lang string, value float64, prec int) string {
	return i18n.Default.Decimal(lang, value, prec)
}

// dict builds a map from key/value pairs, to pass several values to a
// sub-template.
func dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		key, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", pairs[i])
		}
		m[key] = pairs[i+1]
	}
	return m, nil
}

// navItem is one link of the left navigation.
type navItem struct {
	ID    string // matches page.Nav for the current page
	Path  string
	Label string
}

type navGroup struct {
	Label string
	Items []navItem
}

// languageOption is one entry of a language select, named in its own
// language so that a reader finds theirs whatever the page's language.
type languageOption struct {
	Code string
	Name string
}

// page is what the layout needs, plus the page's own Content.
type page struct {
	Lang      string
	Clock     clock // the reader's zone and format for times
	Title     string
	Nav       string
	Path      string // the current URL, to come back to after a language switch
	CSRF      string
	Signed    bool
	User      store.User
	Role      string
	Admin     bool // may change things
	ReadAll   bool // admin or auditor
	EditSelf  bool // may edit their own profile
	Groups    []navGroup
	Languages []languageOption
	Flash     string
	// FlashLink is where the flash's "Show them" goes ("" for none): the
	// rows a group action changed.
	FlashLink string
	Content   any
}

// newPage fills the layout's data for a request. session may be nil (the
// login and error pages when signed out). It consumes the flash cookie.
// formPage starts the page of an edit form for one kind of record (which is
// also its navigation item, in the plural): "page.KIND_new.title" for a new
// record, else "page.KIND.title" with the record's name in it.
func (s *server) formPage(w http.ResponseWriter, r *http.Request, session *service.WebSession, kind string, isNew bool, name string) *page {
	if isNew {
		return s.newPage(w, r, session, "page."+kind+"_new.title", kind+"s")
	}
	data := s.newPage(w, r, session, "page."+kind+".title", kind+"s")
	data.Title = i18n.Default.T(data.Lang, "page."+kind+".title", name)
	return data
}

func (s *server) newPage(w http.ResponseWriter, r *http.Request, session *service.WebSession, titleKey, nav string) *page {
	data := &page{Nav: nav, Path: r.URL.RequestURI(), Lang: requestLanguage(r)}
	for _, code := range i18n.Default.Languages() {
		data.Languages = append(data.Languages, languageOption{Code: code, Name: i18n.Default.T(code, "language.name")})
	}
	if session != nil {
		actor := session.Actor
		data.Signed = true
		data.CSRF = session.CSRFToken
		data.User = actor.User
		data.Role = actor.User.Role
		data.Admin = actor.IsAdmin()
		data.ReadAll = actor.CanReadAll()
		data.EditSelf = actor.CanEditUser(actor.User.ID)
		data.Lang = s.svc.UserLanguage(r.Context(), actor.User)
		data.Clock.Zone = s.svc.UserLocation(r.Context(), actor.User)
		data.Groups = navigation(data.Lang, actor)
		// Keep the sign-in page's language in step with the user's, also
		// after a change through the profile or by an admin.
		s.rememberLanguage(w, r, data.Lang)
	}
	data.Clock.Lang = data.Lang
	if data.Clock.Zone == nil {
		data.Clock.Zone = s.svc.ServerLocation()
	}
	data.Title = i18n.Default.T(data.Lang, titleKey)
	if cookie, err := r.Cookie(flashCookie); err == nil {
		data.Flash, data.FlashLink = readFlash(data.Lang, cookie.Value)
		s.clearCookie(w, r, flashCookie)
	}
	return data
}

// navigation builds the left menu, leaving out what the role cannot open.
func navigation(lang string, actor *service.Actor) []navGroup {
	t := func(key string) string { return i18n.Default.T(lang, key) }
	mail := navGroup{Label: t("nav.group.mail"), Items: []navItem{
		{"messages", "/messages", t("nav.messages")},
		{"log", "/log", t("nav.log")},
		{"mailboxes", "/mailboxes", t("nav.mailboxes")},
		{"services", "/services", t("nav.services")},
	}}
	if actor.CanAddMailbox(store.MailboxIMAP) && !actor.CanAssignMailboxes() {
		// An employee's own mailboxes come first: what they came for.
		mail.Items = append([]navItem{{"my", myMailboxesPath, t("nav.my_mailboxes")}}, mail.Items...)
	}
	groups := []navGroup{mail}
	if actor.CanReadAll() {
		groups[0].Items = append(groups[0].Items, navItem{"rules", "/rules", t("nav.rules")}, navItem{"spam", "/spam", t("nav.spam")},
			navItem{"settings", "/settings", t("nav.settings")})
		groups = append(groups, navGroup{Label: t("nav.group.admin"), Items: []navItem{
			{"sites", "/sites", t("nav.sites")},
			{"users", "/users", t("nav.users")},
			{"queue", "/queue", t("nav.queue")},
		}})
	}
	return groups
}

// navOf gives the navigation ID of a path: its first segment.
func navOf(p string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return first
}

// flashCookie carries a catalog key (never free text) from a POST to the page
// it redirects to: "Settings saved" after redirect-after-POST; with a count
// and a link to the rows it names after a group action ("Messages marked
// read: 2. Show them"): "key|count|escaped link".
const flashCookie = "pochta_flash"

func (s *server) flash(w http.ResponseWriter, r *http.Request, key string) {
	s.setCookie(w, r, flashCookie, key, 60)
}

// flashDone is the flash of a group action: key says what was done with
// the count, link (a list of this app, or "") shows the rows.
func (s *server) flashDone(w http.ResponseWriter, r *http.Request, key string, count int, link string) {
	s.setCookie(w, r, flashCookie, key+"|"+strconv.Itoa(count)+"|"+url.QueryEscape(link), 60)
}

// readFlash says a flash cookie's value: a catalog key of a flash, with a
// count when it has one, and a link within the app's lists.
func readFlash(lang, value string) (text, link string) {
	key, rest, counted := strings.Cut(value, "|")
	if !strings.HasPrefix(key, "flash.") || i18n.Default.T(lang, key) == key {
		return "", ""
	}
	if !counted {
		return i18n.Default.T(lang, key), ""
	}
	countText, escaped, _ := strings.Cut(rest, "|")
	count, err := strconv.Atoi(countText)
	if err != nil || count < 0 {
		return "", ""
	}
	if unescaped, err := url.QueryUnescape(escaped); err == nil {
		for _, list := range []string{"/messages", "/mailboxes"} {
			if unescaped != "" && safeListBack(unescaped, list) == unescaped {
				link = unescaped
			}
		}
	}
	return i18n.Default.T(lang, key, count), link
}

// render executes a page into a buffer first, so a template error gives a
// clean 500 rather than half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, data *page) {
	set, ok := s.pages.sets[name]
	if !ok {
		s.logger.Error("web: no such template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.logger.Error("web: render", "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// errorData is the content of the error page.
type errorData struct {
	Status  int
	Message string
}

// renderError shows a plain error page in the reader's language.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, key string) {
	title := "page.error.title"
	switch status {
	case http.StatusForbidden:
		title = "page.forbidden.title"
	case http.StatusNotFound:
		title = "page.not_found.title"
	}
	data := s.newPage(w, r, sessionFrom(r), title, navOf(r.URL.Path))
	data.Content = errorData{Status: status, Message: i18n.Default.T(data.Lang, key)}
	s.render(w, r, status, "error", data)
}

// statics serves the embedded CSS and JS. URLs carry a hash of the content,
// so browsers may cache them for good and still see every change.
type statics struct {
	files   fs.FS
	hashes  map[string]string
	handler http.Handler
}

func loadStatics() *statics {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	st := &statics{files: sub, hashes: map[string]string{}}
	// Every file, in sub-folders too (icons/), is known by its path.
	err = fs.WalkDir(sub, ".", func(name string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		content, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		st.hashes[name] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		panic(err)
	}
	st.handler = http.StripPrefix("/static/", http.FileServerFS(sub))
	return st
}

// url gives the cache-busting URL of a static file.
func (st *statics) url(name string) string {
	return "/static/" + name + "?v=" + st.hashes[name]
}

func (st *statics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	hash, ok := st.hashes[name]
	if !ok {
		http.NotFound(w, r) // no directory listings, nothing but the known files
		return
	}
	if r.URL.Query().Get("v") == hash {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	st.handler.ServeHTTP(w, r)
}

// summaryItem is one line of the error summary above a form, linking to the
// field it is about.
type summaryItem struct {
	Field   string
	Message string
}

// summaryOf lists field errors in the order the fields appear on the page
// (order), then any others by name, for the summary above a form.
func summaryOf(fieldErrors map[string]string, order ...string) []summaryItem {
	var items []summaryItem
	seen := map[string]bool{}
	said := map[string]bool{} // one message for several fields (a clash) is listed once
	for _, name := range order {
		if message, ok := fieldErrors[name]; ok && !seen[name] {
			seen[name] = true
			if !said[message] {
				items = append(items, summaryItem{Field: name, Message: message})
				said[message] = true
			}
		}
	}
	var rest []string
	for name := range fieldErrors {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		if message := fieldErrors[name]; !said[message] {
			items = append(items, summaryItem{Field: name, Message: message})
			said[message] = true
		}
	}
	return items
}

// confirmData is the content of the confirmation page shown before a delete:
// the page itself is the server-side confirm step, so deleting works, and
// stays deliberate, without JavaScript.
type confirmData struct {
	Question string
	Note     string         // what else the delete touches, when anything
	Option   *confirmOption // a choice that goes with the delete, when there is one
	Action   string         // where the confirming form posts
	Cancel   string         // where "Cancel" goes
	Error    string         // why a confirmed delete did not happen
}

// confirmOption is a checkbox on a confirmation page ("also delete ..."),
// sent as Name=yes when ticked.
type confirmOption struct {
	Name  string
	Label string
}

// formValue gives a trimmed form field.
func formValue(r *http.Request, name string) string {
	return strings.TrimSpace(r.PostForm.Get(name))
}

// formHas reports whether the form sent a field at all.
func formHas(r *http.Request, name string) bool {
	_, ok := r.PostForm[name]
	return ok
}
