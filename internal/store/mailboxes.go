package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Mailbox types.
const (
	MailboxPOP3 = "pop3" // system: fetched from an external POP3 server
	MailboxSMTP = "smtp" // system: received by Pochta's own SMTP server
	MailboxIMAP = "imap" // user: an employee's own mailbox at a mail service
)

// Mailbox is a source of mail. Which fields apply depends on Type.
type Mailbox struct {
	ID               int64
	SiteID           int64
	Type             string
	Active           bool
	Name             string
	Description      string
	Server           string // POP3/IMAP server; SMTP: listen address ("*" = all)
	Port             int
	Security         string // "none", "tls" (implicit) or "starttls"
	VerifyCert       bool
	Login            string
	PasswordSealed   []byte // encrypted by the service's secret box; never shown
	APOP             bool
	DeleteFromServer bool
	CheckInterval    int // minutes; 0 = manual only
	Domains          []string
	Relay            bool
	RelayAuthOnly    bool
	MaxMessages      int
	MaxMessageSizeKB int
	KeepDays         int
	Charset          string
	ServiceID        int64
	OwnerID          int64
	WebURL           string
	Folders          []string
	SyncRange        string
	// OAuthMechanism is the SASL mechanism ("xoauth2", "oauthbearer") of a
	// mailbox signed in with OAuth2 ("": a password); its token is read
	// and written apart ([Store.MailboxOAuthToken]).
	OAuthMechanism  string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	LastCheckAt     time.Time
	LastError       string
	LastErrorReason string // fetch.FailureReason of LastError; "" when unknown
	FailureStreak   int
	NextCheckAt     time.Time
	MessagesTotal   int64 // kept on the row by the message writes
	MessagesNew     int64
	RulesCount      int64
	SiteCode        string
	ServiceName     string
	OwnerLogin      string
}

const mailboxColumns = `m.id, m.site_id, m.type, m.active, m.name, m.description, m.server, m.port, m.security, m.verify_cert,
	m.login, m.password_enc, m.apop, m.delete_from_server, m.check_interval, m.domains, m.relay, m.relay_auth_only,
	m.max_messages, m.max_message_size_kb, m.keep_days, m.charset, m.service_id, m.owner_id, m.web_url, m.folders,
	m.sync_range, m.oauth_mechanism, m.created_at, m.updated_at, m.last_check_at, m.last_error, m.last_error_reason, m.failure_streak, m.next_check_at,
	m.messages_total, m.messages_unread,
	(SELECT COUNT(*) FROM rules WHERE mailbox_id = m.id),
	COALESCE((SELECT code FROM sites WHERE id = m.site_id), ''),
	COALESCE((SELECT name FROM services WHERE id = m.service_id), ''),
	COALESCE((SELECT login FROM users WHERE id = m.owner_id), '')`

func scanMailbox(row interface{ Scan(...any) error }) (Mailbox, error) {
	var m Mailbox
	var domains, folders string
	var created, updated int64
	var serviceID, ownerID, lastCheck, nextCheck sql.NullInt64
	err := row.Scan(&m.ID, &m.SiteID, &m.Type, &m.Active, &m.Name, &m.Description, &m.Server, &m.Port, &m.Security, &m.VerifyCert,
		&m.Login, &m.PasswordSealed, &m.APOP, &m.DeleteFromServer, &m.CheckInterval, &domains, &m.Relay, &m.RelayAuthOnly,
		&m.MaxMessages, &m.MaxMessageSizeKB, &m.KeepDays, &m.Charset, &serviceID, &ownerID, &m.WebURL, &folders,
		&m.SyncRange, &m.OAuthMechanism, &created, &updated, &lastCheck, &m.LastError, &m.LastErrorReason, &m.FailureStreak, &nextCheck,
		&m.MessagesTotal, &m.MessagesNew, &m.RulesCount, &m.SiteCode, &m.ServiceName, &m.OwnerLogin)
	if err != nil {
		return m, mapError(err)
	}
	m.Domains, m.Folders = splitList(domains), splitList(folders)
	m.ServiceID, m.OwnerID = serviceID.Int64, ownerID.Int64
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	m.LastCheckAt, m.NextCheckAt = nullMicros(lastCheck), nullMicros(nextCheck)
	return m, nil
}

// Lists are stored one item a line: neither domains nor IMAP folder names
// hold line breaks.
func joinList(items []string) string { return strings.Join(items, "\n") }

func splitList(text string) []string {
	if text == "" {
		return []string{}
	}
	return strings.Split(text, "\n")
}

// mailboxWriteColumns are the columns Create and Update write, in the order
// of mailboxWriteArgs.
const mailboxWriteColumns = `site_id, type, active, name, description, server, port, security, verify_cert, login, password_enc,
	apop, delete_from_server, check_interval, domains, relay, relay_auth_only, max_messages, max_message_size_kb, keep_days,
	charset, service_id, owner_id, web_url, folders, sync_range, oauth_mechanism`

