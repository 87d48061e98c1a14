package web

import (
	"bufio"
	"encoding/csv"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// The message list (SPEC.md "Messages", List): full-text and field filters,
// sorting by date, received time, size or ID, keyset paging, a column
// chooser kept in a cookie, a row menu, group actions on the checked rows or
// on everything the filter matches, and a CSV export of the same. The view
// of one message is message_view.go's.

var messagePageSizes = []int{20, 50, 100}

const messageDefaultSize = 50

// messageSortColumns are the sortable columns, by their query names; the
// store names them the same except "received" (received_at).
var messageSortColumns = map[string]string{"date": "date", "received": "received_at", "size": "size", "id": "id"}

// messageColumns are the list's columns in their order on the page and in
// the CSV export; messageDefaultColumns those shown until a reader chooses.
var messageColumns = []string{"subject", "from", "reply_to", "to", "cc", "bcc", "date", "received", "mailbox", "size", "spam",
	"attachments", "id", "message_id"}

var messageDefaultColumns = []string{"subject", "from", "date", "mailbox", "size", "spam", "attachments", "id"}

// messageColumnsCookie remembers the chosen columns, comma-separated.
const messageColumnsCookie = "pochta_message_columns"

// messageFilterFields are the filter's query fields in the order of the
// form; group forms carry them with the prefix "f_".
var messageFilterFields = []string{"q", "id", "mailbox_id", "spam", "read", "attachments", "since", "until", "from", "to", "subject", "text"}

// messagesQuery is what the list's URL asks for.
type messagesQuery struct {
	Q, ID, MailboxID, Spam, Read, From, To, Subject, Text string
	// Attachments is "yes" or "no"; Since and Until are days (2026-12-06)
	// in the reader's zone, Until included.
	Attachments, Since, Until string

	Sort   string // a key of messageSortColumns
	Asc    bool   // oldest (smallest) first; the default is newest first
	Cursor string
	Size   int
}

func readMessagesQuery(values url.Values, prefix string) messagesQuery {
	get := func(name string) string { return strings.TrimSpace(values.Get(prefix + name)) }
	q := messagesQuery{Q: get("q"), ID: get("id"), MailboxID: get("mailbox_id"), Spam: get("spam"), Read: get("read"),
		From: get("from"), To: get("to"), Subject: get("subject"), Text: get("text"), Sort: get("sort"), Asc: get("asc") == "1",
		Attachments: get("attachments"), Since: get("since"), Until: get("until"),
		Cursor: get("cursor"), Size: readPageSize(get("size"), messagePageSizes, messageDefaultSize)}
	switch q.Spam {
	case "yes", "no", "unknown":
	default:
		q.Spam = ""
	}
	if q.Read != "yes" && q.Read != "no" {
		q.Read = ""
	}
	if q.Attachments != "yes" && q.Attachments != "no" {
		q.Attachments = ""
	}
	if _, ok := messageSortColumns[q.Sort]; !ok {
		q.Sort, q.Asc = "date", false
	}
	return q
}

func (q messagesQuery) filterValue(name string) string {
	switch name {
	case "q":
		return q.Q
	case "id":
		return q.ID
	case "mailbox_id":
		return q.MailboxID
	case "spam":
		return q.Spam
	case "read":
		return q.Read
	case "from":
		return q.From
	case "to":
		return q.To
	case "subject":
		return q.Subject
	case "text":
		return q.Text
	case "attachments":
		return q.Attachments
	case "since":
		return q.Since
	case "until":
		return q.Until
	}
	return ""
}

// FilterSet reports whether any filter field is set.
func (q messagesQuery) FilterSet() bool {
	for _, name := range messageFilterFields {
		if q.filterValue(name) != "" {
			return true
		}
	}
	return false
}

// values gives the query of q without its defaults.
func (q messagesQuery) values() url.Values {
	values := url.Values{}
	for _, name := range messageFilterFields {
		if value := q.filterValue(name); value != "" {
			values.Set(name, value)
		}
	}
	if q.Sort != "date" || q.Asc {
		values.Set("sort", q.Sort)
		if q.Asc {
			values.Set("asc", "1")
		}
	}
	if q.Size != messageDefaultSize {
		values.Set("size", strconv.Itoa(q.Size))
	}
	if q.Cursor != "" {
		values.Set("cursor", q.Cursor)
	}
	return values
}

// url gives the list's URL for q.
func (q messagesQuery) url() string { return withQuery("/messages", q.values()) }

// urlAt gives the list's URL for q at another page.
func (q messagesQuery) urlAt(cursor string) string {
	q.Cursor = cursor
	return q.url()
}

// filter turns the query into the store's filter, its days read in zone
// (the reader's); nothing is true when it cannot match a message (a
// malformed ID or day), so there is no need to ask.
func (q messagesQuery) filter(zone *time.Location) (filter store.MessageFilter, nothing bool) {
	filter = store.MessageFilter{Query: q.Q, From: q.From, To: q.To, Subject: q.Subject, Text: q.Text, Spam: q.Spam}
	ids, ok := parseIDList(q.ID)
	if !ok {
		return filter, true
	}
	filter.IDs = ids
	if q.MailboxID != "" {
		id, err := strconv.ParseInt(q.MailboxID, 10, 64)
		if err != nil || id <= 0 {
			return filter, true
		}
		filter.MailboxIDs = []int64{id}
	}
	if q.Read != "" {
		read := q.Read == "yes"
		filter.Read = &read
	}
	if q.Attachments != "" {
		has := q.Attachments == "yes"
		filter.HasAttachments = &has
	}
	for _, day := range []struct {
		text   string
		target *time.Time
		next   int // the day after, for the end of the range
	}{{q.Since, &filter.Since, 0}, {q.Until, &filter.Until, 1}} {
		if day.text == "" {
			continue
		}
		at, err := time.ParseInLocation(time.DateOnly, day.text, zone)
		if err != nil {
			return filter, true
		}
		*day.target = at.AddDate(0, 0, day.next)
	}
	return filter, false
}

func (q messagesQuery) order() store.MessageSort {
	return store.MessageSort{Column: messageSortColumns[q.Sort], Ascending: q.Asc}
}

// messageColumnChoice is one checkbox of the column chooser.
type messageColumnChoice struct {
	Name  string
	Label string
	On    bool
}

// chosenMessageColumns reads the columns cookie; no cookie, or nothing
// known in it, gives the default columns.
func chosenMessageColumns(r *http.Request) map[string]bool {
	shown := map[string]bool{}
	if cookie, err := r.Cookie(messageColumnsCookie); err == nil {
		for _, name := range strings.Split(cookie.Value, ".") {
			if listContains(messageColumns, name) {
				shown[name] = true
			}
		}
	}
	if len(shown) == 0 {
		for _, name := range messageDefaultColumns {
			shown[name] = true
		}
	}
	return shown
}

// messageColumnLabel is a column's header text.
func messageColumnLabel(lang, name string) string {
	return i18n.Default.T(lang, "messages.column."+name)
}

// messageRow is one message as the list shows it.
type messageRow struct {
	service.MessageView
	SubjectText  string // the subject shortened for the list, or "(no subject)"
	SubjectTitle string // more of a shortened subject, for the link's title; "" when whole
	SubjectRunes int    // the characters of a shortened subject, which the view folds away
	NoSubject    bool
	StatusClass  string
	StatusTitle  string
	SizeText     string
	SpamText     string
	Link         string // the view, with the list to come back to
}

// shortAddresses gives an address list as one line for a list column
// (template function "addrshort"): each address's display name, or the
// address when it has none ("Anna Petrova, bob@example.com"). The template
// puts the full list in a title.
func shortAddresses(list string) string {
	list = strings.TrimSpace(list)
	if list == "" {
		return ""
	}
	if addresses, err := mail.ParseAddressList(list); err == nil {
		names := make([]string, 0, len(addresses))
		for _, a := range addresses {
			if name := strings.TrimSpace(a.Name); name != "" {
				names = append(names, name)
			} else {
				names = append(names, a.Address)
			}
		}
		return strings.Join(names, ", ")
	}
	// Not a valid list: at least drop the angle brackets of a single
	// "Name <address>".
	if open := strings.LastIndexByte(list, '<'); open > 0 && strings.HasSuffix(list, ">") {
		if name := strings.Trim(strings.TrimSpace(list[:open]), `"`); name != "" {
			return name
		}
	}
	return list
}

// messageStatus describes a message's read and spam state for its icon.
func messageStatus(lang string, m service.MessageView) (class, title string) {
	read := "unread"
	if m.Read {
		read = "read"
	}
	spam := m.Spam
	if spam != "yes" && spam != "no" {
		spam = "unknown"
	}
	t := func(key string) string { return i18n.Default.T(lang, key) }
	return "msg-" + read + " msg-spam-" + spam, t("messages.status."+read) + ", " + t("messages.status.spam_"+spam)
}

// humanSize writes a byte count readably: 812 B, 4.2 KB, 17.0 MB, with the
// decimal separator of lang (4,2 КБ in Russian).
func humanSize(lang string, size int64) string { return i18n.Default.Size(lang, size) }

func spamText(m service.MessageView) string {
	if m.SpamRating == nil {
		return "—"
	}
	return strconv.Itoa(*m.SpamRating) + "%"
}

func newMessageRow(lang string, m service.MessageView, back string) messageRow {
	row := messageRow{MessageView: m, SubjectText: i18n.Shorten(m.Subject, listTextLength), SizeText: humanSize(lang, m.Size),
		SpamText: spamText(m), Link: messageLink(m.ID, back)}
	if row.SubjectText != m.Subject {
		row.SubjectTitle, row.SubjectRunes = i18n.Shorten(m.Subject, listTitleLength), utf8.RuneCountInString(m.Subject)
	}
	if strings.TrimSpace(m.Subject) == "" {
		row.SubjectText, row.NoSubject = i18n.Default.T(lang, "messages.no_subject"), true
	}
	row.StatusClass, row.StatusTitle = messageStatus(lang, m)
	return row
}

// messageLink is the view of a message, remembering the list it was opened
// from (for previous/next and the way back).
func messageLink(id int64, back string) string {
	link := "/messages/" + strconv.FormatInt(id, 10)
	if back != "" && back != "/messages" {
		link += "?back=" + url.QueryEscape(back)
	}
	return link
}

// messagesData is the content of the list page.
type messagesData struct {
	Rows        []messageRow
	Query       messagesQuery
	Mailboxes   []service.MailboxView
	Sizes       []int
	Sorts       map[string]listSortLink
	Show        map[string]bool
	Columns     []messageColumnChoice
	Next, First string
	Hidden      []listHidden
	Back        string
	CSV         string
	CanChange   bool
	Count       int // rows on this page
	// AddMailbox is the new mailbox form of the type the reader may add,
	// offered while they see no mailbox at all (a new admin's first page):
	// a system mailbox for an admin, their own mailbox for an employee
	// (OwnMailbox), each with its own words.
	AddMailbox string
	OwnMailbox bool
	// CanApplyRules offers "apply rules" (admins); ManualRules are the
	// rules "apply rule: <name>" offers.
	CanApplyRules bool
	ManualRules   []service.RuleView
}

func (s *server) messageChangeAllowed(w http.ResponseWriter, r *http.Request, session *service.WebSession) bool {
	return s.allowed(w, r, session.Actor.CanChangeMail())
}

// safeMessagesBack keeps a "come back to" address within the messages: the
// list, or the view of one message (with no way out of /messages/).
func safeMessagesBack(back string) string {
	path, _, _ := strings.Cut(back, "?")
	if strings.HasPrefix(back, "/messages/") && !strings.ContainsAny(back, "\\\r\n") && !strings.Contains(path, "..") {
		return back
	}
	return safeListBack(back, "/messages")
}

// listBack is the list URL a view was opened from: a /messages URL with a
// query, never another page.
func listBack(back string) string { return safeListBack(back, "/messages") }

func (s *server) messagesPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	s.renderMessages(w, r, session, r.URL.RequestURI(), http.StatusOK, func(*page, *messagesData) {})
	return nil
}

