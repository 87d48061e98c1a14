package service_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// sshBanner is what a non-mail service on loopback says first; a
// connection test must never tell it back.
const sshBanner = "SSH-2.0-OpenSSH_9.2p1 secret-banner"

// userMailbox makes a user with an IMAP mailbox of their own, the mailbox
// whose ID a user may give to "Test connection".
func userMailbox(t *testing.T, env *servicetest.Env, login string) (*service.Actor, int64) {
	t.Helper()
	user := env.AddUser(t, login, "user-password", store.RoleUser)
	gmail := serviceID(t, env, "gmail")
	mailbox, err := env.Service.CreateMailbox(context.Background(), user, service.MailboxInput{Type: ptr("imap"), Name: ptr("Mine"),
		ServiceID: &gmail, Login: ptr("u@gmail.com"), Password: ptr("app-password")})
	if err != nil {
		t.Fatal(err)
	}
	return user, mailbox.ID
}

// testInput points a connection test at server without encryption.
func testInput(server *servicetest.FakeServer, host string, id *int64) service.TestInput {
	return service.TestInput{ID: id, MailboxInput: service.MailboxInput{Server: &host, Port: &server.Port,
		Security: ptr("none"), Login: ptr("someone"), Password: ptr("secret")}}
}

func allowNetworks(t *testing.T, env *servicetest.Env, networks ...string) {
	t.Helper()
	if _, err := env.Service.UpdateSettings(context.Background(), env.Admin, service.SettingsInput{AllowedNetworks: &networks}); err != nil {
		t.Fatal(err)
	}
}

// notEchoed fails when the result tells anything of what a non-mail server
// said.
func notEchoed(t *testing.T, result service.TestResult) {
	t.Helper()
	for _, text := range []string{result.Error, string(result.Reason), result.Detail} {
		if strings.Contains(text, "SSH") || strings.Contains(text, "secret-banner") || strings.Contains(text, "OpenSSH") {
			t.Errorf("the result tells the banner: %+v", result)
		}
	}
}

// The port-scan probe of issue 11: a user points "Test connection" at
// loopback.
func TestConnectionTestForUserKeepsOffInternalAddresses(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	user, mine := userMailbox(t, env, "ursula")
	// The user's mailbox is an IMAP one: its test speaks IMAP.
	pop3 := servicetest.NewFakeServer(t, servicetest.FakeIMAPGreeting)
	ssh := servicetest.NewFakeServer(t, sshBanner)
	blockedText := service.FailureText("en", receive.Blocked)

	// Without allowed networks: refused in plain words, by the literal
	// address or by a name that resolves to it, before any connection.
	for _, host := range []string{pop3.Host, "localhost", "::ffff:" + pop3.Host} {
		result, err := env.Service.TestConnection(ctx, user, testInput(pop3, host, &mine))
		if err != nil {
			t.Fatalf("test %s: %v", host, err)
		}
		if result.OK || result.Reason != receive.Blocked || result.Error != blockedText {
			t.Errorf("test %s: %+v, want reason blocked with %q", host, result, blockedText)
		}
	}
	result, err := env.Service.TestConnection(ctx, user, testInput(ssh, ssh.Host, &mine))
	if err != nil || result.Reason != receive.Blocked {
		t.Errorf("test of the SSH port: %+v, %v", result, err)
	}
	notEchoed(t, result)
	// An admin testing the user's mailbox is held to the same: its server
	// is where the user said.
	if result, err := env.Service.TestConnection(ctx, env.Admin, testInput(pop3, pop3.Host, &mine)); err != nil || result.Reason != receive.Blocked {
		t.Errorf("admin's test of a user's mailbox: %+v, %v", result, err)
	}

	// With loopback allowed, the test goes through.
	allowNetworks(t, env, "127.0.0.0/8")
	result, err = env.Service.TestConnection(ctx, user, testInput(pop3, pop3.Host, &mine))
	if err != nil || !result.OK || result.Messages != servicetest.FakePOP3Messages {
		t.Fatalf("test with 127.0.0.0/8 allowed: %+v, %v", result, err)
	}
	if got := pop3.Connections(); got != 1 {
		t.Errorf("the POP3 listener saw %d connections, want 1: a refused test connected", got)
	}
	if result, err := env.Service.TestConnection(ctx, user, testInput(pop3, "localhost", &mine)); err != nil || !result.OK {
		t.Errorf("test of localhost with 127.0.0.0/8 allowed: %+v, %v", result, err)
	}
	// A non-POP3 greeting is said as such, never quoted.
	result, err = env.Service.TestConnection(ctx, user, testInput(ssh, ssh.Host, &mine))
	if err != nil || result.OK || result.Reason != receive.Protocol {
		t.Errorf("test of the SSH port with loopback allowed: %+v, %v", result, err)
	}
	notEchoed(t, result)
	if ssh.Connections() != 1 {
		t.Errorf("the SSH listener saw %d connections, want 1", ssh.Connections())
	}

	// Another network allowed is not loopback.
	allowNetworks(t, env, "10.0.0.0/8")
	if result, err := env.Service.TestConnection(ctx, user, testInput(pop3, pop3.Host, &mine)); err != nil || result.Reason != receive.Blocked {
		t.Errorf("test with only 10.0.0.0/8 allowed: %+v, %v", result, err)
	}
}

