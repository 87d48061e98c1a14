// Package web is Pochta's server-rendered web admin: html/template pages over
// internal/service, with server-side sessions, CSRF tokens on every form and
// strict security headers. Handlers stay thin: each one decodes the form,
// calls one service method (which checks rights and validates) and renders.
// Templates and static files are embedded, so `go build` needs no asset step,
// and every page works without JavaScript.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"pochta.dev/pochta/internal/service"
)

// Options configure [New].
type Options struct {
	// Logger receives request errors; nil means slog.Default().
	Logger *slog.Logger
	// SecureCookies forces the Secure flag of cookies on or off. Nil means
	// automatic: Secure when the request came over TLS or a proxy says so
	// with X-Forwarded-Proto: https.
	SecureCookies *bool
}

// server holds what every handler needs. It has no mutable state after New.
type server struct {
	svc     *service.Service
	logger  *slog.Logger
	secure  *bool
	pages   *pages
	statics *statics
}

// New makes the web admin handler. It serves everything under "/" except
// /api/, /healthz and /metrics, which the caller mounts separately.
func New(svc *service.Service, options Options) http.Handler {
	s := &server{svc: svc, logger: options.Logger, secure: options.SecureCookies}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.statics = loadStatics()
	s.pages = loadPages(s.statics)
	mux := http.NewServeMux()
	s.routes(mux)
	// Outermost first: headers go on every response, even a recovered panic;
	// the session is known before the CSRF check, which runs before any
	// handler sees a POST.
	return s.securityHeaders(s.recoverPanics(s.withSession(s.checkURLText(s.checkCSRF(mux)))))
}

