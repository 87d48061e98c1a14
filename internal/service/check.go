package service

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/pop3"
	"pochta.dev/pochta/internal/store"
)

// CheckResult is what "Receive mail now" reports for one mailbox.
type CheckResult struct {
	MailboxID int64  `json:"mailbox_id"`
	Name      string `json:"name"`
	Received  int    `json:"received"`
	// Error says in plain words, in the actor's language, why nothing
	// could be received; Reason is its fetch.FailureReason and Detail the
	// error's own text (host, port, the server's reply).
	Error  string `json:"error"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// FailureText says a fetch.FailureReason in plain words.
func FailureText(language, reason string) string {
	if reason == "" {
		reason = fetch.ReasonOther
	}
	return i18n.Default.T(language, "fetch_error."+reason)
}

// fetcher gives the POP3 fetcher, made on first use.
func (s *Service) fetcher() *fetch.Fetcher {
	s.fetcherOnce.Do(func() {
		s.fetch = fetch.New(fetch.Config{
			Store:    s.store,
			Intake:   s.Intake(),
			Log:      s.log,
			Logger:   s.logger,
			Password: s.MailboxPassword,
			Timeout:  s.connectionTimeout,
			Dialer:   s.dialer,

			// A mailbox with an owner is a user's: its server is where
			// the user said, so the connection is guarded.
			DialerFor: func(ctx context.Context, mailbox store.Mailbox) pop3.Dialer {
				return s.mailDialer(ctx, mailbox.OwnerID != 0)
			},
		})
	})
	return s.fetch
}

// connectionTimeout is the "connection timeout" setting.
func (s *Service) connectionTimeout(ctx context.Context) time.Duration {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return time.Duration(DefaultSettings().ConnectionTimeout) * time.Second
	}
	return time.Duration(settings.ConnectionTimeout) * time.Second
}

// RunFetcher runs the POP3 scheduler until ctx ends.
func (s *Service) RunFetcher(ctx context.Context, tick time.Duration) {
	s.fetcher().Run(ctx, tick, 4)
}

// CheckMailbox receives mail for one mailbox now ("Receive mail now").
// Admins check any mailbox, a user their own; auditors may not. A failure
// to receive is reported in the result, not as an error: the error return
// is for rights and missing mailboxes.
func (s *Service) CheckMailbox(ctx context.Context, actor *Actor, id int64) (CheckResult, error) {
	mailbox, err := s.changeableMailbox(ctx, actor, id)
	if err != nil {
		return CheckResult{}, err
	}
	language := s.UserLanguage(ctx, actor.User)
	result := CheckResult{MailboxID: id, Name: mailbox.Name}
	switch mailbox.Type {
	case store.MailboxPOP3:
		fetched, err := s.fetcher().Fetch(ctx, id)
		result.Received = fetched.Received
		switch {
		case errors.Is(err, fetch.ErrBusy):
			result.Error = i18n.Default.T(language, "check.busy")
		case err != nil:
			result.Reason, result.Detail = fetch.FailureReason(err), err.Error()
			result.Error = FailureText(language, result.Reason)
		}
	case store.MailboxSMTP:
		result.Error = i18n.Default.T(language, "check.smtp")
	default:
		result.Error = i18n.Default.T(language, "error.not_yet", i18n.Key("action.imap_sync"))
	}
	return result, nil
}

// CheckAll receives mail now for every active POP3 mailbox the actor may
// check, one after another.
func (s *Service) CheckAll(ctx context.Context, actor *Actor) ([]CheckResult, error) {
	if !canChangeMailboxes(actor) {
		return nil, ErrForbidden
	}
	active := true
	filter := store.MailboxFilter{Types: []string{store.MailboxPOP3}, Active: &active}
	if !actor.IsAdmin() {
		filter.OwnerID = actor.User.ID
	}
	results := []CheckResult{}
	cursor := ""
	for {
		page, err := s.store.Mailboxes(ctx, filter, store.MailboxSort{}, cursor, 1000)
		if err != nil {
			return results, err
		}
		for _, m := range page.Items {
			result, err := s.CheckMailbox(ctx, actor, m.ID)
			if err != nil {
				return results, err
			}
			results = append(results, result)
		}
		if page.NextCursor == "" {
			return results, nil
		}
		cursor = page.NextCursor
	}
}

// TestInput is a mailbox's connection settings to try before saving. ID,
// when set, names the stored mailbox whose password to use when Password is
// empty (the form of an existing mailbox never shows it).
type TestInput struct {
	MailboxInput
	ID *int64 `json:"id,omitempty"`
}

// TestResult is what "Test connection" reports. A failure is said as in
// [CheckResult].
type TestResult struct {
	OK       bool   `json:"ok"`
	Messages int    `json:"messages"`
	Size     int64  `json:"size"`
	Error    string `json:"error"`
	Reason   string `json:"reason,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// TestConnection logs in to a POP3 server with the given settings and
// reports the message count or the server's error, saving nothing. A test
// for a user (a non-admin's, or of a mailbox with an owner) may not reach
// internal addresses other than the allowed networks (reason "blocked"),
// and each actor may test connectionTestsPerWindow times a minute
// (ErrTooManyTests).
func (s *Service) TestConnection(ctx context.Context, actor *Actor, input TestInput) (TestResult, error) {
	if !canChangeMailboxes(actor) {
		return TestResult{}, ErrForbidden
	}
	mailbox := newMailboxDefaults(store.MailboxPOP3)
	if input.ID != nil {
		stored, err := s.changeableMailbox(ctx, actor, *input.ID)
		if err != nil {
			return TestResult{}, err
		}
		mailbox = stored
	}
	if input.Type != nil && *input.Type != store.MailboxPOP3 {
		return TestResult{}, &ValidationError{Fields: map[string]i18n.Message{"type": i18n.M("error.test_pop3_only")}}
	}
	input.Type = nil
	if !actor.IsAdmin() {
		// A user tests only what they could save: their own mailboxes.
		if input.ID == nil {
			return TestResult{}, ErrForbidden
		}
	}
	errs := fieldErrors{}
	setText(&mailbox.Server, input.Server)
	setText(&mailbox.Security, input.Security)
	setText(&mailbox.Login, input.Login)
	if input.Port != nil {
		mailbox.Port = *input.Port
	}
	if input.VerifyCert != nil {
		mailbox.VerifyCert = *input.VerifyCert
	}
	if input.APOP != nil {
		mailbox.APOP = *input.APOP
	}
	password, err := s.box.Open(mailbox.PasswordSealed)
	if err != nil {
		return TestResult{}, err
	}
	if input.Password != nil && *input.Password != "" {
		password = *input.Password
	}
	if mailbox.Server == "" {
		errs.add("server", "error.required", i18n.Key("field.pop3_server"))
	}
	if !validPort(mailbox.Port) {
		errs.add("port", "error.range", i18n.Key("field.port"), 1, 65535)
	}
	if mailbox.Login == "" {
		errs.add("login", "error.required", i18n.Key("field.login"))
	}
	if password == "" {
		errs.add("password", "error.required", i18n.Key("field.password"))
	}
	checkConnectionText(errs, &mailbox.Server, mailbox.Login, password) // before anything is sent
	if err := errs.err(); err != nil {
		return TestResult{}, err
	}
	if !s.tests.allow(actor.User.ID, s.now()) {
		return TestResult{}, ErrTooManyTests
	}
	dialer := s.mailDialer(ctx, forUser(actor, mailbox))
	options := pop3.Options{Security: mailbox.Security, InsecureSkipVerify: !mailbox.VerifyCert, Timeout: s.connectionTimeout(ctx), Dialer: dialer}
	language := s.UserLanguage(ctx, actor.User)
	failed := func(err error) (TestResult, error) {
		reason := fetch.FailureReason(err)
		return TestResult{Error: FailureText(language, reason), Reason: reason, Detail: err.Error()}, nil
	}
	client, err := pop3.Dial(ctx, net.JoinHostPort(mailbox.Server, strconv.Itoa(mailbox.Port)), options)
	if err != nil {
		return failed(err)
	}
	defer client.Close()
	method := pop3.AuthAuto
	if mailbox.APOP {
		method = pop3.AuthAPOP
	}
	if err := client.Auth(ctx, mailbox.Login, password, method); err != nil {
		return failed(err)
	}
	count, size, err := client.Stat(ctx)
	if err != nil {
		return failed(err)
	}
	client.Quit(ctx)
	return TestResult{OK: true, Messages: count, Size: size}, nil
}