// An admin's system mailbox is the admin's to point anywhere.
func TestConnectionTestOfSystemMailboxIsNotLimited(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	ssh := servicetest.NewFakeServer(t, sshBanner)
	result, err := env.Service.TestConnection(ctx, env.Admin, testInput(pop3, pop3.Host, nil))
	if err != nil || !result.OK || result.Messages != servicetest.FakePOP3Messages || result.Size != servicetest.FakePOP3Size {
		t.Fatalf("admin's test on loopback: %+v, %v", result, err)
	}
	system, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("Sales"),
		Server: &pop3.Host, Port: &pop3.Port, Security: ptr("none"), Login: ptr("sales"), Password: ptr("secret")})
	if err != nil {
		t.Fatal(err)
	}
	result, err = env.Service.TestConnection(ctx, env.Admin, service.TestInput{ID: &system.ID})
	if err != nil || !result.OK {
		t.Fatalf("admin's test of the stored system mailbox: %+v, %v", result, err)
	}
	checked, err := env.Service.CheckMailbox(ctx, env.Admin, system.ID)
	if err != nil || checked.Reason == receive.Blocked {
		t.Errorf("receiving the system mailbox: %+v, %v", checked, err)
	}
	// Not limited, but a banner is still not quoted to an admin either.
	result, err = env.Service.TestConnection(ctx, env.Admin, testInput(ssh, ssh.Host, nil))
	if err != nil || result.Reason != receive.Protocol {
		t.Errorf("admin's test of the SSH port: %+v, %v", result, err)
	}
	notEchoed(t, result)
}

// The fetcher guards a mailbox that has an owner whoever starts the check:
// such a mailbox's server is where a user said.
func TestReceivingAnOwnedMailboxIsGuarded(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	user := env.AddUser(t, "ursula", "user-password", store.RoleUser)
	created, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("Owned"),
		Server: &pop3.Host, Port: &pop3.Port, Security: ptr("none"), Login: ptr("u"), Password: ptr("secret")})
	if err != nil {
		t.Fatal(err)
	}
	// The service gives POP3 mailboxes no owner; the store is told
	// directly, as a later kind of user mailbox received by the same
	// fetcher would be.
	mailbox, err := env.Store.MailboxByID(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	mailbox.OwnerID = user.User.ID
	if err := env.Store.UpdateMailbox(ctx, &mailbox); err != nil {
		t.Fatal(err)
	}
	result, err := env.Service.CheckMailbox(ctx, env.Admin, created.ID)
	if err != nil || result.Reason != receive.Blocked {
		t.Errorf("receiving an owned mailbox on loopback: %+v, %v", result, err)
	}
	if pop3.Connections() != 0 {
		t.Errorf("the listener saw %d connections, want none", pop3.Connections())
	}
}

func TestConnectionTestsAreRateLimited(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	env.Clock.Set(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	user, mine := userMailbox(t, env, "ursula")
	other, theirs := userMailbox(t, env, "oscar")
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	// Refused by the guard, so the tests cost nothing; they count all the
	// same.
	for i := range 10 {
		if _, err := env.Service.TestConnection(ctx, user, testInput(pop3, pop3.Host, &mine)); err != nil {
			t.Fatalf("test %d: %v", i+1, err)
		}
	}
	_, err := env.Service.TestConnection(ctx, user, testInput(pop3, pop3.Host, &mine))
	if !errors.Is(err, service.ErrTooManyTests) {
		t.Fatalf("11th test within a minute: %v, want ErrTooManyTests", err)
	}
	if _, err := env.Service.TestConnection(ctx, other, testInput(pop3, pop3.Host, &theirs)); err != nil {
		t.Errorf("another user's first test: %v", err)
	}
	// A form's mistakes are not tests: they dial nothing and are said as
	// such, not as the limit.
	var invalid *service.ValidationError
	if _, err := env.Service.TestConnection(ctx, user, service.TestInput{ID: &mine, MailboxInput: service.MailboxInput{Port: ptr(0)}}); !errors.As(err, &invalid) {
		t.Errorf("invalid test over the limit: %v, want a validation error", err)
	}
	env.Clock.Advance(time.Minute + time.Second)
	if _, err := env.Service.TestConnection(ctx, user, testInput(pop3, pop3.Host, &mine)); err != nil {
		t.Errorf("a test a minute later: %v", err)
	}
}

// The setting is stored as text on both backends, and the guard reads it
// back from there.
// manyNetworks gives n distinct single addresses.
func manyNetworks(n int) []string {
	var list []string
	for i := range n {
		list = append(list, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	return list
}

func TestAllowedNetworksSetting(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(t)
			}
			allowedNetworksSetting(t, servicetest.New(t, dsn))
		})
	}
}

