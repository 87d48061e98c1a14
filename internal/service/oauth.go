package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/store"
)

// OAuth2 sign-in of IMAP user mailboxes (issue 15 item 3): the
// authorisation-code flow with PKCE (S256) started from the employee's
// page, and the token source the IMAP sync signs in with.
//
// The flow: StartOAuth makes a random state and a PKCE verifier, stores the
// state's hash bound to the web session that asked (with the verifier
// sealed, the service, the mailbox being signed in again if any, and the
// redirect address), and gives the provider's authorisation URL. The
// provider sends the browser back to the callback with the state and a
// code; FinishOAuth takes the state (deleting it: once only, in the same
// session only, within oauthStateLifetime), exchanges the code with the
// verifier at the service's token URL through netguard's HTTP client, and
// stores the tokens sealed on a new mailbox of the user's or on the one
// being signed in again.

// oauthStateLifetime is how long a started sign-in waits for its callback:
// a person consents within minutes.
const oauthStateLifetime = 10 * time.Minute

// defaultIMAPInterval is the check interval of a mailbox the sign-in makes.
const defaultIMAPInterval = 10 * time.Minute

// oauthHTTPTimeout bounds a token request.
const oauthHTTPTimeout = 30 * time.Second

// refreshBefore is how long before its expiry an access token is
// refreshed: a sync that starts with a token about to expire would fail
// half-way through a long first sync's reconnect.
const refreshBefore = 5 * time.Minute

// ErrSignInAgain is the error of a mailbox whose OAuth2 grant the provider
// no longer honours (revoked, password changed, expired): its owner signs
// in again. It is marked receive.SignIn.
var ErrSignInAgain = errors.New("the provider no longer accepts this mailbox's sign-in: sign in again")

// OAuthFailure is a sign-in that could not finish, said to the user by its
// catalog key, with what restarts it.
type OAuthFailure struct {
	Key       string // catalog key of the explanation
	ServiceID int64  // the service to sign in with again (0: unknown)
	MailboxID int64
	Err       error
}

func (f *OAuthFailure) Error() string {
	if f.Err != nil {
		return "OAuth2 sign-in: " + f.Key + ": " + f.Err.Error()
	}
	return "OAuth2 sign-in: " + f.Key
}

func (f *OAuthFailure) Unwrap() error { return f.Err }

// OAuthStart asks for a sign-in: with a service (ServiceID), for a new
// mailbox or, with MailboxID, for one of the user's own signed in again.
type OAuthStart struct {
	ServiceID int64
	MailboxID int64
	// Login is the address the user typed, used when the provider does
	// not say it (no ID token), and sent as a login hint.
	Login string
	// RedirectURL is the callback's absolute address, as registered at the
	// provider.
	RedirectURL string
}

// storedToken is a mailbox's OAuth2 token as sealed in the store.
type storedToken struct {
	Access  string    `json:"access"`
	Refresh string    `json:"refresh"`
	Type    string    `json:"type,omitempty"`
	Expiry  time.Time `json:"expiry"`
}

// oauthConfig gives the x/oauth2 client of a service.
func (s *Service) oauthConfig(m store.MailService, redirectURL string) (*oauth2.Config, error) {
	if m.OAuthClientID == "" {
		return nil, fmt.Errorf("mail service %d has no OAuth2 client", m.ID)
	}
	clientSecret := ""
	if len(m.OAuthSecretSealed) > 0 {
		var err error
		if clientSecret, err = s.box.Open(m.OAuthSecretSealed); err != nil {
			return nil, fmt.Errorf("client secret of mail service %d: %w", m.ID, err)
		}
	}
	return &oauth2.Config{
		ClientID: m.OAuthClientID, ClientSecret: clientSecret, RedirectURL: redirectURL, Scopes: strings.Fields(m.OAuthScopes),
		// In the form body (client_secret_post): every provider here takes
		// it, and auto-detection would send a refused code twice.
		Endpoint: oauth2.Endpoint{AuthURL: m.OAuthAuthURL, TokenURL: m.OAuthTokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}, nil
}

// oauthContext carries the HTTP client of token requests: netguard's, so
// that a token URL cannot reach internal addresses other than the allowed
// networks, whoever set it.
func (s *Service) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.guardedDialer(ctx).HTTPClient(oauthHTTPTimeout))
}

