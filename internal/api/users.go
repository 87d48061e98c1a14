package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// listUsers pages users by ID, filtered by role, site code and a search
// text ("q", part of login, name or e-mail).
func (a *api) listUsers(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	limit := q.limit()
	filter := store.UserFilter{
		AfterID: q.cursorID(),
		Role:    q.oneOf("role", "error.unknown_role", store.RoleAdmin, store.RoleAuditor, store.RoleUser),
		Search:  q.get("q"),
		Limit:   fetchSize(limit),
	}
	siteID, err := q.siteID(a, r, actor)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	filter.SiteID = siteID
	if err := q.err(); err != nil {
		return err
	}
	users, err := a.svc.Users(r.Context(), actor, filter)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	page, more := trimPage(users, limit)
	body := listBody[service.UserView]{Items: page}
	if more {
		body.NextCursor = encodeIDCursor(page[len(page)-1].ID)
	}
	return respond(w, http.StatusOK, body)
}

func (a *api) getUser(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	user, err := a.svc.User(r.Context(), actor, id)
	if err != nil {
		return fmt.Errorf("get user %d: %w", id, err)
	}
	return respond(w, http.StatusOK, user)
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.UserInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	user, err := a.svc.CreateUser(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	w.Header().Set("Location", Prefix+"users/"+strconv.FormatInt(user.ID, 10))
	return respond(w, http.StatusCreated, user)
}

func (a *api) updateUser(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var input service.UserInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	user, err := a.svc.UpdateUser(r.Context(), actor, id, input)
	if err != nil {
		return fmt.Errorf("update user %d: %w", id, err)
	}
	return respond(w, http.StatusOK, user)
}

func (a *api) deleteUser(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var options service.DeleteUserOptions
	switch r.URL.Query().Get("mailboxes") {
	case "delete":
		options.DeleteMailboxes = true
	case "", "keep":
	default:
		return &service.ValidationError{Fields: map[string]i18n.Message{"mailboxes": i18n.M("error.invalid", i18n.Key("field.mailboxes"))}}
	}
	if err := a.svc.DeleteUser(r.Context(), actor, id, options); err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenRequest is the body of POST /tokens. UserID nil means the caller.
type tokenRequest struct {
	UserID *int64 `json:"user_id"`
	Name   string `json:"name"`
}

// tokenResponse shows a new token. Token is the secret, shown this once:
// only its hash is stored.
type tokenResponse struct {
	Token     string    `json:"token"`
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// tokenInfo is a token as listed: never its secret.
type tokenInfo struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// listTokens lists API tokens without their secrets: an admin's anyone's
// (?user_id= narrows), others' their own.
func (a *api) listTokens(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	userID := q.id("user_id")
	if err := q.err(); err != nil {
		return err
	}
	tokens, err := a.svc.Tokens(r.Context(), actor, userID)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	items := make([]tokenInfo, len(tokens))
	for i, token := range tokens {
		items[i] = tokenInfo{ID: token.ID, UserID: token.UserID, Name: token.Name, CreatedAt: token.CreatedAt,
			LastUsedAt: optionalTime(token.LastUsedAt), ExpiresAt: optionalTime(token.ExpiresAt)}
	}
	return respond(w, http.StatusOK, listBody[tokenInfo]{Items: items})
}

// revokeToken deletes a token: it stops working at once.
func (a *api) revokeToken(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.svc.RevokeToken(r.Context(), actor, id); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) createToken(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input tokenRequest
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	userID := actor.User.ID
	if input.UserID != nil {
		if *input.UserID <= 0 {
			return &service.ValidationError{Fields: map[string]i18n.Message{"user_id": i18n.M("error.invalid", i18n.Key("field.user_id"))}}
		}
		userID = *input.UserID
	}
	secret, token, err := a.svc.CreateToken(r.Context(), actor, userID, input.Name)
	if err != nil {
		return fmt.Errorf("create token for user %d: %w", userID, err)
	}
	return respond(w, http.StatusCreated, tokenResponse{Token: secret, ID: token.ID, UserID: token.UserID, Name: token.Name, CreatedAt: token.CreatedAt})
}
