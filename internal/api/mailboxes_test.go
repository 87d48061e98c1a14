package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
)

// mailboxIDs gives the IDs of a list response, in order.
func mailboxIDs(list mailboxList) []int64 {
	ids := []int64{}
	for _, m := range list.Items {
		ids = append(ids, m.ID)
	}
	return ids
}

// createMailbox creates a mailbox as auth and gives it.
func createMailbox(t *testing.T, h *harness, auth, body string) service.MailboxView {
	t.Helper()
	rec := h.expect(t, http.StatusCreated, auth, "POST", "/api/v1/mailboxes", body)
	m := decodeAs[service.MailboxView](t, rec)
	if got, want := rec.Header().Get("Location"), fmt.Sprintf("/api/v1/mailboxes/%d", m.ID); got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	return m
}

const (
	pop3Body = `{"type":"pop3","name":"Support","server":"pop.example.com","login":"support","password":"pop3-secret-1"}`
	smtpBody = `{"type":"smtp","name":"Inbound","port":2525,"domains":["example.com"]}`
)

func imapBody(serviceID, ownerID int64) string {
	return fmt.Sprintf(`{"type":"imap","name":"Mine","server":"imap.example.com","login":"me","password":"imap-secret-1","service_id":%d,"owner_id":%d}`, serviceID, ownerID)
}

