package service_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// wantThrottled fails unless err is a throttled sign-in that waits want.
func wantThrottled(t *testing.T, err error, want time.Duration) {
	t.Helper()
	var throttled *service.ThrottledError
	if !errors.As(err, &throttled) || !errors.Is(err, service.ErrThrottled) || !errors.Is(err, service.ErrUnauthenticated) {
		t.Fatalf("got %v, want a throttled sign-in", err)
	}
	if throttled.RetryAfter != want {
		t.Errorf("wait %v, want %v", throttled.RetryAfter, want)
	}
}

// signInLines gives the work log's sign-in lines in language.
func signInLines(t *testing.T, env *servicetest.Env, language string) []string {
	t.Helper()
	entries, err := env.Service.Log(context.Background(), env.Admin, store.LogFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, entry := range entries {
		if entry.Type == "signin" {
			lines = append(lines, service.LogText(language, entry))
		}
	}
	return lines
}

// Wrong passwords for admin from several addresses slow those addresses
// down, with a wait that doubles, and leave the admin's right password from
// anywhere else accepted at once (the old throttle refused it everywhere
// for 15 minutes after five failures). Each address's slowing down is one
// line in the work log.
func TestSignInThrottleSlowsTheGuesserNotTheOwner(t *testing.T) {
	env := servicetest.New(t)
	env.Clock.Set(time.Now())
	ctx := context.Background()
	attackers := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"}
	for _, address := range attackers {
		for range 3 {
			if _, err := env.Service.Login(ctx, "admin", "guess", address); !errors.Is(err, service.ErrUnauthenticated) || errors.Is(err, service.ErrThrottled) {
				t.Fatalf("wrong password from %s: %v", address, err)
			}
		}
		_, err := env.Service.Login(ctx, "admin", "guess", address)
		wantThrottled(t, err, time.Second)
	}
	if _, err := env.Service.Login(ctx, "ADMIN", servicetest.AdminPassword, "203.0.113.10"); err != nil {
		t.Fatalf("the right password from a fresh address: %v", err)
	}
	// From a guessing address even the right password waits: it is not
	// checked, or guessing could go on.
	_, err := env.Service.Login(ctx, "admin", servicetest.AdminPassword, attackers[0])
	wantThrottled(t, err, time.Second)

	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		env.Clock.Advance(want / 2)
		if _, err := env.Service.Login(ctx, "admin", "guess", attackers[0]); errors.Is(err, service.ErrThrottled) || !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("a guess after the wait: %v", err)
		}
		_, err := env.Service.Login(ctx, "admin", "guess", attackers[0])
		wantThrottled(t, err, want)
	}

	english, russian := signInLines(t, env, "en"), signInLines(t, env, "ru")
	if len(english) != len(attackers) {
		t.Fatalf("sign-in lines: %q, want one per guessing address", english)
	}
	for _, address := range attackers {
		want := fmt.Sprintf("Sign-in as admin from %s slowed down after 3 wrong passwords: the next attempt is accepted in 1 s", address)
		wantRussian := fmt.Sprintf("Вход под логином admin с адреса %s замедлен: неверных паролей подряд — 3; следующая попытка будет принята через 1 с", address)
		if !containsPrefix(english, want) || !containsPrefix(russian, wantRussian) {
			t.Errorf("no line for %s: %q %q", address, english, russian)
		}
	}
}

// Trying many logins from one address slows the address down for every
// login; the slowing down is one line of the work log that names the
// address.
func TestSignInThrottlePerAddress(t *testing.T) {
	env := servicetest.New(t)
	env.Clock.Set(time.Now())
	ctx := context.Background()
	for i := range 10 {
		if _, err := env.Service.Login(ctx, fmt.Sprintf("user%d", i), "guess", "198.51.100.9"); errors.Is(err, service.ErrThrottled) {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	_, err := env.Service.Login(ctx, "admin", servicetest.AdminPassword, "198.51.100.9")
	wantThrottled(t, err, time.Second)
	if _, err := env.Service.Login(ctx, "admin", servicetest.AdminPassword, "198.51.100.10"); err != nil {
		t.Errorf("from another address: %v", err)
	}
	want := "Sign-in from 198.51.100.9 slowed down after 10 wrong passwords for various logins (the last one for user9): the next attempt is accepted in 1 s"
	if lines := signInLines(t, env, "en"); !containsPrefix(lines, want) {
		t.Errorf("sign-in lines %q, want %q", lines, want)
	}
}

// A login that is not text (the web form takes any bytes) is still said in
// the work log line, made text, rather than losing the line.
func TestSignInThrottleLogsALoginThatIsNotText(t *testing.T) {
	env := servicetest.New(t)
	env.Clock.Set(time.Now())
	for range 3 {
		if _, err := env.Service.Login(context.Background(), "bad\x00login\xff", "guess", "198.51.100.9"); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("a login that is not text: %v", err)
		}
	}
	want := "Sign-in as badlogin\uFFFD from 198.51.100.9 slowed down after 3 wrong passwords"
	if lines := signInLines(t, env, "en"); !containsPrefix(lines, want) {
		t.Errorf("sign-in lines %q, want %q", lines, want)
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, line := range lines {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}
