package service

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/store"
)

// MinPasswordLength is the shortest user password accepted.
const MinPasswordLength = 8

// UserView is a user as the front ends show it: never with the password hash.
type UserView struct {
	ID          int64      `json:"id"`
	Site        string     `json:"site"`
	Login       string     `json:"login"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Active      bool       `json:"active"`
	Role        string     `json:"role"`
	Language    string     `json:"language"`
	TimeZone    string     `json:"time_zone"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// UserInput creates or changes a user. Nil fields are left as they are (or
// take defaults on create). Password is write-only.
type UserInput struct {
	Site     *string `json:"site,omitempty"`
	Login    *string `json:"login,omitempty"`
	Email    *string `json:"email,omitempty"`
	Name     *string `json:"name,omitempty"`
	Password *string `json:"password,omitempty"`
	Active   *bool   `json:"active,omitempty"`
	Role     *string `json:"role,omitempty"`
	Language *string `json:"language,omitempty"`
	TimeZone *string `json:"time_zone,omitempty"`
}

func (s *Service) userView(ctx context.Context, user store.User) UserView {
	view := UserView{ID: user.ID, Login: user.Login, Email: user.Email, Name: user.Name, Active: user.Active, Role: user.Role,
		Language: user.Language, TimeZone: user.TimeZone, CreatedAt: user.CreatedAt, UpdatedAt: user.UpdatedAt}
	if !user.LastLoginAt.IsZero() {
		at := user.LastLoginAt
		view.LastLoginAt = &at
	}
	if site, err := s.store.SiteByID(ctx, user.SiteID); err == nil {
		view.Site = site.Code
	}
	return view
}

// Users lists users: every user for admins and auditors, only themselves for
// a user. afterID and limit page by ID.
func (s *Service) Users(ctx context.Context, actor *Actor, filter store.UserFilter) ([]UserView, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	var users []store.User
	if actor.CanReadAll() {
		var err error
		if users, err = s.store.Users(ctx, filter); err != nil {
			return nil, err
		}
	} else if actor.User.ID > filter.AfterID {
		users = []store.User{actor.User}
	}
	views := make([]UserView, 0, len(users))
	for _, user := range users {
		views = append(views, s.userView(ctx, user))
	}
	return views, nil
}

// User finds one user. A user may read only themselves.
func (s *Service) User(ctx context.Context, actor *Actor, id int64) (UserView, error) {
	if actor == nil || (!actor.CanReadAll() && actor.User.ID != id) {
		return UserView{}, ErrForbidden
	}
	user, err := s.store.UserByID(ctx, id)
	if err != nil {
		return UserView{}, wrapNotFound("user", err)
	}
	return s.userView(ctx, user), nil
}

func (s *Service) applyUserInput(ctx context.Context, user *store.User, input UserInput, creating bool, errs fieldErrors) {
	if input.Site != nil {
		site, err := s.store.SiteByCode(ctx, strings.TrimSpace(*input.Site))
		if err != nil {
			errs.add("site", "error.unknown_site", i18n.Key("field.site"))
		} else {
			user.SiteID = site.ID
		}
	}
	if user.SiteID == 0 {
		errs.add("site", "error.required", i18n.Key("field.site"))
	}
	if input.Login != nil {
		user.Login = strings.TrimSpace(*input.Login)
	}
	// A login signs in to the internal SMTP server (AUTH) too, and an
	// e-mail address and a name go into the lines of mail Pochta sends:
	// none may break a protocol line.
	switch {
	case user.Login == "":
		errs.add("login", "error.required", i18n.Key("field.login"))
	case breaksLine(errs, "login", i18n.Key("field.login"), user.Login):
	case tooLong(errs, "login", i18n.Key("field.login"), user.Login, MaxUserLoginLength):
	case strings.ContainsAny(user.Login, " \t:"):
		errs.add("login", "error.invalid", i18n.Key("field.login"))
	}
	if input.Email != nil {
		user.Email = strings.TrimSpace(*input.Email)
	}
	if user.Email != "" && !breaksLine(errs, "email", i18n.Key("field.email"), user.Email) &&
		!tooLong(errs, "email", i18n.Key("field.email"), user.Email, MaxEmailLength) {
		if address, err := mail.ParseAddress(user.Email); err != nil || address.Address != user.Email {
			errs.add("email", "error.email", i18n.Key("field.email"))
		}
	}
	if input.Name != nil {
		user.Name = strings.TrimSpace(*input.Name)
		checkProtocolText(errs, "name", i18n.Key("field.name"), user.Name, MaxNameLength)
	}
	if input.Password != nil && *input.Password != "" {
		// Checked before the slow hash, and never said back. It is sent
		// by SMTP AUTH, where a NUL would split it.
		password, label := *input.Password, i18n.Key("field.password")
		switch {
		case breaksLine(errs, "password", label, password):
		case tooLong(errs, "password", label, password, MaxPasswordLength):
		case utf8.RuneCountInString(password) < MinPasswordLength:
			errs.add("password", "error.password_short", label, MinPasswordLength)
		default:
			if hash, err := secret.HashPassword(password); err != nil {
				errs.add("password", "error.invalid", label)
			} else {
				user.PasswordHash = hash
			}
		}
	} else if creating {
		errs.add("password", "error.required", i18n.Key("field.password"))
	}
	if input.Active != nil {
		user.Active = *input.Active
	}
	if input.Role != nil {
		user.Role = strings.TrimSpace(*input.Role)
	}
	switch user.Role {
	case store.RoleAdmin, store.RoleAuditor, store.RoleUser:
	case "":
		errs.add("role", "error.required", i18n.Key("field.role"))
	default:
		errs.add("role", "error.unknown_role", i18n.Key("field.role"))
	}
	if input.Language != nil {
		user.Language = strings.TrimSpace(*input.Language)
	}
	if user.Language != "" && !i18n.Default.Has(user.Language) {
		errs.add("language", "error.unknown_language", i18n.Key("field.language"))
	}
	setText(&user.TimeZone, input.TimeZone)
	if user.TimeZone != "" && !ValidTimeZone(user.TimeZone) {
		errs.add("time_zone", "error.unknown_time_zone", i18n.Key("field.time_zone"))
	}
}

// CreateUser adds a user. Only admins may. A missing site means the default
// site; a missing role means "user".
func (s *Service) CreateUser(ctx context.Context, actor *Actor, input UserInput) (UserView, error) {
	if err := requireAdmin(actor); err != nil {
		return UserView{}, err
	}
	user := store.User{Active: true, Role: store.RoleUser}
	if input.Site == nil {
		if site, err := s.DefaultSite(ctx); err == nil {
			user.SiteID = site.ID
		}
	}
	errs := fieldErrors{}
	s.applyUserInput(ctx, &user, input, true, errs)
	if err := errs.err(); err != nil {
		return UserView{}, err
	}
	if err := s.store.CreateUser(ctx, &user); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return UserView{}, &ValidationError{Fields: map[string]i18n.Message{"login": i18n.M("error.taken", i18n.Key("field.login"))}}
		}
		return UserView{}, err
	}
	s.audit(ctx, actor, "user created", "user", user.Login, "user_id", user.ID, "role", user.Role)
	return s.userView(ctx, user), nil
}

