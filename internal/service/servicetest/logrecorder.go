package servicetest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// LogRecorder is a slog.Handler for tests that keeps each Info record as
// one line, `"message" key=value ...`, without the time, for a test to look
// for (the service's audit lines, say, through each front end).
type LogRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (a *LogRecorder) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo
}

func (a *LogRecorder) Handle(_ context.Context, record slog.Record) error {
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

func (a *LogRecorder) WithAttrs([]slog.Attr) slog.Handler { return a }
func (a *LogRecorder) WithGroup(string) slog.Handler      { return a }

// Has reports whether line was logged.
func (a *LogRecorder) Has(line string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, logged := range a.lines {
		if logged == line {
			return true
		}
	}
	return false
}

func (a *LogRecorder) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.lines, "\n")
}