func mailboxWriteArgs(m *Mailbox) []any {
	return []any{m.SiteID, m.Type, m.Active, m.Name, m.Description, m.Server, m.Port, m.Security, m.VerifyCert, m.Login,
		m.PasswordSealed, m.APOP, m.DeleteFromServer, m.CheckInterval, joinList(m.Domains), m.Relay, m.RelayAuthOnly,
		m.MaxMessages, m.MaxMessageSizeKB, m.KeepDays, m.Charset, optionalID(m.ServiceID), optionalID(m.OwnerID), m.WebURL,
		joinList(m.Folders), m.SyncRange, m.OAuthMechanism}
}

// CreateMailbox stores a new mailbox.
func (s *Store) CreateMailbox(ctx context.Context, m *Mailbox) error {
	now := s.clock()
	args := append(mailboxWriteArgs(m), micros(now), micros(now))
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	id, err := s.insert(ctx, `INSERT INTO mailboxes (`+mailboxWriteColumns+`, created_at, updated_at) VALUES (`+marks+`)`, args...)
	if err != nil {
		return fmt.Errorf("create mailbox %q: %w", m.Name, err)
	}
	m.ID, m.CreatedAt, m.UpdatedAt = id, now.UTC(), now.UTC()
	return nil
}

// UpdateMailbox saves the settings of a mailbox (not its check state).
func (s *Store) UpdateMailbox(ctx context.Context, m *Mailbox) error {
	now := s.clock()
	assignments := strings.ReplaceAll(strings.ReplaceAll(mailboxWriteColumns, "\n\t", " "), ",", " = ?,") + " = ?"
	args := append(mailboxWriteArgs(m), micros(now), m.ID)
	result, err := s.exec(ctx, `UPDATE mailboxes SET `+assignments+`, updated_at = ? WHERE id = ?`, args...)
	if err != nil {
		return fmt.Errorf("update mailbox %d: %w", m.ID, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("update mailbox %d: %w", m.ID, ErrNotFound)
	}
	m.UpdatedAt = now.UTC()
	return nil
}

// SetMailboxActive switches a mailbox on or off.
func (s *Store) SetMailboxActive(ctx context.Context, id int64, active bool) error {
	result, err := s.exec(ctx, `UPDATE mailboxes SET active = ?, updated_at = ? WHERE id = ?`, active, micros(s.clock()), id)
	if err != nil {
		return fmt.Errorf("mailbox %d: %w", id, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("mailbox %d: %w", id, ErrNotFound)
	}
	return nil
}

// MailboxByID finds a mailbox with its counts.
func (s *Store) MailboxByID(ctx context.Context, id int64) (Mailbox, error) {
	m, err := scanMailbox(s.queryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m WHERE m.id = ?`, id))
	if err != nil {
		return m, fmt.Errorf("mailbox %d: %w", id, err)
	}
	return m, nil
}

// MailboxCharset gives the fallback charset of a mailbox's undeclared text:
// its own setting, else its site's ("" when neither is set). It reads no
// counts, unlike [Store.MailboxByID], so that showing one message of a
// mailbox of millions stays cheap.
func (s *Store) MailboxCharset(ctx context.Context, id int64) (string, error) {
	var charset string
	err := s.queryRow(ctx, `SELECT COALESCE(NULLIF(m.charset, ''), (SELECT charset FROM sites WHERE id = m.site_id), '') FROM mailboxes m WHERE m.id = ?`, id).Scan(&charset)
	if err != nil {
		return "", fmt.Errorf("charset of mailbox %d: %w", id, mapError(err))
	}
	return charset, nil
}

// MailboxFilter narrows [Store.Mailboxes]. Zero fields do not filter.
type MailboxFilter struct {
	IDs      []int64 // any of these
	Name     string  // part of the name
	Types    []string
	Server   string // part of the server name
	Active   *bool
	SiteID   int64
	OwnerID  int64  // only this owner's mailboxes (a user's own)
	ListenOn string // SMTP: exactly this server value
	Port     int
}

// MailboxSort orders [Store.Mailboxes]: a column and a direction.
type MailboxSort struct {
	Column     string // "id", "name", "active", "server", "type", "site", "updated_at"
	Descending bool
}

var mailboxSortColumns = map[string]string{
	"id": "m.id", "name": "m.name", "active": "m.active", "server": "m.server", "type": "m.type",
	"site": "m.site_id", "updated_at": "m.updated_at",
}

// MailboxPage is one page of mailboxes and the cursor of the next.
type MailboxPage struct {
	Items      []Mailbox
	NextCursor string
	Total      int64 // how many match the filter
}

func (f MailboxFilter) where() (string, []any) {
	var where []string
	var args []any
	if len(f.IDs) > 0 {
		where = append(where, "m.id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.IDs)), ", ")+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.Name != "" {
		where, args = append(where, "m.name LIKE ? ESCAPE '\\'"), append(args, "%"+likeEscape(f.Name)+"%")
	}
	if len(f.Types) > 0 {
		where = append(where, "m.type IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Types)), ", ")+")")
		for _, kind := range f.Types {
			args = append(args, kind)
		}
	}
	if f.Server != "" {
		where, args = append(where, "m.server LIKE ? ESCAPE '\\'"), append(args, "%"+likeEscape(f.Server)+"%")
	}
	if f.Active != nil {
		where, args = append(where, "m.active = ?"), append(args, *f.Active)
	}
	if f.SiteID != 0 {
		where, args = append(where, "m.site_id = ?"), append(args, f.SiteID)
	}
	if f.OwnerID != 0 {
		where, args = append(where, "m.owner_id = ?"), append(args, f.OwnerID)
	}
	if f.ListenOn != "" {
		where, args = append(where, "m.server = ?"), append(args, f.ListenOn)
	}
	if f.Port != 0 {
		where, args = append(where, "m.port = ?"), append(args, f.Port)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Mailboxes lists a page of mailboxes. Paging is by keyset (sort value, id)
// so that the last page of a long list costs what the first does.
func (s *Store) Mailboxes(ctx context.Context, filter MailboxFilter, order MailboxSort, cursor string, limit int) (MailboxPage, error) {
	var page MailboxPage
	column, ok := mailboxSortColumns[order.Column]
	if !ok {
		column = "m.id"
	}
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	where, args := filter.where()
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM mailboxes m`+where, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count mailboxes: %w", err)
	}
	where, orderBy, args, err := keysetPage(where, args, cursor, column, "m.id", order.Descending, "mailboxes")
	if err != nil {
		return page, err
	}
	items, err := s.mailboxList(ctx, where+orderBy+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("list mailboxes: %w", err)
	}
	page.Items = items
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = nextKeysetCursor(last.ID, mailboxSortValue(last, order.Column))
	}
	return page, nil
}

func mailboxSortValue(m Mailbox, column string) any {
	switch column {
	case "name":
		return m.Name
	case "active":
		return m.Active
	case "server":
		return m.Server
	case "type":
		return m.Type
	case "site":
		return m.SiteID
	case "updated_at":
		return micros(m.UpdatedAt)
	}
	return m.ID
}

// ErrBadCursor is returned for a paging cursor the store did not make.
var ErrBadCursor = fmt.Errorf("bad cursor")

// DeleteMailbox removes a mailbox with its messages, attachments, sources,
// rules, fetched UIDs and work log rows, in one transaction (the schema's
// ON DELETE CASCADE does the walking).
func (s *Store) DeleteMailbox(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// The full-text index is a virtual table that foreign keys do
		// not reach.
		if err := s.deleteSearchRows(ctx, tx, `SELECT id FROM messages WHERE mailbox_id = ?`, id); err != nil {
			return fmt.Errorf("delete mailbox %d: %w", id, err)
		}
		result, err := s.execOn(ctx, tx, `DELETE FROM mailboxes WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete mailbox %d: %w", id, mapError(err))
		}
		if n, _ := result.RowsAffected(); n == 0 {
			return fmt.Errorf("delete mailbox %d: %w", id, ErrNotFound)
		}
		return nil
	})
}

// CountOwnedMailboxes counts the user mailboxes a user owns.
func (s *Store) CountOwnedMailboxes(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM mailboxes WHERE owner_id = ? AND type = ?`, userID, MailboxIMAP).Scan(&n)
	return n, mapError(err)
}

// CheckState is the outcome of a mailbox check that the list shows and the
// scheduler plans by.
type CheckState struct {
	LastCheckAt   time.Time
	LastError     string
	ErrorReason   string // fetch.FailureReason of the error
	FailureStreak int
	NextCheckAt   time.Time // zero: only by hand
}

// SetCheckState records the outcome of a check.
func (s *Store) SetCheckState(ctx context.Context, id int64, state CheckState) error {
	_, err := s.exec(ctx, `UPDATE mailboxes SET last_check_at = ?, last_error = ?, last_error_reason = ?, failure_streak = ?, next_check_at = ? WHERE id = ?`,
		micros(state.LastCheckAt), state.LastError, state.ErrorReason, state.FailureStreak, optionalMicros(state.NextCheckAt), id)
	if err != nil {
		return fmt.Errorf("check state of mailbox %d: %w", id, mapError(err))
	}
	return nil
}

// DueMailboxes lists the active mailboxes of a type that check on a
// schedule and whose next check is due (or was never planned).
func (s *Store) DueMailboxes(ctx context.Context, kind string, now time.Time) ([]Mailbox, error) {
	list, err := s.mailboxList(ctx, `WHERE m.type = ? AND m.active = TRUE AND m.check_interval > 0
		AND (m.next_check_at IS NULL OR m.next_check_at <= ?) ORDER BY m.next_check_at, m.id`, kind, micros(now))
	if err != nil {
		return nil, fmt.Errorf("due mailboxes: %w", err)
	}
	return list, nil
}

// mailboxList reads the mailboxes a WHERE ... ORDER BY clause selects.
func (s *Store) mailboxList(ctx context.Context, clause string, args ...any) ([]Mailbox, error) {
	rows, err := s.query(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m `+clause, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, m)
	}
	return list, rows.Err()
}
