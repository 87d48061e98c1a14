package service_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

func serviceID(t *testing.T, env *servicetest.Env, name string) int64 {
	t.Helper()
	list, err := env.Service.MailServices(context.Background(), env.Admin, store.MailServiceFilter{Name: name})
	if err != nil || len(list) == 0 {
		t.Fatalf("mail service %s: %v", name, err)
	}
	return list[0].ID
}

func TestDefaultMailServicesPerSiteLanguage(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	english, _ := env.Service.MailServices(ctx, env.Admin, store.MailServiceFilter{})
	if len(english) != 8 {
		t.Errorf("English site has %d services, want 8", len(english))
	}
	if _, err := env.Service.CreateSite(ctx, env.Admin, service.SiteInput{Code: ptr("ru"), Name: ptr("Сайт"), Language: ptr("ru")}); err != nil {
		t.Fatal(err)
	}
	site, _ := env.Store.SiteByCode(ctx, "ru")
	russian, _ := env.Service.MailServices(ctx, env.Admin, store.MailServiceFilter{SiteID: site.ID})
	names := map[string]bool{}
	for _, m := range russian {
		names[m.Name] = true
	}
	if len(russian) != 10 || !names["yandex"] || !names["mail.ru"] {
		t.Errorf("Russian site services: %v", names)
	}
}

func TestMailboxValidation(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	owner := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	gmail := serviceID(t, env, "gmail")
	tests := []struct {
		name  string
		input service.MailboxInput
		field string
		want  string
	}{
		{"no type", service.MailboxInput{Name: ptr("x")}, "type", "Type must be pop3, smtp or imap"},
		{"pop3 no name", service.MailboxInput{Type: ptr("pop3"), Server: ptr("pop.example.com"), Login: ptr("a"), Password: ptr("b")}, "name", "Name is required"},
		{"pop3 no server", service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Login: ptr("a"), Password: ptr("b")}, "server", "Mail server (POP3) is required"},
		{"pop3 bad port", service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("pop.example.com"), Port: ptr(70000), Login: ptr("a"), Password: ptr("b")}, "port", "Port must be a whole number from 1 to 65535"},
		{"pop3 no password", service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("pop.example.com"), Login: ptr("a")}, "password", "Password is required"},
		{"pop3 star address", service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("*"), Login: ptr("a"), Password: ptr("b")}, "server", "Mail server (POP3) must be a host name such as mail.example.com or an IP address"},
		{"bad charset", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), Charset: ptr("klingon")}, "charset", "Charset is not a character set Pochta knows"},
		{"bad domain", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), Domains: &[]string{"example.com bad_domain!"}}, "domains", `Domains served: "bad_domain!" is not a domain name`},
		{"imap no owner", service.MailboxInput{Type: ptr("imap"), Name: ptr("x"), ServiceID: &gmail, Server: ptr("imap.gmail.com"), Login: ptr("a"), Password: ptr("b")}, "owner_id", "Owner is required"},
		{"imap no service", service.MailboxInput{Type: ptr("imap"), Name: ptr("x"), OwnerID: &owner.User.ID, Server: ptr("imap.gmail.com"), Login: ptr("a"), Password: ptr("b")}, "service_id", "Mail service is required"},
		{"unknown site", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), Site: ptr("zz")}, "site", "Site: there is no such site"},
		// A value for a field the type does not have is refused, not dropped.
		{"pop3 relay", service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("pop.example.com"), Login: ptr("a"), Password: ptr("b"), Relay: ptr(true)}, "relay", `Relay messages to recipients of other domains does not apply to a mailbox of type "External POP3 server"`},
		{"pop3 folders", service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("pop.example.com"), Login: ptr("a"), Password: ptr("b"), Folders: &[]string{"INBOX"}}, "folders", `Folders to sync does not apply to a mailbox of type "External POP3 server"`},
		{"imap apop", service.MailboxInput{Type: ptr("imap"), Name: ptr("x"), ServiceID: &gmail, OwnerID: &owner.User.ID, Login: ptr("a"), Password: ptr("b"), APOP: ptr(true)}, "apop", `APOP (MD5) authentication does not apply to a mailbox of type "User mailbox (IMAP)"`},
		{"smtp login", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), Login: ptr("someone")}, "login", `Login does not apply to a mailbox of type "Internal SMTP server"`},
		{"smtp no verify", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), VerifyCert: ptr(false)}, "verify_cert", `Don't verify the certificate does not apply to a mailbox of type "Internal SMTP server"`},
		{"smtp security", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), Security: ptr("tls")}, "security", `TLS does not apply to a mailbox of type "Internal SMTP server"`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := env.Service.CreateMailbox(ctx, env.Admin, test.input)
			if got := fieldError(t, err, "en")[test.field]; got != test.want {
				t.Errorf("%s: %q, want %q (all: %v)", test.field, got, test.want, err)
			}
		})
	}
}

