package service

import (
	"context"

	"pochta.dev/pochta/internal/fetch"
	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
)

// intakeOptions are the module's storage settings for a mailbox, with its
// charset (else its site's) as the fallback for undeclared text.
func (s *Service) intakeOptions(ctx context.Context, mailbox store.Mailbox, origin string) (intake.Options, error) {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return intake.Options{}, err
	}
	charset := mailbox.Charset
	if charset == "" {
		if site, err := s.store.SiteByID(ctx, mailbox.SiteID); err == nil {
			charset = site.Charset
		}
	}
	return intake.Options{
		SaveSource:         settings.SaveSource,
		SaveAttachments:    settings.SaveAttachments,
		MaxAttachmentBytes: int64(settings.MaxAttachmentSizeKB) * 1024,
		Charset:            charset,
		Origin:             origin,
	}, nil
}

// Deliver stores a received message in a mailbox, with the module's
// storage settings and the mailbox's (else its site's) charset. It is for
// the receiving paths, which act for Pochta itself; it checks no rights.
func (s *Service) Deliver(ctx context.Context, mailbox store.Mailbox, raw []byte, uid *store.UID, origin string) (intake.Result, error) {
	options, err := s.intakeOptions(ctx, mailbox, origin)
	if err != nil {
		return intake.Result{}, err
	}
	options.UID = uid
	return intake.Deliver(ctx, s.store, s.log, mailbox, raw, options)
}

// DeliverBatch stores several fetched messages of a mailbox at once (parsed
// in parallel, one transaction), as [Service.Deliver] does one; it makes the
// service a fetch.BatchDeliverer. Every message without Err is durable when
// it returns.
func (s *Service) DeliverBatch(ctx context.Context, mailbox store.Mailbox, messages []fetch.Incoming, origin string) []fetch.Stored {
	return s.PrepareBatch(ctx, mailbox, messages, origin)()
}

// PrepareBatch parses fetched messages (no database) and returns the
// function that stores them in one transaction; it makes the service a
// fetch.BatchPreparer, so that the fetcher parses the next batch while this
// one commits.
func (s *Service) PrepareBatch(ctx context.Context, mailbox store.Mailbox, messages []fetch.Incoming, origin string) func() []fetch.Stored {
	options, err := s.intakeOptions(ctx, mailbox, origin)
	if err != nil {
		return func() []fetch.Stored {
			out := make([]fetch.Stored, len(messages))
			for i := range out {
				out[i].Err = err
			}
			return out
		}
	}
	items := make([]intake.Item, len(messages))
	for i, m := range messages {
		items[i] = intake.Item{Raw: m.Raw, UID: m.UID}
	}
	prepared := intake.PrepareBatch(mailbox, items, options, 0)
	return func() []fetch.Stored {
		out := make([]fetch.Stored, len(messages))
		for i, result := range intake.StoreBatch(ctx, s.store, s.log, mailbox, prepared) {
			out[i] = fetch.Stored{Duplicate: result.Duplicate, Err: result.Err}
		}
		return out
	}
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
