package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// ErrThrottled is returned by [Service.Login] while too many recent attempts
// failed for the login or the address. It wraps ErrUnauthenticated.
var ErrThrottled = fmt.Errorf("too many failed sign-in attempts, try again later: %w", ErrUnauthenticated)

// Sign-in throttling: after this many failures within the window for one
// login, or four times as many for one client address, attempts are refused
// until the window has passed.
const (
	throttleWindow      = 15 * time.Minute
	throttlePerLogin    = 5
	throttlePerAddress  = 20
	throttleMaxTracked  = 100_000
	sessionLifetime     = 12 * time.Hour
	sessionExtendAfter  = 5 * time.Minute
	sessionCookieLength = 32
)

// throttle counts recent failures by key, in memory: a restart forgets them,
// which is acceptable for a brake on guessing.
type throttle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

func newThrottle() *throttle { return &throttle{failures: map[string][]time.Time{}} }

func (t *throttle) recent(key string, now time.Time) int {
	kept := t.failures[key][:0]
	for _, at := range t.failures[key] {
		if now.Sub(at) < throttleWindow {
			kept = append(kept, at)
		}
	}
	if len(kept) == 0 {
		delete(t.failures, key)
		return 0
	}
	t.failures[key] = kept
	return len(kept)
}

func (t *throttle) blocked(login, address string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.recent("login:"+login, now) >= throttlePerLogin || (address != "" && t.recent("address:"+address, now) >= throttlePerAddress)
}

func (t *throttle) fail(login, address string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) > throttleMaxTracked {
		// Under a flood of distinct keys, forget rather than grow without
		// bound.
		t.failures = map[string][]time.Time{}
	}
	t.failures["login:"+login] = append(t.failures["login:"+login], now)
	if address != "" {
		t.failures["address:"+address] = append(t.failures["address:"+address], now)
	}
}

func (t *throttle) succeed(login string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, "login:"+login)
}

// Login checks a login and password from a client address. It returns
// ErrThrottled while attempts are being refused and ErrUnauthenticated for
// wrong credentials or an inactive user, taking the same time for an
// unknown login as for a wrong password.
func (s *Service) Login(ctx context.Context, login, password, address string) (*Actor, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	now := s.now()
	if s.throttle.blocked(login, address, now) {
		return nil, ErrThrottled
	}
	user, err := s.store.UserByLogin(ctx, login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		secret.CheckDummy(password)
	}
	if err != nil || !secret.CheckPassword(user.PasswordHash, password) || !user.Active {
		s.throttle.fail(login, address, now)
		return nil, ErrUnauthenticated
	}
	s.throttle.succeed(login)
	// API calls with HTTP Basic sign in on every request: record the time at
	// most once a minute so that reads do not each become a write.
	if now.Sub(user.LastLoginAt) > time.Minute {
		if err := s.store.TouchUserLogin(ctx, user.ID); err != nil {
			return nil, err
		}
	}
	return &Actor{User: user}, nil
}

