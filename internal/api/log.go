package api

import (
	"fmt"
	"net/http"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// logEntry is a work log row as the API shows it. The optional references
// are null rather than absent, so that clients can rely on every field of
// API.md being there.
type logEntry struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Level     string    `json:"level"`
	Type      string    `json:"type"`
	Text      string    `json:"text"`
	MailboxID *int64    `json:"mailbox_id"`
	RuleID    *int64    `json:"rule_id"`
	MessageID *int64    `json:"message_id"`
}

func optionalID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// listLog pages the work log, newest first. The service limits a user to
// the rows of their own mailboxes.
func (a *api) listLog(w http.ResponseWriter, r *http.Request, actor *service.Actor) error {
	q := newQuery(r)
	limit := q.limit()
	filter := store.LogFilter{
		MailboxID: q.id("mailbox_id"),
		RuleID:    q.id("rule_id"),
		MessageID: q.id("message_id"),
		Levels:    q.allOf("level", "error.log_level", store.LevelInfo, store.LevelRequest, store.LevelReply, store.LevelError),
		Since:     q.time("since"),
		Until:     q.time("until"),
		BeforeID:  q.cursorID(),
		Limit:     fetchSize(limit),
	}
	if err := q.err(); err != nil {
		return err
	}
	entries, err := a.svc.Log(r.Context(), actor, filter)
	if err != nil {
		return fmt.Errorf("list log: %w", err)
	}
	page, more := trimPage(entries, limit)
	body := listBody[logEntry]{Items: make([]logEntry, 0, len(page))}
	language := a.svc.UserLanguage(r.Context(), actor.User) // the text as the caller reads the rest of the API
	for _, entry := range page {
		body.Items = append(body.Items, logEntry{ID: entry.ID, Time: entry.Time, Level: entry.Level, Type: entry.Type, Text: service.LogText(language, entry),
			MailboxID: optionalID(entry.MailboxID), RuleID: optionalID(entry.RuleID), MessageID: optionalID(entry.MessageID)})
	}
	if more {
		body.NextCursor = encodeIDCursor(page[len(page)-1].ID)
	}
	return respond(w, http.StatusOK, body)
}
