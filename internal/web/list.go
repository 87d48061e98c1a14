package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/store"
)

// The plumbing the list pages (mailboxes, messages, mail services, users)
// share: page sizes, ID lists, paging links, the "come back to" address,
// and the group form that acts on the checked rows or, with all=1, on
// everything the filter in its f_ fields matches. What a list shows and
// which actions it offers stay in its own file.

// Long texts in lists and the log: a subject or an address list is shown
// up to listTextLength characters, and a name, a description or a subject
// in a narrow column up to listNameLength, with an ellipsis; the row's
// title holds up to listTitleLength, and the view of the message or
// mailbox the whole text.
// A megabyte subject is legal mail and must not make a list page megabytes
// (template functions listName, listText, listTitle).
const (
	listNameLength  = 80
	listTextLength  = 150
	listTitleLength = 1000
	// logTextLength is the most of one work log line the log page shows:
	// a row keeps up to 64 lines of a conversation with a server, and a
	// server's reply line may be 64 KB. The API gives the whole text.
	logTextLength = 4000
)

// listSortLink is one sortable column header.
type listSortLink struct {
	URL     string
	Current bool
	Desc    bool
}

// listHidden is a hidden input of a form.
type listHidden struct {
	Name  string
	Value string
}

func listContains(list []string, value string) bool {
	for _, item := range list {
		if item == value {
			return true
		}
	}
	return false
}

// withQuery gives path with the query, or path alone when there is none.
func withQuery(path string, values url.Values) string {
	if len(values) == 0 {
		return path
	}
	return path + "?" + values.Encode()
}

// readPageSize reads the size a list URL asks for; only the offered sizes
// count, anything else gives the default, so a URL cannot ask for a page
// of any size.
func readPageSize(text string, sizes []int, defaultSize int) int {
	if size, err := strconv.Atoi(text); err == nil {
		for _, allowed := range sizes {
			if size == allowed {
				return size
			}
		}
	}
	return defaultSize
}

// parseIDList reads the ID filter of a list: one ID or several, separated
// by commas, spaces or semicolons. ok is false when any of them is not a
// positive number: such a filter matches nothing.
func parseIDList(text string) (ids []int64, ok bool) {
	for _, field := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		id, err := strconv.ParseInt(field, 10, 64)
		if err != nil || id <= 0 {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// pageLinks gives the links of a keyset-paged list: back to the first page
// (not on the first page itself) and on to the next (not on the last).
// urlAt is the list's URL with its query at a cursor, "" for the first page.
func pageLinks(cursor, nextCursor string, urlAt func(cursor string) string) (first, next string) {
	if cursor != "" {
		first = urlAt("")
	}
	if nextCursor != "" {
		next = urlAt(nextCursor)
	}
	return first, next
}

// queryLink gives path with the reader's query, but with key set to value,
// or without key when value is "": the paging links of lists that page by
// an ID in the URL. Empty fields are left out to keep the links short.
func queryLink(path string, query url.Values, key, value string) string {
	values := cloneQuery(query)
	if value == "" {
		values.Del(key)
	} else {
		values.Set(key, value)
	}
	return withQuery(path, values)
}

// siteIDByCode finds the site a filter names by its code; ok is false when
// no site has that code, and such a filter matches nothing.
func siteIDByCode(sites []store.Site, code string) (id int64, ok bool) {
	for _, site := range sites {
		if site.Code == code {
			return site.ID, true
		}
	}
	return 0, false
}

// listFailed answers the error of reading a page of a list, if any: 400 for
// a cursor that is not one of ours (an edited or very old URL), else the
// service's error page. It reports whether it answered.
func (s *server) listFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	if errors.Is(err, store.ErrBadCursor) {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_cursor")
		return true
	}
	if err != nil {
		s.serviceError(w, r, err)
		return true
	}
	return false
}

// safeListBack keeps a "come back to" address on the list at path (with any
// query), so that a form cannot be made to redirect elsewhere or to break a
// header; anything else comes back to the list itself.
func safeListBack(back, path string) string {
	if strings.ContainsAny(back, "\\\r\n") {
		return path
	}
	if back == path || strings.HasPrefix(back, path+"?") {
		return back
	}
	return path
}

// filterHidden carries a list's filter in a group form, as hidden f_ fields
// in the order of the filter form, so that "all matching" acts on what the
// reader saw listed.
func filterHidden(fields []string, value func(name string) string) []listHidden {
	hidden := make([]listHidden, 0, len(fields))
	for _, name := range fields {
		hidden = append(hidden, listHidden{Name: "f_" + name, Value: value(name)})
	}
	return hidden
}

// groupAll reports whether a group form asks for everything the filter
// matches rather than the checked rows.
func groupAll(r *http.Request) bool {
	return formValue(r, "all") != ""
}

// matchNoID is an ID filter that matches no row: a group action on a filter
// that cannot match anything still goes through the service, which says
// "Done: 0", rather than dropping the filter and acting on everything.
func matchNoID() []int64 { return []int64{-1} }

// formIDs reads the checked IDs of a group form; ok is false when one is
// not a positive number.
func formIDs(r *http.Request) ([]int64, bool) {
	var ids []int64
	for _, text := range r.PostForm["id"] {
		id, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil || id <= 0 {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// checkedIDs reads the checked rows of a group form. When there is nothing
// to act on it has answered already (ok is false): 400 for a malformed ID,
// or back to the list with "Check at least one row first".
func (s *server) checkedIDs(w http.ResponseWriter, r *http.Request, back string) (ids []int64, ok bool) {
	ids, ok = formIDs(r)
	if !ok {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil, false
	}
	if len(ids) == 0 {
		s.flash(w, r, "flash.nothing_checked")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil, false
	}
	return ids, true
}

// deleteConfirmed reports whether a delete comes from its confirmation
// page; without confirm=yes the page asks first, so deleting works without
// JavaScript and stays deliberate.
func deleteConfirmed(r *http.Request) bool {
	return formValue(r, "confirm") == "yes"
}

// deleteForm is the confirming form of a delete of several rows: it posts
// the same group action again with confirm=yes, on the same IDs or, with
// All, on the same filter.
type deleteForm struct {
	Action   string // where the form posts
	Back     string // where "Cancel" goes, and the list to come back to
	All      bool   // everything the filter in Hidden matches
	Hidden   []listHidden
	IDs      []int64 // the rows, unless All
	Disabled bool    // nothing to delete
}

// allowed answers 403 unless ok, so that a handler can refuse a reader
// before anything else is looked at.
func (s *server) allowed(w http.ResponseWriter, r *http.Request, ok bool) bool {
	if !ok {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
	}
	return ok
}

// defaultSiteCode is the site a new record starts in, "" when there is no
// default site.
func (s *server) defaultSiteCode(r *http.Request) string {
	if site, err := s.svc.DefaultSite(r.Context()); err == nil {
		return site.Code
	}
	return ""
}
