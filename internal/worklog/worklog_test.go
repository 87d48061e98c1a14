package worklog

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

type policy struct {
	disabled bool
	keepDays int
}

func (p *policy) LogPolicy(context.Context) (bool, int) { return p.disabled, p.keepDays }

func TestRecordHonoursDisableAndPurgeHonoursKeepDays(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pochta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	settings := &policy{keepDays: 7}
	log := New(st, settings, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	log.now = func() time.Time { return now }

	log.Record(ctx,
		store.LogEntry{Time: now.AddDate(0, 0, -10), Level: store.LevelInfo, Text: "old"},
		store.LogEntry{Time: now.AddDate(0, 0, -3), Level: store.LevelError, Text: "recent"})
	settings.disabled = true
	log.Record(ctx, store.LogEntry{Level: store.LevelInfo, Text: "while disabled"})
	settings.disabled = false

	entries, err := st.Log(ctx, store.LogFilter{})
	if err != nil || len(entries) != 2 {
		t.Fatalf("after records: %d entries, %v (the disabled one must be dropped)", len(entries), err)
	}
	if n, err := log.Purge(ctx); err != nil || n != 1 {
		t.Errorf("Purge with 7 days = %d, %v; want 1", n, err)
	}
	settings.keepDays = 1
	if n, err := log.Purge(ctx); err != nil || n != 1 {
		t.Errorf("Purge with 1 day = %d, %v; want 1", n, err)
	}
}
