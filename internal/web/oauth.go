package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"pochta.dev/pochta/internal/service"
)

// OAuth2 sign-in of an employee's IMAP mailbox. The connect form of "My
// mailboxes" links a service card's button to
//
//	GET /my/oauth/start?service=ID[&login=ADDRESS]
//
// and a mailbox whose grant is gone ("sign in again") to
//
//	GET /my/oauth/start?mailbox=ID
//
// which send the browser to the provider; the provider sends it back to
// /my/oauth/callback, which must be registered there as the redirect
// address. The session cookie is SameSite=Lax, so it comes back with that
// top-level navigation, and the state is bound to it.

// oauthCallbackPath is the redirect address's path.
const oauthCallbackPath = "/my/oauth/callback"

// oauthRedirectURL is the callback's absolute address on the host the
// browser used.
func (s *server) oauthRedirectURL(r *http.Request) string {
	scheme := "http"
	if s.secureCookies(r) {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: oauthCallbackPath}).String()
}

// oauthFailedData is the page of a sign-in that could not finish: what
// happened and how to start again (with the address to sign in as, when
// the provider did not say it).
type oauthFailedData struct {
	Message   string
	ServiceID int64
	MailboxID int64
	AskLogin  bool
}

func (s *server) oauthStart(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	q := r.URL.Query()
	var start service.OAuthStart
	var ok bool
	if text := q.Get("service"); text != "" {
		if start.ServiceID, ok = service.ParseID(text); !ok {
			return service.ErrNotFound
		}
	}
	if text := q.Get("mailbox"); text != "" {
		if start.MailboxID, ok = service.ParseID(text); !ok {
			return service.ErrNotFound
		}
	}
	if start.ServiceID == 0 && start.MailboxID == 0 {
		return service.ErrNotFound
	}
	start.Login, start.RedirectURL = q.Get("login"), s.oauthRedirectURL(r)
	address, err := s.svc.StartOAuth(r.Context(), session, start)
	var invalid *service.ValidationError
	if errors.As(err, &invalid) {
		s.renderOAuthFailed(w, r, session, &service.OAuthFailure{Key: "oauth.error_no_address", ServiceID: start.ServiceID, MailboxID: start.MailboxID})
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, address, http.StatusSeeOther)
	return nil
}

func (s *server) oauthCallback(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	q := r.URL.Query()
	id, err := s.svc.FinishOAuth(r.Context(), session, service.OAuthCallback{State: q.Get("state"), Code: q.Get("code"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description")})
	var failure *service.OAuthFailure
	if errors.As(err, &failure) {
		s.renderOAuthFailed(w, r, session, failure)
		return nil
	}
	if err != nil {
		return err
	}
	s.flash(w, r, "flash.oauth_connected")
	http.Redirect(w, r, "/messages?mailbox_id="+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

func (s *server) renderOAuthFailed(w http.ResponseWriter, r *http.Request, session *service.WebSession, failure *service.OAuthFailure) {
	s.logger.Info("web: OAuth2 sign-in not finished", "user", session.Actor.User.Login, "error", failure)
	data := s.newPage(w, r, session, "page.oauth_failed.title", "mailboxes")
	data.Content = oauthFailedData{
		Message: translate(data.Lang, failure.Key), ServiceID: failure.ServiceID, MailboxID: failure.MailboxID,
		AskLogin: failure.Key == "oauth.error_no_address",
	}
	s.render(w, r, http.StatusBadRequest, "oauth_failed", data)
}
