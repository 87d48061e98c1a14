package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// addMailbox inserts a bare mailbox row owned by ownerID (the mailbox
// service comes in a later issue) and gives its ID.
func addMailbox(t *testing.T, st *store.Store, name string, ownerID int64) int64 {
	t.Helper()
	ctx := context.Background()
	site, err := st.SiteByCode(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMicro()
	var id int64
	err = st.DB().QueryRowContext(ctx, st.Rebind(`INSERT INTO mailboxes (site_id, type, name, created_at, updated_at, owner_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		site.ID, "imap", name, now, now, ownerID).Scan(&id)
	if err != nil {
		t.Fatalf("insert mailbox: %v", err)
	}
	return id
}

// logFixture is a work log with rows of a user's mailbox, of the admin's
// mailbox and of no mailbox, an hour apart, oldest first.
type logFixture struct {
	h          *harness
	own, other int64
	start      time.Time
	texts      []string // oldest first
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	h := newHarness(t)
	f := &logFixture{h: h, start: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	f.own = addMailbox(t, h.env.Store, "user's", h.userID)
	f.other = addMailbox(t, h.env.Store, "admin's", h.adminID)
	rows := []store.LogEntry{
		{Level: store.LevelInfo, Type: "fetch", Text: "own 1", MailboxID: f.own},
		{Level: store.LevelRequest, Type: "fetch", Text: "other 1", MailboxID: f.other},
		{Level: store.LevelError, Type: "fetch", Text: "own 2", MailboxID: f.own},
		{Level: store.LevelInfo, Type: "system", Text: "no mailbox"},
		{Level: store.LevelReply, Type: "fetch", Text: "own 3", MailboxID: f.own},
		{Level: store.LevelError, Type: "fetch", Text: "other 2", MailboxID: f.other},
	}
	for i := range rows {
		rows[i].Time = f.start.Add(time.Duration(i) * time.Hour)
		f.texts = append(f.texts, rows[i].Text)
	}
	if err := h.env.Store.AddLog(context.Background(), rows...); err != nil {
		t.Fatal(err)
	}
	return f
}

// list gives the text of every row a request finds, following cursors.
func (f *logFixture) list(t *testing.T, auth, query string) string {
	t.Helper()
	var texts []string
	path := "/api/v1/log?" + query
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page := decodeAs[listBody[logEntry]](t, f.h.expect(t, http.StatusOK, auth, "GET", path, ""))
		for _, entry := range page.Items {
			texts = append(texts, entry.Text)
		}
		if page.NextCursor == "" {
			return strings.Join(texts, ",")
		}
		path = "/api/v1/log?" + query + "&cursor=" + page.NextCursor
	}
}

func TestLogFilters(t *testing.T) {
	f := newLogFixture(t)
	h := f.h
	all := "other 2,own 3,no mailbox,own 2,other 1,own 1"
	tests := []struct {
		auth, query, want string
	}{
		{h.admin, "", all},
		{h.auditor, "", all},
		{h.admin, "limit=2", all},
		{h.admin, "limit=1", all},
		{h.admin, fmt.Sprintf("mailbox_id=%d", f.other), "other 2,other 1"},
		{h.admin, "level=error", "other 2,own 2"},
		// Several levels, as the web admin's filter takes them: repeated,
		// comma-separated, or both.
		{h.admin, "level=error&level=reply", "other 2,own 3,own 2"},
		{h.admin, "level=error,reply", "other 2,own 3,own 2"},
		{h.admin, "level=error,+reply&level=info&level=error", "other 2,own 3,no mailbox,own 2,own 1"},
		{h.user, "level=error,request", "own 2"},
		{h.admin, "since=" + f.start.Add(2*time.Hour).Format(time.RFC3339) + "&until=2024-05-01T14:00:00%2B00:00", "no mailbox,own 2"},
		{h.admin, "until=2024-05-01T11:30:00.5Z", "other 1,own 1"},
		{h.admin, "rule_id=7", ""},
		{h.admin, "message_id=7", ""},
		// A user sees only the rows of the mailboxes they own.
		{h.user, "", "own 3,own 2,own 1"},
		{h.user, "limit=1", "own 3,own 2,own 1"},
		{h.user, "level=error", "own 2"},
		{h.user, fmt.Sprintf("mailbox_id=%d", f.other), ""},
	}
	for _, test := range tests {
		if got := f.list(t, test.auth, test.query); got != test.want {
			t.Errorf("%q: %s, want %s", test.query, got, test.want)
		}
	}
}

func TestLogEntryJSON(t *testing.T) {
	f := newLogFixture(t)
	page := decodeAs[listBody[map[string]any]](t, f.h.expect(t, http.StatusOK, f.h.admin, "GET", "/api/v1/log?level=info", ""))
	if len(page.Items) != 2 {
		t.Fatalf("items = %v", page.Items)
	}
	noMailbox, own := page.Items[0], page.Items[1]
	for _, field := range []string{"id", "time", "level", "type", "text", "mailbox_id", "rule_id", "message_id"} {
		if _, ok := noMailbox[field]; !ok {
			t.Errorf("log entry lacks %q: %v", field, noMailbox)
		}
	}
	if noMailbox["mailbox_id"] != nil || own["mailbox_id"] != float64(f.own) {
		t.Errorf("mailbox_id = %v and %v, want null and %d", noMailbox["mailbox_id"], own["mailbox_id"], f.own)
	}
	if noMailbox["time"] != "2024-05-01T13:00:00Z" {
		t.Errorf("time = %v", noMailbox["time"])
	}
}

func TestLogBadQuery(t *testing.T) {
	f := newLogFixture(t)
	russian := f.h.addAdmin(t, "ivan", "ru")
	tests := []struct {
		auth, query, field, want string
	}{
		{f.h.admin, "level=debug", "level", "Level must be info, request, reply or error"},
		{f.h.admin, "level=error,debug", "level", "Level must be info, request, reply or error"},
		{f.h.admin, "level=error&level=ERROR", "level", "Level must be info, request, reply or error"},
		{f.h.admin, "since=yesterday", "since", "Since must be a time in RFC 3339 form, such as 2024-05-01T10:00:00Z"},
		{f.h.admin, "until=2024-05-01", "until", "Until must be a time in RFC 3339 form, such as 2024-05-01T10:00:00Z"},
		{f.h.admin, "limit=0", "limit", "Limit must be a whole number from 1 to 1000"},
		{f.h.admin, "limit=ten", "limit", "Limit must be a whole number from 1 to 1000"},
		{f.h.admin, "mailbox_id=-3", "mailbox_id", "Mailbox ID is not valid"},
		{f.h.admin, "rule_id=x", "rule_id", "Rule ID is not valid"},
		{f.h.admin, "message_id=1.5", "message_id", "Message ID is not valid"},
		{f.h.admin, "cursor=!!", "cursor", "Cursor is not valid"},
		{russian, "limit=5000", "limit", "Поле «Количество» должно быть целым числом от 1 до 1000"},
	}
	for _, test := range tests {
		got := decodeAs[errorBody](t, f.h.expect(t, http.StatusBadRequest, test.auth, "GET", "/api/v1/log?"+test.query, ""))
		if got.Fields[test.field] != test.want {
			t.Errorf("%s: fields = %v, want %s = %q", test.query, got.Fields, test.field, test.want)
		}
	}
}

// A page of the largest size asks the service for exactly that many rows
// (the service turns larger requests into its default of 100).
func TestLogLargestPage(t *testing.T) {
	f := newLogFixture(t)
	rows := make([]store.LogEntry, 1100)
	for i := range rows {
		rows[i] = store.LogEntry{Level: store.LevelInfo, Text: "bulk"}
	}
	if err := f.h.env.Store.AddLog(context.Background(), rows...); err != nil {
		t.Fatal(err)
	}
	first := decodeAs[listBody[logEntry]](t, f.h.expect(t, http.StatusOK, f.h.admin, "GET", "/api/v1/log?limit=1000", ""))
	if len(first.Items) != 1000 || first.NextCursor == "" {
		t.Fatalf("first page: %d items, cursor %q", len(first.Items), first.NextCursor)
	}
	second := decodeAs[listBody[logEntry]](t, f.h.expect(t, http.StatusOK, f.h.admin, "GET", "/api/v1/log?limit=1000&cursor="+first.NextCursor, ""))
	if len(second.Items) != 1100+len(f.texts)-1000 {
		t.Fatalf("second page: %d items", len(second.Items))
	}
	if second.NextCursor == "" {
		return
	}
	third := decodeAs[listBody[logEntry]](t, f.h.expect(t, http.StatusOK, f.h.admin, "GET", "/api/v1/log?limit=1000&cursor="+second.NextCursor, ""))
	if len(third.Items) != 0 || third.NextCursor != "" {
		t.Fatalf("third page: %+v", third)
	}
}
