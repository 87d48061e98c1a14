package api

import (
	"fmt"
	"net/http"
	"testing"

	"pochta.dev/pochta/internal/service"
)

// firstServiceID gives the ID of the first mail service of site s1 (every
// site has the default list).
func firstServiceID(t testing.TB, h *harness) int64 {
	t.Helper()
	list := decodeAs[listBody[service.MailServiceView]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/services?site=s1", ""))
	if len(list.Items) == 0 {
		t.Fatal("site s1 has no mail services")
	}
	return list.Items[0].ID
}

func TestServicesCRUD(t *testing.T) {
	h := newHarness(t)
	list := decodeAs[listBody[service.MailServiceView]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/services", ""))
	if len(list.Items) < 2 || list.NextCursor != "" {
		t.Fatalf("services = %+v, want the default list and no cursor", list)
	}

	rec := h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/services",
		`{"site":"s1","name":"Corp","server":"imap.corp.example","port":993,"security":"tls","web_url":"https://mail.corp.example/","sort":5,"smtp_server":"smtp.corp.example","smtp_port":587,"smtp_same_login":false,"icon":"exchange","active":true}`)
	created := decodeAs[service.MailServiceView](t, rec)
	if got, want := rec.Header().Get("Location"), fmt.Sprintf("/api/v1/services/%d", created.ID); got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if created.Site != "s1" || created.Name != "Corp" || created.Type != "imap" || created.Port != 993 || created.SMTPSameLogin || created.Icon != "exchange" {
		t.Errorf("created = %+v", created)
	}
	raw := decodeAs[map[string]any](t, rec)
	for _, field := range []string{"id", "site", "active", "name", "type", "server", "port", "security", "web_url", "sort", "smtp_server", "smtp_port", "icon"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("service JSON lacks %q: %v", field, raw)
		}
	}
	path := fmt.Sprintf("/api/v1/services/%d", created.ID)
	if got := decodeAs[service.MailServiceView](t, h.expect(t, http.StatusOK, h.admin, "GET", path, "")); got != created {
		t.Errorf("GET = %+v, want %+v", got, created)
	}
	patched := decodeAs[service.MailServiceView](t, h.expect(t, http.StatusOK, h.admin, "PATCH", path, `{"name":"Corp mail","active":false,"port":143,"security":"starttls"}`))
	if patched.Name != "Corp mail" || patched.Active || patched.Port != 143 || patched.Security != "starttls" || patched.Server != "imap.corp.example" {
		t.Errorf("PATCH = %+v", patched)
	}

	for query, want := range map[string]int{
		"?name=corp":                         1,
		"?server=CORP.example":               1,
		"?active=false":                      1,
		fmt.Sprintf("?id=%d", created.ID):    1,
		"?site=s1&name=corp&active=true":     0,
		fmt.Sprintf("?id=%d&site=s1", 1<<40): 0,
	} {
		got := decodeAs[listBody[service.MailServiceView]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/services"+query, ""))
		if len(got.Items) != want {
			t.Errorf("%s: %d services, want %d", query, len(got.Items), want)
		}
	}
	for query, field := range map[string]string{"?active=yes": "active", "?site=nowhere": "site", "?id=-1": "id"} {
		got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "GET", "/api/v1/services"+query, ""))
		if got.Fields[field] == "" {
			t.Errorf("%s: fields = %v, want %s", query, got.Fields, field)
		}
	}

	got := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/services", `{"port":0,"web_url":"ftp://x","icon":"nope"}`))
	for field, text := range map[string]string{"site": "Site is required", "name": "Name is required"} {
		if got.Fields[field] != text {
			t.Errorf("fields[%s] = %q, want %q (%v)", field, got.Fields[field], text, got.Fields)
		}
	}
	for _, field := range []string{"web_url", "icon"} {
		if got.Fields[field] == "" {
			t.Errorf("no error for %s: %v", field, got.Fields)
		}
	}
	h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/services", `{"site":"s1","name":"X","logo":"AAAA"}`)

	h.expect(t, http.StatusNoContent, h.admin, "DELETE", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "PATCH", path, `{"name":"Again"}`)
	h.expect(t, http.StatusNotFound, h.admin, "DELETE", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", "/api/v1/services/abc", "")
}

// A user sees the active services of their own site only.
func TestServicesForUser(t *testing.T) {
	h := newHarness(t)
	h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/sites", `{"code":"x1","name":"Other"}`)
	hidden := decodeAs[service.MailServiceView](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/services", `{"site":"s1","name":"Hidden","active":false}`))
	elsewhere := firstServiceOf(t, h, "x1")
	all := decodeAs[listBody[service.MailServiceView]](t, h.expect(t, http.StatusOK, h.user, "GET", "/api/v1/services", ""))
	if len(all.Items) == 0 {
		t.Fatal("the user sees no services")
	}
	for _, s := range all.Items {
		if s.Site != "s1" || !s.Active {
			t.Errorf("the user sees %+v", s)
		}
	}
	h.expect(t, http.StatusNotFound, h.user, "GET", fmt.Sprintf("/api/v1/services/%d", hidden.ID), "")
	h.expect(t, http.StatusNotFound, h.user, "GET", fmt.Sprintf("/api/v1/services/%d", elsewhere), "")
	// The service replaces a user's site filter with their own site, so
	// asking for another site still shows only their own.
	for _, s := range decodeAs[listBody[service.MailServiceView]](t, h.expect(t, http.StatusOK, h.user, "GET", "/api/v1/services?site=x1", "")).Items {
		if s.Site != "s1" {
			t.Errorf("the user sees a service of another site: %+v", s)
		}
	}
}

func firstServiceOf(t testing.TB, h *harness, site string) int64 {
	t.Helper()
	list := decodeAs[listBody[service.MailServiceView]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/services?site="+site, ""))
	if len(list.Items) == 0 {
		t.Fatalf("site %s has no mail services", site)
	}
	return list.Items[0].ID
}

// A service's logo is uploaded as the request body, read back byte for
// byte, refused when it is not a raster image, and removed.
func TestServiceLogo(t *testing.T) {
	h := newHarness(t)
	path := fmt.Sprintf("/api/v1/services/%d/logo", firstServiceID(t, h))
	h.expect(t, http.StatusNotFound, h.admin, "GET", path, "")
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x20\x00\x00\x00\x20\x08\x06\x00\x00\x00"
	view := decodeAs[struct {
		HasLogo bool `json:"has_logo"`
	}](t, h.expect(t, http.StatusOK, h.admin, "PUT", path, png))
	if !view.HasLogo {
		t.Error("has_logo is false after the upload")
	}
	rec := h.expect(t, http.StatusOK, h.auditor, "GET", path, "")
	if rec.Body.String() != png || rec.Header().Get("Content-Type") != "image/png" {
		t.Errorf("logo back: %q as %q", rec.Body.String(), rec.Header().Get("Content-Type"))
	}
	h.expect(t, http.StatusBadRequest, h.admin, "PUT", path, `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	h.expect(t, http.StatusBadRequest, h.admin, "PUT", path, "")
	h.expect(t, http.StatusOK, h.admin, "DELETE", path, "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", path, "")
}
