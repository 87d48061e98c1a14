package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// A NUL character or bytes that are not UTF-8 in a list's filter (issue 11,
// finding 5: GET /mailboxes?name=%00 answered 500) are a 400 in plain words
// on every page, as the API answers; the same filter carried by a group
// action too.
func TestFilterTextThatIsNotText(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	for _, path := range []string{
		"/mailboxes?name=%00", "/mailboxes?name=%ff", "/mailboxes?server=%00", "/mailboxes?server=%ff",
		"/messages?q=%00", "/messages?subject=%ff", "/messages?from=%00", "/messages.csv?q=%ff",
		"/log?level=%00", "/users?q=%00", "/users?q=%ff", "/services?name=%00", "/services?server=%ff",
		"/mailboxes?%ff=1", "/sites/%ff", "/sites/a%00",
	} {
		r := b.get(path)
		wantStatus(t, r, http.StatusBadRequest)
		wantBody(t, r, "The page address holds a character that is not text: a NUL character or bytes that are not UTF-8.")
	}
	wantStatus(t, b.get("/mailboxes?name=Alpha&server=pop.example.com"), http.StatusOK)
	wantStatus(t, b.get("/mailboxes?name=%D0%AF%D1%89%D0%B8%D0%BA"), http.StatusOK) // "Ящик"

	r := b.postForm("/mailboxes/group", url.Values{"action": {"deactivate"}, "all": {"1"}, "f_name": {"\x00"}})
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "The text holds a NUL character or is not valid UTF-8")
}

// A path ID is read only in its one spelling (issue 11, finding 5: "01" and
// "+1" were taken as 1): any other is a page that does not exist, as in
// the API.
func TestPathIDsOnlyCanonical(t *testing.T) {
	ts := newTestServer(t)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	services, err := ts.env.Service.MailServices(context.Background(), ts.env.Admin, store.MailServiceFilter{})
	if err != nil || len(services) == 0 {
		t.Fatalf("mail services: %v %v", services, err)
	}
	user := strconv.FormatInt(ts.env.Admin.User.ID, 10)
	service := strconv.FormatInt(services[0].ID, 10)
	wantStatus(t, b.get("/users/"+user), http.StatusOK)
	wantStatus(t, b.get("/services/"+service), http.StatusOK)
	for _, path := range []string{
		"/users/0" + user, "/users/+" + user, "/users/%20" + user, "/users/0" + user + "/delete",
		"/services/0" + service, "/services/+" + service, "/services/0" + service + "/logo",
		"/mailboxes/01", "/messages/+1", "/messages/1/attachments/01",
		"/profile/tokens/01/revoke", "/users/" + user + "/tokens/+1/revoke",
	} {
		r := b.get(path)
		wantStatus(t, r, http.StatusNotFound)
		wantBody(t, r, "There is no such page.")
	}
}
