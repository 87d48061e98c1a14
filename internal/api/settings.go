package api

import (
	"fmt"
	"net/http"

	"pochta.dev/pochta/internal/service"
)

func (a *api) getSettings(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	settings, err := a.svc.Settings(r.Context(), actor)
	if err != nil {
		return fmt.Errorf("get settings: %w", err)
	}
	return respond(w, http.StatusOK, settings)
}

// updateSettings changes the settings the body names and answers with all
// of them.
func (a *api) updateSettings(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	var input service.SettingsInput
	if err := decodeJSON(w, r, &input); err != nil {
		return err
	}
	settings, err := a.svc.UpdateSettings(r.Context(), actor, input)
	if err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	return respond(w, http.StatusOK, settings)
}

// smtpStatus is the internal SMTP server's state, with a row per listener.
func (a *api) smtpStatus(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	status, err := a.svc.SMTPStatus(r.Context(), actor)
	if err != nil {
		return fmt.Errorf("smtp status: %w", err)
	}
	return respond(w, http.StatusOK, status)
}

// startSMTP and stopSMTP switch the SMTP server's listeners and answer with
// its state.
func (a *api) startSMTP(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	if err := a.svc.StartSMTP(r.Context(), actor); err != nil {
		return fmt.Errorf("start smtp: %w", err)
	}
	return a.smtpStatus(w, r, actor)
}

func (a *api) stopSMTP(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	if err := a.svc.StopSMTP(r.Context(), actor); err != nil {
		return fmt.Errorf("stop smtp: %w", err)
	}
	return a.smtpStatus(w, r, actor)
}
