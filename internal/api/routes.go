// Package api is Pochta's REST API: JSON over HTTP under /api/v1/, described
// by the OpenAPI document it serves at /api/v1/openapi.json.
//
// Handlers are thin: each decodes and checks the shape of its input, calls one
// method of [service.Service] (which checks rights and validates), and writes
// the result as JSON. Every error, whatever its source, leaves as
// {"error": "...", "fields": {...}} with a fitting status.
package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"pochta.dev/pochta/internal/service"
)

// Prefix is the path under which [New] serves the API.
const Prefix = "/api/v1/"

// api holds what every handler needs. It has no mutable state, so one value
// serves concurrent requests.
type api struct {
	svc    *service.Service
	logger *slog.Logger
	mux    *http.ServeMux
}

// handlerFunc is an API handler. actor is the authenticated caller (nil on
// public routes). A returned error is written by [api.writeError], so
// handlers never write error responses themselves.
type handlerFunc func(w http.ResponseWriter, r *http.Request, actor *service.Actor) error

// route is one entry of the route table.
type route struct {
	method string
	path   string // full path pattern, as in the OpenAPI document plus Prefix
	handle handlerFunc
	public bool // served without credentials
	// may says whether the caller may use the route at all, checked
	// before anything of the request is read, so that a caller without
	// the right hears 403 whatever they sent (an unknown JSON field was a
	// 400 first). nil: anyone signed in. A coarse mirror of the service's
	// own check, which still runs and decides the rest.
	may func(actor *service.Actor, r *http.Request) bool
}

// Rights of the route table (route.may).

func adminOnly(actor *service.Actor, _ *http.Request) bool { return actor.IsAdmin() }

func changesMail(actor *service.Actor, _ *http.Request) bool { return actor.CanChangeMail() }

// selfOrAdmin: admins change any user, others themselves alone.
func selfOrAdmin(actor *service.Actor, r *http.Request) bool {
	id, _ := service.ParseID(r.PathValue("id")) // 0 when malformed: an admin's, who hears 404
	return actor.CanEditUser(id)
}

// routes is the route table: every route the API serves, in one place, so
// that the OpenAPI test can compare it with the document.
func (a *api) routes() []route {
	return []route{
		{method: http.MethodGet, path: "/api/v1/openapi.json", handle: a.openAPI, public: true},

		{method: http.MethodGet, path: "/api/v1/sites", handle: a.listSites},
		{method: http.MethodPost, path: "/api/v1/sites", handle: a.createSite, may: adminOnly},
		{method: http.MethodGet, path: "/api/v1/sites/{code}", handle: a.getSite},
		{method: http.MethodPatch, path: "/api/v1/sites/{code}", handle: a.updateSite, may: adminOnly},
		{method: http.MethodDelete, path: "/api/v1/sites/{code}", handle: a.deleteSite, may: adminOnly},

		{method: http.MethodGet, path: "/api/v1/users", handle: a.listUsers},
		{method: http.MethodPost, path: "/api/v1/users", handle: a.createUser, may: adminOnly},
		{method: http.MethodGet, path: "/api/v1/users/{id}", handle: a.getUser},
		{method: http.MethodPatch, path: "/api/v1/users/{id}", handle: a.updateUser, may: selfOrAdmin},
		{method: http.MethodDelete, path: "/api/v1/users/{id}", handle: a.deleteUser, may: adminOnly},
		{method: http.MethodGet, path: "/api/v1/tokens", handle: a.listTokens},
		{method: http.MethodPost, path: "/api/v1/tokens", handle: a.createToken},
		{method: http.MethodDelete, path: "/api/v1/tokens/{id}", handle: a.revokeToken},

		{method: http.MethodGet, path: "/api/v1/settings", handle: a.getSettings},
		{method: http.MethodPatch, path: "/api/v1/settings", handle: a.updateSettings, may: adminOnly},
		{method: http.MethodGet, path: "/api/v1/smtp/status", handle: a.smtpStatus},
		{method: http.MethodPost, path: "/api/v1/smtp/start", handle: a.startSMTP, may: adminOnly},
		{method: http.MethodPost, path: "/api/v1/smtp/stop", handle: a.stopSMTP, may: adminOnly},

		{method: http.MethodGet, path: "/api/v1/services", handle: a.listServices},
		{method: http.MethodPost, path: "/api/v1/services", handle: a.createService, may: adminOnly},
		{method: http.MethodGet, path: "/api/v1/services/{id}", handle: a.getService},
		{method: http.MethodPatch, path: "/api/v1/services/{id}", handle: a.updateService, may: adminOnly},
		{method: http.MethodDelete, path: "/api/v1/services/{id}", handle: a.deleteService, may: adminOnly},
		{method: http.MethodGet, path: "/api/v1/services/{id}/logo", handle: a.getServiceLogo},
		{method: http.MethodPut, path: "/api/v1/services/{id}/logo", handle: a.putServiceLogo, may: adminOnly},
		{method: http.MethodDelete, path: "/api/v1/services/{id}/logo", handle: a.deleteServiceLogo, may: adminOnly},

		{method: http.MethodGet, path: "/api/v1/mailboxes", handle: a.listMailboxes},
		{method: http.MethodPost, path: "/api/v1/mailboxes", handle: a.createMailbox, may: changesMail},
		{method: http.MethodPost, path: "/api/v1/mailboxes/actions", handle: a.mailboxActions, may: changesMail},
		{method: http.MethodPost, path: "/api/v1/mailboxes/check", handle: a.checkAllMailboxes, may: changesMail},
		{method: http.MethodPost, path: "/api/v1/mailboxes/test", handle: a.testMailbox, may: changesMail},
		{method: http.MethodPost, path: "/api/v1/mailboxes/{id}/check", handle: a.checkMailbox, may: changesMail},
		{method: http.MethodGet, path: "/api/v1/messages", handle: a.listMessages},
		{method: http.MethodPost, path: "/api/v1/messages/actions", handle: a.messagesAction, may: changesMail},
		{method: http.MethodGet, path: "/api/v1/messages/{id}", handle: a.getMessage},
		{method: http.MethodDelete, path: "/api/v1/messages/{id}", handle: a.deleteMessage, may: changesMail},
		{method: http.MethodGet, path: "/api/v1/messages/{id}/raw", handle: a.getMessageSource},
		{method: http.MethodGet, path: "/api/v1/messages/{id}/attachments/{attachment_id}", handle: a.getAttachment},
		{method: http.MethodPost, path: "/api/v1/messages/{id}/actions", handle: a.messageAction, may: changesMail},
		{method: http.MethodGet, path: "/api/v1/mailboxes/{id}", handle: a.getMailbox},
		{method: http.MethodPost, path: "/api/v1/mailboxes/{id}/messages", handle: a.uploadMessage, may: changesMail},
		{method: http.MethodPatch, path: "/api/v1/mailboxes/{id}", handle: a.updateMailbox, may: changesMail},
		{method: http.MethodDelete, path: "/api/v1/mailboxes/{id}", handle: a.deleteMailbox, may: changesMail},

		{method: http.MethodGet, path: "/api/v1/log", handle: a.listLog},

		{method: http.MethodGet, path: "/api/v1/queue", handle: a.listQueue},
		{method: http.MethodGet, path: "/api/v1/queue/{id}", handle: a.getQueued},
		{method: http.MethodPost, path: "/api/v1/queue/{id}/retry", handle: a.retryQueued, may: adminOnly},
		{method: http.MethodDelete, path: "/api/v1/queue/{id}", handle: a.deleteQueued, may: adminOnly},
	}
}

