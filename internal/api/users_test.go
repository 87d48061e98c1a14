package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
)

func TestUsersCRUD(t *testing.T) {
	h := newHarness(t)
	rec := h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/users",
		`{"login":"olga","password":"secret-password","name":"Olga","email":"olga@example.com","role":"auditor","language":"ru"}`)
	if strings.Contains(rec.Body.String(), "password") {
		t.Errorf("user JSON shows a password: %s", rec.Body)
	}
	created := decodeAs[service.UserView](t, rec)
	if created.Login != "olga" || created.Site != "s1" || created.Role != "auditor" || !created.Active || created.LastLoginAt != nil {
		t.Errorf("created = %+v", created)
	}
	if got, want := rec.Header().Get("Location"), fmt.Sprintf("/api/v1/users/%d", created.ID); got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	path := fmt.Sprintf("/api/v1/users/%d", created.ID)
	if got := decodeAs[service.UserView](t, h.expect(t, http.StatusOK, h.auditor, "GET", path, "")); got.Email != "olga@example.com" {
		t.Errorf("GET = %+v", got)
	}
	patched := decodeAs[service.UserView](t, h.expect(t, http.StatusOK, h.admin, "PATCH", path, `{"name":"Olga P.","active":false}`))
	if patched.Name != "Olga P." || patched.Active || patched.Role != "auditor" {
		t.Errorf("PATCH = %+v", patched)
	}
	rec = h.expect(t, http.StatusBadRequest, h.admin, "DELETE", path+"?mailboxes=burn", "")
	if !strings.Contains(rec.Body.String(), `"mailboxes"`) {
		t.Errorf("a bad mailboxes choice: %s", rec.Body)
	}
	h.expect(t, http.StatusNoContent, h.admin, "DELETE", path+"?mailboxes=delete", "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "PATCH", path, `{"name":"Gone"}`)
	h.expect(t, http.StatusNotFound, h.admin, "DELETE", path, "")
}

func TestUsersFieldErrors(t *testing.T) {
	h := newHarness(t)
	russian := h.addAdmin(t, "ivan", "ru")
	tests := []struct {
		name   string
		auth   string
		method string
		path   string
		body   string
		fields map[string]string
	}{
		{"no login or password", h.admin, "POST", "/api/v1/users", `{}`, map[string]string{"login": "Login is required", "password": "Password is required"}},
		{"in Russian", russian, "POST", "/api/v1/users", `{"login":"x"}`, map[string]string{"password": "Поле «Пароль» обязательно"}},
		{"bad values", h.admin, "POST", "/api/v1/users", `{"login":"a b","password":"short","email":"nope","role":"boss","site":"zz","language":"xx"}`, map[string]string{
			"login":    "Login is not valid",
			"password": "Password must be at least 8 characters long",
			"email":    "E-mail must be an e-mail address such as name@example.com",
			"role":     "Role must be admin, auditor or user",
			"site":     "Site: there is no such site",
			"language": "Language must be one of the interface languages",
		}},
		{"login taken", h.admin, "POST", "/api/v1/users", `{"login":"user","password":"long-enough"}`, map[string]string{"login": "Login is already in use"}},
		{"rename onto a taken login", h.admin, "PATCH", fmt.Sprintf("/api/v1/users/%d", h.userID), `{"login":"auditor"}`, map[string]string{"login": "Login is already in use"}},
		{"own short password", h.user, "PATCH", fmt.Sprintf("/api/v1/users/%d", h.userID), `{"password":"short"}`, map[string]string{"password": "Password must be at least 8 characters long"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, test.auth, test.method, test.path, test.body))
			if len(got.Fields) != len(test.fields) {
				t.Fatalf("fields = %v, want %v", got.Fields, test.fields)
			}
			for field, want := range test.fields {
				if got.Fields[field] != want {
					t.Errorf("fields[%s] = %q, want %q", field, got.Fields[field], want)
				}
			}
		})
	}
}