func TestMailboxesCRUD(t *testing.T) {
	h := newHarness(t)
	empty := decodeAs[mailboxList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/mailboxes", ""))
	if empty.Items == nil || len(empty.Items) != 0 || empty.Total != 0 || empty.NextCursor != "" {
		t.Fatalf("empty list = %+v", empty)
	}
	raw := decodeAs[map[string]any](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/mailboxes", ""))
	for _, field := range []string{"items", "next_cursor", "total"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("list JSON lacks %q: %v", field, raw)
		}
	}

	pop3 := createMailbox(t, h, h.admin, pop3Body)
	if pop3.Type != "pop3" || pop3.Site != "s1" || !pop3.Active || pop3.Port != 110 || !pop3.HasPassword || pop3.Login != "support" {
		t.Errorf("pop3 = %+v", pop3)
	}
	smtp := createMailbox(t, h, h.admin, smtpBody)
	if smtp.Server != "*" || smtp.Port != 2525 || smtp.HasPassword || !reflect.DeepEqual(smtp.Domains, []string{"example.com"}) {
		t.Errorf("smtp = %+v", smtp)
	}
	imap := createMailbox(t, h, h.admin, imapBody(firstServiceID(t, h), h.userID))
	if imap.ServiceID == nil || imap.OwnerID == nil || *imap.OwnerID != h.userID || !reflect.DeepEqual(imap.Folders, []string{"INBOX"}) || imap.SyncRange != "month" {
		t.Errorf("imap = %+v", imap)
	}
	got := decodeAs[map[string]any](t, h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/mailboxes/%d", pop3.ID), ""))
	for _, field := range strings.Split("id site type active name description server port security verify_cert login apop delete_from_server "+
		"check_interval domains relay relay_auth_only max_messages max_message_size_kb keep_days charset service_id owner_id web_url folders "+
		"sync_range created_at updated_at last_check_at last_error messages_total messages_new has_password", " ") {
		if _, ok := got[field]; !ok {
			t.Errorf("mailbox JSON lacks %q", field)
		}
	}

	list := func(query string) mailboxList {
		t.Helper()
		return decodeAs[mailboxList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/mailboxes"+query, ""))
	}
	for query, want := range map[string][]int64{
		"":                       {pop3.ID, smtp.ID, imap.ID},
		"?kind=system":           {pop3.ID, smtp.ID},
		"?kind=user":             {imap.ID},
		"?type=smtp&type=imap":   {smtp.ID, imap.ID},
		"?type=imap&kind=system": {},
		"?type=pop3&kind=system": {pop3.ID},
		"?name=SUPP":             {pop3.ID},
		"?server=imap.example":   {imap.ID},
		"?active=false":          {},
		"?active=true&site=s1":   {pop3.ID, smtp.ID, imap.ID},
		"?sort=-id":              {imap.ID, smtp.ID, pop3.ID},
		"?sort=name":             {smtp.ID, imap.ID, pop3.ID},
		"?sort=-type":            {smtp.ID, pop3.ID, imap.ID},
		fmt.Sprintf("?id=%d&id=%d", pop3.ID, imap.ID): {pop3.ID, imap.ID},
	} {
		got := list(query)
		if ids := mailboxIDs(got); !reflect.DeepEqual(ids, want) || got.Total != int64(len(want)) {
			t.Errorf("%q: ids %v total %d, want %v", query, ids, got.Total, want)
		}
	}

	// Paging: limit and cursor walk the list; total counts all matches.
	var walked []int64
	query := "?limit=1&sort=-name"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page := list(query)
		if page.Total != 3 || len(page.Items) > 1 {
			t.Fatalf("page %+v", page)
		}
		walked = append(walked, mailboxIDs(page)...)
		if page.NextCursor == "" {
			break
		}
		query = "?limit=1&sort=-name&cursor=" + url.QueryEscape(page.NextCursor)
	}
	if want := []int64{pop3.ID, imap.ID, smtp.ID}; !reflect.DeepEqual(walked, want) {
		t.Errorf("walked %v, want %v", walked, want)
	}

	for query, field := range map[string]string{
		"?limit=0": "limit", "?limit=1001": "limit", "?cursor=garbage!": "cursor", "?type=mbox": "type", "?kind=all": "kind",
		"?sort=password": "sort", "?sort=--id": "sort", "?active=1": "active", "?site=nowhere": "site", "?id=x": "id",
	} {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "GET", "/api/v1/mailboxes"+query, ""))
		if got.Fields[field] == "" {
			t.Errorf("%s: fields = %v, want %s", query, got.Fields, field)
		}
	}

	path := fmt.Sprintf("/api/v1/mailboxes/%d", pop3.ID)
	h.expect(t, http.StatusNoContent, h.admin, "DELETE", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "PATCH", path, `{"name":"Again"}`)
	h.expect(t, http.StatusNotFound, h.admin, "DELETE", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", "/api/v1/mailboxes/0", "")
}

func TestMailboxFieldErrors(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		body   string
		fields map[string]string
	}{
		{`{"type":"pop3"}`, map[string]string{"name": "Name is required", "server": "Mail server (POP3) is required", "login": "Login is required", "password": "Password is required"}},
		{`{}`, map[string]string{"type": "Type must be pop3, smtp or imap"}},
		{`{"type":"mbox","name":"x"}`, map[string]string{"type": "Type must be pop3, smtp or imap"}},
		{`{"type":"imap","name":"x","server":"imap.example.com","login":"a","password":"b"}`, map[string]string{"service_id": "", "owner_id": ""}},
		{`{"type":"smtp","name":"x","port":0}`, map[string]string{"port": ""}},
		{`{"type":"pop3","name":"x","server":"pop.example.com","login":"a","password":"b","keep_days":-1,"charset":"klingon","security":"ssl","web_url":"javascript:x"}`,
			map[string]string{"keep_days": "", "charset": "", "security": "", "web_url": ""}},
	} {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/mailboxes", c.body))
		for field, text := range c.fields {
			if got.Fields[field] == "" || (text != "" && got.Fields[field] != text) {
				t.Errorf("%s: fields[%s] = %q, want %q (%v)", c.body, field, got.Fields[field], text, got.Fields)
			}
		}
	}
	h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/mailboxes", `{"type":"pop3","name":"x","password_enc":"AAAA"}`)
	h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/mailboxes", `{"type":"pop3","name":"x","has_password":true}`)

	pop3 := createMailbox(t, h, h.admin, pop3Body)
	path := fmt.Sprintf("/api/v1/mailboxes/%d", pop3.ID)
	for body, field := range map[string]string{`{"type":"smtp"}`: "type", `{"site":"x1"}`: "site", `{"name":" "}`: "name", `{"port":70000}`: "port"} {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "PATCH", path, body))
		if got.Fields[field] == "" {
			t.Errorf("PATCH %s: fields = %v, want %s", body, got.Fields, field)
		}
	}
	if after := decodeAs[service.MailboxView](t, h.expect(t, http.StatusOK, h.admin, "GET", path, "")); !reflect.DeepEqual(after, pop3) {
		t.Errorf("failed PATCHes changed the mailbox:\n%+v\n%+v", after, pop3)
	}
}

