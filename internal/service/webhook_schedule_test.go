package service_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// A webhook whose server always fails is retried on a growing schedule
// for a day: the last retry comes no later than a day after the first
// attempt, none after it; each attempt and the giving up are in the work
// log.
func TestWebhookRetriedForADayAtMost(t *testing.T) {
	env := servicetest.New(t)
	env.Clock.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	env.Store.SetClock(env.Clock.Now)
	ctx := context.Background()
	var mu sync.Mutex
	var attempts []time.Time
	var numbers []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		attempts, numbers = append(attempts, env.Clock.Now()), append(numbers, r.Header.Get("X-Pochta-Attempt"))
		mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer server.Close()
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &[]string{"127.0.0.1/32", "::1/128"}}); err != nil {
		t.Fatal(err)
	}
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	rule, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{Name: ptr("Hook"),
		Actions: &service.RuleActionsInput{Webhook: service.Some(service.RuleWebhookInput{URL: server.URL + "/in", Secret: "s"})}})
	if err != nil {
		t.Fatal(err)
	}
	result, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Hello", "body")), "API")
	if err != nil {
		t.Fatal(err)
	}
	created := jobsOf(t, env, result.ID)[service.JobWebhook].CreatedAt
	// Move the clock to each retry as it falls due, as a runner polling
	// every second would find it.
	for range 100 {
		runDue(t, env)
		job := jobsOf(t, env, result.ID)[service.JobWebhook]
		if job.State != store.JobPending {
			break
		}
		env.Clock.Set(job.RunAt)
	}
	job := jobsOf(t, env, result.ID)[service.JobWebhook]
	if job.State != store.JobFailed || job.Attempts != len(attempts) {
		t.Fatalf("after a day of failures: %+v, %d requests", job, len(attempts))
	}
	first, last := attempts[0], attempts[len(attempts)-1]
	if !first.Equal(created) || last.Sub(first) > service.WebhookGiveUp || last.Sub(first) < service.WebhookGiveUp-4*time.Hour {
		t.Fatalf("attempts from %v to %v (job written %v)", first, last, created)
	}
	var waits []time.Duration
	for i := 1; i < len(attempts); i++ {
		waits = append(waits, attempts[i].Sub(attempts[i-1]))
		if i < len(attempts)-1 && waits[i-1] < waits[max(0, i-2)] {
			t.Errorf("wait %d (%v) shorter than the one before: %v", i, waits[i-1], waits)
		}
		if numbers[i] != itoa(int64(i+1)) {
			t.Errorf("attempt %d sent X-Pochta-Attempt %q", i+1, numbers[i])
		}
	}
	if waits[0] != time.Minute || waits[1] != 5*time.Minute {
		t.Errorf("waits %v", waits)
	}
	// Nothing more once given up, whatever the time.
	env.Clock.Advance(48 * time.Hour)
	runDue(t, env)
	if len(attempts) != job.Attempts {
		t.Errorf("tried again after giving up: %d requests", len(attempts))
	}
	log, err := env.Service.Log(ctx, env.Admin, store.LogFilter{RuleID: rule.ID})
	if err != nil {
		t.Fatal(err)
	}
	text := logText(log)
	for i := 1; i <= len(attempts); i++ {
		if !strings.Contains(text, "Webhook attempt "+itoa(int64(i))+" to ") {
			t.Errorf("attempt %d not in the log:\n%s", i, text)
		}
	}
	if strings.Count(text, "503") != len(attempts) || !strings.Contains(text, "Webhook given up after "+itoa(int64(len(attempts)))+" attempts") {
		t.Errorf("log:\n%s", text)
	}
}
