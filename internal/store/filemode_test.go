package store_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// The SQLite database and its -wal and -shm files are readable by their
// owner alone, whatever the folder's mode (issue 11, finding 5: they were
// made 0644), for a new database and for one an older version made 0644.
func TestSQLiteFilesOwnerOnly(t *testing.T) {
	// The usual umask, so that the files' mode is the one Pochta asks for
	// (a stricter umask would hide a loose mode). No store test runs in
	// parallel with this one.
	previous := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(previous) })
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.db")
	if err := os.WriteFile(old, nil, 0o644); err != nil { // an empty file is an empty database
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "pochta.db"), old} {
		st, err := store.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		site := store.Site{Code: "s9", Name: "Written", Charset: "UTF-8", Language: "en"}
		if err := st.CreateSite(context.Background(), &site); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			info, err := os.Stat(name)
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(name), err)
				continue
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(name), mode)
			}
		}
		st.Close()
	}
}
