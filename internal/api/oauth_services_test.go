package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
)

// A service's OAuth2 client: a preset fills the provider's endpoints, the
// secret is write-only, and every field is checked at its name.
func TestServiceOAuthClient(t *testing.T) {
	h := newHarness(t)
	id := firstServiceID(t, h)
	path := fmt.Sprintf("/api/v1/services/%d", id)

	got := decodeAs[service.MailServiceView](t, h.expect(t, http.StatusOK, h.admin, "PATCH", path,
		`{"oauth_preset":"google","oauth_client_id":"client-1.apps.example","oauth_client_secret":"s3cret"}`))
	if !got.OAuth || got.OAuthAuthURL != "https://accounts.google.com/o/oauth2/v2/auth" || got.OAuthTokenURL != "https://oauth2.googleapis.com/token" ||
		got.OAuthMechanism != "xoauth2" || !strings.Contains(got.OAuthScopes, "https://mail.google.com/") || !got.HasOAuthSecret {
		t.Errorf("after the Google preset: %+v", got)
	}
	body := h.expect(t, http.StatusOK, h.admin, "GET", path, "").Body.String()
	if strings.Contains(body, "s3cret") {
		t.Errorf("the client secret is shown: %s", body)
	}
	// A typed field wins over the preset's.
	got = decodeAs[service.MailServiceView](t, h.expect(t, http.StatusOK, h.admin, "PATCH", path,
		`{"oauth_preset":"microsoft","oauth_mechanism":"oauthbearer"}`))
	if !strings.Contains(got.OAuthAuthURL, "login.microsoftonline.com") || got.OAuthMechanism != "oauthbearer" || !got.HasOAuthSecret {
		t.Errorf("after the Microsoft preset with OAUTHBEARER: %+v", got)
	}

	for _, tc := range []struct{ body, field string }{
		{`{"oauth_token_url":"http://token.example/token"}`, "oauth_token_url"},
		{`{"oauth_auth_url":"ftp://auth.example/"}`, "oauth_auth_url"},
		{`{"oauth_token_url":"https://user:pass@token.example/"}`, "oauth_token_url"},
		{`{"oauth_token_url":""}`, "oauth_token_url"},
		{`{"oauth_scopes":"a \"b\""}`, "oauth_scopes"},
		{`{"oauth_mechanism":"plain"}`, "oauth_mechanism"},
		{`{"oauth_preset":"facebook"}`, "oauth_preset"},
		{`{"oauth_client_id":"a\r\nb"}`, "oauth_client_id"},
		{`{"oauth_client_secret":"a\r\nb"}`, "oauth_client_secret"},
		{`{"oauth_client_id":"` + strings.Repeat("x", 501) + `"}`, "oauth_client_id"},
		{`{"oauth_client_id":"","oauth_preset":"yandex"}`, "oauth_client_id"},
	} {
		rec := h.expect(t, http.StatusBadRequest, h.admin, "PATCH", path, tc.body)
		if !strings.Contains(rec.Body.String(), `"`+tc.field+`"`) {
			t.Errorf("%s: error not at %s: %s", tc.body, tc.field, rec.Body.String())
		}
	}
	// A loopback token URL may be plain http: nothing crosses a network.
	h.expect(t, http.StatusOK, h.admin, "PATCH", path, `{"oauth_token_url":"http://127.0.0.1:8080/token","oauth_auth_url":"http://localhost:8080/auth"}`)
	// Turning OAuth2 off forgets the client.
	got = decodeAs[service.MailServiceView](t, h.expect(t, http.StatusOK, h.admin, "PATCH", path,
		`{"oauth_client_id":"","oauth_auth_url":"","oauth_token_url":""}`))
	if got.OAuth || got.HasOAuthSecret || got.OAuthScopes != "" {
		t.Errorf("after turning OAuth2 off: %+v", got)
	}
	// Users may not set it.
	h.expect(t, http.StatusForbidden, h.user, "PATCH", path, `{"oauth_client_id":"x"}`)
}