// StartOAuth begins a sign-in for the session's user and gives the address
// to send their browser to.
func (s *Service) StartOAuth(ctx context.Context, session *WebSession, start OAuthStart) (string, error) {
	if session == nil || session.Actor == nil || session.Cookie == "" {
		return "", ErrUnauthenticated
	}
	actor := session.Actor
	if !actor.CanChangeMail() || !actor.CanAddMailbox(store.MailboxIMAP) {
		return "", ErrForbidden
	}
	if start.MailboxID != 0 {
		mailbox, err := s.ownMailbox(ctx, actor, start.MailboxID)
		if err != nil {
			return "", err
		}
		if start.ServiceID == 0 {
			start.ServiceID = mailbox.ServiceID
		}
		if mailbox.ServiceID != start.ServiceID {
			return "", fmt.Errorf("mailbox %d is not of service %d: %w", start.MailboxID, start.ServiceID, ErrNotFound)
		}
		if start.Login == "" {
			start.Login = mailbox.Login
		}
	}
	// Users see the active services of their site only.
	if _, err := s.MailService(ctx, actor, start.ServiceID); err != nil {
		return "", err
	}
	m, err := s.store.MailServiceByID(ctx, start.ServiceID)
	if err != nil {
		return "", wrapNotFound("mail service", err)
	}
	if m.OAuthClientID == "" || (m.SiteID != actor.User.SiteID && !actor.IsAdmin()) {
		return "", fmt.Errorf("mail service %d has no OAuth2 client: %w", m.ID, ErrNotFound)
	}
	start.Login = strings.TrimSpace(start.Login)
	if len(start.Login) > MaxMailboxLoginLength || !validLoginText(start.Login) {
		return "", &ValidationError{Fields: map[string]i18n.Message{"login": i18n.M("error.line_break", i18n.Key("field.login"))}}
	}
	config, err := s.oauthConfig(m, start.RedirectURL)
	if err != nil {
		return "", err
	}
	state, verifier := secret.NewToken(32), oauth2.GenerateVerifier()
	sealed, err := s.box.Seal(verifier)
	if err != nil {
		return "", err
	}
	if err := s.store.CreateOAuthState(ctx, store.OAuthState{
		StateHash: secret.HashToken(state), SessionID: secret.HashToken(session.Cookie), UserID: actor.User.ID,
		ServiceID: m.ID, MailboxID: start.MailboxID, Login: start.Login, VerifierSealed: sealed, RedirectURL: start.RedirectURL,
		ExpiresAt: s.now().Add(oauthStateLifetime),
	}); err != nil {
		return "", err
	}
	options := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if start.Login != "" {
		options = append(options, oauth2.SetAuthURLParam("login_hint", start.Login))
	}
	if parsed, err := url.Parse(m.OAuthAuthURL); err == nil && strings.EqualFold(parsed.Hostname(), "accounts.google.com") {
		// Google gives a refresh token only when asked for offline access,
		// and again on a second sign-in only with the consent prompt.
		options = append(options, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	return config.AuthCodeURL(state, options...), nil
}

// validLoginText refuses what would break an IMAP or SASL line: a login
// goes into the XOAUTH2 string between ^A separators.
func validLoginText(login string) bool {
	return !strings.ContainsAny(login, "\r\n\x00\x01,=")
}

// ownMailbox gives one of the actor's own IMAP mailboxes (ErrNotFound for
// anyone else's, as everywhere).
func (s *Service) ownMailbox(ctx context.Context, actor *Actor, id int64) (store.Mailbox, error) {
	mailbox, err := s.changeableMailbox(ctx, actor, id)
	if err != nil {
		return mailbox, err
	}
	if mailbox.OwnerID != actor.User.ID || mailbox.Type != store.MailboxIMAP {
		return store.Mailbox{}, fmt.Errorf("mailbox %d: %w", id, ErrNotFound)
	}
	return mailbox, nil
}

// OAuthCallback is what the provider sent the browser back with.
type OAuthCallback struct {
	State            string
	Code             string
	Error            string // the provider's error ("access_denied")
	ErrorDescription string
}

// FinishOAuth completes a sign-in in the session that started it: the
// state is checked and spent, the code exchanged with the PKCE verifier,
// and the tokens stored on the user's new or re-signed mailbox, whose ID
// it gives. A failure the user can act on is an *OAuthFailure.
func (s *Service) FinishOAuth(ctx context.Context, session *WebSession, callback OAuthCallback) (int64, error) {
	if session == nil || session.Actor == nil || session.Cookie == "" {
		return 0, ErrUnauthenticated
	}
	actor := session.Actor
	if callback.State == "" || len(callback.State) > 200 {
		return 0, &OAuthFailure{Key: "oauth.error_state"}
	}
	state, err := s.store.TakeOAuthState(ctx, secret.HashToken(callback.State), secret.HashToken(session.Cookie))
	if errors.Is(err, store.ErrNotFound) {
		// Never started here, used already, expired, or another
		// session's: an attacker's callback link lands here.
		s.logger.Warn("OAuth2 callback with an unknown state", "user", actor.User.Login)
		return 0, &OAuthFailure{Key: "oauth.error_state", Err: err}
	}
	if err != nil {
		return 0, err
	}
	if state.UserID != actor.User.ID {
		return 0, &OAuthFailure{Key: "oauth.error_state"}
	}
	restart := func(key string, err error) error {
		return &OAuthFailure{Key: key, ServiceID: state.ServiceID, MailboxID: state.MailboxID, Err: err}
	}
	if callback.Error != "" {
		return 0, restart("oauth.error_denied", fmt.Errorf("the provider said %q: %s", callback.Error, callback.ErrorDescription))
	}
	if callback.Code == "" {
		return 0, restart("oauth.error_exchange", errors.New("the provider sent no code"))
	}
	m, err := s.store.MailServiceByID(ctx, state.ServiceID)
	if err != nil {
		return 0, restart("oauth.error_exchange", err)
	}
	config, err := s.oauthConfig(m, state.RedirectURL)
	if err != nil {
		return 0, restart("oauth.error_exchange", err)
	}
	verifier, err := s.box.Open(state.VerifierSealed)
	if err != nil {
		return 0, err
	}
	token, err := config.Exchange(s.oauthContext(ctx), callback.Code, oauth2.VerifierOption(verifier))
	if err != nil {
		s.logger.Warn("OAuth2 code exchange failed", "user", actor.User.Login, "service_id", m.ID, "error", err)
		return 0, restart("oauth.error_exchange", err)
	}
	if token.RefreshToken == "" {
		// Without it the mailbox would stop within the hour.
		return 0, restart("oauth.error_no_refresh", errors.New("the provider gave no refresh token"))
	}
	sealed, err := s.sealToken(token)
	if err != nil {
		return 0, err
	}
	login := tokenAddress(token)
	if login == "" {
		login = state.Login
	}
	if state.MailboxID != 0 {
		mailbox, err := s.ownMailbox(ctx, actor, state.MailboxID)
		if err != nil {
			return 0, err
		}
		if address := tokenAddress(token); address != "" && !strings.EqualFold(address, mailbox.Login) {
			// Another account chosen at the provider: its token would be
			// sent with this mailbox's login and refused.
			return 0, restart("oauth.error_wrong_account", fmt.Errorf("signed in as %s, the mailbox is %s", address, mailbox.Login))
		}
		if err := s.store.SetMailboxOAuth(ctx, mailbox.ID, m.OAuthMechanism, sealed); err != nil {
			return 0, err
		}
		s.audit(ctx, actor, "mailbox signed in again", "mailbox", mailbox.Name, "mailbox_id", mailbox.ID)
		s.wakeMailbox(mailbox.ID)
		return mailbox.ID, nil
	}
	if login == "" || !validLoginText(login) || len(login) > MaxMailboxLoginLength {
		return 0, restart("oauth.error_no_address", errors.New("the provider did not say the address, and none was typed"))
	}
	// One mailbox per account: signing in again to an account already
	// connected renews its tokens.
	owned, err := s.store.Mailboxes(ctx, store.MailboxFilter{OwnerID: actor.User.ID, Types: []string{store.MailboxIMAP}}, store.MailboxSort{}, "", 1000)
	if err != nil {
		return 0, err
	}
	for _, existing := range owned.Items {
		if existing.ServiceID == m.ID && strings.EqualFold(existing.Login, login) {
			if err := s.store.SetMailboxOAuth(ctx, existing.ID, m.OAuthMechanism, sealed); err != nil {
				return 0, err
			}
			s.audit(ctx, actor, "mailbox signed in again", "mailbox", existing.Name, "mailbox_id", existing.ID)
			s.wakeMailbox(existing.ID)
			return existing.ID, nil
		}
	}
	site, err := s.store.SiteByID(ctx, m.SiteID)
	if err != nil {
		return 0, err
	}
	// Synced on the schedule (every 10 minutes while its owner is
	// active), as a mailbox connected with a password is.
	kind, owner, serviceID, interval := store.MailboxIMAP, actor.User.ID, m.ID, int(defaultIMAPInterval/time.Minute)
	created, err := s.CreateMailbox(ctx, actor, MailboxInput{Type: &kind, Name: &login, Login: &login, ServiceID: &serviceID,
		OwnerID: &owner, Site: &site.Code, CheckInterval: &interval, oauthMechanism: m.OAuthMechanism})
	if err != nil {
		return 0, err
	}
	if err := s.store.SetMailboxOAuth(ctx, created.ID, m.OAuthMechanism, sealed); err != nil {
		return 0, err
	}
	s.wakeMailbox(created.ID)
	return created.ID, nil
}

// wakeMailbox asks the IMAP sync to sync a mailbox at once.
func (s *Service) wakeMailbox(id int64) {
	if waker, ok := s.receiver(store.MailboxIMAP).(receive.Waker); ok {
		waker.Wake(id)
	}
}

func (s *Service) sealToken(token *oauth2.Token) ([]byte, error) {
	data, err := json.Marshal(storedToken{Access: token.AccessToken, Refresh: token.RefreshToken, Type: token.TokenType, Expiry: token.Expiry})
	if err != nil {
		return nil, err
	}
	return s.box.Seal(string(data))
}

func (s *Service) openToken(sealed []byte) (*oauth2.Token, error) {
	text, err := s.box.Open(sealed)
	if err != nil {
		return nil, err
	}
	var stored storedToken
	if err := json.Unmarshal([]byte(text), &stored); err != nil {
		return nil, fmt.Errorf("stored OAuth2 token: %w", err)
	}
	return &oauth2.Token{AccessToken: stored.Access, RefreshToken: stored.Refresh, TokenType: stored.Type, Expiry: stored.Expiry}, nil
}

// tokenAddress gives the e-mail address an OpenID Connect ID token names
// ("email", else a "preferred_username" that is an address, as Microsoft's
// work accounts have), or "". The token came straight from the token
// endpoint over TLS, which OpenID Connect Core 3.1.3.7 accepts instead of
// checking its signature; and the address is only the IMAP login, which
// the server checks against the access token anyway.
func tokenAddress(token *oauth2.Token) string {
	idToken, _ := token.Extra("id_token").(string)
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	if strings.Contains(claims.Email, "@") {
		return claims.Email
	}
	if strings.Contains(claims.PreferredUsername, "@") {
		return claims.PreferredUsername
	}
	return ""
}

// MailboxAccessToken gives a current access token of a mailbox signed in
// with OAuth2 (the IMAP sync's Config.AccessToken), through
// [Service.MailboxTokenSource].
func (s *Service) MailboxAccessToken(ctx context.Context, mailbox store.Mailbox) (string, error) {
	token, err := s.MailboxTokenSource(ctx, mailbox.ID).Token()
	if err != nil {
		return "", err
	}
	return token.AccessToken, nil
}

// MailboxTokenSource gives the oauth2.TokenSource of a mailbox: its stored
// token while that is good for more than refreshBefore, else a refreshed
// one, stored sealed with its new refresh token (providers such as
// Microsoft rotate them) by a compare-and-swap on the token's version, so
// that two processes refreshing at once never lose the rotation:
//
//   - the one that stores second finds the version moved and uses the
//     stored token (whose refresh token is the newer one, or as new);
//   - one whose refresh token was spent by the other (invalid_grant) reads
//     the store again and, finding a newer version, uses that.
//
// Only an invalid_grant with the version unchanged means the grant is gone:
// the error is then marked receive.SignIn, the mailbox's "sign in again".
func (s *Service) MailboxTokenSource(ctx context.Context, mailboxID int64) oauth2.TokenSource {
	return &mailboxTokenSource{service: s, ctx: ctx, mailboxID: mailboxID}
}

type mailboxTokenSource struct {
	service   *Service
	ctx       context.Context
	mailboxID int64
}

func (t *mailboxTokenSource) Token() (*oauth2.Token, error) {
	s, ctx := t.service, t.ctx
	sealed, version, err := s.store.MailboxOAuthToken(ctx, t.mailboxID)
	if err != nil {
		return nil, err
	}
	if len(sealed) == 0 {
		return nil, receive.Mark(receive.SignIn, fmt.Errorf("mailbox %d has no OAuth2 token: %w", t.mailboxID, ErrSignInAgain))
	}
	current, err := s.openToken(sealed)
	if err != nil {
		return nil, err
	}
	if current.Expiry.IsZero() || current.Expiry.Sub(s.now()) > refreshBefore {
		return current, nil
	}
	// One refresh at a time per mailbox, across processes: a provider that
	// rotates refresh tokens answers the second use of one with
	// invalid_grant, which must not read as a revoked grant. Whoever
	// waited reads the token the holder stored.
	release, err := t.lock()
	if err != nil {
		return nil, err
	}
	defer release()
	if sealed, version, err = s.store.MailboxOAuthToken(ctx, t.mailboxID); err != nil {
		return nil, err
	}
	if current, err = s.openToken(sealed); err != nil {
		return nil, err
	}
	if current.Expiry.Sub(s.now()) > refreshBefore {
		return current, nil
	}
	mailbox, err := s.store.MailboxByID(ctx, t.mailboxID)
	if err != nil {
		return nil, err
	}
	m, err := s.store.MailServiceByID(ctx, mailbox.ServiceID)
	if err != nil || m.OAuthClientID == "" {
		// The service lost its client (or the mailbox its service): no
		// refresh is possible.
		return nil, receive.Mark(receive.SignIn, fmt.Errorf("mailbox %d: its mail service has no OAuth2 client: %w", t.mailboxID, ErrSignInAgain))
	}
	config, err := s.oauthConfig(m, "")
	if err != nil {
		return nil, err
	}
	// An expired copy makes x/oauth2 refresh now; it keeps the old refresh
	// token when the provider sends no new one.
	stale := &oauth2.Token{RefreshToken: current.RefreshToken, Expiry: time.Unix(1, 0)}
	fresh, err := config.TokenSource(s.oauthContext(ctx), stale).Token()
	if err != nil {
		var retrieve *oauth2.RetrieveError
		if errors.As(err, &retrieve) && retrieve.ErrorCode == "invalid_grant" {
			if again, newer, readErr := t.newer(version); readErr == nil && newer {
				return again, nil
			}
			s.logger.Warn("OAuth2 grant refused: the owner must sign in again", "mailbox", t.mailboxID, "error", err)
			return nil, receive.Mark(receive.SignIn, fmt.Errorf("refresh the token of mailbox %d: %w: %w", t.mailboxID, ErrSignInAgain, err))
		}
		return nil, receive.Mark(receive.Login, fmt.Errorf("refresh the token of mailbox %d: %w", t.mailboxID, err))
	}
	sealedFresh, err := s.sealToken(fresh)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.SwapMailboxOAuthToken(ctx, t.mailboxID, sealedFresh, version); errors.Is(err, store.ErrStale) {
		// Another process stored a refreshed token first; this access
		// token is good too, and theirs is the one kept.
		return fresh, nil
	} else if err != nil {
		return nil, err
	}
	return fresh, nil
}

// refreshLease is how long a refresh may hold a mailbox's token lease
// (a token request is bounded by oauthHTTPTimeout); refreshWait how often
// a waiting one looks again.
const (
	refreshLease = 2 * oauthHTTPTimeout
	refreshWait  = 50 * time.Millisecond
)

// lock takes the lease "oauth:<mailbox id>", waiting while another holds
// it (up to the lease's length: a holder that died lets it expire).
func (t *mailboxTokenSource) lock() (func(), error) {
	s, name, holder := t.service, "oauth:"+strconv.FormatInt(t.mailboxID, 10), secret.NewToken(12)
	ctx, cancel := context.WithTimeout(t.ctx, refreshLease)
	defer cancel()
	for {
		got, err := s.store.AcquireLease(ctx, name, holder, refreshLease)
		if err != nil {
			return nil, err
		}
		if got {
			return func() {
				if err := s.store.ReleaseLease(context.WithoutCancel(t.ctx), name, holder); err != nil {
					s.logger.Error("release the token lease", "mailbox", t.mailboxID, "error", err)
				}
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for another refresh of mailbox %d: %w", t.mailboxID, ctx.Err())
		case <-time.After(refreshWait):
		}
	}
}

// newer reads the stored token again and reports whether it moved past
// version (another process refreshed it).
func (t *mailboxTokenSource) newer(version int64) (*oauth2.Token, bool, error) {
	sealed, now, err := t.service.store.MailboxOAuthToken(t.ctx, t.mailboxID)
	if err != nil || now == version || len(sealed) == 0 {
		return nil, false, err
	}
	token, err := t.service.openToken(sealed)
	return token, err == nil, err
}
