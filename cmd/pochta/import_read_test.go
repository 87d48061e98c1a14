package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/mailfile"
)

// TestImportReadSources: the import's reading loop names every message,
// reports what cannot be read, and counts every byte of the files for the
// percentage, also when a message is left half read.
func TestImportReadSources(t *testing.T) {
	dir := t.TempDir()
	mbox := "From a\nSubject: one\n\n" + strings.Repeat("body\n", 30000) + "\nFrom b\n\nFrom c\nSubject: three\n"
	writeFile(t, filepath.Join(dir, "archive.mbox"), mbox)
	writeFile(t, filepath.Join(dir, "a.eml"), "Subject: a\n\n")
	writeFile(t, filepath.Join(dir, "empty.eml"), "")
	sources, total := mailfile.Expand([]string{filepath.Join(dir, "a.eml"), filepath.Join(dir, "missing.eml"), filepath.Join(dir, "empty.eml"), filepath.Join(dir, "archive.mbox")})

	for _, whole := range []bool{true, false} {
		var names []string
		var problems []error
		var consumed int64
		take := func(name string, message io.Reader, size int64) error {
			names = append(names, filepath.Base(name))
			if !whole {
				if _, err := io.CopyN(io.Discard, message, 3); err != io.EOF {
					return err
				}
				return nil
			}
			_, err := io.Copy(io.Discard, message)
			return err
		}
		readSources(context.Background(), sources, take, func(n int64) { consumed += n }, func(name string, err error) {
			problems = append(problems, err)
		})
		if strings.Join(names, " ") != "a.eml archive.mbox#1 archive.mbox#2 archive.mbox#3" {
			t.Errorf("whole %v: messages %q", whole, names)
		}
		if len(problems) != 2 || !errors.Is(problems[0], fs.ErrNotExist) || !errors.Is(problems[1], mailfile.ErrEmptyFile) {
			t.Errorf("whole %v: problems %v", whole, problems)
		}
		if consumed != total {
			t.Errorf("whole %v: consumed %d of %d bytes", whole, consumed, total)
		}
	}
}

// TestImportInterrupted: an import interrupted around large messages (a
// file of its own, one of an mbox file) ends and leaves no spool file.
func TestImportInterrupted(t *testing.T) {
	ctx := context.Background()
	data, mailboxID := importSetup(t)
	pochta, err := openQuiet(ctx, commonFlags{data: data}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pochta.Close() })
	importer, err := newImporter(ctx, pochta.Service, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	large := "Subject: large\n\n" + strings.Repeat("x", intake.MaxInMemory) + "\n"
	writeFile(t, filepath.Join(dir, "large.eml"), large)
	writeFile(t, filepath.Join(dir, "archive.mbox"), "From a\nSubject: small\n\none\n\nFrom b\n"+large+"\nFrom c\nSubject: small too\n\ntwo\n")
	paths := []string{filepath.Join(dir, "large.eml"), filepath.Join(dir, "archive.mbox")}

	interrupted, cancel := context.WithCancel(ctx)
	cancel()
	for range 4 {
		summary := importer.run(interrupted, paths, newProgress(io.Discard, true))
		if summary.read > 4 {
			t.Errorf("%d messages read from 4", summary.read)
		}
	}
	entries, err := os.ReadDir(filepath.Join(data, "spool"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, entry := range entries {
		t.Errorf("spool file %s left behind", entry.Name())
	}
}