// New makes the API handler. It serves paths starting with [Prefix]; the
// server mounts it there. logger receives server-side failures (the client
// sees only "internal error"); nil means slog.Default().
func New(svc *service.Service, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	a := &api{svc: svc, logger: logger, mux: http.NewServeMux()}
	for _, rt := range a.routes() {
		a.mux.Handle(rt.method+" "+rt.path, a.wrap(rt))
	}
	return a.recoverPanics(a)
}

// wrap authenticates the caller of a route and writes the error its handler
// returns.
func (a *api) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var actor *service.Actor
		if !rt.public {
			var err error
			if actor, err = a.authenticate(r); err != nil {
				a.writeError(w, r, nil, err)
				return
			}
		}
		if rt.may != nil && !rt.may(actor, r) {
			a.writeError(w, r, actor, fmt.Errorf("%s %s: %w", rt.method, rt.path, service.ErrForbidden))
			return
		}
		if err := checkURLText(r); err != nil {
			a.writeError(w, r, actor, err)
			return
		}
		if err := rt.handle(w, r, actor); err != nil {
			a.writeError(w, r, actor, err)
		}
	})
}

// ServeHTTP dispatches to the route table. Paths no route serves get a JSON
// 404, and known paths with another method a JSON 405 with Allow, where
// [http.ServeMux] would answer in plain text.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.mux.Handler(r); pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	if allowed := a.allowedMethods(r); len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		a.writeError(w, r, nil, errorf(http.StatusMethodNotAllowed, "method %s is not allowed here; use %s", r.Method, strings.Join(allowed, ", ")))
		return
	}
	a.writeError(w, r, nil, errorf(http.StatusNotFound, "no such API endpoint: %s", r.URL.Path))
}

// allowedMethods lists the methods some route serves at the request's path.
func (a *api) allowedMethods(r *http.Request) []string {
	var allowed []string
	seen := map[string]bool{}
	for _, rt := range a.routes() {
		if seen[rt.method] {
			continue
		}
		seen[rt.method] = true
		probe := r.Clone(r.Context())
		probe.Method = rt.method
		if _, pattern := a.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, rt.method)
		}
	}
	return allowed
}

// recoverPanics turns a panic into a logged 500 as a last resort: no handler
// is meant to panic, but one bad request must not take the process down or
// leave the client without an answer.
func (a *api) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.logger.Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			a.writeBody(w, http.StatusInternalServerError, errorBody{Error: internalErrorText})
		}()
		next.ServeHTTP(w, r)
	})
}
