package service

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// MailboxView is a mailbox as the front ends and the API show it (API.md
// "mailbox"). The password is never part of it.
type MailboxView struct {
	ID          int64  `json:"id"`
	Site        string `json:"site"`
	Type        string `json:"type"`
	Active      bool   `json:"active"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Server      string `json:"server"`
	Port        int    `json:"port"`
	Security    string `json:"security"`
	VerifyCert  bool   `json:"verify_cert"`
	Login       string `json:"login"`
	HasPassword bool   `json:"has_password"`
	// OAuth says the mailbox signs in with OAuth2; SignInAgain, to its
	// owner only (who alone can), that its grant is gone and they must
	// sign in again (the link: /my/oauth/start?mailbox=ID).
	OAuth            bool       `json:"oauth"`
	SignInAgain      bool       `json:"sign_in_again"`
	APOP             bool       `json:"apop"`
	DeleteFromServer bool       `json:"delete_from_server"`
	CheckInterval    int        `json:"check_interval"`
	Domains          []string   `json:"domains"`
	Relay            bool       `json:"relay"`
	RelayAuthOnly    bool       `json:"relay_auth_only"`
	MaxMessages      int        `json:"max_messages"`
	MaxMessageSizeKB int        `json:"max_message_size_kb"`
	KeepDays         int        `json:"keep_days"`
	Charset          string     `json:"charset"`
	ServiceID        *int64     `json:"service_id"`
	ServiceName      string     `json:"service_name,omitempty"`
	OwnerID          *int64     `json:"owner_id"`
	OwnerLogin       string     `json:"owner_login,omitempty"`
	WebURL           string     `json:"web_url"`
	Folders          []string   `json:"folders"`
	SyncRange        string     `json:"sync_range"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	LastCheckAt      *time.Time `json:"last_check_at"`
	LastError        string     `json:"last_error"`
	LastErrorReason  string     `json:"last_error_reason"`
	FailureStreak    int        `json:"failure_streak"`
	NextCheckAt      *time.Time `json:"next_check_at"`
	MessagesTotal    int64      `json:"messages_total"`
	MessagesNew      int64      `json:"messages_new"`
	RulesCount       int64      `json:"rules_count"`
	// CanChange says whether the actor it was made for may change the
	// mailbox (Actor.CanChangeMailbox), for a front end to offer the
	// change or show it read-only; not part of the API's document.
	CanChange bool `json:"-"`
}

// MailboxInput creates or changes a mailbox; nil fields stay (or take their
// defaults on create). Password is write-only: nil or "" on edit keeps it.
type MailboxInput struct {
	Site             *string   `json:"site,omitempty"`
	Type             *string   `json:"type,omitempty"`
	Active           *bool     `json:"active,omitempty"`
	Name             *string   `json:"name,omitempty"`
	Description      *string   `json:"description,omitempty"`
	Server           *string   `json:"server,omitempty"`
	Port             *int      `json:"port,omitempty"`
	Security         *string   `json:"security,omitempty"`
	VerifyCert       *bool     `json:"verify_cert,omitempty"`
	Login            *string   `json:"login,omitempty"`
	Password         *string   `json:"password,omitempty"`
	APOP             *bool     `json:"apop,omitempty"`
	DeleteFromServer *bool     `json:"delete_from_server,omitempty"`
	CheckInterval    *int      `json:"check_interval,omitempty"`
	Domains          *[]string `json:"domains,omitempty"`
	Relay            *bool     `json:"relay,omitempty"`
	RelayAuthOnly    *bool     `json:"relay_auth_only,omitempty"`
	MaxMessages      *int      `json:"max_messages,omitempty"`
	MaxMessageSizeKB *int      `json:"max_message_size_kb,omitempty"`
	KeepDays         *int      `json:"keep_days,omitempty"`
	Charset          *string   `json:"charset,omitempty"`
	ServiceID        *int64    `json:"service_id,omitempty"`
	OwnerID          *int64    `json:"owner_id,omitempty"`
	WebURL           *string   `json:"web_url,omitempty"`
	Folders          *[]string `json:"folders,omitempty"`
	SyncRange        *string   `json:"sync_range,omitempty"`
	// oauthMechanism makes the mailbox sign in with OAuth2 (set by the
	// sign-in flow, never from a request): it needs no password.
	oauthMechanism string
}

// MailboxCharsets are the charsets the form offers for incoming mail ("" =
// the site's charset). The API accepts any charset the decoder knows.
var MailboxCharsets = []string{"", "utf-8", "iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5", "iso-8859-6",
	"iso-8859-7", "iso-8859-8", "iso-8859-9", "iso-8859-10", "iso-8859-13", "iso-8859-14", "iso-8859-15", "windows-1251",
	"windows-1252", "cp866", "koi8-r"}