// routes registers every page in one place, with method patterns, so the
// whole surface of the web admin can be read at a glance.
func (s *server) routes(mux *http.ServeMux) {
	mux.Handle("GET /static/", s.statics)

	mux.HandleFunc("GET /login", s.public(s.loginPage))
	mux.HandleFunc("POST /login", s.public(s.login))
	mux.HandleFunc("POST /logout", s.public(s.logout))

	mux.HandleFunc("GET /{$}", s.signedIn(s.dashboard))
	mux.HandleFunc("GET /messages", s.signedIn(s.messagesPage))
	mux.HandleFunc("GET /messages.csv", s.signedIn(s.messagesCSV))
	mux.HandleFunc("GET /messages/columns", s.signedIn(s.messageColumnsSave))
	mux.HandleFunc("POST /messages/group", s.signedIn(s.messagesGroup))
	mux.HandleFunc("GET /messages/{id}", s.signedIn(s.messagePage))
	mux.HandleFunc("GET /messages/{id}/html", s.signedIn(s.messageHTML))
	mux.HandleFunc("GET /messages/{id}/source", s.signedIn(s.messageSource))
	mux.HandleFunc("GET /messages/{id}/raw", s.signedIn(s.messageRaw))
	mux.HandleFunc("GET /messages/{id}/attachments/{attachment}", s.signedIn(s.messageAttachment))
	mux.HandleFunc("GET /messages/{id}/delete", s.signedIn(s.deleteMessagePage))
	mux.HandleFunc("POST /messages/{id}/action", s.signedIn(s.messageAction))
	mux.HandleFunc("GET /rules", s.signedIn(s.rulesPage))
	mux.HandleFunc("GET /rules/new", s.signedIn(s.newRulePage))
	mux.HandleFunc("GET /rules/test", s.signedIn(s.rulesTestPage))
	mux.HandleFunc("POST /rules/test", s.signedIn(s.rulesTestPage))
	mux.HandleFunc("POST /rules", s.signedIn(s.createRule))
	mux.HandleFunc("POST /rules/group", s.signedIn(s.rulesGroup))
	mux.HandleFunc("GET /rules/{id}", s.signedIn(s.rulePage))
	mux.HandleFunc("POST /rules/{id}", s.signedIn(s.updateRule))
	mux.HandleFunc("POST /rules/{id}/active", s.signedIn(s.switchRule))
	mux.HandleFunc("POST /rules/{id}/sort", s.signedIn(s.sortRule))
	mux.HandleFunc("GET /rules/{id}/delete", s.signedIn(s.ruleDeletePage))
	mux.HandleFunc("GET /mailboxes", s.signedIn(s.mailboxesPage))
	mux.HandleFunc("POST /mailboxes/group", s.signedIn(s.mailboxesGroup))
	mux.HandleFunc("POST /mailboxes/{id}/rename", s.signedIn(s.renameMailbox))
	mux.HandleFunc("POST /mailboxes/{id}/active", s.signedIn(s.switchMailbox))
	mux.HandleFunc("POST /mailboxes/{id}/check", s.signedIn(s.checkMailbox))
	mux.HandleFunc("POST /mailboxes/check", s.signedIn(s.checkAllMailboxes))
	mux.HandleFunc("GET /mailboxes/checked", s.signedIn(s.checkedPage))
	mux.HandleFunc("GET /mailboxes/{id}/delete", s.signedIn(s.deleteMailboxPage))
	mux.HandleFunc("GET /mailboxes/new", s.signedIn(s.newMailboxPage))
	mux.HandleFunc("POST /mailboxes", s.signedIn(s.createMailbox))
	mux.HandleFunc("GET /mailboxes/{id}", s.signedIn(s.mailboxPage))
	mux.HandleFunc("POST /mailboxes/{id}", s.signedIn(s.updateMailbox))

	mux.HandleFunc("GET /my/mailboxes", s.signedIn(s.myMailboxesPage))
	mux.HandleFunc("GET /my/mailboxes/new", s.signedIn(s.newMyMailboxPage))
	mux.HandleFunc("POST /my/mailboxes", s.signedIn(s.createMyMailbox))
	mux.HandleFunc("GET /my/mailboxes/{id}", s.signedIn(s.myMailboxPage))
	mux.HandleFunc("POST /my/mailboxes/{id}", s.signedIn(s.updateMyMailbox))
	mux.HandleFunc("POST /my/mailboxes/{id}/check", s.signedIn(s.checkMyMailbox))
	mux.HandleFunc("GET /my/mailboxes/{id}/delete", s.signedIn(s.deleteMyMailboxPage))
	mux.HandleFunc("POST /my/mailboxes/{id}/delete", s.signedIn(s.deleteMyMailbox))

	mux.HandleFunc("GET /services", s.signedIn(s.servicesPage))
	mux.HandleFunc("GET /services/new", s.signedIn(s.newServicePage))
	mux.HandleFunc("POST /services", s.signedIn(s.createService))
	mux.HandleFunc("POST /services/group", s.signedIn(s.servicesGroup))
	mux.HandleFunc("GET /services/{id}", s.signedIn(s.servicePage))
	mux.HandleFunc("POST /services/{id}", s.signedIn(s.updateService))
	mux.HandleFunc("GET /services/{id}/logo", s.signedIn(s.serviceLogo))
	mux.HandleFunc("GET /services/{id}/delete", s.signedIn(s.deleteServicePage))

	mux.HandleFunc("GET /my/oauth/start", s.signedIn(s.oauthStart))
	mux.HandleFunc("GET /my/oauth/callback", s.signedIn(s.oauthCallback)) // oauthCallbackPath

	mux.HandleFunc("GET /log", s.signedIn(s.logPage))

	mux.HandleFunc("GET /queue", s.signedIn(s.queuePage))
	mux.HandleFunc("POST /queue/{id}/retry", s.signedIn(s.retryQueued))
	mux.HandleFunc("GET /queue/{id}/delete", s.signedIn(s.deleteQueuedPage))
	mux.HandleFunc("POST /queue/{id}/delete", s.signedIn(s.deleteQueued))

	mux.HandleFunc("GET /settings", s.signedIn(s.settingsPage))
	mux.HandleFunc("POST /settings", s.signedIn(s.saveSettings))
	mux.HandleFunc("POST /settings/smtp", s.signedIn(s.switchSMTP))
	mux.HandleFunc("GET /spam", s.signedIn(s.spamPage))
	mux.HandleFunc("POST /spam/train", s.signedIn(s.trainSpam)) // spamTrainPath

	mux.HandleFunc("GET /sites", s.signedIn(s.sitesPage))
	mux.HandleFunc("GET /sites/new", s.signedIn(s.newSitePage))
	mux.HandleFunc("POST /sites", s.signedIn(s.createSite))
	mux.HandleFunc("GET /sites/{code}", s.signedIn(s.sitePage))
	mux.HandleFunc("POST /sites/{code}", s.signedIn(s.updateSite))
	mux.HandleFunc("GET /sites/{code}/delete", s.signedIn(s.deleteSitePage))
	mux.HandleFunc("POST /sites/{code}/delete", s.signedIn(s.deleteSite))

	mux.HandleFunc("GET /users", s.signedIn(s.usersPage))
	mux.HandleFunc("GET /users/new", s.signedIn(s.newUserPage))
	mux.HandleFunc("POST /users", s.signedIn(s.createUser))
	mux.HandleFunc("GET /users/{id}", s.signedIn(s.userPage))
	mux.HandleFunc("POST /users/{id}", s.signedIn(s.updateUser))
	mux.HandleFunc("GET /users/{id}/delete", s.signedIn(s.deleteUserPage))
	mux.HandleFunc("POST /users/{id}/delete", s.signedIn(s.deleteUser))
	mux.HandleFunc("POST /users/{id}/token", s.signedIn(s.createToken))
	mux.HandleFunc("GET /users/{id}/tokens/{token}/revoke", s.signedIn(s.revokeUserTokenPage))
	mux.HandleFunc("POST /users/{id}/tokens/{token}/revoke", s.signedIn(s.revokeUserToken))

	mux.HandleFunc("GET /profile", s.signedIn(s.profilePage))
	mux.HandleFunc("POST /profile", s.signedIn(s.saveProfile))
	mux.HandleFunc("POST /profile/language", s.signedIn(s.switchLanguage))
	mux.HandleFunc("POST /profile/tokens", s.signedIn(s.makeToken))
	mux.HandleFunc("GET /profile/tokens/{id}/revoke", s.signedIn(s.revokeTokenPage))
	mux.HandleFunc("POST /profile/tokens/{id}/revoke", s.signedIn(s.revokeToken))

	mux.HandleFunc("/", s.public(s.notFound))
}