// TokenActor finds the user of an API token.
func (s *Service) TokenActor(ctx context.Context, token string) (*Actor, error) {
	if token == "" {
		return nil, ErrUnauthenticated
	}
	stored, err := s.store.TokenByHash(ctx, secret.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	user, err := s.store.UserByID(ctx, stored.UserID)
	if err != nil || !user.Active {
		return nil, ErrUnauthenticated
	}
	return &Actor{User: user}, nil
}

// CreateToken makes an API token for a user and returns its secret, which
// is shown once and stored only as a hash. Admins make tokens for anyone;
// others only for themselves.
func (s *Service) CreateToken(ctx context.Context, actor *Actor, userID int64, name string) (string, store.Token, error) {
	if actor == nil || (!actor.IsAdmin() && actor.User.ID != userID) {
		return "", store.Token{}, ErrForbidden
	}
	if _, err := s.store.UserByID(ctx, userID); err != nil {
		return "", store.Token{}, wrapNotFound("user", err)
	}
	value := "pt_" + secret.NewToken(32)
	token := store.Token{UserID: userID, Name: strings.TrimSpace(name), Hash: secret.HashToken(value)}
	if err := s.store.CreateToken(ctx, &token); err != nil {
		return "", store.Token{}, err
	}
	return value, token, nil
}

// Tokens lists API tokens without their secrets: admins anyone's (userID
// 0: everyone's), others their own (userID 0 or theirs).
func (s *Service) Tokens(ctx context.Context, actor *Actor, userID int64) ([]store.Token, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	if !actor.IsAdmin() {
		if userID != 0 && userID != actor.User.ID {
			return nil, ErrForbidden
		}
		userID = actor.User.ID
	}
	return s.store.Tokens(ctx, userID)
}

// RevokeToken deletes an API token, which stops working at once: admins
// anyone's, others their own.
func (s *Service) RevokeToken(ctx context.Context, actor *Actor, id int64) error {
	if actor == nil {
		return ErrForbidden
	}
	token, err := s.store.TokenByID(ctx, id)
	if err != nil {
		return wrapNotFound("token", err)
	}
	if !actor.IsAdmin() && token.UserID != actor.User.ID {
		return ErrForbidden
	}
	if err := s.store.DeleteToken(ctx, id); err != nil {
		return wrapNotFound("token", err)
	}
	s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "token"},
		worklog.Part("log.token_revoked", token.ID, token.Name, token.UserID, actor.User.Login)))
	return nil
}

// WebSession is a signed-in web admin session as the web layer sees it.
type WebSession struct {
	Cookie    string // the secret the browser holds; only its hash is stored
	CSRFToken string
	Actor     *Actor
	ExpiresAt time.Time
}

// StartSession opens a web session for an actor who has just signed in.
func (s *Service) StartSession(ctx context.Context, actor *Actor) (WebSession, error) {
	cookie := secret.NewToken(sessionCookieLength)
	session := store.Session{
		ID:        secret.HashToken(cookie),
		UserID:    actor.User.ID,
		CSRFToken: secret.NewToken(24),
		ExpiresAt: s.now().Add(sessionLifetime),
	}
	if err := s.store.CreateSession(ctx, &session); err != nil {
		return WebSession{}, err
	}
	return WebSession{Cookie: cookie, CSRFToken: session.CSRFToken, Actor: &Actor{User: actor.User, session: session.ID}, ExpiresAt: session.ExpiresAt}, nil
}

// Session finds the session of a cookie value, sliding its expiry forward.
// An unknown, expired or deactivated session gives ErrUnauthenticated.
func (s *Service) Session(ctx context.Context, cookie string) (WebSession, error) {
	if cookie == "" {
		return WebSession{}, ErrUnauthenticated
	}
	session, err := s.store.SessionByID(ctx, secret.HashToken(cookie))
	if errors.Is(err, store.ErrNotFound) {
		return WebSession{}, ErrUnauthenticated
	}
	if err != nil {
		return WebSession{}, err
	}
	user, err := s.store.UserByID(ctx, session.UserID)
	if err != nil || !user.Active {
		return WebSession{}, ErrUnauthenticated
	}
	now := s.now()
	if now.Sub(session.LastSeenAt) > sessionExtendAfter {
		session.ExpiresAt = now.Add(sessionLifetime)
		if err := s.store.ExtendSession(ctx, session.ID, session.ExpiresAt); err != nil {
			return WebSession{}, err
		}
	}
	return WebSession{Cookie: cookie, CSRFToken: session.CSRFToken, Actor: &Actor{User: user, session: session.ID}, ExpiresAt: session.ExpiresAt}, nil
}

// EndSession signs a session out.
func (s *Service) EndSession(ctx context.Context, cookie string) error {
	return s.store.DeleteSession(ctx, secret.HashToken(cookie))
}