func allowedNetworksSetting(t *testing.T, env *servicetest.Env) {
	ctx := context.Background()
	settings, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &[]string{"10.1.2.3/8, 192.168.1.5\n::ffff:127.0.0.1", "fd00::/8 10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(settings.AllowedNetworks, " "), "10.0.0.0/8 192.168.1.5 127.0.0.1 fd00::/8"; got != want {
		t.Errorf("allowed networks = %q, want %q", got, want)
	}
	tests := []struct {
		entries  []string
		language string
		want     string
	}{
		{[]string{"10.0.0.0/8 intranet"}, "en", `Allowed networks: "intranet" is not an address or network`},
		{[]string{"10.0.0.0/33"}, "en", `Allowed networks: "10.0.0.0/33" is not an address or network`},
		{[]string{"mail.example.com"}, "ru", `Поле «Разрешённые внутренние сети»: "mail.example.com" — не адрес и не сеть`},
		{[]string{strings.Repeat("x", 100000)}, "en", `Allowed networks: "` + strings.Repeat("x", 63) + `…" is not an address or network`},
		{manyNetworks(201), "en", "Allowed networks has too many entries (at most 200)"},
	}
	for _, test := range tests {
		_, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &test.entries})
		if got := fieldError(t, err, test.language)["allowed_networks"]; got != test.want {
			t.Errorf("%q: %q, want %q", test.entries, got, test.want)
		}
	}
	if settings, _ := env.Service.Settings(ctx, env.Admin); len(settings.AllowedNetworks) != 4 {
		t.Errorf("a refused list changed the setting: %q", settings.AllowedNetworks)
	}
	// What was stored lets a user's test through.
	user, mine := userMailbox(t, env, "ursula")
	pop3 := servicetest.NewFakeServer(t, servicetest.FakeIMAPGreeting)
	allowNetworks(t, env, "192.168.1.5", pop3.Host)
	if result, err := env.Service.TestConnection(ctx, user, testInput(pop3, pop3.Host, &mine)); err != nil || !result.OK {
		t.Errorf("test with %s allowed: %+v, %v", pop3.Host, result, err)
	}
	settings, err = env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &[]string{" "}})
	if err != nil || settings.AllowedNetworks == nil || len(settings.AllowedNetworks) != 0 {
		t.Errorf("emptied: %#v, %v", settings.AllowedNetworks, err)
	}
	if result, err := env.Service.TestConnection(ctx, user, testInput(pop3, pop3.Host, &mine)); err != nil || result.Reason != receive.Blocked {
		t.Errorf("test after emptying: %+v, %v", result, err)
	}
}

// A stored password (or OAuth2 token) is sent only to the server it was
// saved for: a test of a stored mailbox pointed at another server, or with
// certificates no longer verified, must have the password typed, and
// connects nowhere without it.
func TestConnectionTestKeepsStoredSecretToItsServer(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	pop3 := servicetest.NewFakeServer(t, "+OK ready")
	collector := servicetest.NewFakeServer(t, "+OK ready")
	system, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("Sales"),
		Server: &pop3.Host, Port: &pop3.Port, Security: ptr("none"), Login: ptr("sales"), Password: ptr("secret")})
	if err != nil {
		t.Fatal(err)
	}
	for name, input := range map[string]service.MailboxInput{
		"another port":      {Server: &collector.Host, Port: &collector.Port},
		"another host":      {Server: ptr("localhost"), Port: &pop3.Port},
		"verify turned off": {Security: ptr("tls"), VerifyCert: ptr(false)},
	} {
		_, err := env.Service.TestConnection(ctx, env.Admin, service.TestInput{ID: &system.ID, MailboxInput: input})
		var invalid *service.ValidationError
		if !errors.As(err, &invalid) || invalid.Fields["password"].Key == "" {
			t.Errorf("%s: %v, want the password asked for", name, err)
		}
	}
	if collector.Connections() != 0 {
		t.Errorf("the other server got %d connections", collector.Connections())
	}
	// The same server, as the form sends it back: the stored password.
	result, err := env.Service.TestConnection(ctx, env.Admin, service.TestInput{ID: &system.ID,
		MailboxInput: service.MailboxInput{Server: &pop3.Host, Port: &pop3.Port, Security: ptr("none")}})
	if err != nil || !result.OK {
		t.Errorf("the stored server: %+v, %v", result, err)
	}
	// Another server with the password typed is the admin's own test.
	result, err = env.Service.TestConnection(ctx, env.Admin, service.TestInput{ID: &system.ID,
		MailboxInput: service.MailboxInput{Server: &collector.Host, Port: &collector.Port, Password: ptr("typed")}})
	if err != nil || !result.OK {
		t.Errorf("another server, password typed: %+v, %v", result, err)
	}
}