// UpdateUser changes a user. Admins change anything; everyone else changes
// only their own name, e-mail, password, language and time zone.
func (s *Service) UpdateUser(ctx context.Context, actor *Actor, id int64, input UserInput) (UserView, error) {
	if !actor.CanEditUser(id) {
		return UserView{}, ErrForbidden
	}
	if !actor.IsAdmin() {
		if input.Site != nil || input.Login != nil || input.Active != nil || input.Role != nil {
			return UserView{}, ErrForbidden
		}
	}
	user, err := s.store.UserByID(ctx, id)
	if err != nil {
		return UserView{}, wrapNotFound("user", err)
	}
	wasActiveAdmin := user.Role == store.RoleAdmin && user.Active
	oldHash := user.PasswordHash
	errs := fieldErrors{}
	s.applyUserInput(ctx, &user, input, false, errs)
	if err := errs.err(); err != nil {
		return UserView{}, err
	}
	if wasActiveAdmin && (user.Role != store.RoleAdmin || !user.Active) {
		if err := s.keepOneAdmin(ctx); err != nil {
			return UserView{}, err
		}
	}
	if err := s.store.UpdateUser(ctx, &user); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return UserView{}, &ValidationError{Fields: map[string]i18n.Message{"login": i18n.M("error.taken", i18n.Key("field.login"))}}
		}
		return UserView{}, err
	}
	// A changed password or a deactivation signs the user out everywhere,
	// except in the session that changed its own password: whoever else
	// held the old password is out.
	if user.PasswordHash != oldHash || !user.Active {
		keep := ""
		if actor.User.ID == id && user.Active {
			keep = actor.session
		}
		if err := s.store.DeleteUserSessions(ctx, id, keep); err != nil {
			return UserView{}, err
		}
	}
	s.audit(ctx, actor, "user saved", "user", user.Login, "user_id", user.ID)
	return s.userView(ctx, user), nil
}

