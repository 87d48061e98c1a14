package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// Every form says a field's limit in plain words under the field, keeps
// the rest of what was typed but never a password, and stores nothing.
func TestFormFieldLimits(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	with := func(values url.Values, field, value string) url.Values {
		out := url.Values{}
		for key, list := range values {
			out[key] = append([]string(nil), list...)
		}
		out.Set(field, value)
		return out
	}
	user := url.Values{"site": {"s1"}, "login": {"limits"}, "password": {"limits-password"}, "role": {"user"}}
	site := url.Values{"code": {"lim"}, "name": {"Limits"}, "charset": {"UTF-8"}, "language": {"en"}}
	tests := []struct {
		name   string
		path   string
		values url.Values
		field  string
		value  string
		want   string
	}{
		{"mailbox name", "/mailboxes", pop3Values("x"), "name", strings.Repeat("я", 256), "Name is too long (at most 255 characters)"},
		{"mailbox description", "/mailboxes", pop3Values("x"), "description", strings.Repeat("d", 900_000), "Description is too long (at most 2000 characters)"},
		{"mailbox login", "/mailboxes", pop3Values("x"), "login", strings.Repeat("l", 321), "Login is too long (at most 320 characters)"},
		{"mailbox login with line breaks", "/mailboxes", pop3Values("x"), "login", "sales\r\nDELE 1\r\nX", "Login must not contain line breaks or NUL characters"},
		{"mailbox password", "/mailboxes", pop3Values("x"), "password", pop3Password + strings.Repeat("p", 1025), "Password is too long (at most 1024 characters)"},
		{"mailbox password with line breaks", "/mailboxes", pop3Values("x"), "password", pop3Password + "\r\nDELE 1", "Password must not contain line breaks or NUL characters"},
		{"mailbox server", "/mailboxes", pop3Values("x"), "server", strings.Repeat("s", 254), "Mail server (POP3) is too long (at most 253 characters)"},
		{"user login", "/users", user, "login", strings.Repeat("u", 65), "Login is too long (at most 64 characters)"},
		{"user name", "/users", user, "name", strings.Repeat("n", 256), "Name is too long (at most 255 characters)"},
		{"user e-mail with a line break", "/users", user, "email", "a@example.com\r\nRCPT TO:<b@example.com>", "E-mail must not contain line breaks or NUL characters"},
		{"user password", "/users", user, "password", strings.Repeat("p", 1025), "Password is too long (at most 1024 characters)"},
		{"site name", "/sites", site, "name", strings.Repeat("n", 256), "Name is too long (at most 255 characters)"},
		{"service name", "/services", serviceValues("x"), "name", strings.Repeat("n", 256), "Name is too long (at most 255 characters)"},
		{"service web URL", "/services", serviceValues("x"), "web_url", "https://mail.example.com/" + strings.Repeat("p", 2048), "Web interface URL is too long (at most 2048 characters)"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			r := b.postForm(test.path, with(test.values, test.field, test.value))
			wantStatus(t, r, http.StatusUnprocessableEntity)
			wantBody(t, r, html.EscapeString(test.want), `id="`+test.field+`-error"`)
			if test.field == "password" {
				noPasswords(t, r)
				wantNoBody(t, r, "DELE 1")
			}
		})
	}
	if n := countMailboxes(t, ts); n != 0 {
		t.Errorf("%d mailboxes stored by refused forms", n)
	}
}

// A token's name has a limit and a user's tokens a cap, said under the
// token's name on the profile and on a user's page, not as a server error.
func TestTokenFormLimits(t *testing.T) {
	ts := newTestServer(t)
	joe := ts.addUser(t, "joe", store.RoleUser)
	b := ts.signIn(t, "joe", "password-joe")
	b.get("/profile")
	r := b.postForm("/profile/tokens", url.Values{"token_name": {strings.Repeat("t", 101)}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Token name is too long (at most 100 characters)", `id="token_name-error"`)

	ctx := context.Background()
	for i := range service.MaxTokensPerUser {
		if _, _, err := ts.env.Service.CreateToken(ctx, joe, joe.User.ID, fmt.Sprintf("script %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	const full = "There are already 50 API tokens, the most one user may have. Revoke one you no longer use first."
	r = b.postForm("/profile/tokens", url.Values{"token_name": {"one more"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, full, `id="token_name-error"`)

	admin := ts.signIn(t, "admin", servicetest.AdminPassword)
	path := fmt.Sprintf("/users/%d", joe.User.ID)
	admin.get(path)
	r = admin.postForm(path+"/token", url.Values{"token_name": {"from the admin"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, full, `id="token_name-error"`, `aria-invalid="true" aria-describedby="token_name-error"`)
}
