package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		auth string
		want int
	}{
		{"no credentials", "", http.StatusUnauthorized},
		{"wrong password", basicAuth("admin", "wrong"), http.StatusUnauthorized},
		{"unknown login", basicAuth("nobody", "wrong"), http.StatusUnauthorized},
		{"NUL in the login", basicAuth("admin\x00", "admin-password-1"), http.StatusUnauthorized},
		{"invalid UTF-8 in the login", basicAuth("\xff", "x"), http.StatusUnauthorized},
		{"wrong token", "Bearer pt_nope", http.StatusUnauthorized},
		{"empty token", "Bearer ", http.StatusUnauthorized},
		{"unknown scheme", "Digest abc", http.StatusUnauthorized},
		{"password", basicAuth("admin", "admin-password-1"), http.StatusOK},
		{"login in another case", basicAuth("Auditor", auditorPassword), http.StatusOK},
		{"token", h.user, http.StatusOK},
		{"token, scheme in lower case", strings.Replace(h.user, "Bearer", "bearer", 1), http.StatusOK},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			rec := h.expect(t, test.want, test.auth, "GET", "/api/v1/users", "")
			if test.want != http.StatusUnauthorized {
				return
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="pochta", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if got := decodeAs[errorBody](t, rec); got.Error == "" {
				t.Errorf("no error text: %s", rec.Body)
			}
		})
	}
	// The OpenAPI document is public.
	h.expect(t, http.StatusOK, "", "GET", "/api/v1/openapi.json", "")
}

func TestTokenFromPostTokensWorks(t *testing.T) {
	h := newHarness(t)
	token := decodeAs[tokenResponse](t, h.expect(t, http.StatusCreated, basicAuth("admin", "admin-password-1"), "POST", "/api/v1/tokens", `{"name":"ci"}`))
	h.expect(t, http.StatusCreated, "Bearer "+token.Token, "POST", "/api/v1/sites", `{"code":"ci","name":"Made by a token"}`)
}

// Wrong passwords make the next attempt from the same address wait, with
// Retry-After saying how long, twice as long after each further failure.
func TestSignInThrottling(t *testing.T) {
	h := newHarness(t)
	h.env.Clock.Set(time.Now())
	for range 3 {
		h.expect(t, http.StatusUnauthorized, basicAuth("user", "wrong"), "GET", "/api/v1/users", "")
	}
	for _, want := range []string{"1", "2", "4"} {
		rec := h.expect(t, http.StatusTooManyRequests, basicAuth("user", "wrong"), "GET", "/api/v1/users", "")
		if got := rec.Header().Get("Retry-After"); got != want {
			t.Fatalf("Retry-After = %q, want %q", got, want)
		}
		if got := decodeAs[errorBody](t, rec); got.Error != "Too many failed sign-in attempts; try again later" {
			t.Errorf("error = %q", got.Error)
		}
		// While it waits, even the right password is refused (it is not
		// checked); tokens still work.
		h.expect(t, http.StatusTooManyRequests, basicAuth("user", userPassword), "GET", "/api/v1/users", "")
		h.expect(t, http.StatusOK, h.user, "GET", "/api/v1/users", "")
		seconds, _ := strconv.Atoi(want)
		h.env.Clock.Advance(time.Duration(seconds) * time.Second)
		h.expect(t, http.StatusUnauthorized, basicAuth("user", "wrong"), "GET", "/api/v1/users", "")
	}
	// Other logins from the address are not slowed down: the count per
	// address allows more failures.
	h.expect(t, http.StatusOK, basicAuth("auditor", auditorPassword), "GET", "/api/v1/users", "")
}

func TestClientIP(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:1234":   "192.0.2.1",
		"[2001:db8::1]:80": "2001:db8::1",
		"192.0.2.1":        "192.0.2.1",
		"@":                "@",
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remote
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		if got := clientIP(req); got != want {
			t.Errorf("clientIP(%q) = %q, want %q", remote, got, want)
		}
	}
}

// Tokens are listed without their secrets, each to whom it may concern, and
// a revoked token stops working at once.
func TestListAndRevokeTokens(t *testing.T) {
	h := newHarness(t)
	mine := decodeAs[tokenResponse](t, h.expect(t, http.StatusCreated, h.user, "POST", "/api/v1/tokens", `{"name":"laptop"}`))
	listed := decodeAs[listBody[tokenInfo]](t, h.expect(t, http.StatusOK, "Bearer "+mine.Token, "GET", "/api/v1/tokens", ""))
	names := map[string]bool{}
	for _, token := range listed.Items {
		if token.UserID != h.userID {
			t.Errorf("a user sees another's token: %+v", token)
		}
		names[token.Name] = true
	}
	if !names["laptop"] || len(listed.Items) < 2 { // the harness's own and the new one
		t.Errorf("the user's tokens: %+v", listed.Items)
	}
	if body := h.expect(t, http.StatusOK, h.user, "GET", "/api/v1/tokens", "").Body.String(); strings.Contains(body, mine.Token) || strings.Contains(body, "pt_") {
		t.Errorf("a secret is listed: %s", body)
	}
	h.expect(t, http.StatusForbidden, h.user, "GET", fmt.Sprintf("/api/v1/tokens?user_id=%d", h.adminID), "")
	all := decodeAs[listBody[tokenInfo]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/tokens", ""))
	if len(all.Items) <= len(listed.Items) {
		t.Errorf("an admin sees %d tokens, the user %d", len(all.Items), len(listed.Items))
	}

	h.expect(t, http.StatusNoContent, h.user, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", mine.ID), "")
	h.expect(t, http.StatusUnauthorized, "Bearer "+mine.Token, "GET", "/api/v1/tokens", "")
	missing := h.expect(t, http.StatusNotFound, h.user, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", mine.ID), "")
	// Another's token is not found either, in the same words, so that a
	// user cannot tell which IDs exist (it was 403).
	admins := decodeAs[tokenResponse](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/tokens", `{"name":"admin's"}`))
	for _, caller := range []string{h.user, h.auditor} {
		other := h.expect(t, http.StatusNotFound, caller, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", admins.ID), "")
		if other.Body.String() != missing.Body.String() {
			t.Errorf("another's token: %s; a missing one: %s", other.Body, missing.Body)
		}
	}
	h.expect(t, http.StatusOK, "Bearer "+admins.Token, "GET", "/api/v1/tokens", "")
	// An admin revokes anyone's.
	other := decodeAs[tokenResponse](t, h.expect(t, http.StatusCreated, h.user, "POST", "/api/v1/tokens", `{"name":"phone"}`))
	h.expect(t, http.StatusNoContent, h.admin, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", other.ID), "")
	h.expect(t, http.StatusUnauthorized, "Bearer "+other.Token, "GET", "/api/v1/tokens", "")
}
