package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Site is one portal site: mail settings such as the default charset and the
// interface language hang off it.
type Site struct {
	ID       int64  `json:"-"`
	Code     string `json:"code"`
	Name     string `json:"name"`
	Domain   string `json:"domain"`
	Charset  string `json:"charset"`
	Language string `json:"language"`
	// TimeZone is the IANA name of the zone the site's times are shown in;
	// "" means the server's.
	TimeZone  string    `json:"time_zone"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

const siteColumns = `id, code, name, domain, charset, language, time_zone, created_at, updated_at`

func scanSite(row interface{ Scan(...any) error }) (Site, error) {
	var site Site
	var created, updated int64
	err := row.Scan(&site.ID, &site.Code, &site.Name, &site.Domain, &site.Charset, &site.Language, &site.TimeZone, &created, &updated)
	site.CreatedAt, site.UpdatedAt = fromMicros(created), fromMicros(updated)
	return site, mapError(err)
}

// CreateSite stores a new site and sets its ID and times.
func (s *Store) CreateSite(ctx context.Context, site *Site) error {
	now := s.clock()
	id, err := s.insert(ctx, `INSERT INTO sites (code, name, domain, charset, language, time_zone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		site.Code, site.Name, site.Domain, site.Charset, site.Language, site.TimeZone, micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("create site %q: %w", site.Code, err)
	}
	site.ID, site.CreatedAt, site.UpdatedAt = id, now.UTC(), now.UTC()
	return nil
}

// UpdateSite saves every field of site but its code and creation time.
func (s *Store) UpdateSite(ctx context.Context, site *Site) error {
	now := s.clock()
	result, err := s.exec(ctx, `UPDATE sites SET name = ?, domain = ?, charset = ?, language = ?, time_zone = ?, updated_at = ? WHERE id = ?`,
		site.Name, site.Domain, site.Charset, site.Language, site.TimeZone, micros(now), site.ID)
	if err != nil {
		return fmt.Errorf("update site %q: %w", site.Code, mapError(err))
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("update site %q: %w", site.Code, ErrNotFound)
	}
	site.UpdatedAt = now.UTC()
	return nil
}

// SiteByCode finds a site by its code.
func (s *Store) SiteByCode(ctx context.Context, code string) (Site, error) {
	site, err := scanSite(s.queryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE code = ?`, code))
	if err != nil {
		return site, fmt.Errorf("site %q: %w", code, err)
	}
	return site, nil
}

// SiteByID finds a site by its ID.
func (s *Store) SiteByID(ctx context.Context, id int64) (Site, error) {
	site, err := scanSite(s.queryRow(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = ?`, id))
	if err != nil {
		return site, fmt.Errorf("site %d: %w", id, err)
	}
	return site, nil
}

// Sites lists every site by code.
func (s *Store) Sites(ctx context.Context) ([]Site, error) {
	rows, err := s.query(ctx, `SELECT `+siteColumns+` FROM sites ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	defer rows.Close()
	var sites []Site
	for rows.Next() {
		site, err := scanSite(rows)
		if err != nil {
			return nil, fmt.Errorf("list sites: %w", err)
		}
		sites = append(sites, site)
	}
	return sites, rows.Err()
}

// DeleteSite removes a site. It fails with [ErrConflict] while users or
// mailboxes still belong to it.
func (s *Store) DeleteSite(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var users, mailboxes int
		if err := s.queryRowOn(ctx, tx, `SELECT (SELECT COUNT(*) FROM users WHERE site_id = ?), (SELECT COUNT(*) FROM mailboxes WHERE site_id = ?)`, id, id).Scan(&users, &mailboxes); err != nil {
			return fmt.Errorf("delete site %d: %w", id, err)
		}
		if users > 0 || mailboxes > 0 {
			return fmt.Errorf("delete site %d: %w: %d users and %d mailboxes belong to it", id, ErrConflict, users, mailboxes)
		}
		result, err := s.execOn(ctx, tx, `DELETE FROM sites WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete site %d: %w", id, mapError(err))
		}
		if n, _ := result.RowsAffected(); n == 0 {
			return fmt.Errorf("delete site %d: %w", id, ErrNotFound)
		}
		return nil
	})
}
