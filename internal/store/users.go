package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Roles a user can have.
const (
	RoleAdmin   = "admin"   // everything
	RoleAuditor = "auditor" // reads everything, changes nothing
	RoleUser    = "user"    // only the user mailboxes they own
)

// User is a person who signs in to the web admin or the API.
type User struct {
	ID           int64
	SiteID       int64
	Login        string
	Email        string
	Name         string
	PasswordHash string
	Active       bool
	Role         string
	Language     string // "" means the site's language
	TimeZone     string // an IANA zone name; "" means the site's zone
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  time.Time
}

const userColumns = `id, site_id, login, email, name, password_hash, active, role, language, time_zone, created_at, updated_at, last_login_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var user User
	var created, updated int64
	var lastLogin sql.NullInt64
	err := row.Scan(&user.ID, &user.SiteID, &user.Login, &user.Email, &user.Name, &user.PasswordHash, &user.Active, &user.Role,
		&user.Language, &user.TimeZone, &created, &updated, &lastLogin)
	user.CreatedAt, user.UpdatedAt, user.LastLoginAt = fromMicros(created), fromMicros(updated), nullMicros(lastLogin)
	return user, mapError(err)
}

func loginKey(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

func userSearchText(user *User) string {
	return strings.ToLower(user.Login + "\n" + user.Name + "\n" + user.Email)
}

// likeEscape makes a user's text match literally in LIKE ... ESCAPE '\'.
func likeEscape(text string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(text)
}

// CreateUser stores a new user; a taken login gives [ErrConflict].
func (s *Store) CreateUser(ctx context.Context, user *User) error {
	now := s.clock()
	id, err := s.insert(ctx, `INSERT INTO users (site_id, login, login_key, search_text, email, name, password_hash, active, role, language, time_zone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		user.SiteID, user.Login, loginKey(user.Login), userSearchText(user), user.Email, user.Name, user.PasswordHash, user.Active, user.Role, user.Language, user.TimeZone, micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("create user %q: %w", user.Login, err)
	}
	user.ID, user.CreatedAt, user.UpdatedAt = id, now.UTC(), now.UTC()
	return nil
}

// UpdateUser saves every field of user but its creation time.
func (s *Store) UpdateUser(ctx context.Context, user *User) error {
	now := s.clock()
	result, err := s.exec(ctx, `UPDATE users SET site_id = ?, login = ?, login_key = ?, search_text = ?, email = ?, name = ?, password_hash = ?, active = ?, role = ?, language = ?, time_zone = ?, updated_at = ? WHERE id = ?`,
		user.SiteID, user.Login, loginKey(user.Login), userSearchText(user), user.Email, user.Name, user.PasswordHash, user.Active, user.Role, user.Language, user.TimeZone, micros(now), user.ID)
	if err != nil {
		return fmt.Errorf("update user %d: %w", user.ID, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("update user %d: %w", user.ID, ErrNotFound)
	}
	user.UpdatedAt = now.UTC()
	return nil
}

// TouchUserLogin records a successful sign-in.
func (s *Store) TouchUserLogin(ctx context.Context, id int64) error {
	_, err := s.exec(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, micros(s.clock()), id)
	return mapError(err)
}

// UserByID finds a user by ID.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	user, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return user, fmt.Errorf("user %d: %w", id, err)
	}
	return user, nil
}

// UserByLogin finds a user by login, ignoring case.
func (s *Store) UserByLogin(ctx context.Context, login string) (User, error) {
	user, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE login_key = ?`, loginKey(login)))
	if err != nil {
		return user, fmt.Errorf("user %q: %w", login, err)
	}
	return user, nil
}

// UserFilter narrows [Store.Users]. Zero fields do not filter.
type UserFilter struct {
	SiteID  int64
	Role    string
	Search  string // part of login, name or e-mail
	AfterID int64  // keyset paging: users with a greater ID
	Limit   int    // 0 means 100
}

// Users lists users by ID.
func (s *Store) Users(ctx context.Context, filter UserFilter) ([]User, error) {
	where, args := []string{"id > ?"}, []any{filter.AfterID}
	if filter.SiteID != 0 {
		where, args = append(where, "site_id = ?"), append(args, filter.SiteID)
	}
	if filter.Role != "" {
		where, args = append(where, "role = ?"), append(args, filter.Role)
	}
	if filter.Search != "" {
		where, args = append(where, `search_text LIKE ? ESCAPE '\'`), append(args, "%"+likeEscape(strings.ToLower(filter.Search))+"%")
	}
	limit := filter.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := s.query(ctx, `SELECT `+userColumns+` FROM users WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []User
	for rows.Next() {
		user, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, user)
	}
	return users, rows.Err()
}

// CountUsers counts every user.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, mapError(err)
}

// CountActiveAdmins counts active users with the admin role.
func (s *Store) CountActiveAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = ? AND active = TRUE`, RoleAdmin).Scan(&n)
	return n, mapError(err)
}

// DeleteUser removes a user with their tokens and sessions. Their mailboxes
// stay, without an owner.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	result, err := s.exec(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("delete user %d: %w", id, ErrNotFound)
	}
	return nil
}

// OwnedMailboxIDs lists the IDs of the mailboxes a user owns.
func (s *Store) OwnedMailboxIDs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT id FROM mailboxes WHERE owner_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("owned mailboxes: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("owned mailboxes: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
