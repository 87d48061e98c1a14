package service

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/netguard"
	"pochta.dev/pochta/internal/store"
)

// The outbound queue as the admin sees it: the list, one message, "retry
// now" and delete (the web admin's Queue page, /api/v1/queue, `pochta
// queue`). The queue itself (package queue) delivers; the service only
// reads and changes its rows, so it imports no protocol package.

// QueueStatuses are the statuses a queued message shows, and the list's
// filter: "sending" is a queued message a process holds the lease of.
var QueueStatuses = []string{"queued", "sending", "sent", "failed"}

// QueueFilter narrows [Service.OutboundQueue].
type QueueFilter struct {
	Status string // one of QueueStatuses, "" all ("sending" lists the queued ones)
	Cursor string
	Limit  int // 0: 50; at most 200
}

// QueuedMessage is a message of the outbound queue.
type QueuedMessage struct {
	ID            int64             `json:"id"`
	Kind          string            `json:"kind"` // mail, bounce, delay
	Sender        string            `json:"sender"`
	Subject       string            `json:"subject"`
	Size          int64             `json:"size"`
	Status        string            `json:"status"`
	Attempts      int               `json:"attempts"`
	LastReply     string            `json:"last_reply"`
	NextAttemptAt *time.Time        `json:"next_attempt_at"` // null once sent or failed
	LastAttemptAt *time.Time        `json:"last_attempt_at"`
	CreatedAt     time.Time         `json:"created_at"`
	Recipients    []QueuedRecipient `json:"recipients"`
	// Queued reports whether it still waits ("retry now" applies).
	Queued bool `json:"-"`
}

// QueuedRecipient is one recipient's state: queued, sent or failed.
type QueuedRecipient struct {
	Address   string `json:"address"`
	Status    string `json:"status"`
	LastReply string `json:"last_reply"`
}

// QueuePage is a page of the queue, newest first.
type QueuePage struct {
	Items      []QueuedMessage `json:"items"`
	NextCursor string          `json:"next_cursor"`
}

func (s *Service) queuedView(m store.OutboundMessage) QueuedMessage {
	view := QueuedMessage{ID: m.ID, Kind: m.Kind, Sender: m.Sender, Subject: m.Subject, Size: m.Size, Status: m.State,
		Attempts: m.Attempts, LastReply: m.LastReply, CreatedAt: m.CreatedAt, Recipients: []QueuedRecipient{}}
	if m.State == store.OutboundQueued {
		next := m.NextAttemptAt
		view.NextAttemptAt = &next
		view.Queued = true
		if m.Sending(s.now()) {
			view.Status = "sending"
		}
	}
	if !m.LastAttemptAt.IsZero() {
		last := m.LastAttemptAt
		view.LastAttemptAt = &last
	}
	for _, r := range m.Recipients {
		view.Recipients = append(view.Recipients, QueuedRecipient{Address: r.Address, Status: r.State, LastReply: r.LastReply})
	}
	return view
}

// OutboundQueue lists the outbound queue for admins and auditors (who read
// everything); only admins retry and delete.
func (s *Service) OutboundQueue(ctx context.Context, actor *Actor, filter QueueFilter) (QueuePage, error) {
	if err := requireReadAll(actor); err != nil {
		return QueuePage{}, err
	}
	if filter.Status != "" && !slices.Contains(QueueStatuses, filter.Status) {
		errs := fieldErrors{}
		errs.add("status", "error.choice", i18n.Key("field.status"))
		return QueuePage{}, errs.err()
	}
	state := filter.Status
	if state == "sending" {
		state = store.OutboundQueued
	}
	limit := filter.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	page, err := s.store.OutboundMessages(ctx, store.OutboundFilter{State: state, Cursor: filter.Cursor, Limit: limit})
	if err != nil {
		return QueuePage{}, err
	}
	out := QueuePage{Items: []QueuedMessage{}, NextCursor: page.NextCursor}
	for _, m := range page.Messages {
		view := s.queuedView(m)
		if filter.Status == "sending" && view.Status != "sending" {
			continue
		}
		out.Items = append(out.Items, view)
	}
	return out, nil
}

// OutboundMessage gives one message of the queue to admins and auditors.
func (s *Service) OutboundMessage(ctx context.Context, actor *Actor, id int64) (QueuedMessage, error) {
	if err := requireReadAll(actor); err != nil {
		return QueuedMessage{}, err
	}
	m, err := s.store.OutboundMessageByID(ctx, id)
	if err != nil {
		return QueuedMessage{}, wrapNotFound("queued message", err)
	}
	return s.queuedView(m), nil
}

// ErrNotQueued is returned by RetryOutbound for a message already sent or
// given up (a conflict).
var ErrNotQueued = fmt.Errorf("the message is not waiting in the queue: %w", ErrConflict)

// RetryOutbound makes a queued message due now ("retry now").
func (s *Service) RetryOutbound(ctx context.Context, actor *Actor, id int64) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	err := s.store.RetryOutboundNow(ctx, id)
	switch {
	case errors.Is(err, store.ErrConflict):
		return ErrNotQueued
	case err != nil:
		return wrapNotFound("queued message", err)
	}
	s.audit(ctx, actor, "outbound message retried", "message", id)
	if wake := s.queueWake.Load(); wake != nil {
		(*wake)()
	}
	return nil
}

// DeleteOutbound removes a message from the queue: it is not sent (a
// delivery in flight may still complete).
func (s *Service) DeleteOutbound(ctx context.Context, actor *Actor, id int64) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	if err := s.store.DeleteOutbound(ctx, id); err != nil {
		return wrapNotFound("queued message", err)
	}
	s.audit(ctx, actor, "outbound message deleted", "message", id)
	return nil
}

// SetQueueWake gives the service the local queue runner's wake-up, called
// after "retry now" so that this process tries at once.
func (s *Service) SetQueueWake(wake func()) { s.queueWake.Store(&wake) }

// queueWakeHolder is the type of Service.queueWake.
type queueWakeHolder = atomic.Pointer[func()]

// OutboundSettings are what the outbound queue reads at each delivery.
type OutboundSettings struct {
	Host, TLS, Login, Password string
	Port                       int
	SkipVerify                 bool
	// AllowedNetworks: where direct delivery for users may go (netguard).
	AllowedNetworks []netip.Prefix
	Timeout         time.Duration
}

// OutboundSettings gives the smarthost (its password decrypted) and the
// network policy, for Pochta's own use: no rights are checked.
func (s *Service) OutboundSettings(ctx context.Context) (OutboundSettings, error) {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return OutboundSettings{}, err
	}
	out := OutboundSettings{Host: settings.SmarthostHost, Port: settings.SmarthostPort, TLS: settings.SmarthostTLS,
		Login: settings.SmarthostLogin, Password: settings.SmarthostPassword, SkipVerify: settings.SmarthostSkipVerify,
		Timeout: time.Duration(settings.ConnectionTimeout) * time.Second}
	for _, entry := range settings.AllowedNetworks {
		if prefix, err := netguard.ParseNetwork(entry); err == nil {
			out.AllowedNetworks = append(out.AllowedNetworks, prefix)
		}
	}
	return out, nil
}
