package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"pochta.dev/pochta/internal/testmail"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// TestImportLarge imports large .eml files (over intake.MaxInMemory, so
// that they take the streaming path into the intake, which spools them):
// one file alone, then a folder with a large (LF line ends) and two small
// files, then the first file again, then an mbox file holding a large
// message (streamed out of the mbox file into the intake, not held in
// memory) between two small ones, twice. The summary counts, every stored
// source (byte for byte), the attachments' bytes and the text are
// checked, on SQLite and on PostgreSQL.
func TestImportLarge(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(t)
			}
			testImportLarge(t, dsn)
		})
	}
}

func testImportLarge(t *testing.T, dsn string) {
	ctx := context.Background()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where large messages are spooled and mbox messages copied
	data := filepath.Join(t.TempDir(), "data")
	common := commonFlags{data: data, db: dsn}
	pochta, err := openQuiet(ctx, common, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer pochta.Close()
	mailbox := importMailbox(t, pochta.Store)

	dir := t.TempDir()
	big, bigAttachment := testmail.Large(1, "big alone", 9<<20+12345)
	folderBig, folderAttachment := testmail.Large(2, "big in a folder", 6<<20+100)
	folderBig = bytes.ReplaceAll(folderBig, []byte("\r\n"), []byte("\n")) // as a Unix mail tool saves it
	if len(big) <= intake.MaxInMemory || len(folderBig) <= intake.MaxInMemory {
		t.Fatalf("the test messages (%d, %d bytes) are not large", len(big), len(folderBig))
	}
	// An mbox (LF line ends, mboxrd) with a large message between two
	// small ones; its text has a line that must be escaped.
	mboxBig, mboxAttachment := testmail.Large(3, "big in an mbox", 6<<20+7)
	mboxBig = bytes.ReplaceAll(mboxBig, []byte("\r\n"), []byte("\n"))
	mboxBig = bytes.Replace(mboxBig, []byte("attached.\n"), []byte("attached.\n\nFrom here on, the data.\n"), 1)
	if len(mboxBig) <= intake.MaxInMemory {
		t.Fatalf("the mbox's large message (%d bytes) is not large", len(mboxBig))
	}
	small := func(n int) []byte {
		return []byte("From: Boris <boris@example.com>\r\nTo: archive@example.com\r\nSubject: small " + strconv.Itoa(n) +
			"\r\nMessage-ID: <small" + strconv.Itoa(n) + "@example.com>\r\n\r\nA small one, " + strconv.Itoa(n) + ".\r\n")
	}
	var mbox bytes.Buffer
	for _, m := range [][]byte{bytes.ReplaceAll(small(3), []byte("\r\n"), []byte("\n")), mboxBig, bytes.ReplaceAll(small(4), []byte("\r\n"), []byte("\n"))} {
		mbox.WriteString("From archive@example.com Mon Jan  1 10:00:00 2024\n")
		mbox.Write(bytes.ReplaceAll(m, []byte("\nFrom here"), []byte("\n>From here")))
		mbox.WriteString("\n")
	}
	bigPath := filepath.Join(dir, "big.eml")
	mboxPath := filepath.Join(dir, "archive.mbox")
	files := map[string][]byte{
		bigPath:  big,
		mboxPath: mbox.Bytes(),
		filepath.Join(dir, "folder", "a-small.eml"): small(1),
		filepath.Join(dir, "folder", "b-big.eml"):   folderBig,
		filepath.Join(dir, "folder", "c-small.eml"): small(2),
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	runImport := func(path string, stored, duplicates int) {
		t.Helper()
		args := []string{"import", "--data", data, "--mailbox", strconv.FormatInt(mailbox.ID, 10), "--quiet"}
		if dsn != "" {
			args = append(args, "--db", dsn)
		}
		var stdout, stderr bytes.Buffer
		if err := run(ctx, append(args, path), nil, &stdout, &stderr); err != nil {
			t.Fatalf("import %s: %v\n%s\n%s", path, err, stdout.String(), stderr.String())
		}
		counts := summaryCounts(t, stdout.String())
		if counts["stored"] != stored || counts["duplicates skipped"] != duplicates || counts["failed"] != 0 || counts["with parse notes"] != 0 {
			t.Errorf("import %s: %v, want %d stored and %d duplicates\n%s", path, counts, stored, duplicates, stdout.String())
		}
		if !strings.Contains(stdout.String(), fmt.Sprintf("imported %d messages", stored+duplicates)) {
			t.Errorf("import %s: summary\n%s", path, stdout.String())
		}
	}
	runImport(bigPath, 1, 0)
	runImport(filepath.Join(dir, "folder"), 3, 0)
	runImport(bigPath, 0, 1)
	runImport(mboxPath, 3, 0)
	runImport(mboxPath, 0, 3)
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "pochta-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	page, err := pochta.Store.Messages(ctx, store.MessageFilter{MailboxIDs: []int64{mailbox.ID}}, store.MessageSort{Column: "id", Ascending: true}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"big alone": big, "big in a folder": folderBig, "small 1": small(1), "small 2": small(2),
		"big in an mbox": mboxBig, "small 3": bytes.ReplaceAll(small(3), []byte("\r\n"), []byte("\n")), "small 4": bytes.ReplaceAll(small(4), []byte("\r\n"), []byte("\n"))}
	attachments := map[string][]byte{"big alone": bigAttachment, "big in a folder": folderAttachment, "big in an mbox": mboxAttachment}
	if len(page.Items) != len(want) {
		t.Fatalf("%d messages stored, want %d", len(page.Items), len(want))
	}
	for _, m := range page.Items {
		raw, ok := want[m.Subject]
		if !ok {
			t.Errorf("unexpected message %q", m.Subject)
			continue
		}
		delete(want, m.Subject)
		if m, err = pochta.Store.MessageByID(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if m.Size != int64(len(raw)) || !m.HasSource {
			t.Errorf("%s: size %d (want %d), has source %v", m.Subject, m.Size, len(raw), m.HasSource)
		}
		source, err := pochta.Store.OpenSource(ctx, m.ID)
		if err != nil {
			t.Fatalf("%s: %v", m.Subject, err)
		}
		got, err := io.ReadAll(source)
		source.Close()
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s: source of %d bytes (%v) differs from the file's %d bytes", m.Subject, len(got), err, len(raw))
		}
		attachment, large := attachments[m.Subject]
		if !large {
			continue
		}
		view, err := pochta.Service.Message(ctx, service.System, m.ID, service.MessageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(view.Text, "Квитанция") || len(view.Attachments) != 1 || !strings.Contains(view.Header, "Subject: "+m.Subject) {
			t.Errorf("%s: text %q, header %q, attachments %+v", m.Subject, view.Text, view.Header, view.Attachments)
			continue
		}
		a, body, err := pochta.Service.MessageAttachment(ctx, service.System, m.ID, view.Attachments[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		gotAttachment, err := io.ReadAll(body)
		body.Close()
		if err != nil || a.Size != int64(len(attachment)) || !bytes.Equal(gotAttachment, attachment) {
			t.Errorf("%s: attachment of %d bytes, size %d (%v); want %d bytes equal to the original", m.Subject, len(gotAttachment), a.Size, err, len(attachment))
		}
	}
}
