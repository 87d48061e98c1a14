package testpeer

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// OAuthServer is an OAuth2 authorisation server of the tests' own (no real
// provider can be reached from a test): the authorisation-code flow with
// PKCE (S256 only, the verifier checked), a consent page with an "Allow"
// button, refresh tokens that rotate (a used one is dead, as Microsoft's
// become), revocation of a user's grant, and the RFC 7662 introspection
// endpoint Dovecot's oauth2 passdb asks. It is an httptest server on
// loopback, closed in t.Cleanup.
type OAuthServer struct {
	URL          string // base URL: /authorize, /token, /introspect
	ClientID     string
	ClientSecret string
	server       *httptest.Server
	mu           sync.Mutex
	// expiresIn is the lifetime of the access tokens it issues.
	expiresIn time.Duration
	// noIDToken leaves the ID token out of token responses (as Yandex
	// does), so the client must ask the user for the address.
	noIDToken bool
	user      string                // the user the consent page signs in
	codes     map[string]oauthCode  // unused codes
	access    map[string]oauthGrant // access token -> its grant
	// refresh maps a refresh token to its grant; a used one is deleted.
	refresh   map[string]oauthGrant
	refreshes int    // successful refresh-token grants
	last      string // the last redirect back to the client
}

type oauthCode struct {
	user, redirectURI, challenge, scope string
}

type oauthGrant struct {
	user    string
	expires time.Time
}

// StartOAuthServer starts the server; the consent page signs in as user,
// an address (the ID token's "email" and the introspection's "username").
func StartOAuthServer(t testing.TB, user string) *OAuthServer {
	t.Helper()
	o := &OAuthServer{ClientID: "pochta-test-client", ClientSecret: "test-client-secret", expiresIn: time.Hour, user: user,
		codes: map[string]oauthCode{}, access: map[string]oauthGrant{}, refresh: map[string]oauthGrant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", o.consent)
	mux.HandleFunc("POST /authorize", o.approve)
	mux.HandleFunc("POST /token", o.token)
	mux.HandleFunc("POST /introspect", o.introspect)
	o.server = httptest.NewServer(mux)
	o.URL = o.server.URL
	t.Cleanup(o.server.Close)
	return o
}

// SetExpiresIn sets the lifetime of the access tokens issued from now on
// (an hour at first).
func (o *OAuthServer) SetExpiresIn(lifetime time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expiresIn = lifetime
}

// SetNoIDToken leaves the ID token out of token responses from now on, as
// providers without OpenID Connect (Yandex) do.
func (o *OAuthServer) SetNoIDToken(none bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.noIDToken = none
}

// LastRedirect gives the last redirect back to the client (the callback
// URL with its code and state), for a test that opens it again.
func (o *OAuthServer) LastRedirect() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// SetUser changes the user the consent page signs in.
func (o *OAuthServer) SetUser(user string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.user = user
}

// Revoke withdraws every grant user has given so far (a password change,
// consent withdrawn): their access tokens stop being active and their
// refresh tokens give invalid_grant. A later sign-in makes a new grant.
func (o *OAuthServer) Revoke(user string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for token, grant := range o.access {
		if grant.user == user {
			delete(o.access, token)
		}
	}
	for token, grant := range o.refresh {
		if grant.user == user {
			delete(o.refresh, token)
		}
	}
}

// Refreshes counts the refresh-token grants it answered.
func (o *OAuthServer) Refreshes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refreshes
}

// AccessToken issues an access token for user directly (a test of the IMAP
// login alone needs no browser).
func (o *OAuthServer) AccessToken(user string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	token := randomText()
	o.access[token] = oauthGrant{user: user, expires: time.Now().Add(o.expiresIn)}
	return token
}

// Authorize runs the consent step without a browser: it gives the code
// the "Allow" button would, for the authorisation URL a client made.
func (o *OAuthServer) Authorize(authURL string) (redirect string, err error) {
	parsed, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	return o.issueCode(parsed.Query())
}

