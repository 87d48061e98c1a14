package service_test

import (
	"context"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// The search's before: and after: name days of the reader's calendar: a
// message sent at 22:30 UTC on 6 December is of 7 December in Moscow.
func TestSearchDatesInReadersZone(t *testing.T) {
	env := servicetest.New(t, "")
	ctx := context.Background()
	box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Inbound"), Port: ptr(2525)})
	if err != nil {
		t.Fatal(err)
	}
	raw := "Subject: late\r\nFrom: anna@example.com\r\nDate: Sun, 06 Dec 2026 22:30:00 +0000\r\n\r\nnight mail\r\n"
	if _, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(raw), "test"); err != nil {
		t.Fatal(err)
	}
	found := func(actor *service.Actor, query string) int {
		t.Helper()
		page, err := env.Service.Messages(ctx, actor, store.MessageFilter{Query: query}, store.MessageSort{}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	for _, zone := range []string{"UTC", "Europe/Moscow", "America/New_York"} {
		if _, err := env.Service.UpdateUser(ctx, env.Admin, env.Admin.User.ID, service.UserInput{TimeZone: ptr(zone)}); err != nil {
			t.Fatal(err)
		}
		user, err := env.Store.UserByID(ctx, env.Admin.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		reader := &service.Actor{User: user}
		day := map[string]string{"UTC": "2026-12-06", "Europe/Moscow": "2026-12-07", "America/New_York": "2026-12-06"}[zone]
		next := map[string]string{"UTC": "2026-12-07", "Europe/Moscow": "2026-12-08", "America/New_York": "2026-12-07"}[zone]
		for query, want := range map[string]int{
			"after:" + day:                     1,
			"after:" + next:                    0,
			"before:" + day:                    0,
			"before:" + next:                   1,
			"after:" + day + " before:" + next: 1,
			"mail after:" + day:                1,
		} {
			if got := found(reader, query); got != want {
				t.Errorf("%s reader, %q: %d found, want %d", zone, query, got, want)
			}
		}
	}
}