// SyncRanges are the initial sync ranges of user mailboxes.
var SyncRanges = []string{"day", "week", "month", "2months", "3months", "all"}

// DefaultPort gives the usual port of a mailbox type with or without
// implicit TLS (store.MailboxType); the form swaps between them when TLS is
// toggled.
func DefaultPort(kind, security string) int {
	if t, ok := store.MailboxTypeOf(kind); ok {
		return t.DefaultPort(security)
	}
	return 25
}

func optionalIDPointer(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func mailboxView(actor *Actor, m store.Mailbox) MailboxView {
	view := MailboxView{ID: m.ID, Site: m.SiteCode, Type: m.Type, Active: m.Active, Name: m.Name, Description: m.Description,
		Server: m.Server, Port: m.Port, Security: m.Security, VerifyCert: m.VerifyCert, Login: m.Login,
		HasPassword: len(m.PasswordSealed) > 0, OAuth: m.OAuthMechanism != "",
		SignInAgain: m.OAuthMechanism != "" && m.LastErrorReason == string(receive.SignIn) && actor != nil && actor.User.ID == m.OwnerID, APOP: m.APOP, DeleteFromServer: m.DeleteFromServer,
		CheckInterval: m.CheckInterval, Domains: m.Domains, Relay: m.Relay, RelayAuthOnly: m.RelayAuthOnly,
		MaxMessages: m.MaxMessages, MaxMessageSizeKB: m.MaxMessageSizeKB, KeepDays: m.KeepDays, Charset: m.Charset,
		ServiceID: optionalIDPointer(m.ServiceID), ServiceName: m.ServiceName, OwnerID: optionalIDPointer(m.OwnerID),
		OwnerLogin: m.OwnerLogin, WebURL: m.WebURL, Folders: m.Folders, SyncRange: m.SyncRange, CreatedAt: m.CreatedAt,
		UpdatedAt: m.UpdatedAt, LastError: m.LastError, LastErrorReason: m.LastErrorReason, FailureStreak: m.FailureStreak, MessagesTotal: m.MessagesTotal,
		MessagesNew: m.MessagesNew, RulesCount: m.RulesCount, CanChange: actor.CanChangeMailbox(m.OwnerID)}
	if !m.LastCheckAt.IsZero() {
		at := m.LastCheckAt
		view.LastCheckAt = &at
	}
	if !m.NextCheckAt.IsZero() {
		at := m.NextCheckAt
		view.NextCheckAt = &at
	}
	return view
}

// canSeeMailbox reports whether actor may read m.
func canSeeMailbox(actor *Actor, m store.Mailbox) bool {
	return actor.CanReadAll() || (actor != nil && m.OwnerID == actor.User.ID && m.OwnerID != 0)
}

// MailboxPage is a page of mailboxes.
type MailboxPage struct {
	Items      []MailboxView `json:"items"`
	NextCursor string        `json:"next_cursor"`
	Total      int64         `json:"total"`
}

// Mailboxes lists mailboxes: all of them for admins and auditors, a user's
// own for a user.
func (s *Service) Mailboxes(ctx context.Context, actor *Actor, filter store.MailboxFilter, order store.MailboxSort, cursor string, limit int) (MailboxPage, error) {
	if actor == nil {
		return MailboxPage{}, ErrForbidden
	}
	if !actor.CanReadAll() {
		filter.OwnerID = actor.User.ID
	}
	// The store takes such text in a filter for a row that cannot exist,
	// and its count then finds no row at all: say what is wrong instead.
	for _, text := range []string{filter.Name, filter.Server} {
		if strings.IndexByte(text, 0) >= 0 || !utf8.ValidString(text) {
			return MailboxPage{}, fmt.Errorf("mailbox filter: %w", ErrInvalidText)
		}
	}
	page, err := s.store.Mailboxes(ctx, filter, order, cursor, limit)
	if err != nil {
		return MailboxPage{}, err
	}
	out := MailboxPage{Items: make([]MailboxView, 0, len(page.Items)), NextCursor: page.NextCursor, Total: page.Total}
	for _, m := range page.Items {
		out.Items = append(out.Items, mailboxView(actor, m))
	}
	return out, nil
}

// Mailbox finds one mailbox the actor may see.
func (s *Service) Mailbox(ctx context.Context, actor *Actor, id int64) (MailboxView, error) {
	m, err := s.store.MailboxByID(ctx, id)
	if err != nil {
		return MailboxView{}, wrapNotFound("mailbox", err)
	}
	if !canSeeMailbox(actor, m) {
		// A user learns nothing of other people's mailboxes, not even
		// that they exist.
		return MailboxView{}, fmt.Errorf("mailbox %d: %w", id, ErrNotFound)
	}
	return mailboxView(actor, m), nil
}

// DefaultCheckInterval is a new POP3 mailbox's check interval in minutes
// (issue 16: the seed module checks every 10 minutes).
const DefaultCheckInterval = 10

// newMailboxDefaults gives the field defaults of SPEC.md for a new mailbox.
func newMailboxDefaults(kind string) store.Mailbox {
	m := store.Mailbox{Type: kind, Active: true, VerifyCert: true, Security: "none", Domains: []string{}, Folders: []string{}}
	if t, ok := store.MailboxTypeOf(kind); ok {
		m.Security = t.Security
		m.Port = t.DefaultPort(t.Security)
	}
	switch kind {
	case store.MailboxPOP3:
		// Checked on a schedule unless told otherwise, as the web form
		// offers and the seed module does: a mailbox made through the API
		// or the CLI without an interval would otherwise check only by hand.
		m.CheckInterval = DefaultCheckInterval
	case store.MailboxSMTP:
		m.Server = "*"
	case store.MailboxIMAP:
		m.Folders, m.SyncRange = []string{"INBOX"}, "month"
	}
	return m
}

// CreateMailbox adds a mailbox. Admins add any; a user adds only IMAP
// mailboxes of their own, through an active service of their site, within the
// per-user limit.
func (s *Service) CreateMailbox(ctx context.Context, actor *Actor, input MailboxInput) (MailboxView, error) {
	if !actor.CanChangeMail() {
		return MailboxView{}, ErrForbidden
	}
	kind := ""
	if input.Type != nil {
		kind = strings.TrimSpace(*input.Type)
	}
	if _, known := store.MailboxTypeOf(kind); !known {
		return MailboxView{}, &ValidationError{Fields: map[string]i18n.Message{"type": i18n.M("error.mailbox_type", i18n.Key("field.type"))}}
	}
	m := newMailboxDefaults(kind)
	m.OAuthMechanism = input.oauthMechanism
	if !actor.CanAddMailbox(kind) {
		return MailboxView{}, ErrForbidden
	}
	if !actor.CanAssignMailboxes() {
		owner := actor.User.ID
		input.OwnerID, m.SiteID, input.Site = &owner, actor.User.SiteID, nil
		settings, err := s.currentSettings(ctx)
		if err != nil {
			return MailboxView{}, err
		}
		if limit := settings.UserMailboxesPerUser; limit > 0 {
			owned, err := s.store.CountOwnedMailboxes(ctx, actor.User.ID)
			if err != nil {
				return MailboxView{}, err
			}
			if owned >= limit {
				return MailboxView{}, &ConflictError{Message: i18n.M("error.mailbox_limit", limit)}
			}
		}
	}
	if err := s.applyMailboxInput(ctx, actor, &m, input, true); err != nil {
		return MailboxView{}, err
	}
	if err := s.store.CreateMailbox(ctx, &m); err != nil {
		return MailboxView{}, err
	}
	s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "mailbox", MailboxID: m.ID},
		worklog.Part("log.mailbox_created", m.Name, actor.User.Login)))
	s.audit(ctx, actor, "mailbox created", "mailbox", m.Name, "mailbox_id", m.ID, "type", m.Type)
	return s.Mailbox(ctx, actor, m.ID)
}

