package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// pochta import runs the rules on receipt: a rule that marks read, one
// that deletes (counted as "deleted by rules" in the summary, nothing
// stored); --no-rules runs none of them.
func TestImportRunsRules(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	pochta, err := app.Open(ctx, app.Config{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pochta.Service.Bootstrap(ctx, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	var boxes []int64
	for i, name := range []string{"With rules", "Without rules"} {
		port := 2525 + i
		box, err := pochta.Service.CreateMailbox(ctx, service.System, service.MailboxInput{Type: ptrTo(store.MailboxSMTP), Name: &name, Port: &port})
		if err != nil {
			t.Fatal(err)
		}
		boxes = append(boxes, box.ID)
	}
	for _, rule := range []service.RuleInput{
		{Name: ptrTo("Read invoices"), Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"invoice"}}},
			Actions: &service.RuleActionsInput{Read: ptrTo("read")}},
		{Name: ptrTo("Delete junk"), Conditions: &[]service.RuleCondition{{Field: "subject", Op: "contains", Values: []string{"junk"}}},
			Actions: &service.RuleActionsInput{Delete: ptrTo(true)}},
	} {
		if _, err := pochta.Service.CreateRule(ctx, service.System, rule); err != nil {
			t.Fatal(err)
		}
	}
	pochta.Close()

	dir := t.TempDir()
	for _, subject := range []string{"Invoice 12", "Junk offer", "Plain note"} {
		writeFile(t, filepath.Join(dir, strings.Fields(subject)[0]+".eml"),
			"From: a@example.com\r\nTo: b@example.com\r\nSubject: "+subject+"\r\n\r\nbody of "+subject+"\r\n")
	}
	importInto := func(box int64, extra ...string) map[string]int {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := append([]string{"import", "--data", data, "--mailbox", strconv.FormatInt(box, 10), "--quiet"}, extra...)
		if err := run(ctx, append(args, dir), nil, &stdout, &stderr); err != nil {
			t.Fatalf("import %v: %v\n%s%s", extra, err, stdout.String(), stderr.String())
		}
		return summaryCounts(t, stdout.String())
	}
	// stored gives the mailbox's messages by subject, and whether read.
	stored := func(box int64) map[string]bool {
		t.Helper()
		pochta, err := app.Open(ctx, app.Config{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer pochta.Close()
		page, err := pochta.Store.Messages(ctx, store.MessageFilter{MailboxIDs: []int64{box}}, store.MessageSort{}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, m := range page.Items {
			out[m.Subject] = m.Read
		}
		return out
	}

	if counts := importInto(boxes[0]); counts["stored"] != 2 || counts["deleted by rules"] != 1 || counts["failed"] != 0 || counts["duplicates skipped"] != 0 {
		t.Errorf("import with rules: %v", counts)
	}
	if got := stored(boxes[0]); len(got) != 2 || !got["Invoice 12"] || got["Plain note"] {
		t.Errorf("stored with rules (subject: read): %v", got)
	}
	if counts := importInto(boxes[1], "--no-rules"); counts["stored"] != 3 || counts["deleted by rules"] != 0 {
		t.Errorf("import --no-rules: %v", counts)
	}
	if got := stored(boxes[1]); len(got) != 3 || got["Invoice 12"] || got["Junk offer"] || got["Plain note"] {
		t.Errorf("stored without rules (subject: read): %v", got)
	}
}
