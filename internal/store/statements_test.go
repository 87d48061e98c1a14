package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// Statements run inside a transaction refuse text that the backends would
// not store alike, as statements outside one do: SQLite would keep it and
// PostgreSQL fail with a driver error.
func TestInvalidTextIsRefusedInTransactions(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for _, bad := range []string{"nul\x00inside", "bad \xff utf-8"} {
			writes := []struct {
				name  string
				write func() error
			}{
				{"SaveSettings", func() error { return st.SaveSettings(ctx, map[string]string{"company": bad}) }},
				{"AddLog", func() error { return st.AddLog(ctx, store.LogEntry{Level: store.LevelInfo, Text: bad}) }},
				{"AcquireLease", func() error { _, err := st.AcquireLease(ctx, "fetch:"+bad, "node-a", time.Minute); return err }},
			}
			for _, w := range writes {
				if err := w.write(); !errors.Is(err, store.ErrInvalidText) {
					t.Errorf("%s(%q): %v, want ErrInvalidText", w.name, bad, err)
				}
			}
		}
		if values, err := st.Settings(ctx); err != nil || values["company"] != "" {
			t.Errorf("a refused setting was stored: %q, %v", values["company"], err)
		}
	})
}

// A broken unique rule is told by the driver's error code, on both
// backends, inside a transaction as outside.
func TestUniqueViolationIsConflict(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		newSite(t, st, "s1")
		duplicate := store.Site{Code: "s1", Name: "Again"}
		if err := st.CreateSite(ctx, &duplicate); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate site code: %v, want ErrConflict", err)
		}
		if err := st.DB().QueryRowContext(ctx, st.Rebind(`INSERT INTO sites (code, name, created_at, updated_at) VALUES (?, 'x', 0, 0)`), "s1").Scan(); err == nil {
			t.Fatal("a duplicate site code went in")
		} else if !errors.Is(store.MapError(err), store.ErrConflict) {
			t.Errorf("driver error %v is not mapped to ErrConflict", err)
		}
		if err := st.DB().QueryRowContext(ctx, `SELECT 1 FROM sites WHERE 1 = 0`).Scan(); !errors.Is(store.MapError(err), store.ErrNotFound) {
			t.Errorf("no rows: %v, want ErrNotFound", store.MapError(err))
		}
	})
}
