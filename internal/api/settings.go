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
