package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// privacyFixture is user A's private things, and what a look at them may
// never show another user: A's mailbox, message, attachment, log line,
// rule and token, and the texts that would tell of them.
type privacyFixture struct {
	ts                                                  *testServer
	aliceID, mailboxID, messageID, attachmentID, ruleID int64
	tokenID                                             int64
	secrets                                             []string
}

func newPrivacyFixture(t *testing.T) *privacyFixture {
	t.Helper()
	ctx := context.Background()
	ts := newTestServer(t)
	alice := ts.addUser(t, "alice", store.RoleUser)
	ts.addUser(t, "bob", store.RoleUser)
	ts.addUser(t, "audit", store.RoleAuditor)
	mailbox, err := ts.env.Service.CreateMailbox(ctx, alice, service.MailboxInput{Type: mblPtr(store.MailboxIMAP),
		Name: mblPtr("Alicebox Secret"), ServiceID: mblPtr(findService(t, ts, "gmail").ID),
		Login: mblPtr("alice.private@gmail.com"), Password: mblPtr("alice-mail-secret")})
	if err != nil {
		t.Fatal(err)
	}
	messageID := msgImport(t, ts, mailbox.ID, msgMail{From: "Confidant <confidant@example.com>", To: "alice.private@gmail.com",
		Subject: "Quarterly salaries", Date: msgDay(3), Text: "Do not share",
		Attachment: &msgPart{Name: "salaries-table.pdf", Type: "application/pdf", Data: []byte("%PDF-1.4 numbers")}}.raw())
	attachments, err := ts.env.Store.Attachments(ctx, messageID)
	if err != nil || len(attachments) != 1 {
		t.Fatalf("attachments: %v %v", attachments, err)
	}
	if err := ts.env.Store.AddLog(ctx, store.LogEntry{Level: store.LevelInfo, Type: "imap", MailboxID: mailbox.ID,
		Text: "Alice log line of her sync"}); err != nil {
		t.Fatal(err)
	}
	rule, err := ts.env.Service.CreateRule(ctx, ts.env.Admin, service.RuleInput{Name: mblPtr("Alice rule Secret"),
		MailboxID:  service.Optional[int64]{Set: true, Value: &mailbox.ID},
		Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"salaries"}}},
		Actions:    &service.RuleActionsInput{Delete: mblPtr(true)}})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := ts.env.Service.CreateToken(ctx, alice, alice.User.ID, "Alice token Secret")
	if err != nil {
		t.Fatal(err)
	}
	return &privacyFixture{ts: ts, aliceID: alice.User.ID, mailboxID: mailbox.ID, messageID: messageID,
		attachmentID: attachments[0].ID, ruleID: rule.ID, tokenID: token.ID,
		secrets: []string{"Alicebox Secret", "alice.private", "Quarterly salaries", "Do not share", "salaries-table",
			"Alice log line", "Alice rule Secret", "Alice token Secret", "confidant@example.com"}}
}

// snapshot is what a refused request must leave as it was.
func (f *privacyFixture) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	m, err := f.ts.env.Store.MailboxByID(ctx, f.mailboxID)
	if err != nil {
		return "mailbox gone: " + err.Error()
	}
	msg, err := f.ts.env.Store.MessageByID(ctx, f.messageID)
	if err != nil {
		return "message gone: " + err.Error()
	}
	rule, err := f.ts.env.Store.RuleByID(ctx, f.ruleID)
	if err != nil {
		return "rule gone: " + err.Error()
	}
	tokens, err := f.ts.env.Store.Tokens(ctx, f.aliceID)
	if err != nil {
		t.Fatal(err)
	}
	user, err := f.ts.env.Store.UserByID(ctx, f.aliceID)
	if err != nil {
		return "user gone: " + err.Error()
	}
	return fmt.Sprintf("mailbox %s %v %s %v %s; message %v %v; rule %s %v; tokens %d; user %s %v %s",
		m.Name, m.Active, m.Login, m.Folders, m.UpdatedAt, msg.Read, msg.Spam, rule.Name, rule.Active, len(tokens),
		user.Login, user.Active, user.UpdatedAt)
}

// webRoutes gives every route of the web admin as server.go registers
// it, so that a route added there is a route this test must know.
func webRoutes(t *testing.T) []string {
	t.Helper()
	source, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, m := range regexp.MustCompile(`mux\.Handle(?:Func)?\("([^"]+)"`).FindAllStringSubmatch(string(source), -1) {
		routes = append(routes, m[1])
	}
	if len(routes) < 50 {
		t.Fatalf("only %d routes found in server.go", len(routes))
	}
	return routes
}

