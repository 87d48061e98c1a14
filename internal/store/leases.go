package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AcquireLease gives holder the named lease until now+ttl when nobody else
// holds it (or their hold expired, for example because their process died).
// It reports whether holder now has it. A holder renews by acquiring again.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.clock()
	var got bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		result, err := s.execOn(ctx, tx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`, name, holder, micros(now.Add(ttl)), micros(now))
		if err != nil {
			return fmt.Errorf("acquire lease %s: %w", name, err)
		}
		n, err := result.RowsAffected()
		got = n > 0
		return err
	})
	return got, err
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return mapError(err)
}
