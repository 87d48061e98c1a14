// Package service is Pochta's application layer: every operation the web
// admin, the REST API and the CLI offer is a method here, and each checks the
// acting user's rights and validates its input before it touches storage.
// The front ends decode input, call a method and present the result; none of
// them writes to the store itself.
package service

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// Errors the front ends map to HTTP statuses (403, 404, 409).
var (
	ErrForbidden = errors.New("forbidden")
	ErrNotFound  = store.ErrNotFound
	ErrConflict  = store.ErrConflict
	// ErrInvalidText is returned for input text with a NUL character or
	// invalid UTF-8, which no backend stores alike.
	ErrInvalidText = store.ErrInvalidText
	// ErrUnauthenticated is returned for wrong credentials or a throttled login.
	ErrUnauthenticated = errors.New("wrong login or password")
)

// ValidationError lists what is wrong with an input, by field (JSON name).
// Its messages are translated when shown.
type ValidationError struct {
	Fields map[string]i18n.Message
}

// Error gives the English text of every field error, sorted by field.
func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, i18n.Default.Message(i18n.Fallback, e.Fields[name]))
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Translated gives the field errors in language.
func (e *ValidationError) Translated(language string) map[string]string {
	out := make(map[string]string, len(e.Fields))
	for name, message := range e.Fields {
		out[name] = i18n.Default.Message(language, message)
	}
	return out
}

// fieldErrors collects validation errors while a method checks its input.
type fieldErrors map[string]i18n.Message

func (f fieldErrors) add(field, key string, args ...any) {
	if _, seen := f[field]; !seen {
		f[field] = i18n.M(key, args...)
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: map[string]i18n.Message(f)}
}

// ConflictError is an [ErrConflict] that says what conflicts, in words.
type ConflictError struct {
	Message i18n.Message
	// Fields names the input fields whose values clash, for a form to
	// mark; empty when the conflict is not one field's.
	Fields []string
}

func (e *ConflictError) Error() string { return i18n.Default.Message(i18n.Fallback, e.Message) }

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Actor is the signed-in user a call acts for.
type Actor struct {
	User store.User
	// session is the web session the actor acts through (its stored ID),
	// empty for API tokens and the CLI: changing one's own password ends
	// one's other sessions, not this one.
	session string
}

// IsAdmin reports whether the actor may change everything.
func (a *Actor) IsAdmin() bool { return a != nil && a.User.Role == store.RoleAdmin }

// CanReadAll reports whether the actor may read everything (admin, auditor).
func (a *Actor) CanReadAll() bool {
	return a != nil && (a.User.Role == store.RoleAdmin || a.User.Role == store.RoleAuditor)
}

// CanChangeMail reports whether the actor may change mail at all
// (mailboxes, messages): admins anything, users their own; auditors only
// read. Which mailboxes and messages is each method's to decide.
func (a *Actor) CanChangeMail() bool {
	return a != nil && (a.User.Role == store.RoleAdmin || a.User.Role == store.RoleUser)
}

// The rights below are the one statement of who may do what: the service's
// checks ask them, and so do the front ends, which offer only what the
// service will allow and never compare roles themselves.

// CanApplyRules reports whether the actor may run the rules by hand on
// stored messages (the list's, the view's and the API's "apply rules"):
// admins only. Rules are an admin's to write and an auditor's to read
// (SPEC.md "Rights"); a user sees none of them, and a manual rule may
// forward or post a message elsewhere, which a user may not set off on
// any mail, their own included.
func (a *Actor) CanApplyRules() bool { return a.IsAdmin() }

// CanEditUser reports whether the actor may change user id's record at
// all: admins anyone's, everyone else their own (UpdateUser says which
// fields a non-admin may change).
func (a *Actor) CanEditUser(id int64) bool {
	return a.IsAdmin() || (a != nil && a.User.ID == id)
}

// CanManageTokens reports whether the actor may make, list and revoke the
// API tokens of user id: admins anyone's, others their own.
func (a *Actor) CanManageTokens(id int64) bool {
	return a.IsAdmin() || (a != nil && a.User.ID == id)
}

// CanAddMailbox reports whether the actor may add a mailbox of type kind:
// admins any; a user only mailboxes of the user kind (IMAP: their own
// accounts); auditors none.
func (a *Actor) CanAddMailbox(kind string) bool {
	if a.IsAdmin() {
		return true
	}
	t, known := store.MailboxTypeOf(kind)
	return a.CanChangeMail() && known && t.Kind == store.KindUser
}

// CanAssignMailboxes reports whether the actor chooses a mailbox's site and
// owner: admins; a user's mailboxes are their own, of their own site.
func (a *Actor) CanAssignMailboxes() bool { return a.IsAdmin() }