func TestUsersList(t *testing.T) {
	h := newHarness(t)
	h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"b1","name":"Branch"}`)
	h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/users", `{"login":"boris","password":"long-enough","site":"b1","name":"Boris Branch"}`)
	logins := func(t *testing.T, auth, query string) string {
		t.Helper()
		page := decodeAs[listBody[service.UserView]](t, h.expect(t, http.StatusOK, auth, "GET", "/api/v1/users"+query, ""))
		var names []string
		for _, user := range page.Items {
			names = append(names, user.Login)
		}
		return strings.Join(names, ",")
	}
	tests := []struct {
		query, want string
	}{
		{"", "admin,auditor,user,boris"},
		{"?role=auditor", "auditor"},
		{"?site=b1", "boris"},
		{"?site=s1&role=user", "user"},
		{"?q=BRANCH", "boris"},
		{"?q=nobody", ""},
	}
	for _, test := range tests {
		if got := logins(t, h.admin, test.query); got != test.want {
			t.Errorf("admin %q: %s, want %s", test.query, got, test.want)
		}
	}
	if got := logins(t, h.auditor, ""); got != "admin,auditor,user,boris" {
		t.Errorf("auditor sees %s", got)
	}
	if got := logins(t, h.user, ""); got != "user" {
		t.Errorf("user sees %s, want only themself", got)
	}

	var pages []string
	path := "/api/v1/users?limit=3"
	for len(pages) < 5 {
		page := decodeAs[listBody[service.UserView]](t, h.expect(t, http.StatusOK, h.admin, "GET", path, ""))
		var names []string
		for _, user := range page.Items {
			names = append(names, user.Login)
		}
		pages = append(pages, strings.Join(names, ","))
		if page.NextCursor == "" {
			break
		}
		path = "/api/v1/users?limit=3&cursor=" + page.NextCursor
	}
	if got := strings.Join(pages, "|"); got != "admin,auditor,user|boris" {
		t.Errorf("pages = %s", got)
	}

	for query, field := range map[string]string{"?role=boss": "role", "?site=zz": "site", "?limit=0": "limit", "?limit=1001": "limit", "?cursor=%25%25": "cursor", "?cursor=YWJj": "cursor"} {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "GET", "/api/v1/users"+query, ""))
		if got.Fields[field] == "" {
			t.Errorf("%s: fields = %v, want one for %s", query, got.Fields, field)
		}
	}
}

func TestUserSeesOnlyThemself(t *testing.T) {
	h := newHarness(t)
	self := fmt.Sprintf("/api/v1/users/%d", h.userID)
	if got := decodeAs[service.UserView](t, h.expect(t, http.StatusOK, h.user, "GET", self, "")); got.Login != "user" {
		t.Errorf("GET self = %+v", got)
	}
	h.expect(t, http.StatusForbidden, h.user, "GET", fmt.Sprintf("/api/v1/users/%d", h.adminID), "")
	h.expect(t, http.StatusForbidden, h.user, "GET", "/api/v1/users/99999", "")
	patched := decodeAs[service.UserView](t, h.expect(t, http.StatusOK, h.user, "PATCH", self, `{"name":"Me","language":"ru"}`))
	if patched.Name != "Me" || patched.Language != "ru" {
		t.Errorf("PATCH self = %+v", patched)
	}
	got := decodeAs[errorBody](t, h.expect(t, http.StatusForbidden, h.user, "PATCH", self, `{"role":"admin"}`))
	if got.Error != "У вас нет прав на это действие" {
		t.Errorf("error for a Russian user = %q", got.Error)
	}
}

func TestDeleteLastAdmin(t *testing.T) {
	h := newHarness(t)
	path := fmt.Sprintf("/api/v1/users/%d", h.adminID)
	for _, request := range []struct{ method, body string }{{"DELETE", ""}, {"PATCH", `{"role":"user"}`}, {"PATCH", `{"active":false}`}} {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusConflict, h.admin, request.method, path, request.body))
		if got.Error != "The last active administrator cannot be removed, deactivated or demoted" {
			t.Errorf("%s %s: error = %q", request.method, request.body, got.Error)
		}
	}
}

func TestCreateToken(t *testing.T) {
	h := newHarness(t)
	// Basic auth here: a token must be obtainable with the password alone.
	rec := h.expect(t, http.StatusCreated, basicAuth("user", userPassword), "POST", "/api/v1/tokens", `{"name":"script"}`)
	token := decodeAs[tokenResponse](t, rec)
	if !strings.HasPrefix(token.Token, "pt_") || token.UserID != h.userID || token.Name != "script" || token.ID == 0 || token.CreatedAt.IsZero() {
		t.Fatalf("token = %+v", token)
	}
	me := decodeAs[listBody[service.UserView]](t, h.expect(t, http.StatusOK, "Bearer "+token.Token, "GET", "/api/v1/users", ""))
	if len(me.Items) != 1 || me.Items[0].ID != h.userID {
		t.Errorf("the new token acts as %+v", me.Items)
	}

	forUser := decodeAs[tokenResponse](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/tokens", fmt.Sprintf(`{"user_id":%d}`, h.auditorID)))
	if forUser.UserID != h.auditorID {
		t.Errorf("admin's token for the auditor = %+v", forUser)
	}
	h.expect(t, http.StatusOK, "Bearer "+forUser.Token, "GET", "/api/v1/sites", "")
	h.expect(t, http.StatusNotFound, h.admin, "POST", "/api/v1/tokens", `{"user_id":99999}`)
	got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/tokens", `{"user_id":0}`))
	if got.Fields["user_id"] != "User ID is not valid" {
		t.Errorf("fields = %v", got.Fields)
	}
}
