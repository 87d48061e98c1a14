package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/store"
)

func TestQueueCommands(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(data, app.SQLiteFileName))
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.EnqueueOutbound(ctx, store.NewOutbound{Sender: "alice@example.test", Recipients: []string{"bob@elsewhere.test"},
		Raw: []byte("Subject: hi\r\n\r\nbody\r\n"), Subject: "hi", NotBefore: time.Now().Add(time.Hour)},
		store.NewOutbound{Kind: store.OutboundBounce, Recipients: []string{"carol@example.test"}, Raw: []byte("x\r\n")})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(ctx, []string{"queue", "list", "--data", data}, nil, &stdout, io.Discard); err != nil {
		t.Fatalf("queue list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "<> -> carol@example.test (queued)") ||
		!strings.Contains(lines[2], "alice@example.test -> bob@elsewhere.test (queued)") {
		t.Fatalf("queue list printed %q", stdout.String())
	}
	stdout.Reset()
	if err := run(ctx, []string{"queue", "retry", "--data", data, "1"}, nil, &stdout, io.Discard); err != nil ||
		stdout.String() != "message 1 will be tried again now\n" {
		t.Fatalf("queue retry: %q %v", stdout.String(), err)
	}
	stdout.Reset()
	if err := run(ctx, []string{"queue", "delete", "--data", data, "1", "2"}, nil, &stdout, io.Discard); err != nil {
		t.Fatalf("queue delete: %v", err)
	}
	stdout.Reset()
	if err := run(ctx, []string{"queue", "list", "--data", data}, nil, &stdout, io.Discard); err != nil || strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("after deleting: %q %v", stdout.String(), err)
	}
	for _, args := range [][]string{{"queue", "retry", "--data", data}, {"queue", "delete", "--data", data, "x"},
		{"queue", "delete", "--data", data, "999"}, {"queue", "list", "--data", data, "--status", "lost"}} {
		if err := run(ctx, args, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