// visibleMailboxes lists the mailboxes the reader may see, for the filter.
func (s *server) visibleMailboxes(r *http.Request, actor *service.Actor) ([]service.MailboxView, error) {
	list, err := s.svc.Mailboxes(r.Context(), actor, store.MailboxFilter{}, store.MailboxSort{Column: "name"}, "", 1000)
	return list.Items, err
}

// renderMessages renders the list at listURL (a /messages URL); extra adds
// the outcome of an action.
func (s *server) renderMessages(w http.ResponseWriter, r *http.Request, session *service.WebSession, listURL string, status int, extra func(*page, *messagesData)) {
	actor := session.Actor
	parsed, err := url.Parse(listURL)
	if err != nil {
		parsed = &url.URL{Path: "/messages"}
	}
	q := readMessagesQuery(parsed.Query(), "")
	data := s.newPage(w, r, session, "page.messages.title", "messages")
	content := messagesData{Query: q, Sizes: messagePageSizes, Back: q.url(), CanChange: actor.CanChangeMail(),
		Sorts: map[string]listSortLink{}, Show: chosenMessageColumns(r)}
	mailboxes, err := s.visibleMailboxes(r, actor)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	content.Mailboxes = mailboxes
	if len(mailboxes) == 0 {
		switch {
		case actor.CanAddMailbox(store.MailboxPOP3):
			content.AddMailbox = "/mailboxes/new?type=" + store.MailboxPOP3
		case actor.CanAddMailbox(store.MailboxIMAP):
			content.AddMailbox, content.OwnMailbox = "/my/mailboxes/new", true
		}
	}
	if content.CanApplyRules = actor.CanApplyRules(); content.CanApplyRules {
		if manual, err := s.svc.ManualRules(r.Context(), actor, 0); err == nil {
			content.ManualRules = manual
		}
	}
	filter, nothing := q.filter(data.Clock.Zone)
	nextCursor := ""
	if !nothing {
		list, err := s.svc.Messages(r.Context(), actor, filter, q.order(), q.Cursor, q.Size)
		if s.listFailed(w, r, err) {
			return
		}
		for _, m := range list.Items {
			content.Rows = append(content.Rows, newMessageRow(data.Lang, m, content.Back))
		}
		nextCursor = list.NextCursor
	}
	content.Count = len(content.Rows)
	content.First, content.Next = pageLinks(q.Cursor, nextCursor, q.urlAt)
	for name := range messageSortColumns {
		link := q
		// A column's first click sorts newest (largest) first, as dates do.
		link.Cursor, link.Sort, link.Asc = "", name, name == q.Sort && !q.Asc
		content.Sorts[name] = listSortLink{URL: link.url(), Current: name == q.Sort, Desc: !q.Asc}
	}
	content.Hidden = filterHidden(messageFilterFields, q.filterValue)
	for _, name := range messageColumns {
		content.Columns = append(content.Columns, messageColumnChoice{Name: name, Label: messageColumnLabel(data.Lang, name), On: content.Show[name]})
	}
	csvQuery := q.values()
	csvQuery.Del("cursor")
	csvQuery.Del("size")
	content.CSV = withQuery("/messages.csv", csvQuery)
	data.Path = content.Back
	extra(data, &content)
	data.Content = content
	s.render(w, r, status, "messages", data)
}

