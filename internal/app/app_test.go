package app

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Spool files a killed process left behind go at start; a file being
// written by another process sharing the data folder stays.
func TestRemoveStaleSpool(t *testing.T) {
	dir := t.TempDir()
	old, fresh := filepath.Join(dir, "pochta-message-1.eml"), filepath.Join(dir, "pochta-message-2.eml")
	for _, path := range []string{old, fresh} {
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	removeStaleSpool(dir, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale spool file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh spool file removed: %v", err)
	}
}