// privacyCase is how the walk requests one route with A's IDs.
type privacyCase struct {
	path string
	form url.Values
	// open: the route shows bob something of his own (a list, a form, a
	// service of his site) and may answer 200 or redirect, as long as
	// nothing of alice's is in it and nothing changed.
	open bool
	// refused: another status that refuses the request (the OAuth
	// callback's 400 for a state that is not of this session).
	refused int
}

func (f *privacyFixture) cases() map[string]privacyCase {
	mailbox, message, attachment := mblID(f.mailboxID), mblID(f.messageID), mblID(f.attachmentID)
	rule, user, token := mblID(f.ruleID), mblID(f.aliceID), mblID(f.tokenID)
	return map[string]privacyCase{
		"GET /static/":              {path: "/static/app.css", open: true},
		"GET /login":                {path: "/login", open: true},
		"POST /login":               {path: "/login", form: url.Values{"login": {"alice"}, "password": {"wrong"}}, open: true},
		"POST /logout":              {path: "/logout", open: true},
		"GET /{$}":                  {path: "/", open: true},
		"GET /messages":             {path: "/messages?mailbox_id=" + mailbox + "&q=salaries&id=" + message, open: true},
		"GET /messages.csv":         {path: "/messages.csv?mailbox_id=" + mailbox + "&id=" + message, open: true},
		"GET /messages/columns":     {path: "/messages/columns?mailbox_id=" + mailbox, open: true},
		"POST /messages/group":      {path: "/messages/group", form: url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": {message}}, open: true},
		"GET /messages/{id}":        {path: "/messages/" + message},
		"GET /messages/{id}/html":   {path: "/messages/" + message + "/html"},
		"GET /messages/{id}/source": {path: "/messages/" + message + "/source"},
		"GET /messages/{id}/raw":    {path: "/messages/" + message + "/raw"},
		"GET /messages/{id}/attachments/{attachment}": {path: "/messages/" + message + "/attachments/" + attachment},
		"GET /messages/{id}/delete":                   {path: "/messages/" + message + "/delete"},
		"POST /messages/{id}/action":                  {path: "/messages/" + message + "/action", form: url.Values{"action": {"delete"}, "confirm": {"yes"}}},
		"GET /rules":                                  {path: "/rules?mailbox_id=" + mailbox},
		"GET /rules/new":                              {path: "/rules/new?mailbox_id=" + mailbox},
		"GET /rules/test":                             {path: "/rules/test?message_id=" + message},
		"POST /rules/test":                            {path: "/rules/test", form: url.Values{"message_id": {message}, "mailbox_id": {mailbox}}},
		"POST /rules":                                 {path: "/rules", form: url.Values{"name": {"x"}, "mailbox_id": {mailbox}}},
		"POST /rules/group":                           {path: "/rules/group", form: url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": {rule}}},
		"GET /rules/{id}":                             {path: "/rules/" + rule},
		"POST /rules/{id}":                            {path: "/rules/" + rule, form: url.Values{"name": {"x"}}},
		"POST /rules/{id}/active":                     {path: "/rules/" + rule + "/active", form: url.Values{"active": {""}}},
		"POST /rules/{id}/sort":                       {path: "/rules/" + rule + "/sort", form: url.Values{"sort": {"1"}}},
		"GET /rules/{id}/delete":                      {path: "/rules/" + rule + "/delete"},
		"GET /mailboxes":                              {path: "/mailboxes?kind=all&id=" + mailbox + "&name=Alicebox", open: true},
		"POST /mailboxes/group":                       {path: "/mailboxes/group", form: url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": {mailbox}}, open: true},
		"POST /mailboxes/{id}/rename":                 {path: "/mailboxes/" + mailbox + "/rename", form: url.Values{"name": {"Taken"}}},
		"POST /mailboxes/{id}/active":                 {path: "/mailboxes/" + mailbox + "/active", form: url.Values{"active": {"0"}}},
		"POST /mailboxes/{id}/check":                  {path: "/mailboxes/" + mailbox + "/check"},
		"POST /mailboxes/check":                       {path: "/mailboxes/check", open: true},
		"GET /mailboxes/checked":                      {path: "/mailboxes/checked?r=" + mailbox + ".5&r=" + mailbox + ".login", open: true},
		"GET /mailboxes/{id}/delete":                  {path: "/mailboxes/" + mailbox + "/delete"},
		"GET /mailboxes/new":                          {path: "/mailboxes/new?type=imap", open: true},
		"POST /mailboxes":                             {path: "/mailboxes", form: url.Values{"type": {"imap"}, "owner_id": {user}, "name": {"x"}}, open: true},
		"GET /mailboxes/{id}":                         {path: "/mailboxes/" + mailbox},
		"POST /mailboxes/{id}":                        {path: "/mailboxes/" + mailbox, form: url.Values{"name": {"Taken"}, "type": {"imap"}}},
		"GET /my/mailboxes":                           {path: "/my/mailboxes", open: true},
		"GET /my/mailboxes/new":                       {path: "/my/mailboxes/new", open: true},
		"POST /my/mailboxes":                          {path: "/my/mailboxes", form: url.Values{"service_id": {"999999"}}},
		"GET /my/mailboxes/{id}":                      {path: "/my/mailboxes/" + mailbox},
		"POST /my/mailboxes/{id}":                     {path: "/my/mailboxes/" + mailbox, form: url.Values{"name": {"Taken"}, "login": {"x"}}},
		"POST /my/mailboxes/{id}/check":               {path: "/my/mailboxes/" + mailbox + "/check"},
		"GET /my/mailboxes/{id}/delete":               {path: "/my/mailboxes/" + mailbox + "/delete"},
		"POST /my/mailboxes/{id}/delete":              {path: "/my/mailboxes/" + mailbox + "/delete"},
		"GET /services":                               {path: "/services", open: true},
		"GET /services/new":                           {path: "/services/new"},
		"POST /services":                              {path: "/services", form: url.Values{"name": {"x"}, "site": {"s1"}}},
		"POST /services/group":                        {path: "/services/group", form: url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": {"1"}}},
		"GET /services/{id}":                          {path: "/services/1", open: true},
		"POST /services/{id}":                         {path: "/services/1", form: url.Values{"name": {"x"}}},
		"GET /services/{id}/logo":                     {path: "/services/1/logo", open: true},
		"GET /services/{id}/delete":                   {path: "/services/1/delete"},
		"GET /log":                                    {path: "/log?mailbox_id=" + mailbox + "&q=Alice", open: true},
		"GET /queue":                                  {path: "/queue"},
		"POST /queue/{id}/retry":                      {path: "/queue/1/retry"},
		"GET /queue/{id}/delete":                      {path: "/queue/1/delete"},
		"POST /queue/{id}/delete":                     {path: "/queue/1/delete", form: url.Values{"confirm": {"yes"}}},
		"GET /settings":                               {path: "/settings"},
		"POST /settings":                              {path: "/settings", form: url.Values{"log_keep_days": {"1"}}},
		"POST /settings/smtp":                         {path: "/settings/smtp", form: url.Values{"action": {"stop"}}},
		"GET /spam":                                   {path: "/spam"},
		"POST /spam/train":                            {path: "/spam/train?class=spam", form: url.Values{"raw": {"Subject: x"}}},
		"GET /sites":                                  {path: "/sites", open: true},
		"GET /sites/new":                              {path: "/sites/new"},
		"POST /sites":                                 {path: "/sites", form: url.Values{"code": {"s9"}, "name": {"x"}}},
		"GET /sites/{code}":                           {path: "/sites/s1", open: true},
		"POST /sites/{code}":                          {path: "/sites/s1", form: url.Values{"name": {"x"}}},
		"GET /sites/{code}/delete":                    {path: "/sites/s1/delete"},
		"POST /sites/{code}/delete":                   {path: "/sites/s1/delete", form: url.Values{"confirm": {"yes"}}},
		"GET /users":                                  {path: "/users?login=alice", open: true},
		"GET /users/new":                              {path: "/users/new"},
		"POST /users":                                 {path: "/users", form: url.Values{"login": {"x"}, "password": {"long-enough-1"}}},
		"GET /users/{id}":                             {path: "/users/" + user},
		"POST /users/{id}":                            {path: "/users/" + user, form: url.Values{"name": {"x"}, "active": {""}}},
		"GET /users/{id}/delete":                      {path: "/users/" + user + "/delete"},
		"POST /users/{id}/delete":                     {path: "/users/" + user + "/delete", form: url.Values{"confirm": {"yes"}}},
		"POST /users/{id}/token":                      {path: "/users/" + user + "/token", form: url.Values{"name": {"x"}}},
		"GET /users/{id}/tokens/{token}/revoke":       {path: "/users/" + user + "/tokens/" + token + "/revoke"},
		"POST /users/{id}/tokens/{token}/revoke":      {path: "/users/" + user + "/tokens/" + token + "/revoke"},
		"GET /profile":                                {path: "/profile", open: true},
		"POST /profile":                               {path: "/profile", form: url.Values{"name": {"Bob"}}, open: true},
		"POST /profile/language":                      {path: "/profile/language", form: url.Values{"language": {"en"}}, open: true},
		"POST /profile/tokens":                        {path: "/profile/tokens", form: url.Values{"name": {"Bob's"}}, open: true},
		"GET /profile/tokens/{id}/revoke":             {path: "/profile/tokens/" + token + "/revoke"},
		"POST /profile/tokens/{id}/revoke":            {path: "/profile/tokens/" + token + "/revoke"},
		"GET /my/oauth/start":                         {path: "/my/oauth/start?mailbox=" + mailbox},
		"GET /my/oauth/callback":                      {path: "/my/oauth/callback?state=alices-state&code=alices-code", refused: http.StatusBadRequest},
		"/":                                           {path: "/nothing-here"},
	}
}

// Issue 15's privacy walk: every route of the web admin, as user B with
// user A's IDs, answers 403 or 404 (or B's own page, with nothing of A's in
// it), and changes nothing of A's.
func TestPrivacyWalkWeb(t *testing.T) {
	f := newPrivacyFixture(t)
	cases := f.cases()
	routes := webRoutes(t)
	sort.Strings(routes)
	for _, route := range routes {
		if _, ok := cases[route]; !ok {
			t.Errorf("route %q has no case in the privacy walk", route)
		}
	}
	bob := f.ts.signIn(t, "bob", "password-bob")
	for _, route := range routes {
		c, ok := cases[route]
		if !ok {
			continue
		}
		method, _, found := strings.Cut(route, " ")
		if !found {
			method = http.MethodGet
		}
		t.Run(route, func(t *testing.T) {
			before := f.snapshot(t)
			var r result
			if method == http.MethodPost {
				form := url.Values{}
				for key, values := range c.form {
					form[key] = values
				}
				r = bob.postForm(c.path, form)
			} else {
				r = bob.get(c.path)
			}
			if route == "POST /logout" || route == "POST /login" {
				bob = f.ts.signIn(t, "bob", "password-bob") // signed out by the route
			}
			switch {
			case r.status == http.StatusForbidden || r.status == http.StatusNotFound:
			case c.refused != 0 && r.status == c.refused:
			case c.open && (r.status == http.StatusOK || r.status == http.StatusSeeOther || r.status == http.StatusUnprocessableEntity || r.status == http.StatusFound):
			default:
				t.Errorf("%s %s: status %d\n%.600s", method, c.path, r.status, r.body)
			}
			for _, secret := range f.secrets {
				if strings.Contains(r.body, secret) || strings.Contains(r.header.Get("Location"), secret) {
					t.Errorf("%s %s tells %q", method, c.path, secret)
				}
			}
			// The counts of A's mailbox are not told either: its one
			// message is not among B's.
			if r.status == http.StatusOK && strings.Contains(r.body, `href="/messages/`+strconv.FormatInt(f.messageID, 10)+`"`) {
				t.Errorf("%s %s links A's message", method, c.path)
			}
			if after := f.snapshot(t); after != before {
				t.Errorf("%s %s changed A's things:\nbefore %s\nafter  %s", method, c.path, before, after)
			}
		})
	}
}

// An auditor reads, and every POST of the web admin but signing in and
// out and their own profile is refused.
func TestPrivacyAuditorChangesNothing(t *testing.T) {
	f := newPrivacyFixture(t)
	cases := f.cases()
	// Their own sign-in, profile and tokens are theirs to change; the
	// dry run of the rules is a read that auditors may do.
	own := map[string]bool{"POST /login": true, "POST /logout": true, "POST /profile": true, "POST /profile/language": true,
		"POST /profile/tokens": true, "POST /rules/test": true}
	audit := f.ts.signIn(t, "audit", "password-audit")
	for _, route := range webRoutes(t) {
		if !strings.HasPrefix(route, "POST ") || own[route] {
			continue
		}
		t.Run(route, func(t *testing.T) {
			c := cases[route]
			before := f.snapshot(t)
			form := url.Values{}
			for key, values := range c.form {
				form[key] = values
			}
			r := audit.postForm(c.path, form)
			// Another's token is not found for an auditor's own-token
			// route; everything else is forbidden.
			if r.status != http.StatusForbidden && !(route == "POST /profile/tokens/{id}/revoke" && r.status == http.StatusNotFound) {
				t.Errorf("POST %s as auditor: status %d\n%.400s", c.path, r.status, r.body)
			}
			if after := f.snapshot(t); after != before {
				t.Errorf("POST %s as auditor changed:\nbefore %s\nafter  %s", c.path, before, after)
			}
		})
	}
}
