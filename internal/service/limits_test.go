package service_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// pop3Recorder is a POP3 server of the test's own on a loopback address. It
// answers every connection as an empty mailbox that takes any login, and
// records every line it receives.
type pop3Recorder struct {
	listener net.Listener
	group    sync.WaitGroup

	mu          sync.Mutex
	lines       []string
	connections int
}

// newPOP3Recorder listens on address ("127.0.0.1:0", "[::1]:0"); the
// error is the listener's, for a test to skip on.
func newPOP3Recorder(t *testing.T, network, address string) (*pop3Recorder, error) {
	t.Helper()
	listener, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	recorder := &pop3Recorder{listener: listener}
	recorder.group.Add(1)
	go func() {
		defer recorder.group.Done()
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			recorder.mu.Lock()
			recorder.connections++
			recorder.mu.Unlock()
			recorder.group.Add(1)
			go func() {
				defer recorder.group.Done()
				recorder.serve(conn)
			}()
		}
	}()
	t.Cleanup(recorder.stop)
	return recorder, nil
}

func (r *pop3Recorder) serve(conn net.Conn) {
	defer conn.Close()
	reader := bufio.NewReader(conn)
	reply := func(lines ...string) {
		for _, line := range lines {
			conn.Write([]byte(line + "\r\n"))
		}
	}
	reply("+OK recorder ready")
	for {
		line, err := reader.ReadString('\n')
		if line != "" {
			r.mu.Lock()
			r.lines = append(r.lines, line)
			r.mu.Unlock()
		}
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch strings.ToUpper(verb) {
		case "USER", "PASS", "NOOP", "RSET":
			reply("+OK")
		case "STAT":
			reply("+OK 0 0")
		case "LIST", "UIDL":
			reply("+OK", ".")
		case "QUIT":
			reply("+OK bye")
			return
		default:
			reply("-ERR unknown command")
		}
	}
}

func (r *pop3Recorder) port() int { return r.listener.Addr().(*net.TCPAddr).Port }

func (r *pop3Recorder) stop() {
	r.listener.Close()
	r.group.Wait()
}

// received stops the server, waits until every connection has been read to
// its end (the client has closed it by the time the service returns), and
// gives what came in.
func (r *pop3Recorder) received() (connections int, lines []string) {
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connections, r.lines
}

const lineBreakLogin = "u\r\nDELE 1\r\nX"

