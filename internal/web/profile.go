package web

import (
	"net/http"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// profileFields is the order of the profile form, for the error summary.
var profileFields = []string{"name", "email", "language", "time_zone", "password", "password_repeat"}

type profileForm struct {
	User     service.UserView
	ReadOnly bool
	Name     string
	Email    string
	Language string
	TimeZone string
	Zones    []string
	SiteZone string // the zone an empty field means
	Errors   map[string]string
	Summary  []summaryItem
	Tokens   []store.Token
	// NewToken is the secret of a token just made, shown this once.
	NewToken string
}

// profilePage shows the signed-in user's own record: name, e-mail, password
// and language are theirs to change.
func (s *server) profilePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	user, err := s.svc.User(r.Context(), session.Actor, session.Actor.User.ID)
	if err != nil {
		return err
	}
	s.renderProfile(w, r, session, http.StatusOK, profileForm{User: user, Name: user.Name, Email: user.Email, Language: user.Language, TimeZone: user.TimeZone})
	return nil
}

// saveProfile changes the user's own record through service.UpdateUser,
// sending only the fields a user may change. The password is typed twice,
// checked here: a typo would otherwise lock the user out.
func (s *server) saveProfile(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !session.Actor.CanEditUser(session.Actor.User.ID) {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	form := profileForm{Name: formValue(r, "name"), Email: formValue(r, "email"), Language: formValue(r, "language"),
		TimeZone: formValue(r, "time_zone")}
	input := service.UserInput{Name: &form.Name, Email: &form.Email, Language: &form.Language, TimeZone: &form.TimeZone}
	password := r.PostForm.Get("password")
	if password != "" {
		if password != r.PostForm.Get("password_repeat") {
			form.Errors = map[string]string{"password_repeat": i18n.Default.T(lang, "error.password_mismatch")}
		}
		input.Password = &password
	}
	invalid := func(fieldErrors map[string]string) {
		if user, err := s.svc.User(r.Context(), session.Actor, session.Actor.User.ID); err == nil {
			form.User = user
		}
		form.Errors = fieldErrors
		s.renderProfile(w, r, session, http.StatusUnprocessableEntity, form)
	}
	if form.Errors != nil {
		invalid(form.Errors)
		return nil
	}
	_, err := s.svc.UpdateUser(r.Context(), session.Actor, session.Actor.User.ID, input)
	if s.formFailed(w, r, session, err, invalid) {
		return nil
	}
	s.flash(w, r, "flash.profile_saved")
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
	return nil
}

func (s *server) renderProfile(w http.ResponseWriter, r *http.Request, session *service.WebSession, status int, form profileForm) {
	data := s.newPage(w, r, session, "page.profile.title", "profile")
	form.ReadOnly = !session.Actor.CanEditUser(session.Actor.User.ID)
	form.Summary = summaryOf(form.Errors, profileFields...)
	form.Zones = service.TimeZones
	// The zone an empty field means: the site's (a user without a zone).
	form.SiteZone = s.svc.UserLocation(r.Context(), store.User{SiteID: session.Actor.User.SiteID}).String()
	// The user's own tokens: for an admin, 0 would list everyone's.
	tokens, err := s.svc.Tokens(r.Context(), session.Actor, session.Actor.User.ID)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	form.Tokens = tokens
	data.Content = form
	s.render(w, r, status, "profile", data)
}

// makeToken makes an API token for the signed-in user and shows its secret
// on the page it answers with, once: never in a redirect, cookie or URL.
func (s *server) makeToken(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	name := strings.TrimSpace(formValue(r, "token_name"))
	if name == "" {
		name = "web"
	}
	secret, _, err := s.svc.CreateToken(r.Context(), session.Actor, session.Actor.User.ID, name)
	invalid := func(fieldErrors map[string]string) {
		form := profileForm{Errors: tokenFieldErrors(fieldErrors)}
		if user, err := s.svc.User(r.Context(), session.Actor, session.Actor.User.ID); err == nil {
			form.User, form.Name, form.Email, form.Language, form.TimeZone = user, user.Name, user.Email, user.Language, user.TimeZone
		}
		s.renderProfile(w, r, session, http.StatusUnprocessableEntity, form)
	}
	if s.formFailed(w, r, session, err, invalid) {
		return nil
	}
	user, err := s.svc.User(r.Context(), session.Actor, session.Actor.User.ID)
	if err != nil {
		return err
	}
	s.renderProfile(w, r, session, http.StatusOK, profileForm{User: user, Name: user.Name, Email: user.Email, Language: user.Language,
		TimeZone: user.TimeZone, NewToken: secret})
	return nil
}

// tokenFieldErrors puts the errors of making a token under the form's one
// field, token_name: the service names it as the API does ("name"), and
// the cap on a user's tokens is no field's.
func tokenFieldErrors(fieldErrors map[string]string) map[string]string {
	out := map[string]string{}
	for _, message := range fieldErrors {
		out["token_name"] = message
	}
	return out
}

// revokeTokenPage asks before revoking one of the user's API tokens.
func (s *server) revokeTokenPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	token, ok := s.ownToken(w, r, session)
	if !ok {
		return nil
	}
	s.renderRevokeToken(w, r, session, "profile", tokenRevokeData{Token: token,
		Action: "/profile/tokens/" + strconv.FormatInt(token.ID, 10) + "/revoke", Cancel: "/profile"})
	return nil
}

