package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// Passwords of the users every harness has.
const (
	auditorPassword = "auditor-password-1"
	userPassword    = "user-password-1"
)

// harness is the API over a fresh database with one user of each role.
// admin, auditor and user are Authorization header values (bearer tokens,
// so that requests skip the deliberately slow password check).
type harness struct {
	env     *servicetest.Env
	handler http.Handler
	logs    *lockedBuffer

	admin, auditor, user       string
	adminID, auditorID, userID int64
}

// newHarness makes a harness over a fresh SQLite database, or over dsn when
// given (testpeer.PostgresDSN).
func newHarness(t testing.TB, dsn ...string) *harness {
	t.Helper()
	env := servicetest.New(t, dsn...)
	logs := &lockedBuffer{}
	h := &harness{env: env, logs: logs, handler: New(env.Service, slog.New(slog.NewTextHandler(logs, nil)))}
	auditor := env.AddUser(t, "auditor", auditorPassword, store.RoleAuditor)
	user := env.AddUser(t, "user", userPassword, store.RoleUser)
	h.admin, h.adminID = h.tokenFor(t, env.Admin), env.Admin.User.ID
	h.auditor, h.auditorID = h.tokenFor(t, auditor), auditor.User.ID
	h.user, h.userID = h.tokenFor(t, user), user.User.ID
	return h
}

// tokenFor makes an API token for actor and gives its Authorization value.
func (h *harness) tokenFor(t testing.TB, actor *service.Actor) string {
	t.Helper()
	secret, _, err := h.env.Service.CreateToken(context.Background(), h.env.Admin, actor.User.ID, "test")
	if err != nil {
		t.Fatalf("token for %s: %v", actor.User.Login, err)
	}
	return "Bearer " + secret
}

// addAdmin adds an admin with the given interface language and gives its
// Authorization value.
func (h *harness) addAdmin(t testing.TB, login, language string) string {
	t.Helper()
	actor := h.env.AddUser(t, login, "admin-password-2", store.RoleAdmin)
	if _, err := h.env.Service.UpdateUser(context.Background(), h.env.Admin, actor.User.ID, service.UserInput{Language: &language}); err != nil {
		t.Fatal(err)
	}
	return h.tokenFor(t, actor)
}

func basicAuth(login, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+password))
}

// do sends a request to the API. A non-empty body is sent as JSON.
func (h *harness) do(t testing.TB, auth, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.10:40000"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// expect sends a request and fails the test unless the answer has status.
func (h *harness) expect(t testing.TB, want int, auth, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := h.do(t, auth, method, path, body)
	if rec.Code != want {
		t.Fatalf("%s %s %s: status %d, want %d; body %s", method, path, body, rec.Code, want, rec.Body)
	}
	return rec
}

// decodeAs decodes a response body into T.
func decodeAs[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

// lockedBuffer collects log output from handlers safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