func (o *OAuthServer) consent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != o.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "unknown client or response type", http.StatusBadRequest)
		return
	}
	var fields strings.Builder
	for name, values := range q {
		fmt.Fprintf(&fields, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(name), html.EscapeString(values[0]))
	}
	o.mu.Lock()
	user := o.user
	o.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Test provider</title><h1>Allow Pochta to read the mail of %s?</h1>
<form method="post" action="/authorize">%s<button id="allow" type="submit">Allow</button></form>`, html.EscapeString(user), fields.String())
}

func (o *OAuthServer) approve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	redirect, err := o.issueCode(r.PostForm)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, redirect, http.StatusFound)
}

// issueCode checks an authorisation request and gives the redirect back
// to the client with a new code.
func (o *OAuthServer) issueCode(q url.Values) (string, error) {
	if q.Get("client_id") != o.ClientID {
		return "", fmt.Errorf("unknown client %q", q.Get("client_id"))
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		return "", fmt.Errorf("PKCE with S256 is required")
	}
	redirectURI := q.Get("redirect_uri")
	target, err := url.Parse(redirectURI)
	if err != nil || target.Host == "" {
		return "", fmt.Errorf("bad redirect_uri %q", redirectURI)
	}
	code := randomText()
	o.mu.Lock()
	o.codes[code] = oauthCode{user: o.user, redirectURI: redirectURI, challenge: q.Get("code_challenge"), scope: q.Get("scope")}
	o.mu.Unlock()
	values := target.Query()
	values.Set("code", code)
	values.Set("state", q.Get("state"))
	target.RawQuery = values.Encode()
	o.mu.Lock()
	o.last = target.String()
	o.mu.Unlock()
	return target.String(), nil
}

func (o *OAuthServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request")
		return
	}
	form := r.PostForm
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if basicID, basicSecret, ok := r.BasicAuth(); ok {
		id, secret = basicID, basicSecret
	}
	if id != o.ClientID || secret != o.ClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var user, scope string
	switch form.Get("grant_type") {
	case "authorization_code":
		code, ok := o.codes[form.Get("code")]
		delete(o.codes, form.Get("code")) // once only, whatever happens
		sum := sha256.Sum256([]byte(form.Get("code_verifier")))
		if !ok || code.redirectURI != form.Get("redirect_uri") || form.Get("code_verifier") == "" ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
			oauthError(w, "invalid_grant")
			return
		}
		user, scope = code.user, code.scope
	case "refresh_token":
		grant, ok := o.refresh[form.Get("refresh_token")]
		delete(o.refresh, form.Get("refresh_token")) // rotation: a used refresh token is dead
		if !ok {
			oauthError(w, "invalid_grant")
			return
		}
		user = grant.user
		o.refreshes++
	default:
		oauthError(w, "unsupported_grant_type")
		return
	}
	access, refresh := randomText(), randomText()
	o.access[access] = oauthGrant{user: user, expires: time.Now().Add(o.expiresIn)}
	o.refresh[refresh] = oauthGrant{user: user}
	body := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(o.expiresIn / time.Second),
		"refresh_token": refresh}
	if strings.Contains(" "+scope+" ", " openid ") && !o.noIDToken {
		// Unsigned: the client takes it straight from this endpoint.
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
		claims, _ := json.Marshal(map[string]any{"iss": o.URL, "sub": user, "aud": o.ClientID, "email": user,
			"email_verified": true})
		body["id_token"] = header + "." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// introspect answers Dovecot's oauth2 passdb (RFC 7662).
func (o *OAuthServer) introspect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	grant, ok := o.access[r.PostForm.Get("token")]
	active := ok && time.Now().Before(grant.expires)
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !active {
		fmt.Fprint(w, `{"active": false}`)
		return
	}
	// Dovecot's passdb checks the name against the login's: the users
	// are full addresses on both sides.
	json.NewEncoder(w).Encode(map[string]any{"active": true, "username": grant.user})
}

func oauthError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func randomText() string {
	buf := make([]byte, 24)
	rand.Read(buf)
	return base64.RawURLEncoding.EncodeToString(buf)
}
