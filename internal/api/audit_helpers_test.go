package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// auditRecorder is a slog.Handler that keeps each Info record as one line,
// `"message" key=value ...`, without the time, for a test to look for.
type auditRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (a *auditRecorder) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo
}

func (a *auditRecorder) Handle(_ context.Context, record slog.Record) error {
	line := fmt.Sprintf("%q", record.Message)
	record.Attrs(func(attr slog.Attr) bool {
		line += " " + attr.Key + "=" + attr.Value.String()
		return true
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines = append(a.lines, line)
	return nil
}

func (a *auditRecorder) WithAttrs([]slog.Attr) slog.Handler { return a }
func (a *auditRecorder) WithGroup(string) slog.Handler      { return a }

// has reports whether line was logged.
func (a *auditRecorder) has(line string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, logged := range a.lines {
		if logged == line {
			return true
		}
	}
	return false
}

func (a *auditRecorder) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.lines, "\n")
}
