package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/imapsync"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/store"
)

// CheckResult is what "Receive mail now" reports for one mailbox.
type CheckResult struct {
	MailboxID int64  `json:"mailbox_id"`
	Name      string `json:"name"`
	Received  int    `json:"received"`
	// Error says in plain words, in the actor's language, why nothing
	// could be received; Reason is its kind and Detail the error's own
	// text (host, port, the server's reply).
	Error  string         `json:"error"`
	Reason receive.Reason `json:"reason,omitempty"`
	Detail string         `json:"detail,omitempty"`
}

// FailureText says a receive.Reason in plain words.
func FailureText(language string, reason receive.Reason) string {
	if reason == "" {
		reason = receive.Other
	}
	return i18n.Default.T(language, "fetch_error."+string(reason))
}

// failure says a receiver's error in the reader's language.
func failure(language string, err error) (text string, reason receive.Reason, detail string) {
	reason = receive.ReasonOf(err)
	return FailureText(language, reason), reason, err.Error()
}

// receiver gives the receiver of a mailbox type (nil for a type that
// receives by itself: SMTP), made on first use. It is the one place that
// knows which package receives which type.
func (s *Service) receiver(kind string) receive.Receiver {
	s.receiversOnce.Do(func() {
		// A mailbox with an owner is a user's: its server is where the
		// user said, so the connection is guarded.
		dialerFor := func(ctx context.Context, mailbox store.Mailbox) receive.Dialer {
			return s.mailDialer(ctx, mailbox.OwnerID != 0)
		}
		s.receivers = map[string]receive.Receiver{
			store.MailboxPOP3: fetch.New(fetch.Config{
				Store:     s.store,
				Intake:    s.Intake(),
				Log:       s.log,
				Logger:    s.logger,
				Password:  s.MailboxPassword,
				Timeout:   s.connectionTimeout,
				Dialer:    s.dialer,
				DialerFor: dialerFor,
			}),
			store.MailboxIMAP: imapsync.New(imapsync.Config{
				Store:       s.store,
				Intake:      s.Intake(),
				Log:         s.log,
				Logger:      s.logger,
				Password:    s.MailboxPassword,
				AccessToken: s.MailboxAccessToken,
				Timeout:     s.connectionTimeout,
				Dialer:      s.dialer,
				// An IMAP mailbox is always a user's: guarded, whoever
				// made it.
				DialerFor: func(ctx context.Context, mailbox store.Mailbox) receive.Dialer { return s.mailDialer(ctx, true) },
				Idle:      true,
				Now:       s.now,
			}),
		}
	})
	return s.receivers[kind]
}

// connectionTimeout is the "connection timeout" setting.
func (s *Service) connectionTimeout(ctx context.Context) time.Duration {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return time.Duration(DefaultSettings().ConnectionTimeout) * time.Second
	}
	return time.Duration(settings.ConnectionTimeout) * time.Second
}

// RunReceivers runs every receiver's schedule until ctx ends.
func (s *Service) RunReceivers(ctx context.Context) {
	var running sync.WaitGroup
	for _, t := range store.MailboxTypes() {
		if receiver := s.receiver(t.Name); t.Checked && receiver != nil {
			running.Go(func() { receiver.Run(ctx) })
		}
	}
	running.Wait()
}

// mailboxChecked reports whether Pochta gets the mail of mailboxes of kind
// itself (store.MailboxType.Checked), rather than receiving it as it comes.
func mailboxChecked(kind string) bool {
	t, _ := store.MailboxTypeOf(kind)
	return t.Checked
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
	receiver := s.receiver(mailbox.Type)
	switch {
	case !mailboxChecked(mailbox.Type):
		result.Error = i18n.Default.T(language, "check.smtp")
		return result, nil
	case receiver == nil:
		result.Error = i18n.Default.T(language, "error.not_yet", i18n.Key("action.imap_sync"))
		return result, nil
	}
	received, err := receiver.Receive(ctx, id)
	result.Received = received.Received
	switch {
	case errors.Is(err, receive.ErrBusy):
		result.Error = i18n.Default.T(language, "check.busy")
	case err != nil:
		result.Error, result.Reason, result.Detail = failure(language, err)
	}
	s.audit(ctx, actor, "mailbox checked", "mailbox", mailbox.Name, "mailbox_id", id, "received", result.Received,
		"error", result.Error)
	return result, nil
}

