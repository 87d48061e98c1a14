package service

import (
	"context"

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
