package service

import (
	"context"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// LogText says a work log line in language (see worklog.Say).
func LogText(language string, entry store.LogEntry) string { return worklog.Text(language, entry) }

// Log lists the work log, newest first. Admins and auditors read all of it;
// a user reads only the entries of mailboxes they own, and the subjects only
// of the messages in them.
func (s *Service) Log(ctx context.Context, actor *Actor, filter store.LogFilter) ([]store.LogEntry, error) {
	lines, err := s.LogLines(ctx, actor, filter)
	entries := make([]store.LogEntry, len(lines))
	for i, line := range lines {
		entries[i] = line.LogEntry
	}
	return entries, err
}

// LogLine is a work log entry with what its reader may do with it.
type LogLine struct {
	store.LogEntry
	// MessageOpen says that the entry's message is still there and the
	// reader may open it (it is in a mailbox they may read).
	MessageOpen bool
}

// LogLines is [Service.Log] with each entry's rights, for a page that
// links the messages its reader may open.
func (s *Service) LogLines(ctx context.Context, actor *Actor, filter store.LogFilter) ([]LogLine, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	var owned map[int64]bool
	if !actor.CanReadAll() {
		ids, err := s.store.OwnedMailboxIDs(ctx, actor.User.ID)
		if err != nil {
			return nil, err
		}
		filter.MailboxIDs = ids
		if ids == nil {
			filter.MailboxIDs = []int64{}
		}
		owned = make(map[int64]bool, len(ids))
		for _, id := range ids {
			owned[id] = true
		}
	}
	if filter.Limit <= 0 {
		filter.Limit = 100
	}
	filter.Limit = min(filter.Limit, 1000)
	entries, err := s.store.Log(ctx, filter)
	lines := make([]LogLine, len(entries))
	for i, entry := range entries {
		if entry.Text == "" {
			entry.Text = worklog.Text(i18n.Fallback, entry) // English, as lines without parts are
		}
		readable := owned == nil || owned[entry.MessageMailboxID]
		if entry.MessageMailboxID != 0 && !readable {
			// A line of one's own mailbox may name a message since
			// moved to another's: its subject is not the reader's to see.
			entry.MessageSubject = ""
		}
		lines[i] = LogLine{LogEntry: entry, MessageOpen: entry.MessageMailboxID != 0 && readable}
	}
	return lines, err
}
