package web

import (
	"net/http"
	"net/url"
	"strconv"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// usersPageSize is how many users one page of the list shows.
const usersPageSize = 50

// userFields is the order of the user form, for the error summary.
var userFields = []string{"site", "login", "email", "name", "password", "role", "active", "language", "time_zone"}

var roles = []string{store.RoleAdmin, store.RoleAuditor, store.RoleUser}

type usersData struct {
	Users  []service.UserView
	Search string
	Role   string
	Roles  []string
	Next   string // link to the next page, "" on the last
	First  string // link back to the first page, "" on it
}

type userForm struct {
	New          bool
	ReadOnly     bool
	User         service.UserView // the stored user (edit only)
	Site         string
	Login        string
	Email        string
	Name         string
	Role         string
	Active       bool
	Language     string
	TimeZone     string
	Zones        []string
	Sites        []store.Site
	Roles        []string
	Errors       map[string]string
	Summary      []summaryItem
	PasswordHelp string // catalog key: "leave empty to keep" only on edit
	CanToken     bool   // may make an API token for this user
	NewToken     string // a token just made, shown this once

	// Tokens are the user's API tokens, listed when CanToken.
	Tokens []store.Token
}

// usersPage lists users by ID with keyset paging, filtered by a search text
// and role. Admins and auditors see everyone; a user sees only themselves
// (the service decides).
func (s *server) usersPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	query := r.URL.Query()
	content := usersData{Search: query.Get("q"), Role: query.Get("role"), Roles: roles}
	filter := store.UserFilter{Search: content.Search, Limit: usersPageSize + 1}
	for _, role := range roles {
		if role == content.Role {
			filter.Role = role
		}
	}
	if after, err := strconv.ParseInt(query.Get("after"), 10, 64); err == nil && after > 0 {
		filter.AfterID = after
		content.First = queryLink("/users", query, "after", "")
	}
	users, err := s.svc.Users(r.Context(), session.Actor, filter)
	if err != nil {
		return err
	}
	if len(users) > usersPageSize {
		users = users[:usersPageSize]
		content.Next = queryLink("/users", query, "after", strconv.FormatInt(users[len(users)-1].ID, 10))
	}
	content.Users = users
	data := s.newPage(w, r, session, "page.users.title", "users")
	data.Content = content
	s.render(w, r, http.StatusOK, "users", data)
	return nil
}

func (s *server) newUserPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return nil
	}
	form := userForm{New: true, Site: s.defaultSiteCode(r), Role: store.RoleUser, Active: true}
	s.renderUserForm(w, r, session, http.StatusOK, form)
	return nil
}

// userInput reads the user form. An empty password means "keep it" on
// edit; the active checkbox counts only when the form marked it as present.
func userInput(r *http.Request) (service.UserInput, userForm) {
	form := userForm{
		Site: formValue(r, "site"), Login: formValue(r, "login"), Email: formValue(r, "email"), Name: formValue(r, "name"),
		Role: formValue(r, "role"), Language: formValue(r, "language"), TimeZone: formValue(r, "time_zone"), Active: r.PostForm.Get("active") != "",
	}
	input := service.UserInput{
		Site: &form.Site, Login: &form.Login, Email: &form.Email, Name: &form.Name, Role: &form.Role, Language: &form.Language,
		TimeZone: &form.TimeZone,
	}
	if password := r.PostForm.Get("password"); password != "" {
		input.Password = &password
	}
	for _, marked := range r.PostForm[checkboxMarker] {
		if marked == "active" {
			input.Active = &form.Active
		}
	}
	return input, form
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	input, form := userInput(r)
	form.New = true
	user, err := s.svc.CreateUser(r.Context(), session.Actor, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		form.Errors = fieldErrors
		s.renderUserForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.user_created")
	http.Redirect(w, r, "/users/"+strconv.FormatInt(user.ID, 10), http.StatusSeeOther)
	return nil
}

// pathID reads the {id} of a path; anything but the canonical form of a
// positive number is a 404 (see service.ParseID).
func (s *server) pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	return s.pathValueID(w, r, "id")
}

// pathValueID reads the ID named name of a path, as pathID does.
func (s *server) pathValueID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, ok := service.ParseID(r.PathValue(name))
	if !ok {
		s.notFound(w, r)
	}
	return id, ok
}

func (s *server) userPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	s.showUser(w, r, session, id, http.StatusOK, "")
	return nil
}

