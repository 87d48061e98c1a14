package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Token is an API token. Only a hash of the secret is stored.
type Token struct {
	ID         int64
	UserID     int64
	Name       string
	Hash       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time // zero: never
}

// CreateToken stores a token by the hash of its secret.
func (s *Store) CreateToken(ctx context.Context, token *Token) error {
	now := s.clock()
	id, err := s.insert(ctx, `INSERT INTO tokens (user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		token.UserID, token.Name, token.Hash, micros(now), optionalMicros(token.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	token.ID, token.CreatedAt = id, now.UTC()
	return nil
}

// TokenByHash finds an unexpired token by the hash of its secret and records
// its use.
func (s *Store) TokenByHash(ctx context.Context, hash string) (Token, error) {
	var token Token
	var created int64
	var lastUsed, expires sql.NullInt64
	err := s.queryRow(ctx, `SELECT id, user_id, name, token_hash, created_at, last_used_at, expires_at FROM tokens WHERE token_hash = ?`, hash).
		Scan(&token.ID, &token.UserID, &token.Name, &token.Hash, &created, &lastUsed, &expires)
	if err != nil {
		return token, fmt.Errorf("token: %w", mapError(err))
	}
	token.CreatedAt, token.LastUsedAt, token.ExpiresAt = fromMicros(created), nullMicros(lastUsed), nullMicros(expires)
	now := s.clock()
	if !token.ExpiresAt.IsZero() && now.After(token.ExpiresAt) {
		return Token{}, fmt.Errorf("token: expired: %w", ErrNotFound)
	}
	// Record use at most once a minute, so that a busy script does not turn
	// every API read into a write.
	if now.Sub(token.LastUsedAt) > time.Minute {
		if _, err := s.exec(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, micros(now), token.ID); err != nil {
			return token, fmt.Errorf("token: %w", err)
		}
	}
	return token, nil
}

// Tokens lists the API tokens of a user (0: of every user), newest first;
// Hash is left empty.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	query, args := `SELECT id, user_id, name, created_at, last_used_at, expires_at FROM tokens`, []any{}
	if userID != 0 {
		query, args = query+` WHERE user_id = ?`, append(args, userID)
	}
	rows, err := s.query(ctx, query+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer rows.Close()
	list := []Token{}
	for rows.Next() {
		var token Token
		var created int64
		var lastUsed, expires sql.NullInt64
		if err := rows.Scan(&token.ID, &token.UserID, &token.Name, &created, &lastUsed, &expires); err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		token.CreatedAt, token.LastUsedAt, token.ExpiresAt = fromMicros(created), nullMicros(lastUsed), nullMicros(expires)
		list = append(list, token)
	}
	return list, rows.Err()
}

// TokenByID finds a token by its ID; Hash is left empty.
func (s *Store) TokenByID(ctx context.Context, id int64) (Token, error) {
	var token Token
	var created int64
	var lastUsed, expires sql.NullInt64
	err := s.queryRow(ctx, `SELECT id, user_id, name, created_at, last_used_at, expires_at FROM tokens WHERE id = ?`, id).
		Scan(&token.ID, &token.UserID, &token.Name, &created, &lastUsed, &expires)
	if err != nil {
		return token, fmt.Errorf("token %d: %w", id, mapError(err))
	}
	token.CreatedAt, token.LastUsedAt, token.ExpiresAt = fromMicros(created), nullMicros(lastUsed), nullMicros(expires)
	return token, nil
}

// DeleteToken removes a token: it stops working at once.
func (s *Store) DeleteToken(ctx context.Context, id int64) error {
	result, err := s.exec(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete token %d: %w", id, mapError(err))
	}
	if n, err := result.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("delete token %d: %w", id, ErrNotFound)
	}
	return nil
}

// Session is a signed-in web admin session. ID is the hash of the cookie.
type Session struct {
	ID         string
	UserID     int64
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, session *Session) error {
	now := s.clock()
	session.CreatedAt, session.LastSeenAt = now.UTC(), now.UTC()
	_, err := s.exec(ctx, `INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		session.ID, session.UserID, session.CSRFToken, micros(now), micros(now), micros(session.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", mapError(err))
	}
	return nil
}

// SessionByID finds an unexpired session.
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	var session Session
	var created, seen, expires int64
	err := s.queryRow(ctx, `SELECT id, user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions WHERE id = ? AND expires_at > ?`, id, micros(s.clock())).
		Scan(&session.ID, &session.UserID, &session.CSRFToken, &created, &seen, &expires)
	if err != nil {
		return session, fmt.Errorf("session: %w", mapError(err))
	}
	session.CreatedAt, session.LastSeenAt, session.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return session, nil
}

// ExtendSession moves a session's expiry and records activity.
func (s *Store) ExtendSession(ctx context.Context, id string, expires time.Time) error {
	_, err := s.exec(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`, micros(s.clock()), micros(expires), id)
	return mapError(err)
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return mapError(err)
}

// DeleteUserSessions ends every session of a user but keep (its ID; ""
// keeps none), for example after a password change.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, keep string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keep)
	return mapError(err)
}

// PurgeSessions deletes expired sessions and reports how many went.
func (s *Store) PurgeSessions(ctx context.Context) (int64, error) {
	result, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(s.clock()))
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return result.RowsAffected()
}
