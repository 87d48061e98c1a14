package service_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
)

// A message that gives the filter no tokens at all (no header field, a
// body of punctuation) is stored unrated with a warning in the work log,
// on its message; a message with words is rated and warns of nothing.
func TestSpamNoTokensWarned(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{SpamMinWordCount: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	// Something learned of both classes, or nothing is rated at all.
	for _, sample := range []struct {
		class spam.Class
		raw   string
	}{{spam.Spam, message("Cheap pills", "viagra casino lottery")}, {spam.Ham, message("Meeting notes", "agenda minutes")}} {
		stored, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(sample.raw), "API")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (spam.Store{St: env.Store}).TrainMessage(ctx, stored.ID, spam.Tokenize(mime.Parse([]byte(sample.raw), mime.Options{})), sample.class); err != nil {
			t.Fatal(err)
		}
	}
	env.Clock.Advance(2 * time.Second) // past the learned counts' cache

	const empty = "\r\n... !!! -- ?? ;\r\n"
	if tokens := spam.Tokenize(mime.Parse([]byte(empty), mime.Options{})); len(tokens) != 0 {
		t.Fatalf("the test's message gives tokens: %q", tokens)
	}
	silent, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(empty), "API")
	if err != nil {
		t.Fatal(err)
	}
	if view, _ := env.Service.MessageSummary(ctx, env.Admin, silent.ID); view.SpamRating != nil {
		t.Errorf("a message without tokens was rated %d", *view.SpamRating)
	}
	warnings := func(messageID int64) []store.LogEntry {
		t.Helper()
		entries, err := env.Service.Log(ctx, env.Admin, store.LogFilter{MessageID: messageID})
		if err != nil {
			t.Fatal(err)
		}
		var out []store.LogEntry
		for _, entry := range entries {
			for _, part := range entry.Parts {
				if part.Key == "log.spam_no_tokens" {
					out = append(out, entry)
				}
			}
		}
		return out
	}
	got := warnings(silent.ID)
	if len(got) != 1 || got[0].Type != "spam" || got[0].Level != store.LevelError || got[0].MailboxID != inbox ||
		!strings.Contains(got[0].Text, "gave no words to rate") {
		t.Fatalf("warnings for the message without tokens: %+v", got)
	}

	worded, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Casino", "viagra casino")), "API")
	if err != nil {
		t.Fatal(err)
	}
	if view, _ := env.Service.MessageSummary(ctx, env.Admin, worded.ID); view.SpamRating == nil {
		t.Error("a message with words was not rated")
	}
	if got := warnings(worded.ID); len(got) != 0 {
		t.Errorf("a message with words warned: %+v", got)
	}
}

// Bulk training with a message that gives no tokens learns nothing and
// says so in the log, with a warning.
func TestSpamTrainingNoTokensWarned(t *testing.T) {
	var logged bytes.Buffer
	env := servicetest.NewLogged(t, slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx := context.Background()
	before, err := env.Store.SpamTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := trainOne(ctx, env, "spam", "\r\n... !!! -- ?? ;\r\n"); err != nil {
		t.Fatal(err)
	}
	if after, _ := env.Store.SpamTotals(ctx); after != before {
		t.Errorf("totals %+v after training a message without tokens, before %+v", after, before)
	}
	if text := logged.String(); !strings.Contains(text, "level=WARN") || !strings.Contains(text, "gave no tokens") || strings.Count(text, "\n") != 1 {
		t.Errorf("logged:\n%s", text)
	}
	logged.Reset()
	if err := trainOne(ctx, env, "spam", message("Cheap pills", "viagra casino")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logged.String(), "gave no tokens") {
		t.Errorf("a message with words warned:\n%s", logged.String())
	}
}

// trainOne trains one message through bulk training, as "pochta spam
// train" does with a folder of one.
func trainOne(ctx context.Context, env *servicetest.Env, class, raw string) error {
	example, err := service.SpamExample(class, []byte(raw))
	if err != nil {
		return err
	}
	_, err = env.Service.TrainSpamBulk(ctx, env.Admin, []spam.Example{example}, nil)
	return err
}