// roundTrip PATCHes body and checks that PATCH and GET answer every field of
// it with the value sent (password aside: it shows as has_password).
func roundTrip(t *testing.T, h *harness, id int64, body string) {
	t.Helper()
	var sent map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &sent); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/mailboxes/%d", id)
	patched := decodeAs[map[string]json.RawMessage](t, h.expect(t, http.StatusOK, h.admin, "PATCH", path, body))
	got := decodeAs[map[string]json.RawMessage](t, h.expect(t, http.StatusOK, h.admin, "GET", path, ""))
	for field, value := range sent {
		if field == "password" {
			continue
		}
		var want, have, fromPatch any
		json.Unmarshal(value, &want)
		json.Unmarshal(got[field], &have)
		json.Unmarshal(patched[field], &fromPatch)
		if !reflect.DeepEqual(want, have) || !reflect.DeepEqual(want, fromPatch) {
			t.Errorf("%s: sent %s, PATCH gave %s, GET gives %s", field, value, patched[field], got[field])
		}
	}
	if string(got["has_password"]) != "true" && sent["password"] != nil {
		t.Errorf("has_password = %s after a password was set", got["has_password"])
	}
}

// Every MailboxInput field that applies to a type survives a PATCH and a GET.
func TestMailboxPatchRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"x1","name":"Other"}`)
	services := decodeAs[listBody[service.MailServiceView]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/services?site=s1", ""))
	pop3 := createMailbox(t, h, h.admin, pop3Body)
	smtp := createMailbox(t, h, h.admin, smtpBody)
	imap := createMailbox(t, h, h.admin, imapBody(services.Items[0].ID, h.userID))

	roundTrip(t, h, pop3.ID, `{"type":"pop3","site":"s1","active":false,"name":"Sales","description":"Sales desk","server":"mail.example.org","port":995,
		"security":"tls","verify_cert":false,"login":"sales","password":"new-pop3-secret","apop":true,"delete_from_server":true,"check_interval":15,
		"max_messages":500,"max_message_size_kb":2048,"keep_days":30,"charset":"windows-1251","web_url":"https://mail.example.org/"}`)
	roundTrip(t, h, pop3.ID, `{"active":true,"description":"","security":"starttls","verify_cert":true,"apop":false,"delete_from_server":false,
		"check_interval":0,"max_messages":0,"max_message_size_kb":0,"keep_days":0,"charset":"","web_url":""}`)

	roundTrip(t, h, smtp.ID, `{"type":"smtp","site":"s1","active":false,"name":"Relay","description":"Outbound relay","server":"127.0.0.1","port":2526,
		"domains":["example.com","example.net"],"relay":true,"relay_auth_only":true,"max_messages":100,"max_message_size_kb":10240,"keep_days":7,
		"charset":"koi8-r","web_url":"http://relay.example.com/"}`)
	roundTrip(t, h, smtp.ID, `{"active":true,"server":"*","port":2527,"domains":[],"relay":false,"relay_auth_only":false,"description":""}`)

	roundTrip(t, h, imap.ID, fmt.Sprintf(`{"type":"imap","site":"s1","active":false,"name":"Personal","description":"My mail","server":"imap.example.org",
		"port":143,"security":"starttls","verify_cert":false,"login":"me@example.org","password":"new-imap-secret","check_interval":5,"max_messages":50,
		"max_message_size_kb":1024,"keep_days":90,"charset":"utf-8","service_id":%d,"owner_id":%d,"web_url":"https://webmail.example.org/",
		"folders":["INBOX","Archive"],"sync_range":"week"}`, services.Items[1].ID, h.auditorID))
	roundTrip(t, h, imap.ID, fmt.Sprintf(`{"active":true,"owner_id":%d,"folders":["Work"],"sync_range":"all","verify_cert":true}`, h.userID))
}

func TestMailboxSMTPConflict(t *testing.T) {
	h := newHarness(t)
	first := createMailbox(t, h, h.admin, `{"type":"smtp","name":"First","server":"127.0.0.1","port":2525}`)
	for _, body := range []string{
		`{"type":"smtp","name":"Second","server":"127.0.0.1","port":2525}`,
		`{"type":"smtp","name":"Everywhere","server":"*","port":2525}`,
	} {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusConflict, h.admin, "POST", "/api/v1/mailboxes", body))
		if want := fmt.Sprintf(`The address %s:2525 is already in use by the active SMTP mailbox "First" (ID %d)`, strings.Split(strings.Split(body, `"server":"`)[1], `"`)[0], first.ID); got.Error != want {
			t.Errorf("%s: error = %q, want %q", body, got.Error, want)
		}
	}
	// An inactive one may share the address; activating it conflicts.
	second := createMailbox(t, h, h.admin, `{"type":"smtp","name":"Second","server":"127.0.0.1","port":2525,"active":false}`)
	h.expect(t, http.StatusConflict, h.admin, "PATCH", fmt.Sprintf("/api/v1/mailboxes/%d", second.ID), `{"active":true}`)
	createMailbox(t, h, h.admin, `{"type":"smtp","name":"Other port","server":"127.0.0.1","port":2526}`)
	if total := decodeAs[mailboxList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/mailboxes?type=smtp&active=true", "")).Total; total != 2 {
		t.Errorf("%d active SMTP mailboxes, want 2", total)
	}
}

// A user sees, changes and removes only their own mailboxes, and creates
// IMAP mailboxes through a service of their site.
func TestMailboxesForUser(t *testing.T) {
	h := newHarness(t)
	h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"x1","name":"Other"}`)
	serviceID := firstServiceID(t, h)
	adminPOP3 := createMailbox(t, h, h.admin, pop3Body)
	auditors := createMailbox(t, h, h.admin, imapBody(serviceID, h.auditorID))

	own := createMailbox(t, h, h.user, fmt.Sprintf(`{"type":"imap","name":"Mine","server":"imap.example.com","login":"me","password":"imap-secret-1","service_id":%d}`, serviceID))
	if own.OwnerID == nil || *own.OwnerID != h.userID || own.Site != "s1" {
		t.Errorf("own = %+v", own)
	}
	// The owner is always the user, whatever the body says.
	forced := createMailbox(t, h, h.user, fmt.Sprintf(`{"type":"imap","name":"Also mine","server":"imap.example.com","login":"me2","password":"imap-secret-2","service_id":%d,"owner_id":%d}`, serviceID, h.adminID))
	if forced.OwnerID == nil || *forced.OwnerID != h.userID {
		t.Errorf("forced = %+v", forced)
	}
	h.expect(t, http.StatusForbidden, h.user, "POST", "/api/v1/mailboxes", pop3Body)
	otherSite := firstServiceOf(t, h, "x1")
	got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.user, "POST", "/api/v1/mailboxes",
		fmt.Sprintf(`{"type":"imap","name":"Elsewhere","server":"imap.example.com","login":"me","password":"x","service_id":%d}`, otherSite)))
	if got.Fields["service_id"] == "" {
		t.Errorf("a service of another site: %v", got.Fields)
	}

	list := decodeAs[mailboxList](t, h.expect(t, http.StatusOK, h.user, "GET", "/api/v1/mailboxes", ""))
	if ids := mailboxIDs(list); !reflect.DeepEqual(ids, []int64{own.ID, forced.ID}) || list.Total != 2 {
		t.Errorf("the user lists %v (total %d)", ids, list.Total)
	}
	if ids := mailboxIDs(decodeAs[mailboxList](t, h.expect(t, http.StatusOK, h.user, "GET", fmt.Sprintf("/api/v1/mailboxes?id=%d&id=%d", adminPOP3.ID, auditors.ID), ""))); len(ids) != 0 {
		t.Errorf("the user lists others' mailboxes by ID: %v", ids)
	}
	for _, other := range []int64{adminPOP3.ID, auditors.ID} {
		path := fmt.Sprintf("/api/v1/mailboxes/%d", other)
		h.expect(t, http.StatusNotFound, h.user, "GET", path, "")
		h.expect(t, http.StatusNotFound, h.user, "PATCH", path, `{"name":"Taken"}`)
		h.expect(t, http.StatusNotFound, h.user, "DELETE", path, "")
		h.expect(t, http.StatusOK, h.admin, "GET", path, "")
	}
	path := fmt.Sprintf("/api/v1/mailboxes/%d", own.ID)
	if got := decodeAs[service.MailboxView](t, h.expect(t, http.StatusOK, h.user, "PATCH", path, `{"name":"Renamed","folders":["INBOX","Sent"]}`)); got.Name != "Renamed" {
		t.Errorf("PATCH = %+v", got)
	}
	h.expect(t, http.StatusForbidden, h.user, "PATCH", path, fmt.Sprintf(`{"owner_id":%d}`, h.adminID))
	h.expect(t, http.StatusNoContent, h.user, "DELETE", path, "")
	h.expect(t, http.StatusNotFound, h.user, "GET", path, "")
}

