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

// fuzzIDs are the rows the {id} routes of the fuzz targets act on, by the
// path segment before {id}.
type fuzzIDs map[string]int64

// newFuzzIDs adds to a harness a victim user, a mail service and a mailbox.
// PATCH /users/{id} acts on the victim rather than the caller, so that a
// fuzzed body cannot lock the admin out and starve the rest of the run.
func newFuzzIDs(t testing.TB, h *harness) fuzzIDs {
	t.Helper()
	victim := h.env.AddUser(t, "victim", "victim-password", store.RoleUser)
	service := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/services", `{"site":"s1","name":"Fuzzed"}`))
	mailbox := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/mailboxes",
		`{"type":"pop3","name":"Fuzzed","server":"pop.example.com","login":"fuzz","password":"fuzz-secret"}`))
	rule := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/rules", `{"name":"Fuzzed"}`))
	return fuzzIDs{"users": victim.User.ID, "services": service.ID, "mailboxes": mailbox.ID, "rules": rule.ID}
}

// bodyTargets lists every POST and PATCH route of the route table, with
// {id} replaced by the row of ids for its resource.
func bodyTargets(t testing.TB, ids fuzzIDs) []bodyTarget {
	var targets []bodyTarget
	for _, rt := range (&api{}).routes() {
		if rt.method != http.MethodPost && rt.method != http.MethodPatch {
			continue
		}
		path := strings.ReplaceAll(rt.path, "{code}", "s1")
		if resource, ok := strings.CutSuffix(path, "/{id}"); ok {
			id, known := ids[resource[strings.LastIndexByte(resource, '/')+1:]]
			if !known {
				t.Fatalf("no fuzz row for %s", rt.path)
			}
			path = resource + "/" + strconv.FormatInt(id, 10)
		}
		targets = append(targets, bodyTarget{rt.method, path})
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
	targets := bodyTargets(f, newFuzzIDs(f, h))
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
	targets := bodyTargets(t, newFuzzIDs(t, h))
	statuses := map[string]int{}
	for _, path := range paths {
		body := readSeed(t, path)
		for _, target := range targets {
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
