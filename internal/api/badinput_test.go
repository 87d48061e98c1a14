package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	h := newHarness(t)
	huge := `{"name":"` + strings.Repeat("a", maxBodyBytes) + `"}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string // "-" for none
		body        string
		status      int
		message     string // part of the error text
	}{
		{"truncated JSON", "POST", "/api/v1/sites", "", `{"code":"x1","name":`, 400, "invalid JSON: unexpected end of input at offset 20"},
		{"syntax error", "POST", "/api/v1/sites", "", `{"code":}`, 400, "invalid JSON: invalid character '}' looking for beginning of value at offset 9"},
		{"unknown field", "POST", "/api/v1/sites", "", `{"code":"x1","colour":"red"}`, 400, `unknown field "colour"`},
		{"wrong type", "POST", "/api/v1/sites", "", `{"code":"x1","name":42}`, 400, "invalid JSON: name must be a string, not number"},
		{"wrong number type", "PATCH", "/api/v1/settings", "", `{"connection_timeout":1.5}`, 400, "connection_timeout must be a whole number in range, not number 1.5"},
		{"number too big", "PATCH", "/api/v1/settings", "", `{"connection_timeout":1e100}`, 400, "connection_timeout must be a whole number in range"},
		{"array body", "PATCH", "/api/v1/settings", "", `[]`, 400, "the body must be an object, not array"},
		{"string body", "POST", "/api/v1/tokens", "", `"x"`, 400, "the body must be an object, not string"},
		{"trailing value", "POST", "/api/v1/sites", "", `{"code":"x1","name":"X"} {}`, 400, "unexpected data after the JSON value at offset 25"},
		{"trailing garbage", "PATCH", "/api/v1/settings", "", "{}\n]", 400, "unexpected data after the JSON value at offset 3"},
		{"empty body", "POST", "/api/v1/users", "", ``, 400, "request body is empty"},
		{"blank body", "POST", "/api/v1/tokens", "", " \n ", 400, "request body is empty"},
		{"no content type", "POST", "/api/v1/sites", "-", `{"code":"x1","name":"X"}`, 415, "Content-Type must be application/json"},
		{"form content type", "POST", "/api/v1/sites", "application/x-www-form-urlencoded", `code=x1`, 415, "Content-Type must be application/json"},
		{"text content type", "PATCH", "/api/v1/settings", "text/plain", `{}`, 415, "Content-Type must be application/json"},
		{"latin-1", "PATCH", "/api/v1/settings", "application/json; charset=latin1", `{}`, 415, `not charset "latin1"`},
		{"too large", "PATCH", "/api/v1/sites/s1", "", huge, 413, "larger than 1048576 bytes"},
		// A path ID other than a positive whole number in its one
		// spelling names nothing, as in the web admin.
		{"user id not a number", "GET", "/api/v1/users/abc", "", "", 404, `no such id "abc": an id is a positive whole number`},
		{"user id zero", "PATCH", "/api/v1/users/0", "", `{}`, 404, `no such id "0"`},
		{"user id negative", "DELETE", "/api/v1/users/-1", "", "", 404, `no such id "-1"`},
		{"user id overflow", "GET", "/api/v1/users/99999999999999999999", "", "", 404, "no such id"},
		{"user id with a leading zero", "GET", "/api/v1/users/01", "", "", 404, `no such id "01"`},
		{"user id with a plus sign", "PATCH", "/api/v1/users/+1", "", `{}`, 404, `no such id "+1"`},
		{"message id with a leading zero", "GET", "/api/v1/messages/01/raw", "", "", 404, `no such id "01"`},
		{"attachment id with a plus sign", "GET", "/api/v1/messages/1/attachments/+1", "", "", 404, `no such attachment_id "+1"`},
		{"no such site", "GET", "/api/v1/sites/nope", "", "", 404, "Not found"},
		{"no such user", "GET", "/api/v1/users/12345", "", "", 404, "Not found"},
		{"mailbox id not a number", "GET", "/api/v1/mailboxes/abc", "", "", 404, `no such id "abc"`},
		{"service id zero", "PATCH", "/api/v1/services/0", "", `{}`, 404, `no such id "0"`},
		{"service id with a leading zero", "DELETE", "/api/v1/services/001", "", "", 404, `no such id "001"`},
		{"no such mailbox", "DELETE", "/api/v1/mailboxes/12345", "", "", 404, "Not found"},
		{"write-only mailbox field", "POST", "/api/v1/mailboxes", "", `{"type":"pop3","has_password":true}`, 400, `unknown field "has_password"`},
		{"mailbox port as text", "PATCH", "/api/v1/mailboxes/1", "", `{"port":"25"}`, 400, "port must be a whole number in range, not string"},
		{"bad mailbox cursor", "GET", "/api/v1/mailboxes?cursor=***", "", "", 400, "Some fields are not valid"},
		{"wrong method on mailboxes", "PUT", "/api/v1/mailboxes", "", `{}`, 405, "use GET, POST"},
		{"no such endpoint", "GET", "/api/v1/nowhere", "", "", 404, "no such API endpoint: /api/v1/nowhere"},
		{"trailing slash", "GET", "/api/v1/sites/", "", "", 404, "no such API endpoint"},
		{"wrong method", "PUT", "/api/v1/sites/s1", "", `{}`, 405, "use GET, PATCH, DELETE"},
		{"bad cursor", "GET", "/api/v1/sites?cursor=***", "", "", 400, "Some fields are not valid"},
		{"NUL in a string", "POST", "/api/v1/sites", "", `{"code":"x1","name":"a\u0000b"}`, 400, "name must not contain NUL characters"},
		{"NUL in a token name", "POST", "/api/v1/tokens", "", `{"name":"\u0000"}`, 400, "name must not contain NUL characters"},
		{"NUL in the path", "GET", "/api/v1/sites/a%00b", "", "", 400, "the path must be UTF-8 text"},
		{"invalid UTF-8 in the path", "DELETE", "/api/v1/sites/%FF", "", "", 400, "the path must be UTF-8 text"},
		{"NUL in the query", "GET", "/api/v1/users?q=%00", "", "", 400, `query parameter "q" must be UTF-8 text`},
		{"invalid UTF-8 in the query", "GET", "/api/v1/users?site=%FF", "", "", 400, `query parameter "site" must be UTF-8 text`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			req := httptest.NewRequest(test.method, test.path, strings.NewReader(test.body))
			switch test.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", test.contentType)
			}
			req.Header.Set("Authorization", h.admin)
			rec := httptest.NewRecorder()
			h.handler.ServeHTTP(rec, req)
			if rec.Code != test.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, test.status, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			got := decodeAs[errorBody](t, rec)
			if !strings.Contains(got.Error, test.message) {
				t.Errorf("error = %q, want it to contain %q", got.Error, test.message)
			}
		})
	}
	if got := h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/sites", "").Body.String(); strings.Contains(got, `"x1"`) {
		t.Errorf("a rejected request made a site: %s", got)
	}
}

func TestContentTypeWithCharsetAccepted(t *testing.T) {
	h := newHarness(t)
	for _, contentType := range []string{"application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"} {
		req := httptest.NewRequest("PATCH", "/api/v1/settings", strings.NewReader(`{"check_spam":true}`))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", h.admin)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("%q: status %d, body %s", contentType, rec.Code, rec.Body)
		}
	}
}

func TestInternalErrorsAreNotShown(t *testing.T) {
	logs := &lockedBuffer{}
	a := &api{logger: slog.New(slog.NewTextHandler(logs, nil))}
	rec := httptest.NewRecorder()
	a.writeError(rec, httptest.NewRequest("GET", "/api/v1/sites", nil), nil, fmt.Errorf("list sites: %w", errors.New("disk /var/secret full")))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("status %d, body %s", rec.Code, rec.Body)
	}
	if got := decodeAs[errorBody](t, rec); got.Error != "internal error" {
		t.Errorf("error = %q", got.Error)
	}
	if !strings.Contains(logs.String(), "disk /var/secret full") {
		t.Errorf("the cause was not logged: %s", logs)
	}
}

func TestPanicsBecome500(t *testing.T) {
	logs := &lockedBuffer{}
	a := &api{logger: slog.New(slog.NewTextHandler(logs, nil))}
	handler := a.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/sites", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d", rec.Code)
	}
	if got := decodeAs[errorBody](t, rec); got.Error != "internal error" {
		t.Errorf("error = %q", got.Error)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("the panic was not logged: %s", logs)
	}
}