func (s *Service) keepOneAdmin(ctx context.Context) error {
	admins, err := s.store.CountActiveAdmins(ctx)
	if err != nil {
		return err
	}
	if admins <= 1 {
		return &ConflictError{Message: i18n.M("error.last_admin")}
	}
	return nil
}

// DeleteUser removes a user. The last active admin cannot be removed.
func (s *Service) DeleteUser(ctx context.Context, actor *Actor, id int64, options DeleteUserOptions) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	user, err := s.store.UserByID(ctx, id)
	if err != nil {
		return wrapNotFound("user", err)
	}
	if user.Role == store.RoleAdmin && user.Active {
		if err := s.keepOneAdmin(ctx); err != nil {
			return err
		}
	}
	owned, err := s.store.OwnedMailboxIDs(ctx, id)
	if err != nil {
		return err
	}
	for _, mailboxID := range owned {
		if options.DeleteMailboxes {
			err = s.DeleteMailbox(ctx, actor, mailboxID)
		} else {
			err = s.store.SetMailboxActive(ctx, mailboxID, false)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("mailbox %d of user %d: %w", mailboxID, id, err)
		}
	}
	if err := s.store.DeleteUser(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, actor, "user deleted", "user", user.Login, "user_id", id, "mailboxes_deleted", options.DeleteMailboxes)
	return nil
}

// DeleteUserOptions says what becomes of a deleted user's user mailboxes:
// they hold the mail of the person's own accounts.
type DeleteUserOptions struct {
	// DeleteMailboxes deletes them with their mail. Otherwise they stay,
	// switched off (no one is left to sync them for) and without an owner,
	// for an admin to give to someone else or delete.
	DeleteMailboxes bool
}

// OwnedMailboxCount says how many user mailboxes a user owns, for the
// question before deleting them: the mailboxes stay, without an owner.
func (s *Service) OwnedMailboxCount(ctx context.Context, actor *Actor, userID int64) (int, error) {
	if err := requireAdmin(actor); err != nil {
		return 0, err
	}
	return s.store.CountOwnedMailboxes(ctx, userID)
}

// UserLanguage gives the interface language of a user: their own choice, else
// their site's, else English.
func (s *Service) UserLanguage(ctx context.Context, user store.User) string {
	if user.Language != "" && i18n.Default.Has(user.Language) {
		return user.Language
	}
	if site, err := s.store.SiteByID(ctx, user.SiteID); err == nil && i18n.Default.Has(site.Language) {
		return site.Language
	}
	return i18n.Fallback
}