// tokenRevokeData is the content of the page that asks before revoking a
// token: from the profile, or from a user's page (admins).
type tokenRevokeData struct {
	Token  store.Token
	Action string // where the confirming form posts
	Cancel string // where "Cancel" goes, and where the revoke comes back to
}

func (s *server) renderRevokeToken(w http.ResponseWriter, r *http.Request, session *service.WebSession, nav string, content tokenRevokeData) {
	data := s.newPage(w, r, session, "page.token_revoke.title", nav)
	data.Content = content
	s.render(w, r, http.StatusOK, "token_revoke", data)
}

// userTokenPaths gives the revoke and back paths of a token on a user's page.
func userTokenPaths(userID, tokenID int64) (action, back string) {
	back = "/users/" + strconv.FormatInt(userID, 10)
	return back + "/tokens/" + strconv.FormatInt(tokenID, 10) + "/revoke", back
}

// revokeUserTokenPage asks before revoking a token listed on a user's page
// (/users/{id}/tokens/{token}/revoke). The service decides who may: admins
// anyone's, others their own.
func (s *server) revokeUserTokenPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	userID, token, ok := s.userToken(w, r, session)
	if !ok {
		return nil
	}
	action, back := userTokenPaths(userID, token.ID)
	s.renderRevokeToken(w, r, session, "users", tokenRevokeData{Token: token, Action: action, Cancel: back})
	return nil
}

// revokeUserToken revokes a token from a user's page and goes back to it.
func (s *server) revokeUserToken(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	userID, token, ok := s.userToken(w, r, session)
	if !ok {
		return nil
	}
	if err := s.svc.RevokeToken(r.Context(), session.Actor, token.ID); err != nil {
		return err
	}
	_, back := userTokenPaths(userID, token.ID)
	s.flash(w, r, "flash.token_revoked")
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// userToken finds the path's token among the path's user's tokens; a token
// of another user is not found, one the actor may not list is forbidden.
func (s *server) userToken(w http.ResponseWriter, r *http.Request, session *service.WebSession) (int64, store.Token, bool) {
	userID, ok := s.pathID(w, r)
	if !ok {
		return 0, store.Token{}, false
	}
	tokenID, ok := s.pathValueID(w, r, "token")
	if !ok {
		return 0, store.Token{}, false
	}
	tokens, err := s.svc.Tokens(r.Context(), session.Actor, userID)
	if err != nil {
		s.serviceError(w, r, err)
		return 0, store.Token{}, false
	}
	for _, token := range tokens {
		if token.ID == tokenID && token.UserID == userID {
			return userID, token, true
		}
	}
	s.notFound(w, r)
	return 0, store.Token{}, false
}

// revokeToken revokes one of the user's API tokens.
func (s *server) revokeToken(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	token, ok := s.ownToken(w, r, session)
	if !ok {
		return nil
	}
	if err := s.svc.RevokeToken(r.Context(), session.Actor, token.ID); err != nil {
		return err
	}
	s.flash(w, r, "flash.token_revoked")
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
	return nil
}

// ownToken finds the path's token among the signed-in user's own; another's
// is not found.
func (s *server) ownToken(w http.ResponseWriter, r *http.Request, session *service.WebSession) (store.Token, bool) {
	id, ok := s.pathID(w, r)
	if !ok {
		return store.Token{}, false
	}
	tokens, err := s.svc.Tokens(r.Context(), session.Actor, session.Actor.User.ID)
	if err != nil {
		s.serviceError(w, r, err)
		return store.Token{}, false
	}
	for _, token := range tokens {
		if token.ID == id {
			return token, true
		}
	}
	s.notFound(w, r)
	return store.Token{}, false
}

// switchLanguage is the header's language switch: it stores the choice on
// the user's own record and goes back to the page it came from.
func (s *server) switchLanguage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	language := formValue(r, "language")
	if !i18n.Default.Has(language) {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	if _, err := s.svc.UpdateUser(r.Context(), session.Actor, session.Actor.User.ID, service.UserInput{Language: &language}); err != nil {
		return err
	}
	s.rememberLanguage(w, r, language)
	http.Redirect(w, r, safeNext(formValue(r, "back")), http.StatusSeeOther)
	return nil
}