// MailboxAllowance is how many mailboxes of their own a user has and may
// have ("User mailboxes per user"; Limit 0: unlimited).
type MailboxAllowance struct {
	Owned int `json:"owned"`
	Limit int `json:"limit"`
}

// Full reports whether no further mailbox may be added.
func (a MailboxAllowance) Full() bool { return a.Limit > 0 && a.Owned >= a.Limit }

// OwnMailboxAllowance says the actor's own mailboxes against the per-user
// limit, for "My mailboxes" to offer "Connect a mailbox" or say why not;
// CreateMailbox enforces the same limit.
func (s *Service) OwnMailboxAllowance(ctx context.Context, actor *Actor) (MailboxAllowance, error) {
	if actor == nil {
		return MailboxAllowance{}, ErrForbidden
	}
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return MailboxAllowance{}, err
	}
	owned, err := s.store.CountOwnedMailboxes(ctx, actor.User.ID)
	if err != nil {
		return MailboxAllowance{}, err
	}
	return MailboxAllowance{Owned: owned, Limit: settings.UserMailboxesPerUser}, nil
}

// changeableMailbox gives the mailbox id for a change by actor: ErrForbidden
// for readers, and ErrNotFound for a user's look at someone else's mailbox
// (a user learns nothing of others' mailboxes, not even that they exist).
func (s *Service) changeableMailbox(ctx context.Context, actor *Actor, id int64) (store.Mailbox, error) {
	if !actor.CanChangeMail() {
		return store.Mailbox{}, ErrForbidden
	}
	m, err := s.store.MailboxByID(ctx, id)
	if err != nil {
		return m, wrapNotFound("mailbox", err)
	}
	if !actor.CanChangeMailbox(m.OwnerID) {
		return store.Mailbox{}, fmt.Errorf("mailbox %d: %w", id, ErrNotFound)
	}
	return m, nil
}