func TestMailboxTypesPasswordsAndListenConflicts(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	pop3, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("Support"),
		Server: ptr("pop.example.com"), Port: ptr(995), Security: ptr("tls"), Login: ptr("support"), Password: ptr("very-secret-pop3-password"),
		APOP: ptr(true), DeleteFromServer: ptr(true), CheckInterval: ptr(5), MaxMessages: ptr(100), Charset: ptr("koi8-r")})
	if err != nil {
		t.Fatal(err)
	}
	if !pop3.HasPassword || pop3.Port != 995 || !pop3.APOP || !pop3.VerifyCert || pop3.CheckInterval != 5 || pop3.Charset != "koi8-r" {
		t.Errorf("pop3 mailbox: %+v", pop3)
	}
	// An empty password on edit keeps the stored one.
	if _, err := env.Service.UpdateMailbox(ctx, env.Admin, pop3.ID, service.MailboxInput{Password: ptr(""), Name: ptr("Support desk")}); err != nil {
		t.Fatal(err)
	}
	stored, _ := env.Store.MailboxByID(ctx, pop3.ID)
	if password, err := env.Service.MailboxPassword(stored); err != nil || password != "very-secret-pop3-password" {
		t.Errorf("password after an edit with none: %q, %v", password, err)
	}
	// The password is nowhere in the database file in plain text.
	env.Store.DB().Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(env.Path), "pochta.db*"))
	for _, file := range files {
		content, _ := os.ReadFile(file)
		if bytes.Contains(content, []byte("very-secret-pop3-password")) {
			t.Errorf("%s holds the plaintext password", file)
		}
	}

	smtp, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Inbound"), Port: ptr(2525),
		Relay: ptr(true), RelayAuthOnly: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if smtp.Server != "*" || smtp.Relay || smtp.RelayAuthOnly {
		t.Errorf("smtp defaults (relay needs domains): %+v", smtp)
	}
	_, err = env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Second"), Server: ptr("127.0.0.1"), Port: ptr(2525)})
	conflict, ok := service.IsConflict(err)
	if !ok || !errors.Is(err, service.ErrConflict) {
		t.Fatalf("second listener on *:2525: %v", err)
	}
	if want := `The address 127.0.0.1:2525 is already in use by the active SMTP mailbox "Inbound" (ID 2)`; conflict.Error() != want {
		t.Errorf("conflict text %q", conflict.Error())
	}
	if _, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Off"), Server: ptr("127.0.0.1"), Port: ptr(2525), Active: ptr(false)}); err != nil {
		t.Errorf("an inactive mailbox may share the address: %v", err)
	}
}