// messageColumnsSave is the column chooser, a GET form: it remembers the
// checked columns in a cookie for a year and goes back to the list.
func (s *server) messageColumnsSave(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	query := r.URL.Query()
	var chosen []string
	for _, name := range messageColumns {
		if listContains(query["col"], name) {
			chosen = append(chosen, name)
		}
	}
	if query.Get("reset") != "" || len(chosen) == 0 {
		s.clearCookie(w, r, messageColumnsCookie)
	} else {
		s.setCookie(w, r, messageColumnsCookie, strings.Join(chosen, "."), 365*24*3600)
	}
	http.Redirect(w, r, listBack(query.Get("back")), http.StatusSeeOther)
	return nil
}

// messagesCSVPage is how many messages the export reads at a time.
const messagesCSVPage = 500

// messagesCSV exports every message the filter matches, with the chosen
// columns, in the list's order: UTF-8 with a byte order mark, so that
// spreadsheet programs read Cyrillic right, streamed page by page. The
// separator is the reader's language's (format.csv_separator): Excel in a
// Russian locale splits on ";" and reads "," as the decimal comma; times
// are the reader's local ones, as the page shows them.
func (s *server) messagesCSV(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	q := readMessagesQuery(r.URL.Query(), "")
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	zone := s.svc.UserLocation(r.Context(), session.Actor.User)
	filter, nothing := q.filter(zone)
	shown := chosenMessageColumns(r)
	var columns []string
	for _, name := range messageColumns {
		if shown[name] {
			columns = append(columns, name)
		}
	}
	first := service.MessagePage{}
	if !nothing {
		var err error
		first, err = s.svc.Messages(r.Context(), session.Actor, filter, q.order(), q.Cursor, messagesCSVPage)
		if s.listFailed(w, r, err) {
			return nil
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="messages-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
	h.Set("Cache-Control", "private, no-store")
	buffered := bufio.NewWriterSize(w, 32*1024)
	_, _ = buffered.WriteString("\uFEFF")
	out := csv.NewWriter(buffered)
	if separator := []rune(i18n.Default.T(lang, "format.csv_separator")); len(separator) == 1 {
		out.Comma = separator[0]
	}
	header := make([]string, len(columns))
	for i, name := range columns {
		header[i] = messageColumnLabel(lang, name)
	}
	_ = out.Write(header)
	page := first
	for {
		for _, m := range page.Items {
			record := make([]string, len(columns))
			for i, name := range columns {
				record[i] = csvSafe(messageCSVValue(zone, m, name))
			}
			if err := out.Write(record); err != nil {
				return nil
			}
		}
		out.Flush()
		if page.NextCursor == "" || r.Context().Err() != nil {
			break
		}
		next, err := s.svc.Messages(r.Context(), session.Actor, filter, q.order(), page.NextCursor, messagesCSVPage)
		if err != nil {
			s.logger.Error("web: messages csv", "error", err)
			break
		}
		page = next
	}
	out.Flush()
	_ = buffered.Flush()
	return nil
}

// messageCSVValue is one cell of the export: plain values, sizes in bytes,
// times in zone as spreadsheets read them (2026-12-06 11:05:09).
func messageCSVValue(zone *time.Location, m service.MessageView, column string) string {
	when := func(at time.Time) string {
		if at.IsZero() {
			return ""
		}
		return at.In(zone).Format(time.DateTime)
	}
	switch column {
	case "subject":
		return m.Subject
	case "from":
		return m.From
	case "reply_to":
		return m.ReplyTo
	case "to":
		return m.To
	case "cc":
		return m.Cc
	case "bcc":
		return m.Bcc
	case "date":
		return when(m.Date)
	case "received":
		return when(m.ReceivedAt)
	case "mailbox":
		return m.MailboxName
	case "size":
		return strconv.FormatInt(m.Size, 10)
	case "spam":
		if m.SpamRating == nil {
			return ""
		}
		return strconv.Itoa(*m.SpamRating)
	case "attachments":
		return strconv.Itoa(m.AttachmentN)
	case "id":
		return strconv.FormatInt(m.ID, 10)
	case "message_id":
		return m.MessageID
	}
	return ""
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet: text
// starting with = + - @ or a control character gets a leading apostrophe.
func csvSafe(value string) string {
	if value == "" {
		return value
	}
	switch value[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			return value
		}
		return "'" + value
	}
	return value
}

// messageActions are the actions of rows, groups and the view, with the
// flash each leaves.
var messageActions = map[string]string{
	service.ActionRead:    "flash.messages_read",
	service.ActionUnread:  "flash.messages_unread",
	service.ActionSpam:    "flash.messages_spam",
	service.ActionNotSpam: "flash.messages_not_spam",
	service.ActionDelete:  "flash.messages_deleted",
	// Applying rules says how many messages a rule matched (see
	// appliedFlash).
	service.ActionApplyRules: "flash.rules_applied",
}

// messagesDeleteListed is how many messages a delete confirmation names.
const messagesDeleteListed = 50

// messagesDeleteData is the confirmation page of a delete.
type messagesDeleteData struct {
	Rows  []messageRow
	More  bool // more match than are listed
	Count int
	Form  deleteForm
}

func (s *server) confirmDeleteMessages(w http.ResponseWriter, r *http.Request, session *service.WebSession, selection service.MessageSelection, hidden []listHidden, back, action string) {
	data := s.newPage(w, r, session, "page.messages_delete.title", "messages")
	content := messagesDeleteData{Form: deleteForm{Action: action, Back: back, Hidden: hidden}}
	if selection.Filter != nil {
		list, err := s.svc.Messages(r.Context(), session.Actor, *selection.Filter, store.MessageSort{}, "", messagesDeleteListed)
		if err != nil {
			s.serviceError(w, r, err)
			return
		}
		for _, m := range list.Items {
			content.Rows = append(content.Rows, newMessageRow(data.Lang, m, ""))
		}
		content.Form.All, content.More = true, list.NextCursor != ""
	} else {
		for _, id := range selection.IDs {
			m, err := s.svc.MessageSummary(r.Context(), session.Actor, id)
			if err != nil {
				s.serviceError(w, r, err)
				return
			}
			content.Rows = append(content.Rows, newMessageRow(data.Lang, m, ""))
			content.Form.IDs = append(content.Form.IDs, id)
		}
	}
	content.Count = len(content.Rows)
	content.Form.Disabled = content.Count == 0
	data.Content = content
	s.render(w, r, http.StatusOK, "messages_delete", data)
}

// messagesGroup runs a group action on the checked messages or, with
// all=1, on everything the filter in the f_ fields matches. Delete asks
// first unless confirm=yes. Applying rules runs every manual rule, or the
// one the form's rule_id names.
func (s *server) messagesGroup(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.messageChangeAllowed(w, r, session) {
		return nil
	}
	actor := session.Actor
	back := listBack(formValue(r, "back"))
	action := formValue(r, "action")
	if _, ok := messageActions[action]; !ok {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	var selection service.MessageSelection
	var hidden []listHidden
	if groupAll(r) {
		q := readMessagesQuery(r.PostForm, "f_")
		filter, nothing := q.filter(s.svc.UserLocation(r.Context(), actor.User))
		if nothing {
			filter.IDs = matchNoID()
		}
		selection.Filter = &filter
		hidden = filterHidden(messageFilterFields, q.filterValue)
	} else {
		ids, ok := s.checkedIDs(w, r, back)
		if !ok {
			return nil
		}
		selection.IDs = ids
	}
	if action == service.ActionDelete && !deleteConfirmed(r) {
		s.confirmDeleteMessages(w, r, session, selection, hidden, back, "/messages/group")
		return nil
	}
	done, err := s.applyMessageAction(r, actor, selection, action)
	if err != nil {
		return err
	}
	// Redirect after POST: F5 repeats nothing, and the address is the
	// list's, which opens again. The flash says what was done and links to
	// the rows it was done to, while they are few and still there.
	link := ""
	if action != service.ActionDelete && len(selection.IDs) > 0 && len(selection.IDs) <= messagesFlashLinked {
		ids := make([]string, len(selection.IDs))
		for i, id := range selection.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		link = "/messages?id=" + url.QueryEscape(strings.Join(ids, ","))
	}
	s.flashDone(w, r, messageGroupFlash[action], done, link)
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// messagesFlashLinked is how many changed messages a flash links to by ID.
const messagesFlashLinked = 100

// messageGroupFlash says what a group action did, with the count.
var messageGroupFlash = map[string]string{
	service.ActionRead:       "flash.messages_read_n",
	service.ActionUnread:     "flash.messages_unread_n",
	service.ActionSpam:       "flash.messages_spam_n",
	service.ActionNotSpam:    "flash.messages_not_spam_n",
	service.ActionDelete:     "flash.messages_deleted_n",
	service.ActionApplyRules: "flash.rules_applied",
}

// applyMessageAction runs a row's, a group's or the view's action; applying
// rules with a rule_id in the form applies that rule alone.
func (s *server) applyMessageAction(r *http.Request, actor *service.Actor, selection service.MessageSelection, action string) (int, error) {
	if action == service.ActionApplyRules {
		if text := formValue(r, "rule_id"); text != "" {
			id, ok := service.ParseID(text)
			if !ok {
				return 0, service.ErrNotFound
			}
			return s.svc.ApplyRules(r.Context(), actor, selection, id)
		}
	}
	return s.svc.MessageAction(r.Context(), actor, selection, action)
}
