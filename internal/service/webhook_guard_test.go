package service_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// A webhook to this machine or an internal network, in whatever spelling,
// is refused when the rule is saved, unless the allowed networks include
// it; a name that resolves to loopback is refused when it is called.
func TestWebhookInternalTargets(t *testing.T) {
	env := servicetest.New(t)
	ctx := context.Background()
	save := func(target string) error {
		t.Helper()
		_, err := env.Service.CreateRule(ctx, env.Admin, service.RuleInput{Name: ptr("Hook " + target),
			Actions: &service.RuleActionsInput{Webhook: service.Some(service.RuleWebhookInput{URL: target, Secret: "s"})}})
		return err
	}
	internal := []string{"http://127.0.0.1/in", "http://[::1]:8080/in", "http://10.0.0.5/in", "https://169.254.169.254/latest/meta-data",
		"http://0.0.0.0:9000/", "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/",
		"http://127.1:8080/", "http://192.168.1.10/", "http://[fd00::1]/", "http://localhost:8080/in", "http://api.localhost/", "http://ｌｏｃａｌｈｏｓｔ:18932/", "http://127。0。0。1:18932/",
		"http://LOCALHOST./", "http://user:pass@127.0.0.1/"}
	for _, target := range internal {
		if got := fieldError(t, save(target), "en")["actions.webhook.url"]; !strings.Contains(got, "Allowed networks") {
			t.Errorf("%s: %q", target, got)
		}
	}
	if got := fieldError(t, save("http://2130706433/"), "ru")["actions.webhook.url"]; !strings.Contains(got, "Разрешённые внутренние сети") {
		t.Errorf("in Russian: %q", got)
	}
	for _, target := range []string{"https://hooks.example.com/in", "http://8.8.8.8/in", "https://[2001:4860:4860::8888]/in"} {
		if err := save(target); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
	// The admin allows loopback and one internal network: those are
	// saved, others still refused.
	networks := []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8"}
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &networks}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"http://127.0.0.1/in", "http://2130706433/", "http://[::1]/", "http://10.0.0.5/in", "http://localhost/in"} {
		if err := save(target); err != nil {
			t.Errorf("allowed %s: %v", target, err)
		}
	}
	if got := fieldError(t, save("http://192.168.1.10/"), "en")["actions.webhook.url"]; got == "" {
		t.Error("a network not allowed was saved")
	}
	empty := []string{}
	if _, err := env.Service.UpdateSettings(ctx, env.Admin, service.SettingsInput{AllowedNetworks: &empty}); err != nil {
		t.Fatal(err)
	}

	// A name is not checked at save but at each call: a rule kept from
	// before (stored as it is) calling a name of this machine is refused
	// by the guarded dialer, and nothing reaches the server.
	var calls atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer server.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(server.URL, "http://"))
	tried := 0
	for _, name := range []string{"ip6-localhost", "localhost"} {
		if addresses, err := net.LookupHost(name); err != nil || len(addresses) == 0 {
			continue
		}
		tried++
		inbox := smtpMailbox(t, env, "Inbound "+name, 2600+len(name))
		storeRule(t, env, rules.Rule{Name: "Old hook " + name, Active: true, OnReceive: true, MailboxID: inbox,
			Actions: rules.Actions{Webhook: &rules.Webhook{URL: "http://" + net.JoinHostPort(name, port) + "/in"}}})
		stored, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(message("Hello", "world")), "API")
		if err != nil {
			t.Fatal(err)
		}
		runDue(t, env)
		job := jobsOf(t, env, stored.ID)[service.JobWebhook]
		if job.State != store.JobPending || job.Attempts != 1 || !strings.Contains(job.LastError, "not allowed") {
			t.Errorf("%s: %+v", name, job)
		}
	}
	if tried == 0 {
		t.Error("no name of this machine resolves here: the call-time check went untested")
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the guarded webhook reached the server %d times", n)
	}
}