// showUser renders a stored user's form, with newToken shown once when one
// was just made.
func (s *server) showUser(w http.ResponseWriter, r *http.Request, session *service.WebSession, id int64, status int, newToken string) {
	user, err := s.svc.User(r.Context(), session.Actor, id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	form := storedUserForm(user)
	form.NewToken = newToken
	s.renderUserForm(w, r, session, status, form)
}

// storedUserForm is the form of a user as stored.
func storedUserForm(user service.UserView) userForm {
	return userForm{User: user, Site: user.Site, Login: user.Login, Email: user.Email, Name: user.Name, Role: user.Role,
		Active: user.Active, Language: user.Language, TimeZone: user.TimeZone}
}

func (s *server) updateUser(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	input, form := userInput(r)
	_, err := s.svc.UpdateUser(r.Context(), session.Actor, id, input)
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		if stored, err := s.svc.User(r.Context(), session.Actor, id); err == nil {
			form.User = stored
		}
		form.Errors = fieldErrors
		s.renderUserForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.flash(w, r, "flash.saved")
	http.Redirect(w, r, "/users/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

func (s *server) renderUserForm(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, form userForm) {
	data := s.formPage(w, r, session, "user", form.New, form.User.Login)
	sites, err := s.svc.Sites(r.Context(), session.Actor)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	form.Sites, form.Roles, form.Zones = sites, roles, service.TimeZones
	form.PasswordHelp = "help.password"
	if form.New {
		form.PasswordHelp = "help.password_new"
	}
	form.ReadOnly = !session.Actor.IsAdmin()
	form.CanToken = !form.New && session.Actor.CanManageTokens(form.User.ID)
	if form.CanToken {
		tokens, err := s.svc.Tokens(r.Context(), session.Actor, form.User.ID)
		if err != nil {
			s.serviceError(w, r, err)
			return
		}
		form.Tokens = tokens
	}
	form.Summary = summaryOf(form.Errors, userFields...)
	data.Content = form
	s.render(w, r, status, "user", data)
}

// createToken makes an API token and shows it on the user's page this once:
// it is stored only as a hash, so it cannot be shown again. The page is
// rendered directly (no redirect) so the secret never sits in a cookie or URL.
func (s *server) createToken(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	token, _, err := s.svc.CreateToken(r.Context(), session.Actor, id, formValue(r, "token_name"))
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		user, err := s.svc.User(r.Context(), session.Actor, id)
		if err != nil {
			s.serviceError(w, r, err)
			return
		}
		form := storedUserForm(user)
		form.Errors = tokenFieldErrors(fieldErrors)
		s.renderUserForm(w, r, session, http.StatusUnprocessableEntity, form)
	}) {
		return nil
	}
	s.showUser(w, r, session, id, http.StatusOK, token)
	return nil
}

func (s *server) deleteUserPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	s.confirmDeleteUser(w, r, session, id, http.StatusOK, "")
	return nil
}

func (s *server) confirmDeleteUser(w http.ResponseWriter, r *http.Request, session *service.WebSession, id int64, status int, problem string) {
	if !s.allowed(w, r, session.Actor.IsAdmin()) {
		return
	}
	user, err := s.svc.User(r.Context(), session.Actor, id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	owned, err := s.svc.OwnedMailboxCount(r.Context(), session.Actor, id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	data := s.newPage(w, r, session, "page.user_delete.title", "users")
	path := "/users/" + url.PathEscape(strconv.FormatInt(id, 10))
	confirm := confirmData{
		Question: i18n.Default.T(data.Lang, "confirm.delete_user", user.Login),
		Action:   path + "/delete", Cancel: path, Error: problem,
	}
	if owned > 0 {
		confirm.Note = i18n.Default.T(data.Lang, "confirm.delete_user_mailboxes", owned)
		confirm.Option = &confirmOption{Name: "delete_mailboxes", Label: i18n.Default.T(data.Lang, "confirm.delete_user_mailboxes_too", owned)}
	}
	data.Content = confirm
	s.render(w, r, status, "confirm", data)
}

// deleteUser deletes only with confirm=yes; a bare POST shows the question.
func (s *server) deleteUser(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	if formValue(r, "confirm") != "yes" {
		s.confirmDeleteUser(w, r, session, id, http.StatusOK, "")
		return nil
	}
	err := s.svc.DeleteUser(r.Context(), session.Actor, id, service.DeleteUserOptions{DeleteMailboxes: formValue(r, "delete_mailboxes") == "yes"})
	if s.formFailed(w, r, session, err, func(fieldErrors map[string]string) {
		s.confirmDeleteUser(w, r, session, id, http.StatusConflict, fieldErrors[""])
	}) {
		return nil
	}
	s.flash(w, r, "flash.user_deleted")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
	return nil
}
