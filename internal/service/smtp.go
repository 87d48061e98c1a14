package service

import (
	"context"
	"time"

	"pochta.dev/pochta/internal/store"
)

// ActiveSMTPMailboxes lists the active SMTP mailboxes, each a listener of
// the internal SMTP server. It checks no rights: it is for Pochta itself.
func (s *Service) ActiveSMTPMailboxes(ctx context.Context) ([]store.Mailbox, error) {
	active := true
	var all []store.Mailbox
	cursor := ""
	for {
		page, err := s.store.Mailboxes(ctx, store.MailboxFilter{Types: []string{store.MailboxSMTP}, Active: &active},
			store.MailboxSort{Column: "id"}, cursor, 1000)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// SetSMTPListenerError records on an SMTP mailbox that its listener could
// not be opened (err), or that it is open again (nil).
func (s *Service) SetSMTPListenerError(ctx context.Context, mailboxID int64, err error) error {
	state := store.CheckState{LastCheckAt: s.now()}
	if err != nil {
		state.LastError, state.FailureStreak = err.Error(), 1
	}
	return s.store.SetCheckState(ctx, mailboxID, state)
}

// SystemSettings gives the module settings for Pochta's own use (the SMTP
// server's), through the cache.
func (s *Service) SystemSettings(ctx context.Context) (Settings, error) {
	return s.currentSettings(ctx)
}

// SMTPStatus is the internal SMTP server's state: the settings page's SMTP
// panel, GET /api/v1/smtp/status and /metrics.
type SMTPStatus struct {
	Running   bool       `json:"running"`
	StartedAt *time.Time `json:"started_at"` // null while stopped
	// Received is the messages stored (250 given) since this process
	// started: API.md's "received". MessagesReceived repeats it under the
	// name the first version of the API gave it, for scripts that read it.
	Received         int64                `json:"received"`
	MessagesReceived int64                `json:"messages_received"`
	ConnectionsTotal int64                `json:"connections_total"`
	ConnectionsNow   int64                `json:"connections_now"`
	Listeners        []SMTPListenerStatus `json:"listeners"`
}

// SMTPListenerStatus is one SMTP mailbox's listener.
type SMTPListenerStatus struct {
	MailboxID        int64      `json:"mailbox_id"`
	Mailbox          string     `json:"mailbox"`
	Address          string     `json:"address"`
	Listening        bool       `json:"listening"`
	Error            string     `json:"error"` // why it is not listening ("" when it is)
	StartedAt        *time.Time `json:"started_at"`
	Received         int64      `json:"received"`
	MessagesReceived int64      `json:"messages_received"` // the same, as the first version named it
	ConnectionsTotal int64      `json:"connections_total"`
	ConnectionsNow   int64      `json:"connections_now"`
}

// SMTPControl is the running SMTP server as the service sees it; internal/app
// sets it with [Service.SetSMTPControl] (the service imports no protocol
// package).
type SMTPControl interface {
	Status() SMTPStatus
	Start()
	Stop()
}

type smtpControlHolder struct{ control SMTPControl }

// SetSMTPControl gives the service the SMTP server it reports on and starts
// and stops.
func (s *Service) SetSMTPControl(control SMTPControl) {
	s.smtp.Store(&smtpControlHolder{control})
}

// SMTPStatus reports the SMTP server's state to admins and auditors; without
// a server (the CLI, a test) it is stopped with no listeners.
func (s *Service) SMTPStatus(ctx context.Context, actor *Actor) (SMTPStatus, error) {
	if err := requireReadAll(actor); err != nil {
		return SMTPStatus{}, err
	}
	holder := s.smtp.Load()
	if holder == nil {
		return SMTPStatus{Listeners: []SMTPListenerStatus{}}, nil
	}
	return holder.control.Status(), nil
}

// StartSMTP and StopSMTP are the panel's buttons (admins): stopping closes
// every listener, sessions in flight finish.
func (s *Service) StartSMTP(ctx context.Context, actor *Actor) error {
	return s.switchSMTP(ctx, actor, true)
}

// StopSMTP closes the SMTP server's listeners until StartSMTP.
func (s *Service) StopSMTP(ctx context.Context, actor *Actor) error {
	return s.switchSMTP(ctx, actor, false)
}

func (s *Service) switchSMTP(ctx context.Context, actor *Actor, on bool) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	holder := s.smtp.Load()
	if holder == nil {
		return ErrNotFound
	}
	if on {
		holder.control.Start()
	} else {
		holder.control.Stop()
	}
	s.audit(ctx, actor, "smtp server switched", "running", on)
	return nil
}
