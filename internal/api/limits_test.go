package api

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"pochta.dev/pochta/internal/service"
)

// jsonBody writes fields as a JSON object (the values are any length and
// hold any character).
func jsonBody(t *testing.T, fields map[string]any) string {
	t.Helper()
	body, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// with gives a copy of base with the changes.
func with(base map[string]any, changes map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(changes))
	for key, value := range base {
		out[key] = value
	}
	for key, value := range changes {
		out[key] = value
	}
	return out
}

// letters gives n copies of a two-byte letter: limits count characters.
func letters(n int) string { return strings.Repeat("ж", n) }

// names gives n distinct short entries for a list.
func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("d%d.example.com", i)
	}
	return out
}

// Every text field has a maximum, said in plain words; a value at the
// maximum is taken. Lists have a maximum number of entries too.
func TestFieldLimits(t *testing.T) {
	h := newHarness(t)
	serviceID := firstServiceID(t, h)
	pop3 := map[string]any{"type": "pop3", "name": "Limits", "server": "pop.example.com", "login": "support", "password": "pop3-secret-1"}
	imap := map[string]any{"type": "imap", "name": "Mine", "service_id": serviceID, "owner_id": h.userID, "login": "me", "password": "imap-secret-1"}
	smtp := map[string]any{"type": "smtp", "name": "Inbound", "port": 2600, "active": false}
	user := map[string]any{"login": "limits", "password": "limits-password"}
	site := map[string]any{"code": "lim", "name": "Limits"}
	mailService := map[string]any{"site": "s1", "name": "Provider", "type": "imap", "server": "imap.example.com", "port": 993, "smtp_port": 587}
	host := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61) // 253
	tests := []struct {
		path   string
		base   map[string]any
		field  string
		atMost any // taken
		over   any // refused
		want   string
	}{
		{"/api/v1/mailboxes", pop3, "name", letters(255), letters(256), "Name is too long (at most 255 characters)"},
		{"/api/v1/mailboxes", pop3, "description", letters(2000), letters(2001), "Description is too long (at most 2000 characters)"},
		{"/api/v1/mailboxes", pop3, "description", letters(2000), strings.Repeat("d", 900_000), "Description is too long (at most 2000 characters)"},
		{"/api/v1/mailboxes", pop3, "server", host, host + "e", "Mail server (POP3) is too long (at most 253 characters)"},
		{"/api/v1/mailboxes", pop3, "login", letters(320), letters(321), "Login is too long (at most 320 characters)"},
		{"/api/v1/mailboxes", pop3, "password", letters(1024), letters(1025), "Password is too long (at most 1024 characters)"},
		{"/api/v1/mailboxes", imap, "folders", names(500), names(501), "Folders to sync has too many entries (at most 500)"},
		{"/api/v1/mailboxes", imap, "folders", []string{letters(500)}, []string{"INBOX", letters(501)}, "Folders to sync is too long (at most 500 characters)"},
		{"/api/v1/mailboxes", imap, "web_url", "https://mail.example.com/" + strings.Repeat("p", 2048-25), "https://mail.example.com/" + strings.Repeat("p", 2048-24),
			"Web interface URL is too long (at most 2048 characters)"},
		{"/api/v1/mailboxes", smtp, "domains", names(1000), names(1001), "Domains served has too many entries (at most 1000)"},
		{"/api/v1/mailboxes", smtp, "domains", []string{host}, []string{host + "e"}, "Domains served is too long (at most 253 characters)"},
		{"/api/v1/users", user, "login", letters(64), letters(65), "Login is too long (at most 64 characters)"},
		{"/api/v1/users", user, "email", strings.Repeat("e", 64) + "@" + host[:189], strings.Repeat("e", 64) + "@" + host[:190], "E-mail is too long (at most 254 characters)"},
		{"/api/v1/users", user, "name", letters(255), letters(256), "Name is too long (at most 255 characters)"},
		{"/api/v1/users", user, "password", letters(1024), letters(1025), "Password is too long (at most 1024 characters)"},
		{"/api/v1/sites", site, "name", letters(255), letters(256), "Name is too long (at most 255 characters)"},
		{"/api/v1/sites", site, "domain", host, host + "e", "Domain is too long (at most 253 characters)"},
		{"/api/v1/services", mailService, "name", letters(255), letters(256), "Name is too long (at most 255 characters)"},
		{"/api/v1/services", mailService, "server", host, host + "e", "Server is too long (at most 253 characters)"},
		{"/api/v1/services", mailService, "smtp_server", host, host + "e", "SMTP server is too long (at most 253 characters)"},
		{"/api/v1/services", mailService, "web_url", "https://mail.example.com/" + strings.Repeat("p", 2048-25), "https://mail.example.com/" + strings.Repeat("p", 2048-24),
			"Web interface URL is too long (at most 2048 characters)"},
		{"/api/v1/tokens", map[string]any{}, "name", letters(100), letters(101), "Token name is too long (at most 100 characters)"},
	}
	created := 0
	for _, test := range tests {
		t.Run(test.path+" "+test.field, func(t *testing.T) {
			got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", test.path, jsonBody(t, with(test.base, map[string]any{test.field: test.over}))))
			if got.Fields[test.field] != test.want {
				t.Errorf("fields[%s] = %q, want %q (all: %v)", test.field, got.Fields[test.field], test.want, got.Fields)
			}
			// At the limit it is taken; names that must be unique are made so.
			base := test.base
			if test.path == "/api/v1/users" && test.field != "login" {
				base = with(base, map[string]any{"login": fmt.Sprintf("limits%d", created)})
			}
			if test.path == "/api/v1/sites" {
				base = with(base, map[string]any{"code": fmt.Sprintf("lim%d", created)})
			}
			h.expect(t, http.StatusCreated, h.admin, "POST", test.path, jsonBody(t, with(base, map[string]any{test.field: test.atMost})))
			created++
		})
	}
}

