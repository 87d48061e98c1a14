package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Servers []struct{ URL string }                `json:"servers"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes keeps the document in step with the route table:
// every route registered is documented, and every documented operation is
// served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL+"/" != Prefix {
		t.Fatalf("servers = %+v, want %s", doc.Servers, Prefix)
	}
	served := map[string]bool{}
	for _, rt := range (&api{}).routes() {
		path := "/" + strings.TrimPrefix(rt.path, Prefix)
		key := strings.ToLower(rt.method) + " " + path
		if served[key] {
			t.Errorf("route %s registered twice", key)
		}
		served[key] = true
		if _, ok := doc.Paths[path][strings.ToLower(rt.method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.path)
		}
	}
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			if methods[method] {
				documented = append(documented, method+" "+path)
			}
		}
	}
	sort.Strings(documented)
	for _, key := range documented {
		if !served[key] {
			t.Errorf("openapi.json documents %s, which no route serves", key)
		}
	}
}

// TestOpenAPIRefsResolve checks that every $ref points at a component that
// exists and that the schemas the issue names are there.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if resolve(doc, ref) == nil {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	for _, name := range []string{"Site", "User", "Settings", "LogEntry", "Error", "Token", "Service", "ServiceInput", "Mailbox", "MailboxInput", "MailboxList"} {
		if resolve(doc, "#/components/schemas/"+name) == nil {
			t.Errorf("schema %s is missing", name)
		}
	}
}

func resolve(doc map[string]any, ref string) any {
	var node any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		object, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = object[part]
	}
	return node
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	rec := h.expect(t, http.StatusOK, "", "GET", "/api/v1/openapi.json", "")
	if !bytes.Equal(bytes.TrimSpace(rec.Body.Bytes()), bytes.TrimSpace(openAPIDocument)) {
		t.Error("the served document differs from openapi.json")
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
}
