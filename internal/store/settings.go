package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Settings returns every stored module setting as name -> value. Settings
// never saved are absent; the service layer supplies their defaults.
func (s *Store) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := s.query(ctx, `SELECT name, value FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	defer rows.Close()
	values := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
		values[name] = value
	}
	return values, rows.Err()
}

// SaveSettings writes the given settings in one transaction.
func (s *Store) SaveSettings(ctx context.Context, values map[string]string) error {
	now := micros(s.clock())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for name, value := range values {
			_, err := s.execOn(ctx, tx, `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, now)
			if err != nil {
				return fmt.Errorf("save setting %s: %w", name, err)
			}
		}
		return nil
	})
}