// CanChangeMailbox reports whether the actor may change (and check, and
// delete) a mailbox owned by ownerID (0: none): admins any, a user their
// own; auditors none.
func (a *Actor) CanChangeMailbox(ownerID int64) bool {
	return a.IsAdmin() || (a.CanChangeMail() && ownerID != 0 && ownerID == a.User.ID)
}

// System is the actor for work Pochta does by itself and for the CLI, which
// runs with the rights of whoever can read the data folder.
var System = &Actor{User: store.User{Login: "system", Role: store.RoleAdmin, Active: true}}

// Service carries the dependencies of every operation.
type Service struct {
	smtp     atomic.Pointer[smtpControlHolder] // the SMTP server, set by app
	outbound atomic.Pointer[outboundHolder]    // the outbound queue forwards go to, set by app
	// queueWake wakes the local outbound queue runner, set by app.
	queueWake queueWakeHolder
	// publicURL is where the API is reached from outside (a string), for
	// the links webhooks carry.
	publicURL atomic.Value
	store     *store.Store
	box       *secret.Box
	log       worklog.Recorder
	logger    *slog.Logger
	now       func() time.Time
	throttle  *throttle
	// passwordChecks bounds the argon2id checks running at once (each
	// takes 32 MB for a moment): a burst of sign-ins waits its turn rather
	// than exhausting memory.
	passwordChecks chan struct{}
	settings       settingsCache
	// tests counts each user's connection tests (see ErrTooManyTests).
	tests testLimiter

	receiversOnce sync.Once
	receivers     map[string]receive.Receiver
	sinkOnce      sync.Once
	sink          *intake.Sink
	// judges are the verdict stage's judges after the storage settings.
	judges       []intake.Judge
	siteCharsets siteCharsetCache
	rules        ruleCache      // the active rules, compiled
	spamCounts   spamCountCache // the spam filter's learned counts
	dialer       receive.Dialer // nil: TCP; tests put servers elsewhere
	tempDir      string
	// serverZone is the IANA name of the server's time zone, for sites without one.
	serverZone string
}

// Options configure [New]. Store and Box are required.
type Options struct {
	Store  *store.Store
	Box    *secret.Box
	Log    worklog.Recorder // nil: the work log is written to Store directly
	Logger *slog.Logger     // nil: slog.Default()
	// Dialer opens the connections to mail servers; nil dials TCP.
	Dialer receive.Dialer
	// TempDir is where large messages are spooled while they are received
	// or shown ("": the system's temporary folder).
	TempDir string
	// Now is the clock; nil means time.Now. Tests set it to move time by
	// hand (sign-in waits, session expiry).
	Now func() time.Time
	// TimeZone is the server's time zone, an IANA name: the zone of a site
	// that has none of its own. "" means the one the machine is set to
	// ([ServerTimeZone]).
	TimeZone string
}

// New makes a Service.
func New(options Options) *Service {
	s := &Service{
		store:          options.Store,
		box:            options.Box,
		log:            options.Log,
		logger:         options.Logger,
		now:            time.Now,
		throttle:       newThrottle(),
		passwordChecks: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		dialer:         options.Dialer,
		tempDir:        options.TempDir,
		serverZone:     options.TimeZone,
	}
	if s.serverZone == "" || !ValidTimeZone(s.serverZone) {
		s.serverZone = ServerTimeZone()
	}
	if options.Now != nil {
		s.now = options.Now
	}
	s.judges = []intake.Judge{intake.JudgeFunc(s.judgeSpam), intake.JudgeFunc(s.judgeRules)}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.log == nil {
		s.log = worklog.New(options.Store, s, s.logger)
	}
	return s
}

// Store gives the store, for packages of later issues that extend the service.
func (s *Service) Store() *store.Store { return s.store }

// Box gives the secret box.
func (s *Service) Box() *secret.Box { return s.box }

// WorkLog gives the work log recorder.
func (s *Service) WorkLog() worklog.Recorder { return s.log }

// requireAdmin fails with ErrForbidden unless actor is an admin.
func requireAdmin(actor *Actor) error {
	if !actor.IsAdmin() {
		return ErrForbidden
	}
	return nil
}

// requireReadAll fails with ErrForbidden unless actor may read everything.
func requireReadAll(actor *Actor) error {
	if !actor.CanReadAll() {
		return ErrForbidden
	}
	return nil
}

func wrapNotFound(what string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

// setText copies an input's text, trimmed, when the input has one; nil
// leaves the field as it is (inputs are patches).
func setText(target *string, value *string) {
	if value != nil {
		*target = strings.TrimSpace(*value)
	}
}

// setBool copies an input's flag when the input has one.
func setBool(target *bool, value *bool) {
	if value != nil {
		*target = *value
	}
}

// setInt copies an input's number when the input has one.
func setInt(target *int, value *int) {
	if value != nil {
		*target = *value
	}
}
