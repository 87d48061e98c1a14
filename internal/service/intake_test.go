package service_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

const sampleMessage = "From: =?koi8-r?b?6dfBzg==?= <ivan@example.ru>\r\n" +
	"To: team@example.com\r\n" +
	"X-Original-To: hidden@example.com\r\n" +
	"Subject: Report\r\n" +
	"Message-ID: <r1@example.ru>\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nQuarterly numbers\r\n" +
	"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n" +
	"Content-Transfer-Encoding: base64\r\n\r\n" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n" +
	"--b--\r\n"

func TestDeliverAppliesSettings(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Inbound"), Port: ptr(2525)})
	if err != nil {
		t.Fatal(err)
	}
	result, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(sampleMessage), "API")
	if err != nil || result.Duplicate {
		t.Fatalf("import: %+v, %v", result, err)
	}
	view, err := env.Service.Message(ctx, env.Admin, result.ID, service.MessageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if view.From != "Иван <ivan@example.ru>" || view.Subject != "Report" || view.Bcc != "hidden@example.com" || view.MessageID != "r1@example.ru" ||
		!strings.Contains(view.Text, "Quarterly numbers") || len(view.Attachments) != 1 || view.Attachments[0].Dropped {
		t.Errorf("stored: %+v", view)
	}
	if raw, err := env.Source(ctx, env.Admin, result.ID); err != nil || string(raw) != sampleMessage {
		t.Errorf("source not byte-exact: %v", err)
	}
	if again, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(sampleMessage), "API"); err != nil || !again.Duplicate || again.ID != result.ID {
		t.Errorf("second import: %+v, %v", again, err)
	}
	log, _ := env.Service.Log(ctx, env.Admin, store.LogFilter{MailboxID: box.ID})
	if len(log) == 0 || !strings.HasPrefix(log[0].Text, "Receiving mail: Report (") {
		t.Errorf("work log: %+v", log)
	}

	// Settings: no source, an attachment limit of 0 KB means the storage's;
	// with 1 KB... attachments off keeps names only.
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{SaveSource: ptr(false), SaveAttachments: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(sampleMessage, "Report", "Report 2", 1)
	result, err = env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(other), "API")
	if err != nil {
		t.Fatal(err)
	}
	view, _ = env.Service.Message(ctx, env.Admin, result.ID, service.MessageOptions{})
	if view.HasSource || len(view.Attachments) != 1 || !view.Attachments[0].Dropped || view.Attachments[0].Size != 60 {
		t.Errorf("with source and attachments off: %+v", view)
	}
	if _, err := env.Source(ctx, env.Admin, result.ID); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("source that was not kept: %v", err)
	}

	// Rights: an auditor may not import; a user only into their own.
	auditor := env.AddUser(t, "audrey", "auditor-pass", store.RoleAuditor)
	user := env.AddUser(t, "ulysses", "user-password", store.RoleUser)
	if _, err := env.Service.ImportMessage(ctx, auditor, box.ID, strings.NewReader(sampleMessage), "API"); !errors.Is(err, service.ErrForbidden) {
		t.Errorf("auditor imports: %v", err)
	}
	if _, err := env.Service.ImportMessage(ctx, user, box.ID, strings.NewReader(sampleMessage), "API"); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("user imports into a system mailbox: %v", err)
	}
}

func TestDeliverNeverRejects(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Inbound"), Port: ptr(2525)})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"", "\x00\x00\x00", "garbage without headers", "Subject: \xff\xfe\r\n\r\n\x00body", "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nno end"} {
		result, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(raw), "API")
		if err != nil {
			t.Errorf("%q rejected: %v", raw, err)
			continue
		}
		if source, err := env.Source(ctx, env.Admin, result.ID); err != nil || string(source) != raw {
			t.Errorf("%q: source %q, %v", raw, source, err)
		}
	}
}

// TestPeerCorpusThroughIntake stores every message of the shared peer corpus
// (hard messages from other projects' test suites, read in place, never
// copied here) through the intake on both backends and checks that none is
// rejected and every source comes back byte for byte.
func TestPeerCorpusThroughIntake(t *testing.T) {
	dir := "../../../shared/peer-corpus"
	if d := os.Getenv("POCHTA_PEER_CORPUS"); d != "" {
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("POCHTA_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer corpus %s is required here but missing: %v", dir, err)
		}
		t.Skipf("peer corpus %s not present (%v): it comes with ../shared", dir, err)
	}
	var files []string
	filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err == nil && !entry.IsDir() && !strings.HasSuffix(path, ".md") && !strings.HasSuffix(entry.Name(), "LICENSE") && !strings.HasPrefix(entry.Name(), "ARTISTIC") {
			files = append(files, path)
		}
		return err
	})
	if len(files) < 200 {
		t.Fatalf("peer corpus has %d files, want about 237", len(files))
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(t)
			}
			peerCorpusThroughIntake(t, servicetest.New(t, dsn), files)
		})
	}
}

func peerCorpusThroughIntake(t *testing.T, env *servicetest.Env, files []string) {
	ctx := context.Background()
	box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Corpus"), Port: ptr(2525)})
	if err != nil {
		t.Fatal(err)
	}
	stored, duplicates, noted := 0, 0, 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		result, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, bytes.NewReader(raw), "test")
		if err != nil {
			t.Errorf("%s rejected: %v", file, err)
			continue
		}
		if result.Duplicate {
			duplicates++ // the corpus holds some byte-identical files
		} else {
			stored++
		}
		if len(result.ParseErrors) > 0 {
			noted++
		}
		source, err := env.Source(ctx, env.Admin, result.ID)
		if err != nil || !bytes.Equal(source, raw) {
			t.Errorf("%s: source does not come back exactly (%v)", file, err)
		}
	}
	t.Logf("%d files: %d stored, %d byte-identical duplicates, %d with parse notes", len(files), stored, duplicates, noted)
}