// The password is write-only: no response of any mailbox route carries it.
func TestMailboxPasswordNeverShown(t *testing.T) {
	h := newHarness(t)
	const secret = "very-secret-password-42"
	serviceID := firstServiceID(t, h)
	var bodies []string
	record := func(code int, auth, method, path, body string) string {
		t.Helper()
		rec := h.expect(t, code, auth, method, path, body)
		bodies = append(bodies, rec.Body.String())
		return rec.Body.String()
	}
	pop3 := decodeAs[service.MailboxView](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/mailboxes",
		`{"type":"pop3","name":"P","server":"pop.example.com","login":"p","password":"`+secret+`"}`))
	imap := decodeAs[service.MailboxView](t, h.expect(t, http.StatusCreated, h.user, "POST", "/api/v1/mailboxes",
		fmt.Sprintf(`{"type":"imap","name":"I","server":"imap.example.com","login":"i","password":"%s","service_id":%d}`, secret, serviceID)))
	for _, m := range []service.MailboxView{pop3, imap} {
		path := fmt.Sprintf("/api/v1/mailboxes/%d", m.ID)
		record(http.StatusOK, h.admin, "GET", path, "")
		record(http.StatusOK, h.auditor, "GET", path, "")
		record(http.StatusOK, h.admin, "PATCH", path, `{"password":"`+secret+`-2"}`)
		record(http.StatusBadRequest, h.admin, "PATCH", path, `{"password":"`+secret+`","port":0}`)
	}
	record(http.StatusOK, h.user, "GET", fmt.Sprintf("/api/v1/mailboxes/%d", imap.ID), "")
	record(http.StatusOK, h.admin, "GET", "/api/v1/mailboxes", "")
	record(http.StatusOK, h.auditor, "GET", "/api/v1/mailboxes", "")
	record(http.StatusOK, h.user, "GET", "/api/v1/mailboxes", "")
	// An SMTP mailbox has no password: one given is refused, and the
	// refusal does not repeat it.
	refusal := h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/mailboxes", `{"type":"smtp","name":"S","port":2525,"password":"`+secret+`"}`).Body.String()
	if strings.Contains(refusal, secret) || !strings.Contains(refusal, "does not apply") {
		t.Errorf("SMTP mailbox with a password: %s", refusal)
	}
	for _, body := range bodies {
		if strings.Contains(body, secret) || strings.Contains(body, `"password"`) || strings.Contains(body, "password_") {
			t.Errorf("a response shows the password: %s", body)
		}
		if !strings.Contains(body, "has_password") && !strings.Contains(body, `"error"`) {
			t.Errorf("a response lacks has_password: %s", body)
		}
	}
}

