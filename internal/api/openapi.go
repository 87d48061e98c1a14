package api

import (
	_ "embed"
	"net/http"

	"pochta.dev/pochta/internal/service"
)

// openAPIDocument is the hand-written OpenAPI 3.1 description of every route
// in [api.routes]; TestOpenAPIMatchesRoutes keeps the two in step.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the document without authentication, so that tools can
// read it before they hold credentials.
func (a *api) openAPI(w http.ResponseWriter, r *http.Request, _ *service.Actor) error {
	writeRaw(w, http.StatusOK, openAPIDocument)
	return nil
}
