package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
)

// sessionCookie holds the session secret; the server keeps only its hash
// (service.StartSession), so a leaked database does not sign anyone in.
const sessionCookie = "pochta_session"

// languageCookie remembers on this browser the interface language of the
// last user who signed in here, so the sign-in page after "Sign out" keeps
// speaking it rather than following Accept-Language. It is not a secret
// (only a language code) and lives a year.
const languageCookie = "pochta_lang"

const languageCookieAge = 365 * 24 * 60 * 60

type sessionKey struct{}

// sessionFrom gives the session withSession found for the request, or nil.
func sessionFrom(r *http.Request) *service.WebSession {
	session, _ := r.Context().Value(sessionKey{}).(*service.WebSession)
	return session
}

// withSession looks up the session cookie once per request and puts the
// session in the context. Static files skip the lookup: they are public and
// would only cost a database read each.
func (s *server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		cookie, err := r.Cookie(sessionCookie)
		if err != nil || cookie.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		session, err := s.svc.Session(r.Context(), cookie.Value)
		switch {
		case err == nil:
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, &session))
		case errors.Is(err, service.ErrUnauthenticated):
			// Expired, signed out elsewhere or the user was deactivated:
			// drop the stale cookie and go on signed out.
			s.clearCookie(w, r, sessionCookie)
		default:
			s.logger.Error("web: read session", "error", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		// Pages show personal data: keep them out of shared caches and the
		// back-button cache after sign-out.
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// secureCookies decides the Secure flag: the option when set, else whether
// the request arrived over HTTPS, directly or through a proxy.
func (s *server) secureCookies(r *http.Request) bool {
	if s.secure != nil {
		return *s.secure
	}
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setCookie sets an HttpOnly, SameSite=Lax cookie for the whole app. maxAge 0
// makes a browser-session cookie: the server enforces the real expiry.
func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r),
	})
}

func (s *server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	s.setCookie(w, r, name, "", -1)
}

type loginData struct {
	Login string
	Next  string
	Error string
}

// loginPage shows the sign-in form with a fresh login-CSRF token.
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) error {
	if sessionFrom(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	s.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
	return nil
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, content loginData) {
	data := s.newPage(w, r, nil, "page.login.title", "")
	data.CSRF = s.loginToken(w, r)
	data.Content = content
	s.render(w, r, status, "login", data)
}

// login checks the credentials (the CSRF middleware has already checked the
// login token) and starts a new session. A fresh session cookie on every
// sign-in rules out session fixation.
func (s *server) login(w http.ResponseWriter, r *http.Request) error {
	login := r.PostFormValue("login")
	content := loginData{Login: login, Next: safeNext(r.PostFormValue("next"))}
	lang := requestLanguage(r)
	actor, err := s.svc.Login(r.Context(), login, r.PostFormValue("password"), clientAddress(r))
	switch {
	case errors.Is(err, service.ErrThrottled):
		// The wait is said in words and in Retry-After; the password was
		// not checked.
		wait := &service.ThrottledError{RetryAfter: time.Second} // unless err says
		errors.As(err, &wait)
		w.Header().Set("Retry-After", strconv.Itoa(wait.Seconds()))
		content.Error = i18n.Default.T(lang, "login.throttled", i18n.Default.Wait(lang, wait.RetryAfter))
		s.renderLogin(w, r, http.StatusTooManyRequests, content)
		return nil
	case errors.Is(err, service.ErrUnauthenticated):
		s.logger.Info("web: failed sign-in", "login", login, "address", clientAddress(r))
		content.Error = i18n.Default.T(lang, "login.failed")
		s.renderLogin(w, r, http.StatusUnauthorized, content)
		return nil
	case err != nil:
		return err
	}
	// The first admin's first sign-in, in the language of the sign-in
	// page, gives the starting data that language.
	if _, err := s.svc.AdoptFirstLanguage(r.Context(), actor, lang); err != nil {
		s.logger.Error("web: starting data in the first language", "error", err)
	}
	session, err := s.svc.StartSession(r.Context(), actor)
	if err != nil {
		return err
	}
	s.clearCookie(w, r, loginCSRFCookie)
	s.setCookie(w, r, sessionCookie, session.Cookie, 0)
	s.rememberLanguage(w, r, s.svc.UserLanguage(r.Context(), actor.User))
	http.Redirect(w, r, content.Next, http.StatusSeeOther)
	return nil
}

// logout ends the session on the server, not only in the browser.
func (s *server) logout(w http.ResponseWriter, r *http.Request) error {
	if session := sessionFrom(r); session != nil {
		if err := s.svc.EndSession(r.Context(), session.Cookie); err != nil {
			return err
		}
	}
	s.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// clientAddress is the peer's IP, for login throttling. X-Forwarded-For is
// not trusted: anyone could send it to dodge the per-address brake.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// safeNext keeps a post-login target only when it is a path on this site,
// so the login form cannot be used as an open redirect.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	if parsed, err := url.Parse(next); err != nil || parsed.Host != "" || parsed.Scheme != "" {
		return "/"
	}
	return next
}

// rememberLanguage stores the signed-in user's interface language in the
// language cookie, unless the browser already holds it.
func (s *server) rememberLanguage(w http.ResponseWriter, r *http.Request, lang string) {
	if !i18n.Default.Has(lang) {
		return
	}
	if cookie, err := r.Cookie(languageCookie); err == nil && cookie.Value == lang {
		return
	}
	s.setCookie(w, r, languageCookie, lang, languageCookieAge)
}

// requestLanguage picks the interface language before sign-in: the language
// of the last user signed in on this browser (languageCookie), else a
// supported language from Accept-Language, else English.
func requestLanguage(r *http.Request) string {
	if cookie, err := r.Cookie(languageCookie); err == nil && i18n.Default.Has(cookie.Value) {
		return cookie.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if base != "" && i18n.Default.Has(base) {
			return base
		}
	}
	return i18n.Fallback
}