func TestUserMailboxRights(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	owner := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	other := env.AddUser(t, "penelope", "user-password", store.RoleUser)
	auditor := env.AddUser(t, "audrey", "auditor-pass", store.RoleAuditor)
	gmail := serviceID(t, env, "gmail")
	input := func() service.MailboxInput {
		return service.MailboxInput{Type: ptr("imap"), Name: ptr("Mine"), ServiceID: &gmail, Server: ptr("imap.gmail.com"), Security: ptr("tls"),
			Login: ptr("u@gmail.com"), Password: ptr("app-password"), OwnerID: &other.User.ID}
	}
	mine, err := env.Service.CreateMailbox(ctx, owner, input())
	if err != nil {
		t.Fatal(err)
	}
	if mine.OwnerID == nil || *mine.OwnerID != owner.User.ID {
		t.Errorf("owner not forced to the user: %+v", mine.OwnerID)
	}
	if _, err := env.Service.CreateMailbox(ctx, owner, service.MailboxInput{Type: ptr("pop3")}); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("user creates a system mailbox: %v", err)
	}
	if _, err := env.Service.CreateMailbox(ctx, auditor, input()); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("auditor creates a mailbox: %v", err)
	}
	if _, err := env.Service.Mailbox(ctx, other, mine.ID); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("another user reads the mailbox: %v", err)
	}
	if _, err := env.Service.UpdateMailbox(ctx, other, mine.ID, service.MailboxInput{Name: ptr("stolen")}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("another user edits the mailbox: %v", err)
	}
	if err := env.Service.DeleteMailbox(ctx, auditor, mine.ID); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("auditor deletes: %v", err)
	}
	if page, err := env.Service.Mailboxes(ctx, other, store.MailboxFilter{}, store.MailboxSort{}, "", 10); err != nil || page.Total != 0 {
		t.Errorf("another user's list: %+v, %v", page, err)
	}
	if page, err := env.Service.Mailboxes(ctx, auditor, store.MailboxFilter{}, store.MailboxSort{}, "", 10); err != nil || page.Total != 1 {
		t.Errorf("auditor's list: %+v, %v", page, err)
	}
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{UserMailboxesPerUser: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.CreateMailbox(ctx, owner, input()); !errors.Is(err, service.ErrConflict) {
		t.Errorf("over the per-user limit: %v", err)
	}

	// Saving the service reaches the mailbox; deactivating it moves the
	// mailbox to "other".
	if _, err := env.Service.UpdateMailService(ctx, env.Admin, gmail, service.MailServiceInput{Server: ptr("imap.googlemail.com")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.Service.Mailbox(ctx, owner, mine.ID); got.Server != "imap.googlemail.com" {
		t.Errorf("service change not copied: %+v", got)
	}
	if _, err := env.Service.UpdateMailService(ctx, env.Admin, gmail, service.MailServiceInput{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.Service.Mailbox(ctx, owner, mine.ID); got.ServiceName != "other" || !got.Active {
		t.Errorf("after deactivating the service: %+v", got)
	}
	if err := env.Service.DeleteMailService(ctx, env.Admin, serviceID(t, env, "other")); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.Service.Mailbox(ctx, owner, mine.ID); got.ServiceID != nil || got.Active {
		t.Errorf("after deleting the last fallback: %+v", got)
	}
	if err := env.Service.DeleteMailbox(ctx, owner, mine.ID); err != nil {
		t.Errorf("owner deletes own mailbox: %v", err)
	}
}

func TestMailboxGroupActions(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	var ids []int64
	for i, port := range []int{2525, 2526, 2527} {
		m, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr([]string{"a", "b", "c"}[i]), Port: ptr(port), Active: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	// A fourth, active, takes *:2527, so activating "c" must fail alone.
	if _, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("d"), Port: ptr(2527)}); err != nil {
		t.Fatal(err)
	}
	result, err := env.Service.MailboxGroupAction(ctx, env.Admin, service.MailboxSelection{IDs: ids}, service.GroupActivate, "en")
	if err != nil || result.Done != 2 || len(result.Failed) != 1 || result.Failed[0].Name != "c" {
		t.Fatalf("activate = %+v, %v", result, err)
	}
	inactive := false
	result, err = env.Service.MailboxGroupAction(ctx, env.Admin, service.MailboxSelection{Filter: &store.MailboxFilter{Active: &inactive}}, service.GroupDelete, "en")
	if err != nil || result.Done != 1 {
		t.Errorf("delete everything inactive = %+v, %v", result, err)
	}
	if page, _ := env.Service.Mailboxes(ctx, env.Admin, store.MailboxFilter{}, store.MailboxSort{}, "", 10); page.Total != 3 {
		t.Errorf("%d mailboxes left, want 3", page.Total)
	}
	auditor := env.AddUser(t, "audrey", "auditor-pass", store.RoleAuditor)
	if _, err := env.Service.MailboxGroupAction(ctx, auditor, service.MailboxSelection{IDs: ids}, service.GroupDelete, "en"); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("auditor group delete: %v", err)
	}
	if _, err := env.Service.MailboxGroupAction(ctx, env.Admin, service.MailboxSelection{IDs: ids}, "explode", "en"); err == nil {
		t.Error("unknown action accepted")
	}
	// A user's "everything" is their own mailboxes only.
	user := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	if result, err := env.Service.MailboxGroupAction(ctx, user, service.MailboxSelection{Filter: &store.MailboxFilter{}}, service.GroupDelete, "en"); err != nil || result.Done != 0 {
		t.Errorf("user deletes everything = %+v, %v", result, err)
	}
}

func TestIMAPMailboxFilledFromService(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	owner := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	gmail := serviceID(t, env, "gmail")
	m, err := env.Service.CreateMailbox(ctx, owner, service.MailboxInput{Type: ptr("imap"), Name: ptr("Mine"), ServiceID: &gmail, Login: ptr("u@gmail.com"), Password: ptr("app-password")})
	if err != nil {
		t.Fatal(err)
	}
	if m.Server != "imap.gmail.com" || m.Port != 993 || m.Security != "tls" || m.WebURL != "https://mail.google.com/" {
		t.Errorf("not filled from the service: %+v", m)
	}
}

func TestMailboxServiceChangeAndUnspecifiedAddresses(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	owner := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	gmail, yahoo := serviceID(t, env, "gmail"), serviceID(t, env, "yahoo")
	m, err := env.Service.CreateMailbox(ctx, owner, service.MailboxInput{Type: ptr("imap"), Name: ptr("Mine"), ServiceID: &gmail, Login: ptr("u"), Password: ptr("p")})
	if err != nil {
		t.Fatal(err)
	}
	// Changing the service brings its server along.
	m, err = env.Service.UpdateMailbox(ctx, owner, m.ID, service.MailboxInput{ServiceID: &yahoo})
	if err != nil || m.Server != "imap.mail.yahoo.com" {
		t.Errorf("after changing the service: %+v, %v", m, err)
	}
	// A switched-off service does not stop its user from renaming the mailbox.
	if _, err := env.Service.UpdateMailService(ctx, env.Admin, yahoo, service.MailServiceInput{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.UpdateMailService(ctx, env.Admin, serviceID(t, env, "other"), service.MailServiceInput{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.UpdateMailbox(ctx, env.Admin, m.ID, service.MailboxInput{ServiceID: &yahoo, Active: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.UpdateMailbox(ctx, owner, m.ID, service.MailboxInput{Name: ptr("Renamed")}); err != nil {
		t.Errorf("rename with a switched-off service: %v", err)
	}
	// 0.0.0.0 and :: take every address, as "*" does.
	if _, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("All v4"), Server: ptr("0.0.0.0"), Port: ptr(2525)}); err != nil {
		t.Fatal(err)
	}
	for _, address := range []string{"127.0.0.1", "*", "::"} {
		if _, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Clash"), Server: ptr(address), Port: ptr(2525)}); !errors.Is(err, service.ErrConflict) {
			t.Errorf("%s:2525 beside 0.0.0.0:2525: %v", address, err)
		}
	}
}

// Deleting a user keeps their user mailboxes switched off and without an
// owner, or deletes them with their mail when asked.
func TestDeleteUserMailboxes(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	gmail := serviceID(t, env, "gmail")
	mailboxOf := func(login string) (int64, int64) {
		t.Helper()
		owner := env.AddUser(t, login, "password-"+login, store.RoleUser)
		m, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("imap"), Name: ptr(login + " mail"), ServiceID: &gmail,
			OwnerID: &owner.User.ID, Login: ptr(login), Password: ptr("imap-password")})
		if err != nil {
			t.Fatal(err)
		}
		return owner.User.ID, m.ID
	}

	kept, keptBox := mailboxOf("kept")
	if err := env.Service.DeleteUser(ctx, env.Admin, kept, service.DeleteUserOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := env.Store.MailboxByID(ctx, keptBox)
	if err != nil || m.Active || m.OwnerID != 0 {
		t.Errorf("kept mailbox: %+v, %v (want switched off, no owner)", m, err)
	}

	gone, goneBox := mailboxOf("gone")
	if err := env.Service.DeleteUser(ctx, env.Admin, gone, service.DeleteUserOptions{DeleteMailboxes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.MailboxByID(ctx, goneBox); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mailbox of a user deleted with their mailboxes: %v", err)
	}
}

// A POP3 mailbox made without an interval (through the API or the CLI, as
// the web form's default) is checked every ten minutes; one told 0 checks
// by hand only, and an edit that leaves the interval out keeps it.
func TestNewPOP3MailboxChecksOnASchedule(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	made, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("Support"), Server: ptr("pop.example.com"), Login: ptr("a"), Password: ptr("secret-one")})
	if err != nil {
		t.Fatal(err)
	}
	if made.CheckInterval != service.DefaultCheckInterval {
		t.Errorf("check interval %d, want %d", made.CheckInterval, service.DefaultCheckInterval)
	}
	manual, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("Manual"), Server: ptr("pop.example.com"), Login: ptr("b"), Password: ptr("secret-two"), CheckInterval: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	edited, err := env.Service.UpdateMailbox(ctx, env.Admin, manual.ID, service.MailboxInput{Name: ptr("Manual only")})
	if err != nil {
		t.Fatal(err)
	}
	if manual.CheckInterval != 0 || edited.CheckInterval != 0 {
		t.Errorf("told 0: %d, after an edit %d", manual.CheckInterval, edited.CheckInterval)
	}
}