// contentSecurityPolicy allows only the app's own files: no inline script or
// style, no framing, forms posting only back here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every response carries.
func (s *server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// checkURLText answers an address whose path or query holds a NUL
// character or bytes that are not UTF-8 with a 400 page that says so, before
// any page looks at it: no stored text holds such characters, so no filter
// can match them, and a list filtered by them failed with a 500. Browsers
// send UTF-8; such an address was typed or made up. The API refuses them
// alike.
func (s *server) checkURLText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !urlIsText(r.URL) {
			s.renderError(w, r, http.StatusBadRequest, "error.address_text")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// urlIsText reports whether the path and every query name and value of
// address are UTF-8 text without NUL characters.
func urlIsText(address *url.URL) bool {
	isText := func(text string) bool { return strings.IndexByte(text, 0) < 0 && utf8.ValidString(text) }
	if !isText(address.Path) {
		return false
	}
	for name, values := range address.Query() {
		if !isText(name) {
			return false
		}
		for _, value := range values {
			if !isText(value) {
				return false
			}
		}
	}
	return true
}

// recoverPanics turns a panicking handler into a logged 500 page instead of
// a dropped connection.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("web: panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// handler is a page of a signed-in user. It writes its page, or returns
// the error of a service call for [server.serviceError], the one writer of
// errors, to show; having written a page (a form with its field errors, a
// notice) it returns nil.
type handler func(w http.ResponseWriter, r *http.Request, session *service.WebSession) error

// publicHandler is a page served without a session (signing in and out).
type publicHandler func(w http.ResponseWriter, r *http.Request) error

// public adapts a page served without a session, writing its error.
func (s *server) public(next publicHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := next(w, r); err != nil {
			s.serviceError(w, r, err)
		}
	}
}

// signedIn wraps a handler that needs a session: without one the browser is
// sent to the login page, coming back to where it was afterwards. The
// error the handler returns is written by [server.serviceError].
func (s *server) signedIn(next handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		session := sessionFrom(r)
		if session == nil {
			target := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if err := next(w, r, session); err != nil {
			s.serviceError(w, r, err)
		}
	}
}

// dashboard sends a signed-in user to the message list, the module's main page.
func (s *server) dashboard(w http.ResponseWriter, r *http.Request, _ *service.WebSession) error {
	http.Redirect(w, r, "/messages", http.StatusSeeOther)
	return nil
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) error {
	s.renderError(w, r, http.StatusNotFound, "error.page_not_found")
	return nil
}

// serviceError is the one writer of errors: it renders the page for an
// error a handler returned (or a helper met): forbidden and not found have
// their own pages, a failed sign-in goes back to the login page, text that
// no field may hold and input the service refused are a 400, anything else
// is logged and shown as a plain 500 without its text (which may hold
// internals).
func (s *server) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, service.ErrForbidden):
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
	case errors.Is(err, service.ErrNotFound):
		s.renderError(w, r, http.StatusNotFound, "error.not_found")
	case errors.Is(err, service.ErrUnauthenticated):
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case errors.Is(err, service.ErrInvalidText):
		s.renderError(w, r, http.StatusBadRequest, "error.invalid_text")
	case errors.As(err, new(*service.ValidationError)):
		// A form a page did not offer (a rule switched off since the
		// page was shown): a plain 400, not a logged fault.
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
	default:
		s.logger.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
	}
}
