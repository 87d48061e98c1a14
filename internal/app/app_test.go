package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pochta.dev/pochta/internal/intake"
)

// At start, spool files no running process owns go (what a killed process
// left), and old ones whatever their owner; this process's own and young
// ones of another running process stay.
func TestRemoveStaleSpool(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // name: kept
		intake.SpoolPrefix() + "1.eml":   true,  // this process
		"pochta-1-message-2.eml":         true,  // a running process (init), recent
		"pochta-1-message-3.eml":         false, // a running process, but old
		"pochta-999999999-message-4.eml": false, // no such process
		"stray.tmp":                      false, // no owner
	}
	past := time.Now().Add(-2 * time.Hour)
	for name := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name == "pochta-1-message-3.eml" {
			if err := os.Chtimes(path, past, past); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeStaleSpool(dir, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for name, kept := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != kept {
			t.Errorf("%s: kept %v, want %v (%v)", name, got, kept, fmt.Sprint(err))
		}
	}
}
