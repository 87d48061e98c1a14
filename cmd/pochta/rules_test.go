package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// pochta rules test, rules apply, spam train, and import --no-rules.
func TestRulesAndSpamCommands(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	pochta, err := app.Open(ctx, app.Config{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pochta.Service.Bootstrap(ctx, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	port, name := 2525, "In"
	box, err := pochta.Service.CreateMailbox(ctx, service.System, service.MailboxInput{Type: ptrTo(store.MailboxSMTP), Name: &name, Port: &port})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := pochta.Service.CreateRule(ctx, service.System, service.RuleInput{Name: ptrTo("Read invoices"),
		Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"СЧЁТ"}}},
		Actions:    &service.RuleActionsInput{Read: ptrTo("read")}})
	if err != nil {
		t.Fatal(err)
	}
	pochta.Close()

	dir := t.TempDir()
	eml := filepath.Join(dir, "invoice.eml")
	os.WriteFile(eml, []byte("Subject: Ваш счёт №5\r\nFrom: a@example.com\r\n\r\nhello\r\n"), 0o600)
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"rules", "test", "--data", data, "--mailbox", strconv.FormatInt(box.ID, 10), eml}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("rules test: %v\n%s", err, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "Rule ["+strconv.FormatInt(rule.ID, 10)+"] Read invoices would fire") ||
		!strings.Contains(out, "счёт") || !strings.Contains(out, "marked as read") {
		t.Errorf("rules test printed:\n%s", out)
	}

	// Import without rules, then apply them by hand.
	if err := run(ctx, []string{"import", "--data", data, "--mailbox", strconv.FormatInt(box.ID, 10), "--quiet", "--no-rules", eml}, nil, io.Discard, &stderr); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr.String())
	}
	pochta, err = app.Open(ctx, app.Config{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	page, err := pochta.Store.Messages(ctx, store.MessageFilter{}, store.MessageSort{}, "", 10)
	pochta.Close()
	if err != nil || len(page.Items) != 1 || page.Items[0].Read {
		t.Fatalf("imported without rules: %+v %v", page.Items, err)
	}
	stdout.Reset()
	if err := run(ctx, []string{"rules", "apply", "--data", data, "--mailbox", strconv.FormatInt(box.ID, 10)}, nil, &stdout, &stderr); err != nil ||
		!strings.Contains(stdout.String(), "matched 1 messages") {
		t.Fatalf("rules apply: %v %q", err, stdout.String())
	}

	// Bulk training from an mbox and a folder.
	mbox := filepath.Join(dir, "spam.mbox")
	os.WriteFile(mbox, []byte("From x@example.com Mon Jan  1 00:00:00 2024\nSubject: pills\n\ncheap pills\n\nFrom y@example.com Mon Jan  1 00:00:00 2024\nSubject: casino\n\ncasino now\n"), 0o600)
	hamDir := filepath.Join(dir, "ham")
	os.Mkdir(hamDir, 0o700)
	os.WriteFile(filepath.Join(hamDir, "1.eml"), []byte("Subject: agenda\r\n\r\nmeeting notes\r\n"), 0o600)
	stdout.Reset()
	if err := run(ctx, []string{"spam", "train", "--data", data, "--quiet", "--spam", mbox, "--ham", hamDir}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("spam train: %v\n%s", err, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "Read 2 spam and 1 ham messages; trained") || !strings.Contains(out, "at least 200") {
		t.Errorf("spam train printed %q", out)
	}
	for _, args := range [][]string{{"rules", "test", "--data", data}, {"rules", "apply", "--data", data}, {"spam", "train", "--data", data}} {
		if err := run(ctx, args, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
