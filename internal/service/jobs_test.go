package service_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// runDue runs every job due now, as one runner.
func runDue(t *testing.T, env *servicetest.Env) {
	t.Helper()
	for {
		ran, err := env.Service.RunDueJob(context.Background(), "test-runner")
		if err != nil {
			t.Fatal(err)
		}
		if !ran {
			return
		}
	}
}

func jobsOf(t *testing.T, env *servicetest.Env, messageID int64) map[string]store.Job {
	t.Helper()
	jobs, err := env.Store.Jobs(context.Background(), store.JobFilter{MessageID: messageID})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Job{}
	for _, job := range jobs {
		out[job.Kind] = job
	}
	return out
}

// A webhook to a local HTTP server: refused while loopback is not an
// allowed network, then failing with 500 and retried later, then delivered
// with a signature the receiver can check, each attempt in the work log.
func TestWebhookDelivery(t *testing.T) {
	env := servicetest.New(t)
	env.Store.SetClock(env.Clock.Now) // the jobs' run times move with the test's clock
	ctx := context.Background()
	var mu sync.Mutex
	var bodies [][]byte
	var headers []http.Header
	fail := true
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies, headers = append(bodies, body), append(headers, r.Header.Clone())
		if fail {
			http.Error(w, "not now", http.StatusInternalServerError)
		}
	}))
	defer server.Close()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	// A loopback webhook is saved while loopback is allowed; the
	// allowance is then taken back, which the delivery honours.
	allow := func(networks ...string) {
		t.Helper()
		if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &networks}); err != nil {
			t.Fatal(err)
		}
	}
	allow("127.0.0.1/32", "::1/128")
	rule, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{Name: ptr("Hook"),
		Actions: &service.RuleActionsInput{Webhook: service.Some(service.RuleWebhookInput{URL: server.URL + "/in", Secret: "top-secret"})}})
	if err != nil {
		t.Fatal(err)
	}
	allow()
	env.Service.SetPublicURL("https://mail.example.com/")
	result, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Hello", "Привет")), "API")
	if err != nil {
		t.Fatal(err)
	}

	// Loopback is not allowed yet: the attempt is blocked by the guard.
	runDue(t, env)
	job := jobsOf(t, env, result.ID)[service.JobWebhook]
	if job.State != store.JobPending || job.Attempts != 1 || !strings.Contains(job.LastError, "not allowed") || len(bodies) != 0 {
		t.Fatalf("blocked attempt: %+v, %d requests", job, len(bodies))
	}
	allow("127.0.0.1/32", "::1/128")
	runDue(t, env) // not due yet: retried in a minute
	if len(bodies) != 0 {
		t.Fatal("retried before its time")
	}
	env.Clock.Advance(61 * time.Second)
	runDue(t, env)
	job = jobsOf(t, env, result.ID)[service.JobWebhook]
	if job.State != store.JobPending || job.Attempts != 2 || !strings.Contains(job.LastError, "500") || len(bodies) != 1 {
		t.Fatalf("failed attempt: %+v", job)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	env.Clock.Advance(5*time.Minute + time.Second)
	runDue(t, env)
	job = jobsOf(t, env, result.ID)[service.JobWebhook]
	if job.State != store.JobDone || len(bodies) != 2 {
		t.Fatalf("delivered: %+v, %d requests", job, len(bodies))
	}
	last, header := bodies[1], headers[1]
	mac := hmac.New(sha256.New, []byte("top-secret"))
	mac.Write(last)
	if header.Get("X-Pochta-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || header.Get("X-Pochta-Attempt") != "3" ||
		header.Get("X-Pochta-Delivery") == "" {
		t.Errorf("headers: %v", header)
	}
	var body struct {
		Event   string
		RuleID  int64 `json:"rule_id"`
		Message struct {
			ID      int64
			Subject string
			Text    string
			RawURL  string `json:"raw_url"`
		}
	}
	if err := json.Unmarshal(last, &body); err != nil {
		t.Fatal(err)
	}
	if body.Event != "receive" || body.RuleID != rule.ID || body.Message.ID != result.ID || body.Message.Subject != "Hello" ||
		!strings.Contains(body.Message.Text, "Привет") || body.Message.RawURL != "https://mail.example.com/api/v1/messages/"+itoa(result.ID)+"/raw" {
		t.Errorf("body: %s", last)
	}
	log, _ := env.Service.Log(ctx, env.Admin, store.LogFilter{RuleID: rule.ID})
	text := logText(log)
	if !strings.Contains(text, "attempt 2") || !strings.Contains(text, "delivered") {
		t.Errorf("log:\n%s", text)
	}
}

// A forward without an outbound queue fails with a clear error; a deleting
// rule with a forward keeps the message until the forward is done, then
// deletes it.
func TestForwardWithoutQueueAndDeferredDelete(t *testing.T) {
	env := servicetest.New(t)
	env.Store.SetClock(env.Clock.Now)
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	if _, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{Name: ptr("Away"),
		Actions: &service.RuleActionsInput{ForwardTo: &[]string{"boss@example.com"}, Delete: ptr(true)}}); err != nil {
		t.Fatal(err)
	}
	result, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Hello", "text")), "API")
	if err != nil || result.Dropped {
		t.Fatalf("%+v %v", result, err)
	}
	jobs := jobsOf(t, env, result.ID)
	if jobs[service.JobForward].ID == 0 || jobs[service.JobDelete].ID == 0 {
		t.Fatalf("jobs: %+v", jobs)
	}
	runDue(t, env)
	if _, err := env.Store.MessageByID(ctx, result.ID); err == nil {
		// The delete waits a minute when it ran before the forward.
		env.Clock.Advance(2 * time.Minute)
		runDue(t, env)
	}
	if _, err := env.Store.MessageByID(ctx, result.ID); err == nil {
		t.Error("the message was not deleted after its forward")
	}
	all, _ := env.Store.Jobs(ctx, store.JobFilter{Kind: service.JobForward})
	if len(all) != 1 || all[0].State != store.JobFailed || !strings.Contains(all[0].LastError, "outbound queue not configured") {
		t.Errorf("forward job: %+v", all)
	}

	// Auto-submitted mail is not forwarded: no forward job, so the delete
	// drops it at once; the log says why it was not forwarded.
	auto := "Auto-Submitted: auto-replied\r\n" + message("Out of office", "away")
	result, _ = env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(auto), "API")
	if all, _ := env.Store.Jobs(ctx, store.JobFilter{Kind: service.JobForward}); !result.Dropped || len(all) != 1 {
		t.Errorf("an automatic message: %+v, forward jobs %d", result, len(all))
	}
	log, _ := env.Service.Log(ctx, env.Admin, store.LogFilter{})
	if text := logText(log); !strings.Contains(text, "not forwarded to boss@example.com: the message is automatic") {
		t.Errorf("log:\n%s", text)
	}
}
