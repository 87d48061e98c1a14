package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// MailService is a mail provider employees connect their own (IMAP)
// mailboxes through, curated per site by the admins.
type MailService struct {
	ID            int64
	SiteID        int64
	Active        bool
	Name          string
	Type          string // "imap"
	Server        string
	Port          int
	Security      string // "tls", "starttls", "none" or "" (not set)
	WebURL        string
	Sort          int
	SMTPServer    string
	SMTPPort      int
	SMTPSameLogin bool
	Icon          string // a built-in icon name
	Logo          []byte // an uploaded logo, when any
	LogoType      string
	IsOther       bool // the site's generic "other" service mailboxes fall back to
	// OAuth2 client of the service (empty OAuthClientID: none): its
	// mailboxes sign in with a bearer token instead of a password.
	OAuthClientID     string
	OAuthSecretSealed []byte // the client secret, sealed by the service's box
	OAuthAuthURL      string
	OAuthTokenURL     string
	OAuthScopes       string // space-separated
	OAuthMechanism    string // "xoauth2" or "oauthbearer"
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const mailServiceColumns = `id, site_id, active, name, type, server, port, security, web_url, sort, smtp_server, smtp_port,
	smtp_same_login, icon, logo_type, is_other, oauth_client_id, oauth_secret_enc, oauth_auth_url, oauth_token_url, oauth_scopes,
	oauth_mechanism, created_at, updated_at`

func scanMailService(row interface{ Scan(...any) error }) (MailService, error) {
	var m MailService
	var created, updated int64
	err := row.Scan(&m.ID, &m.SiteID, &m.Active, &m.Name, &m.Type, &m.Server, &m.Port, &m.Security, &m.WebURL, &m.Sort,
		&m.SMTPServer, &m.SMTPPort, &m.SMTPSameLogin, &m.Icon, &m.LogoType, &m.IsOther, &m.OAuthClientID, &m.OAuthSecretSealed, &m.OAuthAuthURL,
		&m.OAuthTokenURL, &m.OAuthScopes, &m.OAuthMechanism, &created, &updated)
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, mapError(err)
}

// CreateMailService stores a new mail service.
func (s *Store) CreateMailService(ctx context.Context, m *MailService) error {
	now := s.clock()
	id, err := s.insert(ctx, `INSERT INTO services (site_id, active, name, type, server, port, security, web_url, sort, smtp_server,
		smtp_port, smtp_same_login, icon, logo, logo_type, is_other, oauth_client_id, oauth_secret_enc, oauth_auth_url, oauth_token_url,
		oauth_scopes, oauth_mechanism, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.SiteID, m.Active, m.Name, m.Type, m.Server, m.Port, m.Security, m.WebURL, m.Sort, m.SMTPServer, m.SMTPPort,
		m.SMTPSameLogin, m.Icon, m.Logo, m.LogoType, m.IsOther, m.OAuthClientID, m.OAuthSecretSealed, m.OAuthAuthURL, m.OAuthTokenURL,
		m.OAuthScopes, m.OAuthMechanism, micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("create mail service %q: %w", m.Name, err)
	}
	m.ID, m.CreatedAt, m.UpdatedAt = id, now.UTC(), now.UTC()
	return nil
}

// UpdateMailService saves a mail service and, in the same transaction,
// copies its connection fields into every mailbox bound to it, so that a
// provider's new server reaches all its users at once. The logo is kept
// unless keepLogo is false.
func (s *Store) UpdateMailService(ctx context.Context, m *MailService, keepLogo bool) error {
	now := s.clock()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		query := `UPDATE services SET site_id = ?, active = ?, name = ?, type = ?, server = ?, port = ?, security = ?, web_url = ?,
			sort = ?, smtp_server = ?, smtp_port = ?, smtp_same_login = ?, icon = ?, is_other = ?, oauth_client_id = ?,
			oauth_secret_enc = ?, oauth_auth_url = ?, oauth_token_url = ?, oauth_scopes = ?, oauth_mechanism = ?, updated_at = ?`
		args := []any{m.SiteID, m.Active, m.Name, m.Type, m.Server, m.Port, m.Security, m.WebURL, m.Sort, m.SMTPServer,
			m.SMTPPort, m.SMTPSameLogin, m.Icon, m.IsOther, m.OAuthClientID, m.OAuthSecretSealed, m.OAuthAuthURL, m.OAuthTokenURL,
			m.OAuthScopes, m.OAuthMechanism, micros(now)}
		if !keepLogo {
			query += `, logo = ?, logo_type = ?`
			args = append(args, m.Logo, m.LogoType)
		}
		result, err := s.execOn(ctx, tx, query+` WHERE id = ?`, append(args, m.ID)...)
		if err != nil {
			return fmt.Errorf("update mail service %d: %w", m.ID, mapError(err))
		}
		if n, _ := result.RowsAffected(); n == 0 {
			return fmt.Errorf("update mail service %d: %w", m.ID, ErrNotFound)
		}
		security := m.Security
		if security == "" {
			security = "tls"
		}
		if _, err := s.execOn(ctx, tx, `UPDATE mailboxes SET server = ?, port = ?, security = ?, web_url = ?, updated_at = ?
			WHERE service_id = ?`, m.Server, m.Port, security, m.WebURL, micros(now), m.ID); err != nil {
			return fmt.Errorf("update mail service %d: copy to mailboxes: %w", m.ID, err)
		}
		m.UpdatedAt = now.UTC()
		return nil
	})
}

// MailServiceByID finds a mail service.
func (s *Store) MailServiceByID(ctx context.Context, id int64) (MailService, error) {
	m, err := scanMailService(s.queryRow(ctx, `SELECT `+mailServiceColumns+` FROM services WHERE id = ?`, id))
	if err != nil {
		return m, fmt.Errorf("mail service %d: %w", id, err)
	}
	return m, nil
}

// MailServiceLogo gives an uploaded logo and its content type.
func (s *Store) MailServiceLogo(ctx context.Context, id int64) ([]byte, string, error) {
	var logo []byte
	var contentType string
	err := s.queryRow(ctx, `SELECT logo, logo_type FROM services WHERE id = ?`, id).Scan(&logo, &contentType)
	return logo, contentType, mapError(err)
}

// MailServiceFilter narrows [Store.MailServices]. Zero fields do not filter.
type MailServiceFilter struct {
	ID     int64
	SiteID int64
	Active *bool
	Name   string // part of the name, ignoring case
	Server string // part of the server name, ignoring case
}

// MailServices lists mail services by site, sort and name.
func (s *Store) MailServices(ctx context.Context, filter MailServiceFilter) ([]MailService, error) {
	var where []string
	var args []any
	if filter.ID != 0 {
		where, args = append(where, "id = ?"), append(args, filter.ID)
	}
	if filter.SiteID != 0 {
		where, args = append(where, "site_id = ?"), append(args, filter.SiteID)
	}
	if filter.Active != nil {
		where, args = append(where, "active = ?"), append(args, *filter.Active)
	}
	query := `SELECT ` + mailServiceColumns + ` FROM services`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.query(ctx, query+` ORDER BY site_id, sort, name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list mail services: %w", err)
	}
	defer rows.Close()
	var list []MailService
	for rows.Next() {
		m, err := scanMailService(rows)
		if err != nil {
			return nil, fmt.Errorf("list mail services: %w", err)
		}
		// Name and server filters match in Go: SQL LOWER does not fold
		// Cyrillic on SQLite, and a site has a handful of services.
		if filter.Name != "" && !strings.Contains(strings.ToLower(m.Name), strings.ToLower(filter.Name)) {
			continue
		}
		if filter.Server != "" && !strings.Contains(strings.ToLower(m.Server), strings.ToLower(filter.Server)) {
			continue
		}
		list = append(list, m)
	}
	return list, rows.Err()
}

// RebindMailboxes moves every mailbox bound to service from onto service to
// (copying its connection fields, when it has a server), or, when to is
// nil, unbinds and deactivates them. It reports how many mailboxes it
// changed.
func (s *Store) RebindMailboxes(ctx context.Context, from int64, to *MailService) (int64, error) {
	now := micros(s.clock())
	var result sql.Result
	var err error
	switch {
	case to == nil:
		result, err = s.exec(ctx, `UPDATE mailboxes SET service_id = NULL, active = FALSE, updated_at = ? WHERE service_id = ?`, now, from)
	case to.Server == "":
		// A generic "other" service names no server: the mailboxes keep
		// the connection settings they have.
		result, err = s.exec(ctx, `UPDATE mailboxes SET service_id = ?, updated_at = ? WHERE service_id = ?`, to.ID, now, from)
	default:
		security := to.Security
		if security == "" {
			security = "tls"
		}
		result, err = s.exec(ctx, `UPDATE mailboxes SET service_id = ?, server = ?, port = ?, security = ?, web_url = ?, updated_at = ? WHERE service_id = ?`,
			to.ID, to.Server, to.Port, security, to.WebURL, now, from)
	}
	if err != nil {
		return 0, fmt.Errorf("rebind mailboxes of service %d: %w", from, err)
	}
	return result.RowsAffected()
}

// DeleteMailService removes a mail service. Mailboxes still bound to it lose
// the binding (the caller rebinds them first).
func (s *Store) DeleteMailService(ctx context.Context, id int64) error {
	result, err := s.exec(ctx, `DELETE FROM services WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete mail service %d: %w", id, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("delete mail service %d: %w", id, ErrNotFound)
	}
	return nil
}