func TestMailboxGroupActions(t *testing.T) {
	h := newHarness(t)
	first := createMailbox(t, h, h.admin, `{"type":"smtp","name":"First","server":"127.0.0.1","port":2525}`)
	second := createMailbox(t, h, h.admin, `{"type":"smtp","name":"Second","server":"127.0.0.1","port":2525,"active":false}`)
	third := createMailbox(t, h, h.admin, `{"type":"smtp","name":"Third","server":"127.0.0.1","port":2527,"active":false}`)

	// Activating both inactive ones: "Second" clashes with "First".
	body := fmt.Sprintf(`{"action":"activate","ids":[%d,%d]}`, second.ID, third.ID)
	result := decodeAs[service.GroupResult](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/mailboxes/actions", body))
	if result.Done != 1 || len(result.Failed) != 1 || result.Failed[0].ID != second.ID || !strings.Contains(result.Failed[0].Error, "already in use") {
		t.Errorf("activate = %+v", result)
	}
	// Everything the filter matches.
	result = decodeAs[service.GroupResult](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/mailboxes/actions", `{"action":"delete","filter":{"kind":"system","active":false}}`))
	if result.Done != 1 {
		t.Errorf("delete inactive = %+v", result)
	}
	if total := decodeAs[mailboxList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/mailboxes", "")).Total; total != 2 {
		t.Errorf("%d mailboxes left, want 2 (%d and %d)", total, first.ID, third.ID)
	}
	for _, bad := range []string{
		`{"action":"delete"}`,
		fmt.Sprintf(`{"action":"delete","ids":[%d],"filter":{}}`, first.ID),
		fmt.Sprintf(`{"action":"explode","ids":[%d]}`, first.ID),
		`{"action":"delete","filter":{"kind":"robots"}}`,
		`{"action":"delete","filter":{"type":["fax"]}}`,
		`{"action":"delete","filter":{"site":"nowhere"}}`,
	} {
		h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/mailboxes/actions", bad)
	}
}
