package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// The smarthost password is sealed like mailbox passwords: stored
// encrypted, never read back, given in plain text only to the queue.
func TestSmarthostSettings(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	_, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{SmarthostHost: ptr("[2001:db8::1]"), SmarthostPort: ptr(587),
		SmarthostTLS: ptr("starttls"), SmarthostLogin: ptr("relay"), SmarthostPassword: ptr(" pass word ")})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := env.Store.Settings(ctx)
	if err != nil || stored["smarthost_password"] == "" || strings.Contains(stored["smarthost_password"], "pass word") {
		t.Fatalf("stored password %q %v", stored["smarthost_password"], err)
	}
	shown, err := env.Service.Settings(ctx, env.Admin)
	if err != nil || shown.SmarthostPassword != "" || shown.SmarthostHost != "2001:db8::1" || shown.SmarthostLogin != "relay" {
		t.Fatalf("settings shown %+v %v", shown, err)
	}
	outbound, err := env.Service.OutboundSettings(ctx)
	if err != nil || outbound.Password != " pass word " || outbound.Port != 587 || outbound.TLS != "starttls" {
		t.Fatalf("outbound settings %+v %v", outbound, err)
	}
	for _, input := range []service.SettingsInput{
		{SmarthostLogin: ptr("relay\r\nRSET")},
		{SmarthostPassword: ptr("secret\nQUIT")},
		{SmarthostHost: ptr("mail example.com")},
		{SmarthostHost: ptr("a\rb")},
		{SmarthostTLS: ptr("ssl")},
		{SmarthostPort: ptr(70000)},
	} {
		var invalid *service.ValidationError
		if _, err := env.Service.UpdateSettings(ctx, env.Admin, input); !errors.As(err, &invalid) {
			t.Errorf("%+v taken: %v", input, err)
		}
	}
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{SmarthostPassword: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if outbound, _ := env.Service.OutboundSettings(ctx); outbound.Password != "" {
		t.Error("an empty password did not remove it")
	}
}

func TestQueueRights(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	ids, err := env.Store.EnqueueOutbound(ctx, store.NewOutbound{Sender: "a@b.test", Recipients: []string{"c@d.test"}, Raw: []byte("x\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	auditor := env.AddUser(t, "auditor", "auditor-password", store.RoleAuditor)
	user := env.AddUser(t, "user", "user-password-1", store.RoleUser)
	if _, err := env.Service.OutboundQueue(ctx, auditor, service.QueueFilter{}); err != nil {
		t.Errorf("auditor reads the queue: %v", err)
	}
	for _, actor := range []*service.Actor{auditor, user} {
		if err := env.Service.RetryOutbound(ctx, actor, ids[0]); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("%s retried: %v", actor.User.Login, err)
		}
		if err := env.Service.DeleteOutbound(ctx, actor, ids[0]); !errors.Is(err, service.ErrForbidden) {
			t.Errorf("%s deleted: %v", actor.User.Login, err)
		}
	}
	if _, err := env.Service.OutboundQueue(ctx, user, service.QueueFilter{}); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("a user read the queue: %v", err)
	}
	if _, err := env.Service.OutboundQueue(ctx, env.Admin, service.QueueFilter{Status: "lost"}); err == nil {
		t.Error("an unknown status was taken")
	}
	if err := env.Service.RetryOutbound(ctx, env.Admin, 999); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("retry of nothing: %v", err)
	}
}
