package service_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

func ptr[T any](value T) *T { return &value }

func fieldError(t *testing.T, err error, language string) map[string]string {
	t.Helper()
	var validation *service.ValidationError
	if !errors.As(err, &validation) {
		t.Fatalf("got %v, want a validation error", err)
	}
	return validation.Translated(language)
}

func TestSiteValidation(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		input service.SiteInput
		field string
		want  string
	}{
		{"no name", service.SiteInput{Code: ptr("s2")}, "name", "Name is required"},
		{"no code", service.SiteInput{Name: ptr("x")}, "code", "Code is required"},
		{"bad code", service.SiteInput{Code: ptr("a b"), Name: ptr("x")}, "code", "Code may hold only Latin letters, digits, _ and -, up to 32 characters"},
		{"taken code", service.SiteInput{Code: ptr("s1"), Name: ptr("x")}, "code", "Code is already in use"},
		{"bad domain", service.SiteInput{Code: ptr("s2"), Name: ptr("x"), Domain: ptr("not a domain")}, "domain", "Domain must be a domain name such as example.com"},
		{"bad charset", service.SiteInput{Code: ptr("s2"), Name: ptr("x"), Charset: ptr("klingon-8")}, "charset", "Charset is not a character set Pochta knows"},
		{"bad language", service.SiteInput{Code: ptr("s2"), Name: ptr("x"), Language: ptr("xx")}, "language", "Language must be one of the interface languages"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := env.Service.CreateSite(ctx, env.Admin, test.input)
			if got := fieldError(t, err, "en")[test.field]; got != test.want {
				t.Errorf("%s: %q, want %q", test.field, got, test.want)
			}
		})
	}
	site, err := env.Service.CreateSite(ctx, env.Admin, service.SiteInput{Code: ptr("ru"), Name: ptr("Сайт"), Charset: ptr("windows-1251"), Language: ptr("ru")})
	if err != nil || site.Charset != "windows-1251" {
		t.Fatalf("create: %+v, %v", site, err)
	}
	if _, err := env.Service.UpdateSite(ctx, env.Admin, "ru", service.SiteInput{Code: ptr("other")}); err == nil {
		t.Error("a site's code changed")
	}
}

func TestRolesOnSitesUsersSettings(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	auditor := env.AddUser(t, "audrey", "auditor-pass", store.RoleAuditor)
	user := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	for _, actor := range []*service.Actor{auditor, user, nil} {
		if _, err := env.Service.CreateSite(ctx, actor, service.SiteInput{Code: ptr("x"), Name: ptr("x")}); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("CreateSite as %v: %v", actor, err)
		}
		if _, err := env.Service.UpdateSettings(ctx, actor, service.SettingsInput{LogKeepDays: ptr(30)}); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("UpdateSettings as %v: %v", actor, err)
		}
		if err := env.Service.DeleteUser(ctx, actor, env.Admin.User.ID, service.DeleteUserOptions{}); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("DeleteUser as %v: %v", actor, err)
		}
		if _, err := env.Service.CreateUser(ctx, actor, service.UserInput{Login: ptr("new"), Password: ptr("password1")}); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("CreateUser as %v: %v", actor, err)
		}
	}
	settings, _ := env.Service.Settings(ctx, env.Admin)
	if settings.LogKeepDays != 7 {
		t.Errorf("settings changed by a forbidden call: %+v", settings)
	}
	// A user reads and edits only themselves, and not their role.
	if _, err := env.Service.User(ctx, user, env.Admin.User.ID); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("user read another user: %v", err)
	}
	if _, err := env.Service.UpdateUser(ctx, user, user.User.ID, service.UserInput{Role: ptr(store.RoleAdmin)}); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("user promoted themselves: %v", err)
	}
	if view, err := env.Service.UpdateUser(ctx, user, user.User.ID, service.UserInput{Name: ptr("Улисс"), Language: ptr("ru")}); err != nil || view.Name != "Улисс" {
		t.Errorf("user edits own name: %+v, %v", view, err)
	}
	users, err := env.Service.Users(ctx, user, store.UserFilter{})
	if err != nil || len(users) != 1 || users[0].Login != "ulysses" {
		t.Errorf("user lists users: %+v, %v", users, err)
	}
	if users, err := env.Service.Users(ctx, auditor, store.UserFilter{}); err != nil || len(users) != 3 {
		t.Errorf("auditor lists users: %d, %v", len(users), err)
	}
}

func TestLastAdminIsKept(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	id := env.Admin.User.ID
	if err := env.Service.DeleteUser(ctx, env.Admin, id, service.DeleteUserOptions{}); !errors.Is(err, service.ErrConflict) {
		t.Errorf("delete last admin: %v", err)
	}
	if _, err := env.Service.UpdateUser(ctx, env.Admin, id, service.UserInput{Role: ptr(store.RoleUser)}); !errors.Is(err, service.ErrConflict) {
		t.Errorf("demote last admin: %v", err)
	}
	if _, err := env.Service.UpdateUser(ctx, env.Admin, id, service.UserInput{Active: ptr(false)}); !errors.Is(err, service.ErrConflict) {
		t.Errorf("deactivate last admin: %v", err)
	}
	env.AddUser(t, "second", "second-admin", store.RoleAdmin)
	if err := env.Service.DeleteUser(ctx, env.Admin, id, service.DeleteUserOptions{}); err != nil {
		t.Errorf("delete one of two admins: %v", err)
	}
}

