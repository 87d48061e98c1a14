package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"

	"pochta.dev/pochta/internal/service"
)

// CSRF protection. Every form carries a hidden csrf_token field and one
// middleware checks it on every state-changing request, so no handler can
// forget. Signed in, the token is the session's own (stored with it on the
// server). Signed out, the only form is the login form: it is protected
// against login CSRF (an attacker signing the victim into the attacker's
// account) by a double-submit cookie, which a cross-site form cannot read
// or set.
const (
	csrfField       = "csrf_token"
	csrfHeader      = "X-CSRF-Token"
	loginCSRFCookie = "pochta_login_csrf"
	// maxFormBytes bounds the body of a form post; the only upload, a mail
	// service logo, is at most 256 KB.
	maxFormBytes = 1 << 20
)

// checkCSRF rejects any non-GET/HEAD/OPTIONS request whose token does not
// match with 403, before the router runs.
func (s *server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == spamTrainPath {
			// The spam page's training upload: a file's bytes as the
			// body (never a form), its token in the header. Nothing of
			// the body is read here, so a request without a session or
			// a token costs nothing however large it says it is.
			r.Body = http.MaxBytesReader(w, r.Body, service.MaxSpamUploadBytes)
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			// Parse here, once, so that handlers can read r.PostForm
			// directly. A multipart form (with a file) is read whole into
			// memory: the body is bounded above, so nothing spills to
			// temporary files.
			parse := r.ParseForm
			if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType == "multipart/form-data" {
				parse = func() error { return r.ParseMultipartForm(maxFormBytes) }
			}
			if err := parse(); err != nil {
				s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
				return
			}
		}
		sent := r.Header.Get(csrfHeader)
		if sent == "" {
			sent = r.PostForm.Get(csrfField)
		}
		var want string
		if r.URL.Path == "/login" {
			if cookie, err := r.Cookie(loginCSRFCookie); err == nil {
				want = cookie.Value
			}
		} else if session := sessionFrom(r); session != nil {
			want = session.CSRFToken
		} else {
			// Signed out (or the session expired) while posting a form:
			// there is nothing to act for, so go and sign in.
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if !tokensEqual(sent, want) {
			s.logger.Warn("web: CSRF token mismatch", "method", r.Method, "path", r.URL.Path, "address", clientAddress(r),
				"token_sent", sent != "")
			s.renderError(w, r, http.StatusForbidden, "error.csrf")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokensEqual compares in constant time; an empty token never matches.
func tokensEqual(sent, want string) bool {
	if sent == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sent), []byte(want)) == 1
}

// loginToken gives the login form's double-submit token, setting the cookie
// when the browser has none yet.
func (s *server) loginToken(w http.ResponseWriter, r *http.Request) string {
	if cookie, err := r.Cookie(loginCSRFCookie); err == nil && len(cookie.Value) >= 32 {
		return cookie.Value
	}
	token := randomToken()
	s.setCookie(w, r, loginCSRFCookie, token, 0)
	return token
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
