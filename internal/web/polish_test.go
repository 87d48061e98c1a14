package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// Pages write decimals with the separator of their language; the API keeps
// plain numbers (it does not use these helpers).
func TestFormatDecimalAndSizes(t *testing.T) {
	for _, test := range []struct {
		lang  string
		value float64
		prec  int
		want  string
	}{
		{"en", 3.7, 1, "3.7"},
		{"ru", 3.7, 1, "3,7"},
		{"ru", 17, 1, "17,0"},
		{"en", 1234.56, 2, "1234.56"},
		{"ru", 1234.56, 2, "1234,56"},
		{"ru", 42, 0, "42"},
		{"xx", 0.5, 1, "0.5"}, // an unknown language falls back to English
	} {
		if got := formatDecimal(test.lang, test.value, test.prec); got != test.want {
			t.Errorf("formatDecimal(%q, %v, %d) = %q, want %q", test.lang, test.value, test.prec, got, test.want)
		}
	}
	for _, test := range []struct {
		lang string
		size int64
		want string
	}{
		{"en", 812, "812 B"},
		{"ru", 812, "812 Б"},
		{"en", 3789, "3.7 KB"},
		{"ru", 3789, "3,7 КБ"},
		{"en", 17 * 1024 * 1024, "17.0 MB"},
		{"ru", 17*1024*1024 + 300*1024, "17,3 МБ"},
	} {
		if got := humanSize(test.lang, test.size); got != test.want {
			t.Errorf("humanSize(%q, %d) = %q, want %q", test.lang, test.size, got, test.want)
		}
	}
}

// After signing out, the sign-in page keeps the language of the user who
// signed in on this browser, over Accept-Language; a language switch
// updates it.
func TestLoginPageRemembersLanguage(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "vera", store.RoleUser)
	ru := "ru"
	if _, err := ts.env.Service.UpdateUser(context.Background(), ts.env.Admin, mustUserID(t, ts, "vera"), service.UserInput{Language: &ru}); err != nil {
		t.Fatal(err)
	}
	loginInEnglish := func(b *browser) result {
		req, _ := http.NewRequest(http.MethodGet, b.base+"/login", nil)
		req.Header.Set("Accept-Language", "en-US,en;q=0.9")
		return b.do(req)
	}

	b := ts.browser(t)
	wantBody(t, loginInEnglish(b), "Sign in")
	b.get("/login")
	r := b.postForm("/login", url.Values{"login": {"vera"}, "password": {"password-vera"}})
	wantStatus(t, r, http.StatusSeeOther)
	cookie := findCookie(r.header, languageCookie)
	if cookie == nil || cookie.Value != "ru" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode ||
		cookie.Path != "/" || cookie.MaxAge < 30*24*60*60 || cookie.Secure {
		t.Fatalf("language cookie %+v", cookie)
	}
	b.get("/messages")
	wantStatus(t, b.postForm("/logout", url.Values{}), http.StatusSeeOther)
	r = loginInEnglish(b)
	wantBody(t, r, "Вход в Pochta", `lang="ru"`)

	// A language switch is remembered too.
	b.postForm("/login", url.Values{"login": {"vera"}, "password": {"password-vera"}})
	b.get("/messages")
	r = b.postForm("/profile/language", url.Values{"language": {"en"}, "back": {"/messages"}})
	wantStatus(t, r, http.StatusSeeOther)
	if cookie := findCookie(r.header, languageCookie); cookie == nil || cookie.Value != "en" {
		t.Fatalf("language cookie after the switch %+v", cookie)
	}
	b.postForm("/logout", url.Values{})
	req, _ := http.NewRequest(http.MethodGet, b.base+"/login", nil)
	req.Header.Set("Accept-Language", "ru")
	wantNoBody(t, b.do(req), "Вход в Pochta")

	// A stranger's browser still follows Accept-Language; junk is ignored.
	fresh := ts.browser(t)
	req, _ = http.NewRequest(http.MethodGet, fresh.base+"/login", nil)
	req.Header.Set("Accept-Language", "ru")
	req.AddCookie(&http.Cookie{Name: languageCookie, Value: "<xx>"})
	wantBody(t, fresh.do(req), "Вход в Pochta")

	// Behind HTTPS the cookie is Secure, as the session cookie is.
	rec := httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	(&server{}).rememberLanguage(rec, req, "ru") // zero server: Secure follows the request
	if cookie := findCookie(rec.Header(), languageCookie); cookie == nil || !cookie.Secure {
		t.Errorf("behind HTTPS the language cookie is not Secure: %+v", cookie)
	}
}

