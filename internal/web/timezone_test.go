package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// Times are shown in the reader's zone (their own, else their site's) and
// in their language's format, with the full date and zone on hover and the
// instant in <time datetime>; the log's date filter takes local dates.
func TestLocalTimes(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	// 03:12 UTC is 06:12 in Moscow, 11:12 in Irkutsk.
	sent := time.Date(2026, 12, 5, 3, 12, 0, 0, time.UTC)
	id := msgImport(t, ts, f.alpha.ID, msgMail{From: "a@example.com", To: "b@example.com", Subject: "Utro", Date: sent, Text: "x"}.raw())
	ctx := context.Background()
	site, err := ts.env.Service.DefaultSite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	moscow, ru := "Europe/Moscow", "ru"
	if _, err := ts.env.Service.UpdateSite(ctx, ts.env.Admin, site.Code, service.SiteInput{TimeZone: &moscow}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.env.Service.UpdateUser(ctx, ts.env.Admin, ts.env.Admin.User.ID, service.UserInput{Language: &ru}); err != nil {
		t.Fatal(err)
	}
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/messages")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `<time datetime="2026-12-05T03:12:00Z" title="05.12.2026 06:12:00 Europe/Moscow (UTC+03:00)">05.12.2026 06:12</time>`)
	wantNoBody(t, r, "UTC</td>")
	wantBody(t, b.get("/messages/"+mblID(id)), ">05.12.2026 06:12</time>")

	// The user's own zone wins over the site's.
	irkutsk := "Asia/Irkutsk"
	if _, err := ts.env.Service.UpdateUser(ctx, ts.env.Admin, ts.env.Admin.User.ID, service.UserInput{TimeZone: &irkutsk}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, b.get("/messages"), ">05.12.2026 11:12</time>", "Asia/Irkutsk (UTC+08:00)")

	// A log entry at 23:30 UTC on 4 December is on 5 December in Irkutsk.
	if err := ts.env.Store.AddLog(ctx, store.LogEntry{Time: time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC), Level: store.LevelInfo,
		Type: "POP3", Text: "late entry"}); err != nil {
		t.Fatal(err)
	}
	r = b.get("/log?since=2026-12-05&until=2026-12-05")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "late entry", "Asia/Irkutsk")
	wantNoBody(t, b.get("/log?since=2026-12-05T08:00"), "late entry") // 08:00 local is after 07:30 local

	// The profile offers the zone, refuses one that is not.
	r = b.get("/profile")
	wantBody(t, r, `name="time_zone" value="Asia/Irkutsk"`, `<option value="Europe/Moscow">`)
	r = b.postForm("/profile", url.Values{"name": {"Admin"}, "language": {"ru"}, "time_zone": {"Mars/Olympus"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Поле «Часовой пояс»: укажите часовой пояс")
	for _, bad := range []string{"Local", "../../etc/passwd", "Europe/Moscow\r\nX: y", strings.Repeat("A", 100)} {
		if _, err := ts.env.Service.UpdateUser(ctx, ts.env.Admin, ts.env.Admin.User.ID, service.UserInput{TimeZone: &bad}); err == nil {
			t.Errorf("zone %q accepted", bad)
		}
	}
}

// The first admin's first sign-in from a Russian sign-in page makes the
// starting data Russian: the site, the admin's name (once, not over later
// changes) and the mail services offered in Russia.
func TestStartingDataInFirstLanguage(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	req, _ := http.NewRequest(http.MethodGet, b.base+"/login", nil)
	req.Header.Set("Accept-Language", "ru-RU,ru;q=0.9")
	b.do(req)
	// A browser sends its languages with every request.
	form := url.Values{"login": {"admin"}, "password": {servicetest.AdminPassword}, "csrf_token": {b.csrf}}
	req, _ = http.NewRequest(http.MethodPost, b.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "ru-RU,ru;q=0.9")
	r := b.do(req)
	wantStatus(t, r, http.StatusSeeOther)
	r = b.get("/messages")
	wantBody(t, r, `<a class="whoami" href="/profile" title="Профиль">Администратор</a>`, `lang="ru"`)
	site, err := ts.env.Service.DefaultSite(context.Background())
	if err != nil || site.Name != "Основной сайт" || site.Language != "ru" {
		t.Fatalf("site %+v, %v", site, err)
	}
	wantBody(t, b.get("/services"), "yandex", "mail.ru")
	// A later sign-in in English changes nothing back.
	ts.signIn(t, "admin", servicetest.AdminPassword)
	if site, _ := ts.env.Service.DefaultSite(context.Background()); site.Name != "Основной сайт" {
		t.Fatalf("site renamed again: %+v", site)
	}
	// An English first sign-in keeps the English names.
	en := newTestServer(t)
	en.signIn(t, "admin", servicetest.AdminPassword)
	if site, _ := en.env.Service.DefaultSite(context.Background()); site.Name != "Default site" {
		t.Fatalf("English site renamed: %+v", site)
	}
}