func TestLoginSessionsAndThrottle(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	if _, err := env.Service.Login(ctx, "ADMIN", servicetest.AdminPassword, "10.0.0.1"); err != nil {
		t.Fatalf("login ignoring case: %v", err)
	}
	if _, err := env.Service.Login(ctx, "nobody", "x", "10.0.0.3"); !errors.Is(err, service.ErrUnauthenticated) {
		t.Errorf("unknown login: %v", err)
	}

	user := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	session, err := env.Service.StartSession(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := env.Service.Session(ctx, session.Cookie); err != nil || got.Actor.User.ID != user.User.ID || got.CSRFToken != session.CSRFToken {
		t.Errorf("Session = %+v, %v", got, err)
	}
	if _, err := env.Service.Session(ctx, session.Cookie+"x"); !errors.Is(err, service.ErrUnauthenticated) {
		t.Errorf("forged cookie: %v", err)
	}
	// Deactivating a user ends their sessions.
	if _, err := env.Service.UpdateUser(ctx, env.Admin, user.User.ID, service.UserInput{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.Session(ctx, session.Cookie); !errors.Is(err, service.ErrUnauthenticated) {
		t.Errorf("session of a deactivated user: %v", err)
	}

	token, _, err := env.Service.CreateToken(ctx, env.Admin, env.Admin.User.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if actor, err := env.Service.TokenActor(ctx, token); err != nil || actor.User.Login != "admin" {
		t.Errorf("TokenActor = %v, %v", actor, err)
	}
	stored, _ := env.Store.Users(ctx, store.UserFilter{})
	for _, u := range stored {
		if strings.Contains(u.PasswordHash, "password") || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("password of %s stored as %q", u.Login, u.PasswordHash)
		}
	}
}

func TestSettingsValidationAndDefaults(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	settings, err := env.Service.Settings(ctx, env.Admin)
	if err != nil || !reflect.DeepEqual(settings, service.DefaultSettings()) {
		t.Fatalf("fresh settings = %+v, %v", settings, err)
	}
	_, err = env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{ConnectionTimeout: ptr(0), LogKeepDays: ptr(30)})
	errs := fieldError(t, err, "ru")
	if errs["connection_timeout"] != "Поле «Время ожидания соединения (секунды)» должно быть целым числом от 1 до 600" {
		t.Errorf("Russian field error: %q", errs["connection_timeout"])
	}
	if settings, _ := env.Service.Settings(ctx, env.Admin); settings.LogKeepDays != 7 {
		t.Errorf("a rejected update saved part of itself: %+v", settings)
	}
	settings, err = env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{LogKeepDays: ptr(30), SaveSource: ptr(false)})
	if err != nil || settings.LogKeepDays != 30 || settings.SaveSource || !settings.SaveAttachments {
		t.Errorf("update = %+v, %v", settings, err)
	}
	if disabled, days := env.Service.LogPolicy(ctx); disabled || days != 30 {
		t.Errorf("LogPolicy = %v, %d", disabled, days)
	}
}

func TestUserLanguageFallsBackToSite(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	if _, err := env.Service.UpdateSite(ctx, env.Admin, "s1", service.SiteInput{Language: ptr("ru")}); err != nil {
		t.Fatal(err)
	}
	user := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	if got := env.Service.UserLanguage(ctx, user.User); got != "ru" {
		t.Errorf("language = %q, want the site's ru", got)
	}
	user.User.Language = "en"
	if got := env.Service.UserLanguage(ctx, user.User); got != "en" {
		t.Errorf("language = %q, want the user's en", got)
	}
}

// Changing one's own password signs out one's other sessions (whoever held
// the old password), not the one that changed it; an admin's reset signs
// the user out everywhere.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	user := env.AddUser(t, "penelope", "user-password", store.RoleUser)
	here, err := env.Service.StartSession(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := env.Service.StartSession(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	current, err := env.Service.Session(ctx, here.Cookie)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.UpdateUser(ctx, current.Actor, user.User.ID, service.UserInput{Password: ptr("a-new-password")}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.Session(ctx, here.Cookie); err != nil {
		t.Errorf("the session that changed the password: %v", err)
	}
	if _, err := env.Service.Session(ctx, elsewhere.Cookie); !errors.Is(err, service.ErrUnauthenticated) {
		t.Errorf("another session after the password change: %v", err)
	}
	if _, err := env.Service.UpdateUser(ctx, env.Admin, user.User.ID, service.UserInput{Password: ptr("reset-by-admin")}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.Session(ctx, here.Cookie); !errors.Is(err, service.ErrUnauthenticated) {
		t.Errorf("a session after an admin's reset: %v", err)
	}
}
