package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// importSetup makes a data folder with one SMTP mailbox and gives the
// folder and the mailbox's ID.
func importSetup(t *testing.T) (string, int64) {
	t.Helper()
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	pochta, err := openQuiet(ctx, commonFlags{data: data}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer pochta.Close()
	mailbox := importMailbox(t, pochta.Store)
	return data, mailbox.ID
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// summaryCounts reads the counts of the import summary.
func summaryCounts(t *testing.T, summary string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, match := range regexp.MustCompile(`(?m)^  ([a-z ]+):\s+(\d+)$`).FindAllStringSubmatch(summary, -1) {
		n, _ := strconv.Atoi(match[2])
		counts[match[1]] = n
	}
	if len(counts) != 5 {
		t.Fatalf("summary without its counts:\n%s", summary)
	}
	return counts
}

func TestImportFilesMaildirMbox(t *testing.T) {
	ctx := context.Background()
	data, mailbox := importSetup(t)
	dir := t.TempDir()

	// What the import must store, byte for byte.
	var want []string
	eml := func(n int) string {
		return "From: Anna <anna@example.com>\r\nTo: team@example.com\r\nSubject: eml " + strconv.Itoa(n) +
			"\r\nMessage-ID: <eml" + strconv.Itoa(n) + "@example.com>\r\n\r\nПривет, это письмо " + strconv.Itoa(n) + ".\r\n"
	}
	for n := range 3 {
		writeFile(t, filepath.Join(dir, "files", "m"+strconv.Itoa(n)+".eml"), eml(n))
		want = append(want, eml(n))
	}
	// The same message twice in one run: stored once.
	writeFile(t, filepath.Join(dir, "files", "m0-copy.eml"), eml(0))
	// A broken message is stored, with parse notes.
	broken := "Subject: broken\nContent-Type: multipart/mixed\n\nno boundary here\n"
	writeFile(t, filepath.Join(dir, "broken.eml"), broken)
	want = append(want, broken)

	maildir := filepath.Join(dir, "Maildir")
	for i, sub := range []string{"cur", "new", "cur"} {
		raw := "Subject: maildir " + strconv.Itoa(i) + "\n\nin " + sub + "\n"
		writeFile(t, filepath.Join(maildir, sub, "1700000000."+strconv.Itoa(i)+".host:2,S"), raw)
		want = append(want, raw)
	}
	if err := os.MkdirAll(filepath.Join(maildir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(maildir, "tmp", "partial"), "Subject: not delivered yet\n\n")

	// mboxrd, LF line endings: ">From " in a body is unescaped, and a
	// "From " line not after a blank line is not a separator.
	mboxMessages := []string{
		"From: a@example.com\nSubject: mbox 1\n\nFirst line\nFrom the start, a line not after a blank line.\n",
		"From: b@example.com\nSubject: mbox 2\n\nA quoted line:\n\nFrom here it looks like a separator.\n>From there too.\n\n",
		"From: c@example.com\nSubject: mbox 3\n\nlast\n",
	}
	escape := func(body string) string {
		lines := strings.SplitAfter(body, "\n")
		for i, line := range lines {
			if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") && i > 0 {
				lines[i] = ">" + line
			}
		}
		return strings.Join(lines, "")
	}
	var mbox strings.Builder
	for _, m := range mboxMessages {
		mbox.WriteString("From sender@example.com Sat Jan  3 01:05:34 1996\n")
		mbox.WriteString(escape(m))
		mbox.WriteString("\n")
		want = append(want, m)
	}
	writeFile(t, filepath.Join(dir, "archive.mbox"), mbox.String())

	missing := filepath.Join(dir, "does-not-exist.eml")
	args := []string{"import", "--data", data, "--mailbox", strconv.FormatInt(mailbox, 10),
		filepath.Join(dir, "files"), missing, filepath.Join(dir, "broken.eml"), maildir, filepath.Join(dir, "archive.mbox")}
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, nil, &stdout, &stderr)
	if err == nil {
		t.Errorf("a missing path must make the import fail at the end")
	}
	counts := summaryCounts(t, stdout.String())
	if counts["stored"] != 10 || counts["duplicates skipped"] != 1 || counts["failed"] != 1 || counts["with parse notes"] < 1 {
		t.Errorf("first run: %v\n%s\n%s", counts, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "does-not-exist.eml") {
		t.Errorf("the summary does not name the missing path:\n%s", stdout.String())
	}

	// A second run stores nothing new.
	stdout.Reset()
	args = append(args[:6], args[7:]...) // without the missing path
	if err := run(ctx, args, nil, &stdout, &stderr); err != nil {
		t.Errorf("second run: %v\n%s", err, stdout.String())
	}
	counts = summaryCounts(t, stdout.String())
	if counts["stored"] != 0 || counts["duplicates skipped"] != 11 || counts["failed"] != 0 {
		t.Errorf("second run: %v\n%s", counts, stdout.String())
	}

	// Every stored source is byte-identical to an input message.
	st, err := store.Open(ctx, filepath.Join(data, "pochta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.Messages(ctx, store.MessageFilter{MailboxIDs: []int64{mailbox}}, store.MessageSort{Column: "id", Ascending: true}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	notes := 0
	for _, m := range page.Items {
		source, err := st.MessageSource(ctx, m.ID)
		if err != nil {
			t.Fatalf("source of %d: %v", m.ID, err)
		}
		got = append(got, string(source))
		if string(source) == broken && len(m.ParseErrors) > 0 {
			notes++
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("stored sources differ from the input:\n got %q\nwant %q", got, want)
	}
	if notes != 1 {
		t.Errorf("the broken message is not stored with parse notes")
	}
}

// importMailbox makes the SMTP mailbox the import tests import into, on
// the first site.
func importMailbox(t *testing.T, st *store.Store) store.Mailbox {
	t.Helper()
	ctx := context.Background()
	sites, err := st.Sites(ctx)
	if err != nil || len(sites) == 0 {
		t.Fatalf("sites: %v, %v", sites, err)
	}
	mailbox := store.Mailbox{SiteID: sites[0].ID, Type: store.MailboxSMTP, Active: true, Name: "import", Port: 2525}
	if err := st.CreateMailbox(ctx, &mailbox); err != nil {
		t.Fatal(err)
	}
	return mailbox
}
