package api

import (
	"net/http"
	"testing"

	"pochta.dev/pochta/internal/store"
)

func TestSitesCRUD(t *testing.T) {
	h := newHarness(t)

	list := decodeAs[listBody[store.Site]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/sites", ""))
	if len(list.Items) != 1 || list.Items[0].Code != "s1" || list.NextCursor != "" {
		t.Fatalf("sites = %+v, want only s1 and no cursor", list)
	}

	rec := h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"x1","name":" Branch ","domain":"example.com","language":"ru"}`)
	if got := rec.Header().Get("Location"); got != "/api/v1/sites/x1" {
		t.Errorf("Location = %q", got)
	}
	created := decodeAs[store.Site](t, rec)
	if created.Name != "Branch" || created.Charset != "UTF-8" || created.Language != "ru" || created.CreatedAt.IsZero() {
		t.Errorf("created = %+v", created)
	}
	raw := decodeAs[map[string]any](t, rec)
	for _, field := range []string{"code", "name", "domain", "charset", "language", "created_at", "updated_at"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("site JSON lacks %q: %v", field, raw)
		}
	}
	if _, ok := raw["id"]; ok {
		t.Errorf("site JSON shows the internal id: %v", raw)
	}

	got := decodeAs[store.Site](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/sites/x1", ""))
	if got.Domain != "example.com" {
		t.Errorf("GET = %+v", got)
	}
	patched := decodeAs[store.Site](t, h.expect(t, http.StatusOK, h.admin, "PATCH", "/api/v1/sites/x1", `{"name":"Renamed","charset":"windows-1251"}`))
	if patched.Name != "Renamed" || patched.Charset != "windows-1251" || patched.Domain != "example.com" {
		t.Errorf("PATCH = %+v", patched)
	}
	h.expect(t, http.StatusNoContent, h.admin, "DELETE", "/api/v1/sites/x1", "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", "/api/v1/sites/x1", "")
	h.expect(t, http.StatusNotFound, h.admin, "PATCH", "/api/v1/sites/x1", `{"name":"Again"}`)
	h.expect(t, http.StatusNotFound, h.admin, "DELETE", "/api/v1/sites/x1", "")
}

func TestSitesPaging(t *testing.T) {
	h := newHarness(t)
	for _, code := range []string{"b2", "a1", "c3", "d4"} {
		h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"`+code+`","name":"Site `+code+`"}`)
	}
	var codes []string
	path := "/api/v1/sites?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page := decodeAs[listBody[store.Site]](t, h.expect(t, http.StatusOK, h.auditor, "GET", path, ""))
		for _, site := range page.Items {
			codes = append(codes, site.Code)
		}
		if page.NextCursor == "" {
			break
		}
		path = "/api/v1/sites?limit=2&cursor=" + page.NextCursor
	}
	want := []string{"a1", "b2", "c3", "d4", "s1"}
	if len(codes) != len(want) {
		t.Fatalf("codes = %v, want %v", codes, want)
	}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("codes = %v, want %v", codes, want)
		}
	}
}

func TestSitesFieldErrors(t *testing.T) {
	h := newHarness(t)
	russian := h.addAdmin(t, "ivan", "ru")
	tests := []struct {
		name   string
		auth   string
		method string
		path   string
		body   string
		fields map[string]string
	}{
		{"no name", h.admin, "POST", "/api/v1/sites", `{"code":"x1"}`, map[string]string{"name": "Name is required"}},
		{"nothing", h.admin, "POST", "/api/v1/sites", `{}`, map[string]string{"name": "Name is required", "code": "Code is required"}},
		{"no name in Russian", russian, "POST", "/api/v1/sites", `{"code":"x1"}`, map[string]string{"name": "Поле «Название» обязательно"}},
		{"code taken", h.admin, "POST", "/api/v1/sites", `{"code":"s1","name":"Again"}`, map[string]string{"code": "Code is already in use"}},
		{"bad code", h.admin, "POST", "/api/v1/sites", `{"code":"no spaces","name":"X"}`,
			map[string]string{"code": "Code may hold only Latin letters, digits, _ and -, up to 32 characters"}},
		{"bad domain and charset", h.admin, "POST", "/api/v1/sites", `{"code":"x2","name":"X","domain":"not a domain","charset":"klingon"}`,
			map[string]string{"domain": "Domain must be a domain name such as example.com", "charset": "Charset is not a character set Pochta knows"}},
		{"code is fixed", h.admin, "PATCH", "/api/v1/sites/s1", `{"code":"s2"}`, map[string]string{"code": "Code is not valid"}},
		{"unknown language", h.admin, "PATCH", "/api/v1/sites/s1", `{"language":"xx"}`,
			map[string]string{"language": "Language must be one of the interface languages"}},
		{"empty name", h.admin, "PATCH", "/api/v1/sites/s1", `{"name":"  "}`, map[string]string{"name": "Name is required"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, test.auth, test.method, test.path, test.body))
			if got.Error == "" || len(got.Fields) != len(test.fields) {
				t.Fatalf("error = %+v, want fields %v", got, test.fields)
			}
			for field, want := range test.fields {
				if got.Fields[field] != want {
					t.Errorf("fields[%s] = %q, want %q", field, got.Fields[field], want)
				}
			}
		})
	}
}

func TestDeleteSiteInUse(t *testing.T) {
	h := newHarness(t)
	got := decodeAs[errorBody](t, h.expect(t, http.StatusConflict, h.admin, "DELETE", "/api/v1/sites/s1", ""))
	if got.Error != "The site still has users or mailboxes" {
		t.Errorf("error = %q", got.Error)
	}
	russian := h.addAdmin(t, "ivan", "ru")
	got = decodeAs[errorBody](t, h.expect(t, http.StatusConflict, russian, "DELETE", "/api/v1/sites/s1", ""))
	if got.Error != "У сайта ещё есть пользователи или почтовые ящики" {
		t.Errorf("Russian error = %q", got.Error)
	}
}