// A login with line breaks is refused with a field error by both "save"
// and "test connection", and no connection is made: a server of the
// test's own, on loopback, sees none.
func TestLoginWithLineBreaksRefused(t *testing.T) {
	h := newHarness(t)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	connections := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			connections++
			mu.Unlock()
			conn.Close()
		}
	}()
	port := listener.Addr().(*net.TCPAddr).Port
	const want = "Login must not contain line breaks or NUL characters"
	for _, path := range []string{"/api/v1/mailboxes", "/api/v1/mailboxes/test"} {
		body := jsonBody(t, map[string]any{"type": "pop3", "name": "Injected", "server": "127.0.0.1", "port": port,
			"login": "u\r\nDELE 1\r\nX", "password": "pop3-secret-1"})
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", path, body))
		if got.Fields["login"] != want {
			t.Errorf("%s: fields %v, want login %q", path, got.Fields, want)
		}
		body = jsonBody(t, map[string]any{"type": "pop3", "name": "Injected", "server": "127.0.0.1", "port": port,
			"login": "u", "password": "pop3-secret-1\r\nDELE 1"})
		got = decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", path, body))
		if got.Fields["password"] != "Password must not contain line breaks or NUL characters" || strings.Contains(got.Error+fmt.Sprint(got.Fields), "pop3-secret-1") {
			t.Errorf("%s: password error %v", path, got)
		}
	}
	listener.Close()
	<-done
	if connections != 0 {
		t.Errorf("%d connections reached the server", connections)
	}
}

// A user has at most 50 API tokens: the next one is a conflict said in
// plain words, and revoking one makes room.
func TestTokenCap(t *testing.T) {
	h := newHarness(t)
	// The harness gave the user one token already.
	var last tokenResponse
	for i := 1; i < service.MaxTokensPerUser; i++ {
		last = decodeAs[tokenResponse](t, h.expect(t, http.StatusCreated, h.user, "POST", "/api/v1/tokens", fmt.Sprintf(`{"name":"script %d"}`, i)))
	}
	got := decodeAs[errorBody](t, h.expect(t, http.StatusConflict, h.user, "POST", "/api/v1/tokens", `{"name":"one too many"}`))
	if want := "There are already 50 API tokens, the most one user may have. Revoke one you no longer use first."; got.Error != want {
		t.Errorf("error %q, want %q", got.Error, want)
	}
	russian := h.addAdmin(t, "ru-admin", "ru")
	got = decodeAs[errorBody](t, h.expect(t, http.StatusConflict, russian, "POST", "/api/v1/tokens", fmt.Sprintf(`{"user_id":%d}`, h.userID)))
	if want := "API-токенов уже 50 — больше одному пользователю нельзя. Сначала отзовите ненужный."; got.Error != want {
		t.Errorf("in Russian %q, want %q", got.Error, want)
	}
	h.expect(t, http.StatusNoContent, h.user, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", last.ID), "")
	h.expect(t, http.StatusCreated, h.user, "POST", "/api/v1/tokens", `{"name":"after a revoke"}`)
}
