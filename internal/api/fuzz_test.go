package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// bodyTarget is a route that takes a JSON body, with a concrete path.
type bodyTarget struct{ method, path string }

// bodyTargets lists every POST and PATCH route of the route table. PATCH
// /users/{id} acts on victimID rather than the caller, so that a fuzzed body
// cannot lock the admin out and starve the rest of the run.
func bodyTargets(victimID int64) []bodyTarget {
	var targets []bodyTarget
	replacer := strings.NewReplacer("{code}", "s1", "{id}", strconv.FormatInt(victimID, 10))
	for _, rt := range (&api{}).routes() {
		if rt.method == http.MethodPost || rt.method == http.MethodPatch {
			targets = append(targets, bodyTarget{rt.method, replacer.Replace(rt.path)})
		}
	}
	return targets
}

// sendBody sends body as JSON to a target as the admin, checks the answer
// is never a 500 and always a JSON object of the expected kind, and gives it.
func sendBody(t *testing.T, h *harness, target bodyTarget, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(target.method, target.path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", h.admin)
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: status %d, body %s\nlog: %s", target.method, target.path, body, rec.Code, rec.Body, h.logs)
	}
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("%s %s %q: status %d, body is not a JSON object: %v", target.method, target.path, body, rec.Code, err)
	}
	if rec.Code >= 400 {
		if _, ok := answer["error"]; !ok {
			t.Fatalf("%s %s %q: status %d without an error text: %s", target.method, target.path, body, rec.Code, rec.Body)
		}
	}
	return rec
}

// FuzzDecode throws arbitrary bodies at every POST and PATCH route as the
// admin: whatever the body, the answer is a JSON object and never a 500
// (a panic would show up as a 500 through recoverPanics).
func FuzzDecode(f *testing.F) {
	h := newHarness(f)
	victim := h.env.AddUser(f, "victim", "victim-password", store.RoleUser)
	targets := bodyTargets(victim.User.ID)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			sendBody(t, h, target, body)
		}
	})
}

// TestFuzzSeedsReachService checks that the committed seeds get past the
// decoder: some are accepted and some fail validation in the service, so the
// fuzzer starts from bodies that exercise more than the JSON parser.
func TestFuzzSeedsReachService(t *testing.T) {
	paths, err := fuzzSeedPaths()
	if err != nil || len(paths) < 5 {
		t.Fatalf("seed files: %v (%v)", paths, err)
	}
	h := newHarness(t)
	victim := h.env.AddUser(t, "victim", "victim-password", store.RoleUser)
	statuses := map[string]int{}
	for _, path := range paths {
		body := readSeed(t, path)
		for _, target := range bodyTargets(victim.User.ID) {
			rec := sendBody(t, h, target, body)
			kind := strconv.Itoa(rec.Code)
			if rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), `"fields"`) {
				kind = "400 fields"
			}
			statuses[kind]++
		}
	}
	for _, want := range []string{"200", "201", "400 fields", "400"} {
		if statuses[want] == 0 {
			t.Errorf("no seed gave %s; statuses %v", want, statuses)
		}
	}
}

func fuzzSeedPaths() ([]string, error) { return filepath.Glob("testdata/fuzz/FuzzDecode/*") }

// readSeed reads a corpus file of the "go test fuzz v1" format holding one
// []byte value.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, value, ok := strings.Cut(strings.TrimSpace(string(content)), "\n")
	if !ok || header != "go test fuzz v1" {
		t.Fatalf("%s: not a go test fuzz v1 file", path)
	}
	quoted, ok := strings.CutSuffix(strings.TrimPrefix(value, "[]byte("), ")")
	if !ok {
		t.Fatalf("%s: want one []byte value, got %s", path, value)
	}
	body, err := strconv.Unquote(quoted)
	if err != nil {
		t.Fatalf("%s: %v", path, fmt.Errorf("unquote %s: %w", quoted, err))
	}
	return []byte(body)
}
