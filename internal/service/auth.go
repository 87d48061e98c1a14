package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// ErrThrottled is returned by [Service.Login], as a [*ThrottledError],
// while attempts from the client's address must wait after failed ones. It
// wraps ErrUnauthenticated.
var ErrThrottled = fmt.Errorf("too many failed sign-in attempts, try again later: %w", ErrUnauthenticated)

// ThrottledError is [ErrThrottled] with the time to wait before the next
// attempt is taken.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v (in %d s)", ErrThrottled, e.Seconds())
}

// Unwrap makes errors.Is(err, ErrThrottled) and ErrUnauthenticated hold.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// Seconds is the wait in whole seconds, rounded up (as HTTP's Retry-After
// takes it): never 0, which would invite an attempt that is still refused.
func (e *ThrottledError) Seconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// Web sessions.
const (
	sessionLifetime     = 12 * time.Hour
	sessionExtendAfter  = 5 * time.Minute
	sessionCookieLength = 32
)

// Login checks a login and password from a client address. It returns a
// [*ThrottledError] without checking the password while attempts from the
// address must wait (see throttle.go), and ErrUnauthenticated for wrong
// credentials or an inactive user, taking the same time for an unknown
// login as for a wrong password.
func (s *Service) Login(ctx context.Context, login, password, address string) (*Actor, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	attempt, wait := s.throttle.begin(login, address, s.now())
	if wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	user, err := s.store.UserByLogin(ctx, login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.throttle.abandoned(attempt)
		return nil, err
	}
	select {
	case s.passwordChecks <- struct{}{}:
	case <-ctx.Done():
		s.throttle.abandoned(attempt)
		return nil, ctx.Err()
	}
	matched := false
	if err != nil {
		secret.CheckDummy(password)
	} else {
		matched = secret.CheckPassword(user.PasswordHash, password)
	}
	<-s.passwordChecks
	if err != nil || !matched || !user.Active {
		for _, notice := range s.throttle.failed(attempt, s.now()) {
			s.logThrottled(ctx, login, address, notice)
		}
		return nil, ErrUnauthenticated
	}
	s.throttle.succeeded(attempt)
	// API calls with HTTP Basic sign in on every request: record the time at
	// most once a minute so that reads do not each become a write.
	if now := s.now(); now.Sub(user.LastLoginAt) > time.Minute {
		if err := s.store.TouchUserLogin(ctx, user.ID); err != nil {
			return nil, err
		}
	}
	return &Actor{User: user}, nil
}

// logThrottled tells the work log that sign-in attempts have begun to be
// slowed down, once per run of failures of a counter. The login is what the
// client sent, cut short and made storable text: it need not be anyone's,
// nor text (the web form takes any bytes), and the store would refuse the
// line.
func (s *Service) logThrottled(ctx context.Context, login, address string, notice throttleNotice) {
	login = strings.ToValidUTF8(strings.ReplaceAll(login, "\x00", ""), "\uFFFD")
	if runes := []rune(login); len(runes) > throttleLoggedLogin {
		login = string(runes[:throttleLoggedLogin]) + "…"
	}
	seconds := int(notice.wait / time.Second)
	part := worklog.Part("log.signin_slowed", login, address, notice.failures, seconds)
	if notice.perAddress {
		part = worklog.Part("log.signin_slowed_address", address, notice.failures, login, seconds)
	}
	parts := []store.LogPart{part}
	if notice.suppressed > 0 {
		parts = append(parts, worklog.Part("log.signin_suppressed", notice.suppressed))
	}
	s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "signin"}, parts...))
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
	if !actor.CanManageTokens(userID) {
		return "", store.Token{}, ErrForbidden
	}
	if _, err := s.store.UserByID(ctx, userID); err != nil {
		return "", store.Token{}, wrapNotFound("user", err)
	}
	name = strings.TrimSpace(name)
	if err := checkTokenName(name); err != nil {
		return "", store.Token{}, err
	}
	tokens, err := s.store.Tokens(ctx, userID)
	if err != nil {
		return "", store.Token{}, fmt.Errorf("count the tokens of user %d: %w", userID, err)
	}
	if err := checkTokenCount(len(tokens)); err != nil {
		return "", store.Token{}, err
	}
	value := "pt_" + secret.NewToken(32)
	token := store.Token{UserID: userID, Name: name, Hash: secret.HashToken(value)}
	if err := s.store.CreateToken(ctx, &token); err != nil {
		return "", store.Token{}, err
	}
	s.audit(ctx, actor, "API token created", "user_id", userID, "token_id", token.ID, "token", token.Name)
	return value, token, nil
}

// Tokens lists API tokens without their secrets: admins anyone's (userID
// 0: everyone's), others their own (userID 0 or theirs).
func (s *Service) Tokens(ctx context.Context, actor *Actor, userID int64) ([]store.Token, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	if !actor.CanManageTokens(userID) {
		if userID != 0 {
			return nil, ErrForbidden
		}
		userID = actor.User.ID
	}
	return s.store.Tokens(ctx, userID)
}

// RevokeToken deletes an API token, which stops working at once: admins
// anyone's, others their own. Another's token is not found, as a missing
// one is, so that token IDs cannot be probed.
func (s *Service) RevokeToken(ctx context.Context, actor *Actor, id int64) error {
	if actor == nil {
		return ErrForbidden
	}
	token, err := s.store.TokenByID(ctx, id)
	if err != nil {
		return wrapNotFound("token", err)
	}
	if !actor.CanManageTokens(token.UserID) {
		return fmt.Errorf("token %d: %w", id, ErrNotFound)
	}
	if err := s.store.DeleteToken(ctx, id); err != nil {
		return wrapNotFound("token", err)
	}
	s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "token"},
		worklog.Part("log.token_revoked", token.ID, token.Name, token.UserID, actor.User.Login)))
	s.audit(ctx, actor, "API token revoked", "user_id", token.UserID, "token_id", token.ID, "token", token.Name)
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
