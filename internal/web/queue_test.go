package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

func TestQueuePage(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	admin := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := admin.get("/queue")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "The queue is empty")

	var batch []store.NewOutbound
	for i := range 55 {
		batch = append(batch, store.NewOutbound{Sender: "alice@example.test", Recipients: []string{"bob@elsewhere.test", "carol@elsewhere.test"},
			Raw: []byte("Subject: x\r\n\r\nbody\r\n"), Subject: fmt.Sprintf("Письмо <%d>", i), NotBefore: time.Now().Add(time.Hour)})
	}
	ids, err := ts.env.Store.EnqueueOutbound(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	r = admin.get("/queue")
	wantBody(t, r, "Письмо &lt;54&gt;", "bob@elsewhere.test", "Retry now", "rel=\"next\"", "Waiting")
	wantNoBody(t, r, "Письмо &lt;4&gt;<")
	older := regexpFind(t, r.body, `href="(/queue\?cursor=[^"]+)"`)
	r = admin.get(strings.ReplaceAll(older, "&amp;", "&"))
	wantBody(t, r, "Письмо &lt;0&gt;")
	wantNoBody(t, r, "Письмо &lt;54&gt;")

	r = admin.get("/queue?status=sent")
	wantBody(t, r, "The queue is empty", "Try another status.")

	last := ids[len(ids)-1]
	r = admin.postForm(fmt.Sprintf("/queue/%d/retry", last), url.Values{})
	wantStatus(t, r, http.StatusSeeOther)
	if m, _ := ts.env.Store.OutboundMessageByID(ctx, last); m.NextAttemptAt.After(time.Now()) {
		t.Errorf("retry now left the next try at %v", m.NextAttemptAt)
	}
	r = admin.get(fmt.Sprintf("/queue/%d/delete", last))
	wantBody(t, r, "It will not be sent.")
	r = admin.postForm(fmt.Sprintf("/queue/%d/delete", last), url.Values{})
	wantStatus(t, r, http.StatusOK) // no confirm=yes: the question again
	r = admin.postForm(fmt.Sprintf("/queue/%d/delete", last), url.Values{"confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := ts.env.Store.OutboundMessageByID(ctx, last); err == nil {
		t.Error("not deleted")
	}
	wantStatus(t, admin.get("/queue/999999/delete"), http.StatusNotFound)
	wantStatus(t, admin.get("/queue/01/delete"), http.StatusNotFound)

	ts.addUser(t, "auditor", store.RoleAuditor)
	auditor := ts.signIn(t, "auditor", "password-auditor")
	r = auditor.get("/queue")
	wantStatus(t, r, http.StatusOK)
	wantNoBody(t, r, "Retry now", "/delete")
	wantStatus(t, auditor.postForm(fmt.Sprintf("/queue/%d/retry", ids[0]), url.Values{}), http.StatusForbidden)
	wantStatus(t, auditor.postForm(fmt.Sprintf("/queue/%d/delete", ids[0]), url.Values{"confirm": {"yes"}}), http.StatusForbidden)

	ts.addUser(t, "ivan", store.RoleUser)
	user := ts.signIn(t, "ivan", "password-ivan")
	wantStatus(t, user.get("/queue"), http.StatusForbidden)
	wantNoBody(t, user.get("/"), `href="/queue"`)
	if _, err := ts.env.Store.OutboundMessageByID(ctx, ids[0]); err != nil {
		t.Errorf("a forbidden delete deleted: %v", err)
	}
}

func regexpFind(t *testing.T, text, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s in the page", pattern)
	}
	return m[1]
}

// The smarthost settings on the Settings page: one-line fields, a select,
// and a password that is never shown and kept when left empty.
func TestSmarthostSettingsForm(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	admin := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := admin.get("/settings")
	wantBody(t, r, `<input type="text" id="smarthost_host"`, `<select id="smarthost_tls"`, `<option value="starttls" selected>STARTTLS</option>`,
		`<input type="password" id="smarthost_password"`)
	save := func(form url.Values) result {
		t.Helper()
		admin.get("/settings")
		return admin.postForm("/settings", form)
	}
	r = save(url.Values{"smarthost_host": {"relay.example.net"}, "smarthost_tls": {"tls"}, "smarthost_login": {"pochta"}, "smarthost_password": {"s3cret pass"}})
	wantStatus(t, r, http.StatusSeeOther)
	outbound, err := ts.env.Service.OutboundSettings(ctx)
	if err != nil || outbound.Host != "relay.example.net" || outbound.TLS != "tls" || outbound.Password != "s3cret pass" {
		t.Fatalf("saved %+v %v", outbound, err)
	}
	r = admin.get("/settings")
	wantBody(t, r, `value="relay.example.net"`)
	wantNoBody(t, r, "s3cret")
	wantStatus(t, save(url.Values{"smarthost_password": {""}, "smarthost_login": {"pochta2"}}), http.StatusSeeOther)
	if outbound, _ := ts.env.Service.OutboundSettings(ctx); outbound.Password != "s3cret pass" || outbound.Login != "pochta2" {
		t.Errorf("an empty password field changed it: %+v", outbound)
	}
	r = save(url.Values{"smarthost_login": {"a\r\nRSET"}, "smarthost_tls": {"ssl"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "must not contain line breaks", "is not one of the offered choices")
}