// UpdateMailbox changes a mailbox. Admins change any; a user changes their
// own (and cannot hand it to someone else).
func (s *Service) UpdateMailbox(ctx context.Context, actor *Actor, id int64, input MailboxInput) (MailboxView, error) {
	m, oldName, err := s.updateMailbox(ctx, actor, id, input)
	if err != nil {
		return MailboxView{}, err
	}
	attrs := []any{"mailbox", m.Name, "mailbox_id", m.ID}
	if m.Name != oldName {
		attrs = append(attrs, "renamed_from", oldName)
	}
	s.audit(ctx, actor, "mailbox saved", attrs...)
	return s.Mailbox(ctx, actor, m.ID)
}

// updateMailbox is UpdateMailbox without its audit line, for the
// operations that say their change in their own words; it gives the saved
// mailbox and its name before.
func (s *Service) updateMailbox(ctx context.Context, actor *Actor, id int64, input MailboxInput) (store.Mailbox, string, error) {
	m, err := s.changeableMailbox(ctx, actor, id)
	if err != nil {
		return store.Mailbox{}, "", err
	}
	oldName := m.Name
	if !actor.CanAssignMailboxes() && input.OwnerID != nil && *input.OwnerID != actor.User.ID {
		return store.Mailbox{}, "", ErrForbidden
	}
	if input.Type != nil && strings.TrimSpace(*input.Type) != m.Type {
		return store.Mailbox{}, "", &ValidationError{Fields: map[string]i18n.Message{"type": i18n.M("error.fixed", i18n.Key("field.type"))}}
	}
	if input.Site != nil && strings.TrimSpace(*input.Site) != m.SiteCode {
		return store.Mailbox{}, "", &ValidationError{Fields: map[string]i18n.Message{"site": i18n.M("error.fixed", i18n.Key("field.site"))}}
	}
	input.Site = nil
	if err := s.applyMailboxInput(ctx, actor, &m, input, false); err != nil {
		return store.Mailbox{}, "", err
	}
	if err := s.store.UpdateMailbox(ctx, &m); err != nil {
		return store.Mailbox{}, "", err
	}
	return m, oldName, nil
}

// SetMailboxActive switches a mailbox on or off (the list's inline edit and
// group actions). Switching on checks the whole mailbox, as saving it would
// (an SMTP address may be taken); switching off checks only the rights, so
// that a mailbox whose settings went stale can always be stopped.
func (s *Service) SetMailboxActive(ctx context.Context, actor *Actor, id int64, active bool) error {
	if active {
		m, _, err := s.updateMailbox(ctx, actor, id, MailboxInput{Active: &active})
		if err != nil {
			return err
		}
		s.audit(ctx, actor, "mailbox activated", "mailbox", m.Name, "mailbox_id", id)
		return nil
	}
	m, err := s.changeableMailbox(ctx, actor, id)
	if err != nil {
		return err
	}
	if err := s.store.SetMailboxActive(ctx, id, false); err != nil {
		return err
	}
	s.audit(ctx, actor, "mailbox deactivated", "mailbox", m.Name, "mailbox_id", id)
	return nil
}

// DeleteMailbox removes a mailbox with its messages, rules, UIDs and log.
func (s *Service) DeleteMailbox(ctx context.Context, actor *Actor, id int64) error {
	m, err := s.changeableMailbox(ctx, actor, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteMailbox(ctx, id); err != nil {
		return wrapNotFound("mailbox", err)
	}
	s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "mailbox"},
		worklog.Part("log.mailbox_deleted", id, m.Name, actor.User.Login, m.MessagesTotal)))
	s.audit(ctx, actor, "mailbox deleted", "mailbox", m.Name, "mailbox_id", id, "messages", m.MessagesTotal)
	return nil
}

// MailboxPassword gives the decrypted password of a mailbox, for the
// fetchers. It is not for front ends: the password is write-only there.
func (s *Service) MailboxPassword(m store.Mailbox) (string, error) {
	return s.box.Open(m.PasswordSealed)
}
