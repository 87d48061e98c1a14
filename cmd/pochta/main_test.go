package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"pochta.dev/pochta/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll()
	os.Exit(code)
}

// buildBinary builds cmd/pochta once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "pochta")
	build := exec.Command("go", "build", "-o", binary, ".")
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, output)
	}
	return binary
}

// startServer runs "pochta serve" with extra arguments and environment and
// returns the base URL and everything it printed on stderr up to listening.
func startServer(t *testing.T, binary string, env []string, args ...string) (*exec.Cmd, string, string) {
	t.Helper()
	command := exec.Command(binary, append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	command.Env = append(os.Environ(), env...)
	stderr, err := command.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := command.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		command.Process.Kill()
		command.Wait()
	})
	listening := regexp.MustCompile(`http=http://(127\.0\.0\.1:\d+)`)
	var printed strings.Builder
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if match := listening.FindStringSubmatch(lines.Text()); match != nil {
			go io.Copy(io.Discard, stderr)
			return command, "http://" + match[1], printed.String()
		}
	}
	t.Fatalf("server exited before listening:\n%s", printed.String())
	return nil, "", ""
}

func get(t *testing.T, url, login, password string) (int, string) {
	t.Helper()
	request, _ := http.NewRequest("GET", url, nil)
	if login != "" {
		request.SetBasicAuth(login, password)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	return response.StatusCode, string(body)
}

// TestServeFirstStart is the README's first command: an empty data folder,
// no configuration; the admin password is printed once; the login page and
// the API answer; SIGTERM ends the process with status 0.
func TestServeFirstStart(t *testing.T) {
	binary := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	command, base, printed := startServer(t, binary, nil, "--data", data)
	match := regexp.MustCompile(`sign in as user "admin" with password "([^"]+)"`).FindStringSubmatch(printed)
	if match == nil {
		t.Fatalf("no first admin password printed:\n%s", printed)
	}
	if status, body := get(t, base+"/healthz", "", ""); status != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", status, body)
	}
	if status, body := get(t, base+"/login", "", ""); status != 200 || !strings.Contains(body, "<form") {
		t.Errorf("/login = %d", status)
	}
	if status, body := get(t, base+"/api/v1/settings", "admin", match[1]); status != 200 || !strings.Contains(body, `"connection_timeout":30`) {
		t.Errorf("API with the printed password = %d %s", status, body)
	}
	if status, body := get(t, base+"/metrics", "", ""); status != 200 || !strings.Contains(body, "pochta_http_requests_total") {
		t.Errorf("/metrics = %d", status)
	}
	for _, name := range []string{"pochta.db", "secret.key"} {
		if _, err := os.Stat(filepath.Join(data, name)); err != nil {
			t.Errorf("data folder lacks %s: %v", name, err)
		}
	}
	if err := command.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- command.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}

	// A second start prints no password and keeps the admin.
	_, base, printed = startServer(t, binary, nil, "--data", data)
	if strings.Contains(printed, "password") {
		t.Errorf("second start printed a password:\n%s", printed)
	}
	if status, _ := get(t, base+"/api/v1/settings", "admin", match[1]); status != 200 {
		t.Errorf("admin password lost on restart: %d", status)
	}
}

// TestServePostgres starts the server on PostgreSQL with the admin password
// from the environment.
func TestServePostgres(t *testing.T) {
	binary := buildBinary(t)
	dsn := testpeer.PostgresDSN(t)
	_, base, printed := startServer(t, binary, []string{"POCHTA_ADMIN_PASSWORD=pg-admin-pass", "POCHTA_DB=" + dsn}, "--data", t.TempDir())
	if !strings.Contains(printed, "db=postgres") {
		t.Errorf("not serving from PostgreSQL:\n%s", printed)
	}
	if status, body := get(t, base+"/api/v1/users", "admin", "pg-admin-pass"); status != 200 || !strings.Contains(body, `"login":"admin"`) {
		t.Errorf("/api/v1/users = %d %s", status, body)
	}
}

func TestAdminCommands(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"user", "add", "--data", data, "--login", "ivan", "--role", "auditor", "--name", "Иван"}, strings.NewReader("ivan-password\n"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `created user "ivan"`) {
		t.Errorf("user add printed %q", stdout.String())
	}
	err = run(ctx, []string{"user", "add", "--data", data, "--login", "ivan", "--password", "another-pass"}, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "Login is already in use") {
		t.Errorf("duplicate login: %v", err)
	}
	err = run(ctx, []string{"user", "add", "--data", data, "--login", "short", "--password", "x"}, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("short password: %v", err)
	}
	stdout.Reset()
	if err := run(ctx, []string{"token", "create", "--data", data, "--user", "ivan", "--name", "ci"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("token create: %v", err)
	}
	if token := strings.TrimSpace(stdout.String()); !strings.HasPrefix(token, "pt_") || len(token) < 40 {
		t.Errorf("token = %q", token)
	}
	stdout.Reset()
	if err := run(ctx, []string{"token", "list", "--data", data, "--user", "ivan"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("token list: %v", err)
	}
	fields := strings.Fields(strings.Split(strings.TrimSpace(stdout.String()), "\n")[1])
	if len(fields) < 5 || fields[len(fields)-1] != "ci" || strings.Contains(stdout.String(), "pt_") {
		t.Fatalf("token list printed %q", stdout.String())
	}
	stdout.Reset()
	if err := run(ctx, []string{"token", "revoke", "--data", data, fields[0]}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("token revoke: %v", err)
	}
	stdout.Reset()
	if err := run(ctx, []string{"token", "list", "--data", data}, nil, &stdout, &stderr); err != nil || strings.Count(strings.TrimSpace(stdout.String()), "\n") != 0 {
		t.Errorf("after revoking: %q, %v", stdout.String(), err)
	}
	tests := [][]string{{}, {"frobnicate"}, {"user"}, {"serve", "--nope"}, {"token", "create", "--data", data},
		{"token", "revoke", "--data", data}, {"token", "revoke", "--data", data, "x"}, {"token", "revoke", "--data", data, "999"}}
	for _, args := range tests {
		if err := run(ctx, args, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
