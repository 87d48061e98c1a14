package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// logPageSize is how many work log entries one page shows.
const logPageSize = 50

// logLevels are the levels the filter offers, in the order of a conversation
// with a server.
var logLevels = []string{store.LevelInfo, store.LevelRequest, store.LevelReply, store.LevelError}

// datetimeLocal is the value format of <input type="datetime-local">; the
// page reads and shows times in the reader's zone (page.Clock).
const datetimeLocal = "2006-01-02T15:04"

type logFilterForm struct {
	MailboxID string
	RuleID    string
	MessageID string
	Levels    string // the chosen levels, comma-separated (comparable, for "any filter set")
	Since     string
	Until     string
}

// logMailbox is an option of the mailbox filter.
type logMailbox struct {
	ID   string
	Name string
}

// logRow is a work log entry as the page shows it.
type logRow struct {
	store.LogEntry
	TypeLabel   string // the type through the catalog, else as stored
	MessageLink bool   // the message is there and the reader may open it
	MessageGone bool   // the message was deleted
}

type logData struct {
	Filter    logFilterForm
	Levels    []string
	Mailboxes []logMailbox // the mailboxes the reader may see, by name
	Entries   []logRow
	Errors    map[string]string
	Chosen    []string // the levels ticked
	Filtered  bool     // any filter set: the empty state says "no entries match"
	Older     string   // link to the next page, "" on the last
	Newest    string   // link back to the first page, "" on it
}

// logPage lists the work log, newest first, with keyset paging: "Older"
// carries the ID of the last entry shown, so deep pages cost the same as the
// first. The service decides what the reader may see.
func (s *server) logPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	data := s.newPage(w, r, session, "page.log.title", "log")
	query := r.URL.Query()
	mailboxID := strings.TrimSpace(query.Get("mailbox_id"))
	if mailboxID == "" {
		mailboxID = strings.TrimSpace(query.Get("mailbox")) // the short form links may use
	}
	form := logFilterForm{
		MailboxID: mailboxID,
		RuleID:    strings.TrimSpace(query.Get("rule_id")),
		MessageID: strings.TrimSpace(query.Get("message_id")),
		Levels:    strings.Join(query["level"], ","),
		Since:     strings.TrimSpace(query.Get("since")),
		Until:     strings.TrimSpace(query.Get("until")),
	}
	content := logData{Filter: form, Levels: logLevels, Errors: map[string]string{}}
	visible, err := s.visibleMailboxes(r, session.Actor)
	if err != nil {
		return err
	}
	listed := false
	for _, m := range visible {
		id := strconv.FormatInt(m.ID, 10)
		content.Mailboxes = append(content.Mailboxes, logMailbox{ID: id, Name: m.Name})
		listed = listed || id == form.MailboxID
	}
	if form.MailboxID != "" && !listed {
		// A mailbox beyond the list (or an ID typed into the URL) stays
		// selected, so the filter shown is the filter applied.
		content.Mailboxes = append(content.Mailboxes, logMailbox{ID: form.MailboxID, Name: "#" + form.MailboxID})
	}
	t := func(key string, args ...any) string { return i18n.Default.T(data.Lang, key, args...) }
	filter := store.LogFilter{Limit: logPageSize + 1}
	id := func(field, value string) int64 {
		if value == "" {
			return 0
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n <= 0 {
			content.Errors[field] = t("error.invalid", i18n.Key("field."+field))
			return 0
		}
		return n
	}
	moment := func(field, value string) time.Time {
		if value == "" {
			return time.Time{}
		}
		for _, layout := range []string{datetimeLocal, datetimeLocal + ":05"} {
			if at, err := time.ParseInLocation(layout, value, data.Clock.Zone); err == nil {
				return at
			}
		}
		// A day alone: from its start, or up to its end.
		if day, err := time.ParseInLocation(time.DateOnly, value, data.Clock.Zone); err == nil {
			if field == "until" {
				return day.AddDate(0, 0, 1) // the filter's end is exclusive
			}
			return day
		}
		// The page's own labels: its times are the reader's local ones,
		// unlike the API's RFC 3339.
		content.Errors[field] = t("error.invalid", i18n.Key("log."+field))
		return time.Time{}
	}
	filter.MailboxID = id("mailbox_id", form.MailboxID)
	filter.RuleID = id("rule_id", form.RuleID)
	filter.MessageID = id("message_id", form.MessageID)
	filter.Since = moment("since", form.Since)
	filter.Until = moment("until", form.Until)
	filter.BeforeID = id("before", strings.TrimSpace(query.Get("before")))
	for _, chosen := range query["level"] {
		chosen = strings.TrimSpace(chosen)
		if chosen == "" {
			continue
		}
		if !listContains(logLevels, chosen) {
			content.Errors["level"] = t("error.invalid", i18n.Key("field.level"))
			continue
		}
		if !listContains(filter.Levels, chosen) {
			filter.Levels = append(filter.Levels, chosen)
		}
	}
	content.Chosen = filter.Levels
	content.Filtered = form != logFilterForm{}
	if len(content.Errors) > 0 {
		data.Content = content
		s.render(w, r, http.StatusBadRequest, "log", data)
		return nil
	}
	entries, err := s.svc.LogLines(r.Context(), session.Actor, filter)
	if err != nil {
		return err
	}
	if len(entries) > logPageSize {
		entries = entries[:logPageSize]
		older := cloneQuery(query)
		older.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
		content.Older = "/log?" + older.Encode()
	}
	if filter.BeforeID != 0 {
		newest := cloneQuery(query)
		newest.Del("before")
		content.Newest = "/log"
		if encoded := newest.Encode(); encoded != "" {
			content.Newest += "?" + encoded
		}
	}
	content.Entries = make([]logRow, 0, len(entries))
	for _, entry := range entries {
		row := logRow{LogEntry: entry.LogEntry, TypeLabel: entry.Type}
		row.Text = i18n.Shorten(service.LogText(data.Lang, entry.LogEntry), logTextLength) // in the reader's language
		if entry.Type != "" {
			if key := "value.log_type." + entry.Type; t(key) != key {
				row.TypeLabel = t(key)
			}
		}
		if entry.MessageID != 0 {
			row.MessageGone = entry.MessageMailboxID == 0
			row.MessageLink = entry.MessageOpen
		}
		content.Entries = append(content.Entries, row)
	}
	data.Content = content
	s.render(w, r, http.StatusOK, "log", data)
	return nil
}

// cloneQuery copies a query without its empty values, to keep paging links
// short.
func cloneQuery(query url.Values) url.Values {
	out := url.Values{}
	for key, values := range query {
		for _, value := range values {
			if value != "" {
				out.Add(key, value)
			}
		}
	}
	return out
}
