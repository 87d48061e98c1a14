// Package worklog is the module's work log: what Pochta did, step by step,
// for admins to read in the web admin (connects, commands and replies with
// passwords masked, errors, new messages, rule matches).
//
// Every part writes through the small [Recorder] interface. The log never
// fails its caller: a write error goes to the process log instead.
package worklog

import (
	"context"
	"log/slog"
	"time"

	"pochta.dev/pochta/internal/store"
)

// Recorder takes work log entries.
type Recorder interface {
	Record(ctx context.Context, entries ...store.LogEntry)
}

// Settings is what the log needs to know of the module settings.
type Settings interface {
	// LogPolicy reports whether the log is disabled and how many days it keeps.
	LogPolicy(ctx context.Context) (disabled bool, keepDays int)
}

// Log writes entries to the store.
type Log struct {
	store    *store.Store
	settings Settings
	logger   *slog.Logger
	now      func() time.Time
}

// New makes a Log. settings may be nil: the log is then always on and keeps
// 7 days.
func New(st *store.Store, settings Settings, logger *slog.Logger) *Log {
	return &Log{store: st, settings: settings, logger: logger, now: time.Now}
}

func (l *Log) policy(ctx context.Context) (bool, int) {
	if l.settings == nil {
		return false, 7
	}
	return l.settings.LogPolicy(ctx)
}

// Enabled reports whether entries are kept (the log is not disabled), for a
// caller that writes its lines inside a transaction of its own.
func (l *Log) Enabled(ctx context.Context) bool {
	disabled, _ := l.policy(ctx)
	return !disabled
}

// Record stores entries unless the log is disabled.
func (l *Log) Record(ctx context.Context, entries ...store.LogEntry) {
	if disabled, _ := l.policy(ctx); disabled {
		return
	}
	if err := l.store.AddLog(ctx, entries...); err != nil {
		l.logger.Error("work log write failed", "error", err, "entries", len(entries))
	}
}

// Purge deletes entries older than the configured days.
func (l *Log) Purge(ctx context.Context) (int64, error) {
	_, keepDays := l.policy(ctx)
	return l.store.PurgeLog(ctx, l.now().AddDate(0, 0, -keepDays))
}

// RunPurge purges once at start and then every interval (a day in
// production) until ctx ends.
func (l *Log) RunPurge(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if n, err := l.Purge(ctx); err != nil {
			l.logger.Error("work log purge failed", "error", err)
		} else if n > 0 {
			l.logger.Info("work log purged", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Discard is a Recorder that drops everything, for tests and tools.
type Discard struct{}

// Record drops entries.
func (Discard) Record(context.Context, ...store.LogEntry) {}