// A login with line breaks would be sent as POP3 commands of its own
// ("USER u", "DELE 1", "X"). Saving or testing it is refused with a field
// error before any connection; one stored before the check existed is
// refused by the client itself: the server never sees a line of it.
func TestLoginWithLineBreaksSendsNothing(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	recorder, err := newPOP3Recorder(t, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	input := service.MailboxInput{Type: ptr("pop3"), Name: ptr("Injected"), Server: ptr("127.0.0.1"), Port: ptr(recorder.port()),
		Login: ptr(lineBreakLogin), Password: ptr("secret-password")}
	const want = "Login must not contain line breaks or NUL characters"
	_, err = env.Service.CreateMailbox(ctx, env.Admin, input)
	if got := fieldError(t, err, "en")["login"]; got != want {
		t.Errorf("create: login error %q, want %q", got, want)
	}
	_, err = env.Service.TestConnection(ctx, env.Admin, service.TestInput{MailboxInput: input})
	if got := fieldError(t, err, "en")["login"]; got != want {
		t.Errorf("test connection: login error %q, want %q", got, want)
	}
	if got := fieldError(t, err, "ru")["login"]; got != "Поле «Имя входа» не должно содержать переводов строки и символов NUL" {
		t.Errorf("test connection in Russian: %q", got)
	}

	// A mailbox stored before the check (or by a store-level tool).
	input.Login = ptr("u")
	created, err := env.Service.CreateMailbox(ctx, env.Admin, input)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := env.Store.MailboxByID(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Login = lineBreakLogin
	if err := env.Store.UpdateMailbox(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	result, err := env.Service.CheckMailbox(ctx, env.Admin, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if result.Error == "" || result.Received != 0 || !strings.Contains(result.Detail, "login contains a line break or NUL character") {
		t.Errorf("check of the stored mailbox: %+v", result)
	}
	if strings.Contains(result.Detail, "DELE") {
		t.Errorf("the error quotes the login: %q", result.Detail)
	}
	// Patching anything else makes the admin mend the login.
	_, err = env.Service.UpdateMailbox(ctx, env.Admin, created.ID, service.MailboxInput{Name: ptr("Renamed")})
	if got := fieldError(t, err, "en")["login"]; got != want {
		t.Errorf("update of the stored mailbox: login error %q", got)
	}
	connections, lines := recorder.received()
	if connections != 1 || len(lines) != 0 {
		t.Errorf("the server saw %d connections and received %q; want the stored mailbox's one connection and no line", connections, lines)
	}
}

// Every field that becomes part of a protocol line refuses CR, LF and NUL,
// in plain words that never repeat the value.
func TestProtocolFieldsRefuseLineBreaks(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	owner := env.AddUser(t, "owner", "owner-password", store.RoleUser)
	gmail := serviceID(t, env, "gmail")
	pop3 := func(change func(*service.MailboxInput)) service.MailboxInput {
		input := service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("pop.example.com"), Login: ptr("a"), Password: ptr("b")}
		change(&input)
		return input
	}
	imap := func(change func(*service.MailboxInput)) service.MailboxInput {
		input := service.MailboxInput{Type: ptr("imap"), Name: ptr("x"), ServiceID: &gmail, OwnerID: &owner.User.ID, Login: ptr("a"), Password: ptr("b")}
		change(&input)
		return input
	}
	mailboxes := []struct {
		name  string
		input service.MailboxInput
		field string
		want  string
	}{
		{"pop3 login", pop3(func(i *service.MailboxInput) { i.Login = ptr("a\nDELE 1") }), "login", "Login"},
		{"pop3 login NUL", pop3(func(i *service.MailboxInput) { i.Login = ptr("a\x00b") }), "login", "Login"},
		{"pop3 password", pop3(func(i *service.MailboxInput) { i.Password = ptr("hunter2\r\nDELE 1") }), "password", "Password"},
		{"pop3 server", pop3(func(i *service.MailboxInput) { i.Server = ptr("pop.example.com\r\nX") }), "server", "Mail server (POP3)"},
		{"imap folder", imap(func(i *service.MailboxInput) { i.Folders = &[]string{"INBOX", "Sent\r\nA1 DELETE INBOX"} }), "folders", "Folders to sync"},
		{"imap server", imap(func(i *service.MailboxInput) { i.Server = ptr("imap.example.com\nX") }), "server", "IMAP server"},
		{"smtp listen address", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), Server: ptr("127.0.0.1\r\nEHLO x")}, "server", "Listen address"},
		{"smtp domain NUL", service.MailboxInput{Type: ptr("smtp"), Name: ptr("x"), Domains: &[]string{"example.com\x00evil"}}, "domains", "Domains served"},
	}
	for _, test := range mailboxes {
		t.Run(test.name, func(t *testing.T) {
			_, err := env.Service.CreateMailbox(ctx, env.Admin, test.input)
			got := fieldError(t, err, "en")[test.field]
			if want := test.want + " must not contain line breaks or NUL characters"; got != want {
				t.Errorf("%s: %q, want %q (all: %v)", test.field, got, want, err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "DELE") {
				t.Errorf("the error repeats the value: %v", err)
			}
		})
	}

	t.Run("mail service servers", func(t *testing.T) {
		_, err := env.Service.CreateMailService(ctx, env.Admin, service.MailServiceInput{Site: ptr("s1"), Name: ptr("x"), Type: ptr("imap"),
			Server: ptr("imap.example.com\r\nX"), Port: ptr(993), SMTPServer: ptr("smtp.example.com\nX"), SMTPPort: ptr(587)})
		fields := fieldError(t, err, "en")
		if fields["server"] != "Server must not contain line breaks or NUL characters" ||
			fields["smtp_server"] != "SMTP server must not contain line breaks or NUL characters" {
			t.Errorf("fields %v", fields)
		}
	})
	t.Run("user fields", func(t *testing.T) {
		_, err := env.Service.CreateUser(ctx, env.Admin, service.UserInput{Login: ptr("eve\r\nAUTH"), Email: ptr("eve@example.com\r\nRCPT TO:<x@y>"),
			Name: ptr("Eve\r\nBcc: all@example.com"), Password: ptr("password\x00admin")})
		fields := fieldError(t, err, "en")
		for field, label := range map[string]string{"login": "Login", "email": "E-mail", "name": "Name", "password": "Password"} {
			if want := label + " must not contain line breaks or NUL characters"; fields[field] != want {
				t.Errorf("%s: %q, want %q", field, fields[field], want)
			}
		}
	})
}

// A megabyte in a field is refused with the field's limit in characters;
// a value at the limit is taken, counted in characters, not bytes.
func TestFieldLimitsCountCharacters(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	base := func() service.MailboxInput {
		return service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("pop.example.com"), Login: ptr("a"), Password: ptr("b")}
	}
	atLimit := base()
	atLimit.Name = ptr(strings.Repeat("Я", service.MaxNameLength))
	atLimit.Description = ptr(strings.Repeat("Ж", service.MaxDescriptionLength))
	atLimit.Login = ptr(strings.Repeat("л", service.MaxMailboxLoginLength))
	atLimit.Password = ptr(strings.Repeat("п", service.MaxPasswordLength))
	if _, err := env.Service.CreateMailbox(ctx, env.Admin, atLimit); err != nil {
		t.Fatalf("values at the limits, in two-byte characters: %v", err)
	}
	over := base()
	over.Name = ptr(strings.Repeat("Я", service.MaxNameLength+1))
	over.Description = ptr(strings.Repeat("d", 900_000))
	over.Login = ptr(strings.Repeat("l", 900_000))
	over.Password = ptr(strings.Repeat("p", 900_000))
	_, err := env.Service.CreateMailbox(ctx, env.Admin, over)
	fields := fieldError(t, err, "en")
	for field, want := range map[string]string{
		"name":        "Name is too long (at most 255 characters)",
		"description": "Description is too long (at most 2000 characters)",
		"login":       "Login is too long (at most 320 characters)",
		"password":    "Password is too long (at most 1024 characters)",
	} {
		if fields[field] != want {
			t.Errorf("%s: %q, want %q", field, fields[field], want)
		}
	}
	if got := fieldError(t, err, "ru")["description"]; got != "Поле «Описание» слишком длинное (не больше 2000 символов)" {
		t.Errorf("in Russian: %q", got)
	}
}

// An API token name has a limit, and a user at most MaxTokensPerUser
// tokens; revoking one makes room.
func TestTokenLimits(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	user := env.AddUser(t, "tokens", "tokens-password", store.RoleUser)
	_, _, err := env.Service.CreateToken(ctx, user, user.User.ID, strings.Repeat("n", 1_000_000))
	if got := fieldError(t, err, "en")["name"]; got != "Token name is too long (at most 100 characters)" {
		t.Errorf("long name: %q", got)
	}
	var last int64
	for i := range service.MaxTokensPerUser {
		_, token, err := env.Service.CreateToken(ctx, user, user.User.ID, "script "+strconv.Itoa(i))
		if err != nil {
			t.Fatalf("token %d: %v", i+1, err)
		}
		last = token.ID
	}
	_, _, err = env.Service.CreateToken(ctx, user, user.User.ID, "one more")
	conflict, ok := service.IsConflict(err)
	if !ok {
		t.Fatalf("token %d: %v, want a conflict", service.MaxTokensPerUser+1, err)
	}
	if want := "There are already 50 API tokens, the most one user may have. Revoke one you no longer use first."; conflict.Error() != want {
		t.Errorf("the cap says %q", conflict.Error())
	}
	// An admin is held to the same cap for the user.
	if _, _, err := env.Service.CreateToken(ctx, env.Admin, user.User.ID, "from admin"); !errors.Is(err, service.ErrConflict) {
		t.Errorf("admin's token for the user: %v", err)
	}
	if err := env.Service.RevokeToken(ctx, user, last); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Service.CreateToken(ctx, user, user.User.ID, "after a revoke"); err != nil {
		t.Errorf("after a revoke: %v", err)
	}
}

// A server written as an IPv6 literal in brackets, as in a URL, is kept
// without them and dialled as such: "[::1]" and "::1" both reach a
// listener on the IPv6 loopback, by "Test connection" and by a check.
func TestIPv6Servers(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	recorder, err := newPOP3Recorder(t, "tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	for _, server := range []string{"[::1]", "::1"} {
		input := service.MailboxInput{Type: ptr("pop3"), Name: ptr("IPv6 " + server), Server: ptr(server), Port: ptr(recorder.port()),
			Login: ptr("u"), Password: ptr("p")}
		tested, err := env.Service.TestConnection(ctx, env.Admin, service.TestInput{MailboxInput: input})
		if err != nil || !tested.OK {
			t.Errorf("test connection to %s: %+v, %v", server, tested, err)
		}
		created, err := env.Service.CreateMailbox(ctx, env.Admin, input)
		if err != nil {
			t.Fatalf("create with %s: %v", server, err)
		}
		if created.Server != "::1" {
			t.Errorf("%s is stored as %q, want ::1", server, created.Server)
		}
		checked, err := env.Service.CheckMailbox(ctx, env.Admin, created.ID)
		if err != nil || checked.Error != "" {
			t.Errorf("check of %s: %+v, %v", server, checked, err)
		}
	}
	connections, lines := recorder.received()
	if logins := strings.Count(strings.Join(lines, ""), "USER u\r\n"); connections != 4 || logins != 4 {
		t.Errorf("the IPv6 server saw %d connections and %d logins, want 4 of each: %q", connections, logins, lines)
	}

	// The other server fields take the same forms.
	service1, err := env.Service.CreateMailService(ctx, env.Admin, service.MailServiceInput{Site: ptr("s1"), Name: ptr("v6"), Type: ptr("imap"),
		Server: ptr("[2001:db8::1]"), Port: ptr(993), SMTPServer: ptr("[2001:db8::2]"), SMTPPort: ptr(587)})
	if err != nil || service1.Server != "2001:db8::1" || service1.SMTPServer != "2001:db8::2" {
		t.Errorf("mail service: %+v, %v", service1, err)
	}
	smtp, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("v6 listener"), Server: ptr("[::1]"), Port: ptr(2525)})
	if err != nil || smtp.Server != "::1" {
		t.Errorf("smtp listen address: %+v, %v", smtp, err)
	}
	_, err = env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("pop3"), Name: ptr("x"), Server: ptr("[[::1]]"), Login: ptr("u"), Password: ptr("p")})
	if got := fieldError(t, err, "en")["server"]; got == "" {
		t.Error("[[::1]] was taken")
	}
}
