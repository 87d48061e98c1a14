package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// postMultipart sends a multipart form with one file field and the CSRF
// token, as a browser does for a form with a file input.
func (b *browser) postMultipart(path string, form url.Values, fileField, fileName string, file []byte) result {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	form.Set("csrf_token", b.csrf)
	for name, values := range form {
		for _, value := range values {
			if err := mw.WriteField(name, value); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	if fileField != "" {
		part, err := mw.CreateFormFile(fileField, fileName)
		if err != nil {
			b.t.Fatal(err)
		}
		_, _ = part.Write(file)
	}
	if err := mw.Close(); err != nil {
		b.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

func findService(t *testing.T, ts *testServer, name string) service.MailServiceView {
	t.Helper()
	list, err := ts.env.Service.MailServices(context.Background(), ts.env.Admin, store.MailServiceFilter{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, one := range list {
		if one.Name == name {
			return one
		}
	}
	t.Fatalf("no mail service %q in %+v", name, list)
	return service.MailServiceView{}
}

func serviceValues(name string) url.Values {
	return url.Values{"site": {"s1"}, "checkbox": {"active", "smtp_same_login"}, "active": {"1"}, "smtp_same_login": {"1"},
		"name": {name}, "type": {"imap"}, "server": {"imap.corp.example"}, "port": {"993"}, "security": {"tls"},
		"web_url": {"https://mail.corp.example/"}, "sort": {"5"}, "smtp_server": {"smtp.corp.example"}, "smtp_port": {"587"},
		"icon": {"other"}}
}

func TestMailServices(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "audit", store.RoleAuditor)
	ts.addUser(t, "joe", store.RoleUser)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	ctx := context.Background()

	r := b.get("/services")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Mail services</h1>", ">gmail<", "imap.gmail.com:993", ">outlook.com<", ">other<", "/static/icons/gmail.svg?v=",
		`href="/services/new"`, `value="activate"`, `value="deactivate"`, `value="delete"`)
	if got := strings.Count(r.body, `name="id" value=`); got != 8 {
		t.Errorf("%d services listed, want the 8 defaults of s1", got)
	}
	wantStatus(t, b.get("/static/icons/gmail.svg"), http.StatusOK)

	r = b.get("/services?name=gma&active=yes&site=s1")
	wantBody(t, r, ">gmail<")
	wantNoBody(t, r, ">outlook.com<")
	r = b.get("/services?server=nothing-like-this")
	wantBody(t, r, "No mail services match", "Try a wider filter.")
	// A malformed ID matches nothing, whatever the site says.
	r = b.get("/services?id=abc&site=s1")
	wantBody(t, r, "No mail services match")

	wantStatus(t, b.get("/services/new"), http.StatusOK)
	form := serviceValues("")
	r = b.postForm("/services", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Name is required", `id="name-error"`, `value="imap.corp.example"`)
	form = serviceValues("Corp")
	form.Set("port", "abc")
	r = b.postForm("/services", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Port must be a whole number")

	r = b.postForm("/services", serviceValues("Corp"))
	wantStatus(t, r, http.StatusSeeOther)
	corp := findService(t, ts, "Corp")
	if loc := r.header.Get("Location"); loc != "/services/"+strconv.FormatInt(corp.ID, 10) {
		t.Errorf("Location %q", loc)
	}
	if corp.Server != "imap.corp.example" || corp.Port != 993 || corp.Security != "tls" || corp.Sort != 5 || corp.SMTPPort != 587 || !corp.Active {
		t.Errorf("created %+v", corp)
	}
	corpPath := "/services/" + strconv.FormatInt(corp.ID, 10)
	r = b.get(corpPath)
	wantBody(t, r, "Mail service created", `value="Corp"`, `enctype="multipart/form-data"`, corpPath+"/delete")

	form = serviceValues("Corp mail")
	form.Set("port", "143")
	form.Set("security", "none")
	form.Del("smtp_same_login")
	r = b.postForm(corpPath, form)
	wantStatus(t, r, http.StatusSeeOther)
	corp = findService(t, ts, "Corp mail")
	if corp.Port != 143 || corp.Security != "none" || corp.SMTPSameLogin {
		t.Errorf("edited %+v", corp)
	}
	form.Set("web_url", "not a url")
	wantStatus(t, b.postForm(corpPath, form), http.StatusUnprocessableEntity)

	// Group deactivation of two services.
	gmail := findService(t, ts, "gmail")
	ids := []string{strconv.FormatInt(gmail.ID, 10), strconv.FormatInt(corp.ID, 10)}
	r = b.postForm("/services/group", url.Values{"action": {"deactivate"}, "id": ids, "back": {"/services?name=c"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/services?name=c" {
		t.Errorf("Location %q", loc)
	}
	if findService(t, ts, "gmail").Active || findService(t, ts, "Corp mail").Active {
		t.Error("group deactivate left a service active")
	}
	wantBody(t, b.get("/services"), "Mail services switched off: 2.")
	r = b.postForm("/services/group", url.Values{"action": {"activate"}, "id": ids[:1]})
	wantStatus(t, r, http.StatusSeeOther)
	if !findService(t, ts, "gmail").Active {
		t.Error("group activate did not")
	}
	r = b.postForm("/services/group", url.Values{"action": {"delete"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.get("/services"), "Check at least one row first")

	// Auditor: reads, changes nothing.
	a := ts.signIn(t, "audit", "password-audit")
	r = a.get("/services")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, ">gmail<", ">Corp mail<")
	wantNoBody(t, r, `name="id" value=`, `href="/services/new"`)
	r = a.get(corpPath)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<fieldset class="plain" disabled>`)
	wantStatus(t, a.get("/services/new"), http.StatusForbidden)
	wantStatus(t, a.postForm("/services/group", url.Values{"action": {"activate"}, "id": ids}), http.StatusForbidden)
	wantStatus(t, a.postForm("/services/group", url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": ids}), http.StatusForbidden)
	wantStatus(t, a.postForm(corpPath, serviceValues("Hacked")), http.StatusForbidden)
	wantStatus(t, a.postForm("/services", serviceValues("Hacked")), http.StatusForbidden)
	if after := findService(t, ts, "Corp mail"); after.Active || after.Port != 143 {
		t.Errorf("auditor changed a service: %+v", after)
	}
	if list, _ := ts.env.Service.MailServices(ctx, ts.env.Admin, store.MailServiceFilter{Name: "Hacked"}); len(list) != 0 {
		t.Errorf("auditor created a service: %+v", list)
	}

	// A user sees the active services of their site only, read-only.
	u := ts.signIn(t, "joe", "password-joe")
	r = u.get("/services")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, ">gmail<")
	wantNoBody(t, r, ">Corp mail<", `name="id" value=`)
	wantStatus(t, u.get(corpPath), http.StatusNotFound)

	// Delete through the confirmation page.
	r = b.postForm("/services/group", url.Values{"action": {"delete"}, "id": ids[1:]})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Delete these mail services (1)?", "Corp mail", `name="confirm" value="yes"`)
	wantStatus(t, b.get(corpPath+"/delete"), http.StatusOK)
	findService(t, ts, "Corp mail") // not deleted by asking
	r = b.postForm("/services/group", url.Values{"action": {"delete"}, "confirm": {"yes"}, "id": ids[1:]})
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := ts.env.Service.MailService(ctx, ts.env.Admin, corp.ID); err == nil {
		t.Fatal("service not deleted")
	}
	wantBody(t, b.get("/services"), "Mail services deleted: 1.")
	wantStatus(t, b.get(corpPath), http.StatusNotFound)
}

func TestMailServiceLogo(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	b.get("/services/new")
	logo := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0, 1, 2, 0xfe, 0xff}, 200)...)
	r := b.postMultipart("/services", serviceValues("Logo mail"), "logo", "logo.png", logo)
	wantStatus(t, r, http.StatusSeeOther)
	created := findService(t, ts, "Logo mail")
	if !created.HasLogo {
		t.Fatalf("no logo stored: %+v", created)
	}
	path := "/services/" + strconv.FormatInt(created.ID, 10)
	r = b.get(path + "/logo")
	wantStatus(t, r, http.StatusOK)
	if r.body != string(logo) {
		t.Errorf("logo came back as %d different bytes", len(r.body))
	}
	for name, want := range map[string]string{"Content-Type": "image/png", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	wantBody(t, b.get("/services"), path+"/logo?v=")

	// Not an image: a field error, the old logo stays.
	b.get(path)
	r = b.postMultipart(path, serviceValues("Logo mail"), "logo", "evil.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Logo must be a PNG, JPEG, GIF or WebP image of at most 256 KB")
	r = b.postMultipart(path, serviceValues("Logo mail"), "logo", "big.png", append(logo, make([]byte, 256<<10)...))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantStatus(t, b.get(path+"/logo"), http.StatusOK)

	// Saving without a file keeps it; "remove logo" removes it.
	wantStatus(t, b.postMultipart(path, serviceValues("Logo mail"), "", "", nil), http.StatusSeeOther)
	wantStatus(t, b.get(path+"/logo"), http.StatusOK)
	form := serviceValues("Logo mail")
	form.Set("remove_logo", "1")
	wantStatus(t, b.postMultipart(path, form, "", "", nil), http.StatusSeeOther)
	wantStatus(t, b.get(path+"/logo"), http.StatusNotFound)
	wantStatus(t, b.get("/services/999999/logo"), http.StatusNotFound)
}

func TestMailServicesEmpty(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	form := url.Values{"action": {"delete"}, "confirm": {"yes"}}
	for _, match := range regexp.MustCompile(`name="id" value="(\d+)"`).FindAllStringSubmatch(b.get("/services?site=s1").body, -1) {
		form.Add("id", match[1])
	}
	if len(form["id"]) == 0 {
		t.Fatal("no services listed to delete")
	}
	wantStatus(t, b.postForm("/services/group", form), http.StatusSeeOther)
	// None at all, no filter: "none yet" and the way to add one.
	r := b.get("/services")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "No mail services yet", "Add a mail service for employees", `<a class="btn btn-primary" href="/services/new">Add</a>`)
	wantNoBody(t, r, "No mail services match", `name="id" value=`)
	wantBody(t, b.get("/services?name=x"), "No mail services match", "Try a wider filter.")
}
