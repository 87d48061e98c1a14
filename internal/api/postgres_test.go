package api

import (
	"net/http"
	"testing"

	"pochta.dev/pochta/internal/testpeer"
)

// TestPostgres runs the fuzz seeds and the text the fuzzer cannot catch on
// SQLite (NUL characters, invalid UTF-8, which PostgreSQL's text refuses)
// against PostgreSQL: none may become a 500.
func TestPostgres(t *testing.T) {
	h := newHarness(t, testpeer.PostgresDSN(t))
	targets := bodyTargets(t, newFuzzIDs(t, h))
	h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/users?q=%25_", "")
	h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"pg","name":"На PostgreSQL"}`)
	h.expect(t, http.StatusNoContent, h.admin, "DELETE", "/api/v1/sites/pg", "")
	paths, err := fuzzSeedPaths()
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{
		[]byte(`{"code":"x1","name":"a\u0000b"}`),
		[]byte(`{"login":"nul\u0000","password":"long-enough"}`),
		[]byte("{\"name\":\"\xff\xfe\"}"),
		[]byte(`{"type":"pop3","name":"nul","server":"pop.example.com","login":"a\u0000","password":"x"}`),
		[]byte(`{"domains":["a\u0000.example"],"folders":["IN\u0000BOX"]}`),
	}
	for _, path := range paths {
		bodies = append(bodies, readSeed(t, path))
	}
	for _, body := range bodies {
		for _, target := range targets {
			sendBody(t, h, target, body)
		}
	}
	for _, path := range []string{"/api/v1/sites/a%00b", "/api/v1/sites/%FF", "/api/v1/users?site=%FF", "/api/v1/users?q=%00", "/api/v1/log?level=%00",
		"/api/v1/mailboxes?name=%00", "/api/v1/mailboxes?server=%FF", "/api/v1/mailboxes?cursor=%FF", "/api/v1/services?name=%00", "/api/v1/services?site=%FF"} {
		if rec := h.do(t, h.admin, "GET", path, ""); rec.Code >= 500 {
			t.Errorf("GET %s: status %d, body %s", path, rec.Code, rec.Body)
		}
	}
	if rec := h.do(t, basicAuth("admin\x00", "x"), "GET", "/api/v1/sites", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("NUL in a login: status %d", rec.Code)
	}
}
