package service

import (
	"context"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
)

// Deliver stores a received message in a mailbox, with the module's
// storage settings and the mailbox's (else its site's) charset. It is for
// the receiving paths, which act for Pochta itself; it checks no rights.
func (s *Service) Deliver(ctx context.Context, mailbox store.Mailbox, raw []byte, uid *store.UID, origin string) (intake.Result, error) {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return intake.Result{}, err
	}
	charset := mailbox.Charset
	if charset == "" {
		if site, err := s.store.SiteByID(ctx, mailbox.SiteID); err == nil {
			charset = site.Charset
		}
	}
	options := intake.Options{
		SaveSource:         settings.SaveSource,
		SaveAttachments:    settings.SaveAttachments,
		MaxAttachmentBytes: int64(settings.MaxAttachmentSizeKB) * 1024,
		Charset:            charset,
		UID:                uid,
		Origin:             origin,
	}
	return intake.Deliver(ctx, s.store, s.log, mailbox, raw, options)
}

// ImportMessage stores a message given by a person or a script (the API's
// upload, "pochta import") as if it had been received: admins into any
// mailbox, a user into their own.
func (s *Service) ImportMessage(ctx context.Context, actor *Actor, mailboxID int64, raw []byte, origin string) (intake.Result, error) {
	mailbox, err := s.changeableMailbox(ctx, actor, mailboxID)
	if err != nil {
		return intake.Result{}, err
	}
	return s.Deliver(ctx, mailbox, raw, nil, origin)
}