// An admin sees another user's API tokens on the user's page and revokes
// one after the confirmation page; others may not.
func TestUserPageTokens(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "anna", store.RoleUser)
	ts.addUser(t, "otto", store.RoleUser)
	annaID := mustUserID(t, ts, "anna")
	user := fmt.Sprintf("/users/%d", annaID)

	admin := ts.signIn(t, "admin", servicetest.AdminPassword)
	wantBody(t, admin.get(user), "No API tokens.")
	wantStatus(t, admin.postForm(user+"/token", url.Values{"token_name": {"nightly export"}}), http.StatusOK)
	r := admin.get(user)
	wantBody(t, r, "nightly export", "Expires", "Last used")
	tokens, err := ts.env.Service.Tokens(context.Background(), ts.env.Admin, annaID)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens %v, %v", tokens, err)
	}
	revoke := fmt.Sprintf("%s/tokens/%d/revoke", user, tokens[0].ID)
	wantBody(t, r, `href="`+revoke+`"`)
	// The admin's own profile lists only the admin's tokens.
	wantNoBody(t, admin.get("/profile"), "nightly export")

	// Not another user's, nor under another user's path.
	wantStatus(t, ts.signIn(t, "otto", "password-otto").postForm(revoke, url.Values{}), http.StatusForbidden)
	wantStatus(t, admin.get(fmt.Sprintf("/users/%d/tokens/%d/revoke", mustUserID(t, ts, "otto"), tokens[0].ID)), http.StatusNotFound)

	r = admin.get(revoke)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Revoke the API token “nightly export”?", `action="`+revoke+`"`, `href="`+user+`"`)
	r = admin.postForm(revoke, url.Values{})
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != user {
		t.Errorf("Location %q, want %s", got, user)
	}
	wantBody(t, admin.get(user), "The API token was revoked", "No API tokens.")

	// The profile's confirmation still posts to the profile.
	anna := ts.signIn(t, "anna", "password-anna")
	anna.postForm("/profile/tokens", url.Values{"token_name": {"mine"}})
	tokens, _ = ts.env.Service.Tokens(context.Background(), ts.env.Admin, annaID)
	if len(tokens) != 1 {
		t.Fatalf("tokens %v", tokens)
	}
	wantBody(t, anna.get(fmt.Sprintf("/profile/tokens/%d/revoke", tokens[0].ID)),
		fmt.Sprintf(`action="/profile/tokens/%d/revoke"`, tokens[0].ID), `href="/profile"`)
}

// The sandboxed HTML frame cannot be measured, so its height classes come
// from an estimate of the content, for a desktop and a phone frame: short
// messages get a short frame, long ones a tall one (the page scrolls, not
// a small box), and text wraps into more lines on a phone.
func TestFrameHeightClass(t *testing.T) {
	long := strings.Repeat("<p>"+strings.Repeat("word ", 30)+"</p>\n", 40)
	step := func(height int) string { return strconv.Itoa(frameStep(height)) }
	for _, test := range []struct {
		name, body     string
		desktop, phone int // the heights in pixels the classes must hold at least
	}{
		{"one line", "<p>Hello!</p>", 40, 40},
		{"a few lines", "Hi,<br>\n<br>the report is attached.<br><br>Regards,<br>Ann", 140, 140},
		{"source newlines are not lines", "<div>\n\n\n\n\n\n\n\n\nHello\n\n\n\n\n\n\n\n</div>", 40, 40},
		{"one image", `<p><img src="data:image/png;base64,AAAA" alt=""></p>`, 200, 200},
		{"sized image", `<p><img src="https://example.com/a.png" height="40"></p>`, 60, 60},
		{"a wide banner scales down on a phone", `<img src="https://example.com/a.png" width="700" height="350">`, 374, 199},
		{"long", long, 2140, 3740},
		{"empty", "", 0, 0},
	} {
		got := frameHeightClass(test.body)
		want := "frame-h-" + step(test.desktop) + " frame-p-" + step(test.phone)
		if got != want {
			t.Errorf("%s: frameHeightClass = %s (%d and %d px), want %s", test.name, got,
				estimateFrameHeight(test.body, frameDesktop), estimateFrameHeight(test.body, framePhone), want)
		}
	}
	// A long newsletter's frame grows past the old 70vh cap.
	if frameStep(estimateFrameHeight(long, frameDesktop)) <= frameStep(900) {
		t.Errorf("a long message gets a frame of %d px at most", frameLadder[frameStep(estimateFrameHeight(long, frameDesktop))-1])
	}
}

// A cid: image counts toward the frame's height as the image the frame
// shows, not as its alt text (the page's HTML maps cid: images to a
// placeholder only for the estimate).
func TestFrameHeightCountsCIDImages(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	id := msgImport(t, ts, f.alpha.ID, msgMail{From: "a@example.com", To: "b@example.com", Subject: "Logo", Date: msgDay(5),
		HTML:   `<p>Hello</p><img src="cid:logo@test" alt="inline logo">`,
		Inline: &msgPart{Name: "logo.png", Type: "image/png", ContentID: "logo@test", Data: msgPNG}}.raw())
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/messages/" + mblID(id))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "frame-h-"+strconv.Itoa(frameStep(240))) // a line of text, 200 px of image, the margins
	wantNoBody(t, r, cidPlaceholder)
}
