package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OAuthState is an OAuth2 authorisation under way (the "state" parameter's
// row): bound to the web session that started it, used once, expiring.
type OAuthState struct {
	StateHash      string // SHA-256 of the state sent to the browser
	SessionID      string // the web session's stored ID (the cookie's hash)
	UserID         int64
	ServiceID      int64
	MailboxID      int64  // a mailbox being signed in again; 0: a new one
	Login          string // the address the user typed, when any
	VerifierSealed []byte // the PKCE code verifier, sealed
	RedirectURL    string
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// CreateOAuthState records an authorisation under way, and purges the
// expired ones (a flow abandoned at the provider leaves its row behind).
func (s *Store) CreateOAuthState(ctx context.Context, state OAuthState) error {
	now := s.clock()
	if _, err := s.exec(ctx, `DELETE FROM oauth_states WHERE expires_at <= ?`, micros(now)); err != nil {
		return fmt.Errorf("purge OAuth states: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO oauth_states (state_hash, session_id, user_id, service_id, mailbox_id, login, verifier_enc,
		redirect_url, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, state.StateHash, state.SessionID, state.UserID,
		state.ServiceID, optionalID(state.MailboxID), state.Login, state.VerifierSealed, state.RedirectURL, micros(now),
		micros(state.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create OAuth state: %w", mapError(err))
	}
	return nil
}

// TakeOAuthState finds and deletes, in one statement, the unexpired
// authorisation of a state started by the given session: a state is good
// once, and only in the session (so the browser) that started it. Any
// other state, a used one, an expired one or one of another session is
// ErrNotFound; the other session's state stays usable by its own.
func (s *Store) TakeOAuthState(ctx context.Context, stateHash, sessionID string) (OAuthState, error) {
	var state OAuthState
	var mailboxID sql.NullInt64
	var created, expires int64
	err := s.queryRow(ctx, `DELETE FROM oauth_states WHERE state_hash = ? AND session_id = ? AND expires_at > ?
		RETURNING state_hash, session_id, user_id, service_id, mailbox_id, login, verifier_enc, redirect_url, created_at, expires_at`,
		stateHash, sessionID, micros(s.clock())).Scan(&state.StateHash, &state.SessionID, &state.UserID, &state.ServiceID, &mailboxID,
		&state.Login, &state.VerifierSealed, &state.RedirectURL, &created, &expires)
	if err != nil {
		return state, fmt.Errorf("OAuth state: %w", mapError(err))
	}
	state.MailboxID = mailboxID.Int64
	state.CreatedAt, state.ExpiresAt = fromMicros(created), fromMicros(expires)
	return state, nil
}

// MailboxOAuthToken gives a mailbox's sealed OAuth2 token and its version
// (nil and 0 when it has none).
func (s *Store) MailboxOAuthToken(ctx context.Context, mailboxID int64) ([]byte, int64, error) {
	var sealed []byte
	var version int64
	err := s.queryRow(ctx, `SELECT oauth_token_enc, oauth_token_version FROM mailboxes WHERE id = ?`, mailboxID).Scan(&sealed, &version)
	if err != nil {
		return nil, 0, fmt.Errorf("OAuth token of mailbox %d: %w", mailboxID, mapError(err))
	}
	return sealed, version, nil
}

// ErrStale is returned by [Store.SwapMailboxOAuthToken] when the stored
// token is no longer the version the caller read: another process
// refreshed it first.
var ErrStale = errors.New("the stored token changed meanwhile")

// SwapMailboxOAuthToken stores a refreshed token if the stored one is still
// version (a compare-and-swap): two processes refreshing at once never put
// an older token over a newer one. It gives the new version, or ErrStale.
func (s *Store) SwapMailboxOAuthToken(ctx context.Context, mailboxID int64, sealed []byte, version int64) (int64, error) {
	result, err := s.exec(ctx, `UPDATE mailboxes SET oauth_token_enc = ?, oauth_token_version = ? WHERE id = ? AND oauth_token_version = ?`,
		sealed, version+1, mailboxID, version)
	if err != nil {
		return 0, fmt.Errorf("store OAuth token of mailbox %d: %w", mailboxID, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return 0, fmt.Errorf("store OAuth token of mailbox %d: %w", mailboxID, ErrStale)
	}
	return version + 1, nil
}

// SetMailboxOAuth signs a mailbox in with a new grant: its mechanism and
// token, whatever token it had (a new version), its failure cleared so that
// the next sync is due at once.
func (s *Store) SetMailboxOAuth(ctx context.Context, mailboxID int64, mechanism string, sealed []byte) error {
	result, err := s.exec(ctx, `UPDATE mailboxes SET oauth_mechanism = ?, oauth_token_enc = ?, oauth_token_version = oauth_token_version + 1,
		last_error = '', last_error_reason = '', failure_streak = 0, next_check_at = NULL, updated_at = ? WHERE id = ?`,
		mechanism, sealed, micros(s.clock()), mailboxID)
	if err != nil {
		return fmt.Errorf("sign in mailbox %d: %w", mailboxID, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("sign in mailbox %d: %w", mailboxID, ErrNotFound)
	}
	return nil
}