// CheckAll receives mail now for every active mailbox the actor may check,
// one after another: an admin's are the system (POP3) mailboxes, a user's
// their own IMAP mailboxes (every user's would be hundreds of syncs in one
// request; each syncs on its own schedule and when its owner opens it).
func (s *Service) CheckAll(ctx context.Context, actor *Actor) ([]CheckResult, error) {
	if !actor.CanChangeMail() {
		return nil, ErrForbidden
	}
	active := true
	filter := store.MailboxFilter{Types: []string{store.MailboxPOP3}, Active: &active}
	if !actor.IsAdmin() {
		filter.Types, filter.OwnerID = []string{store.MailboxIMAP}, actor.User.ID
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
			s.audit(ctx, actor, "all mailboxes checked", "mailboxes", len(results))
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
	OK       bool           `json:"ok"`
	Messages int            `json:"messages"`
	Size     int64          `json:"size"`
	Error    string         `json:"error"`
	Reason   receive.Reason `json:"reason,omitempty"`
	Detail   string         `json:"detail,omitempty"`
	// Folders are an IMAP server's folders, for the choice of those to
	// sync (none for POP3 or a failed test).
	Folders []Folder `json:"folders,omitempty"`
}

// TestConnection logs in to a POP3 or IMAP server (through the type's receiver) with
// the given settings and reports the message count or the server's error,
// saving nothing. A test for a user (a non-admin's, or of a mailbox with an
// owner) may not reach internal addresses other than the allowed networks
// (reason "blocked"), and each actor may test connectionTestsPerWindow
// times a minute (ErrTooManyTests).
func (s *Service) TestConnection(ctx context.Context, actor *Actor, input TestInput) (TestResult, error) {
	if !actor.CanChangeMail() {
		return TestResult{}, ErrForbidden
	}
	kind := store.MailboxPOP3
	if input.Type != nil {
		kind = *input.Type
	}
	mailbox := newMailboxDefaults(kind)
	if input.ID != nil {
		stored, err := s.changeableMailbox(ctx, actor, *input.ID)
		if err != nil {
			return TestResult{}, err
		}
		mailbox = stored
	}
	if mailbox.Type != store.MailboxPOP3 && mailbox.Type != store.MailboxIMAP || input.Type != nil && *input.Type != mailbox.Type {
		return TestResult{}, &ValidationError{Fields: map[string]i18n.Message{"type": i18n.M("error.test_pop3_only")}}
	}
	input.Type = nil
	if !actor.IsAdmin() && input.ID == nil && !actor.CanAddMailbox(mailbox.Type) {
		// A user tests only what they could save: their own mailboxes,
		// and a new one of the kind they may connect (IMAP).
		return TestResult{}, ErrForbidden
	}
	// The stored secret (password or OAuth2 token) goes only to the server
	// it was saved for: a test pointed elsewhere, or with certificates no
	// longer verified, needs the password typed, or a changer of the
	// mailbox could collect the secret on a server of their own.
	saved := mailbox
	errs := fieldErrors{}
	if mailbox.Type == store.MailboxIMAP {
		if err := s.testService(ctx, actor, &mailbox, input, errs); err != nil {
			return TestResult{}, err
		}
	}
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
	host := func(server string) string { return strings.ToLower(strings.Trim(strings.TrimSpace(server), "[]")) }
	sameServer := input.ID != nil && host(mailbox.Server) == host(saved.Server) && mailbox.Port == saved.Port &&
		mailbox.Security == saved.Security && (mailbox.VerifyCert || !saved.VerifyCert)
	password, err := s.box.Open(mailbox.PasswordSealed)
	if err != nil {
		return TestResult{}, err
	}
	mechanism := ""
	if input.Password != nil && *input.Password != "" {
		password = *input.Password
	} else if !sameServer {
		password = ""
		if input.ID != nil {
			errs.add("password", "error.required", i18n.Key("field.password"))
		}
	} else if mailbox.OAuthMechanism != "" {
		// A mailbox signed in with OAuth2 is tested with its token.
		mechanism = mailbox.OAuthMechanism
		if password, err = s.MailboxAccessToken(ctx, mailbox); err != nil {
			text, reason, detail := failure(s.UserLanguage(ctx, actor.User), err)
			return TestResult{Error: text, Reason: reason, Detail: detail}, nil
		}
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
	receiver := s.receiver(mailbox.Type)
	connection := receive.Connection{Server: mailbox.Server, Port: mailbox.Port, Security: mailbox.Security,
		VerifyCert: mailbox.VerifyCert, Login: mailbox.Login, Password: password, APOP: mailbox.APOP, Mechanism: mechanism,
		Timeout: s.connectionTimeout(ctx), Dialer: s.mailDialer(ctx, forUser(actor, mailbox) || mailbox.Type == store.MailboxIMAP)}
	var count receive.Count
	var folders []imapsync.Folder
	if lister, ok := receiver.(folderLister); ok {
		// The folders to choose from, listed in the test's session; a
		// server that lets the test in but fails the LIST fails the test.
		count, folders, err = lister.TestFolders(ctx, connection)
	} else {
		count, err = receiver.Test(ctx, connection)
	}
	if err != nil {
		text, reason, detail := failure(s.UserLanguage(ctx, actor.User), err)
		return TestResult{Error: text, Reason: reason, Detail: detail}, nil
	}
	result := TestResult{OK: true, Messages: count.Messages, Size: count.Size}
	if folders != nil {
		result.Folders = make([]Folder, 0, len(folders))
		for _, f := range folders {
			result.Folders = append(result.Folders, Folder{Name: f.Name, Role: f.Role, Selectable: f.Selectable})
		}
	}
	return result, nil
}

// folderLister is a receiver that lists a server's folders while it tests
// a connection (the IMAP sync), for the folder choice of the form.
type folderLister interface {
	TestFolders(ctx context.Context, connection receive.Connection) (receive.Count, []imapsync.Folder, error)
}

// Folder is one of the server's folders, as "Test connection" lists them
// for the choice of folders to sync.
type Folder struct {
	Name string `json:"name"`
	// Role is the folder's special use ("Inbox", "Sent", "Trash", "Junk",
	// "Archive", "Drafts", ...), "" for none.
	Role       string `json:"role"`
	Selectable bool   `json:"selectable"`
}

// testService applies the mail service of an IMAP connection test: the
// service named (or the stored mailbox's) fills the server, port and TLS
// that the input leaves out, as saving would. A user's test goes only
// through an active service of their own site, as the mailbox they could
// save.
func (s *Service) testService(ctx context.Context, actor *Actor, mailbox *store.Mailbox, input TestInput, errs fieldErrors) error {
	if input.ServiceID == nil || *input.ServiceID == mailbox.ServiceID && mailbox.ID != 0 {
		if mailbox.ID == 0 && !actor.IsAdmin() {
			errs.add("service_id", "error.required", i18n.Key("field.service_id"))
		}
		return nil
	}
	service, err := s.store.MailServiceByID(ctx, *input.ServiceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		errs.add("service_id", "error.service_site", i18n.Key("field.service_id"))
		return nil
	case err != nil:
		return err
	}
	siteID := mailbox.SiteID
	if siteID == 0 && !actor.CanAssignMailboxes() {
		siteID = actor.User.SiteID
	}
	switch {
	case !actor.IsAdmin() && service.SiteID != siteID:
		errs.add("service_id", "error.service_site", i18n.Key("field.service_id"))
	case !actor.IsAdmin() && !service.Active:
		errs.add("service_id", "error.service_inactive", i18n.Key("field.service_id"))
	case service.Server != "" && (input.Server == nil || strings.TrimSpace(*input.Server) == ""):
		mailbox.Server, mailbox.Port = service.Server, service.Port
		if service.Security != "" {
			mailbox.Security = service.Security
		}
	}
	return nil
}

// MailboxFailure says a mailbox's last failure in plain words in language
// ("" when its last check succeeded), for its owner's page.
func MailboxFailure(language string, m MailboxView) string {
	if m.LastError == "" {
		return ""
	}
	return FailureText(language, receive.Reason(m.LastErrorReason))
}
