package service

import (
	"context"
	"io"

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
	// The mailbox's charset, else its site's: the same rule the view uses
	// when it parses the source again.
	charset, err := s.store.MailboxCharset(ctx, mailbox.ID)
	if err != nil {
		charset = mailbox.Charset
	}
	return intake.Options{
		SaveSource:         settings.SaveSource,
		SaveAttachments:    settings.SaveAttachments,
		MaxAttachmentBytes: int64(settings.MaxAttachmentSizeKB) * 1024,
		Charset:            charset,
		Origin:             origin,
		TempDir:            s.tempDir,
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

// DeliverReader stores a received message read from r, of any size (a large
// one is spooled to a file rather than held in memory), as
// [Service.Deliver] does.
func (s *Service) DeliverReader(ctx context.Context, mailbox store.Mailbox, r io.Reader, uid *store.UID, origin string) (intake.Result, error) {
	options, err := s.intakeOptions(ctx, mailbox, origin)
	if err != nil {
		return intake.Result{}, err
	}
	options.UID = uid
	return intake.DeliverReader(ctx, s.store, s.log, mailbox, r, options)
}

// DeliverSpool stores a message the fetcher spooled (a large one), as
// [Service.Deliver] does.
func (s *Service) DeliverSpool(ctx context.Context, mailbox store.Mailbox, spool *intake.Spool, uid *store.UID, origin string) (intake.Result, error) {
	options, err := s.intakeOptions(ctx, mailbox, origin)
	if err != nil {
		return intake.Result{}, err
	}
	options.UID = uid
	return intake.DeliverSpool(ctx, s.store, s.log, mailbox, spool, options)
}

// SpoolOptions say where and how a receiver spools a large message for
// [Service.DeliverSpool].
func (s *Service) SpoolOptions(ctx context.Context) (dir string, compress bool, err error) {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return "", false, err
	}
	return s.tempDir, settings.SaveSource, nil
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
	items := make([]intake.Item, len(messages))
	for i, m := range messages {
		items[i] = intake.Item{Raw: m.Raw, UID: m.UID}
	}
	store := s.PrepareMessages(ctx, mailbox, items, origin)
	return func() []fetch.Stored {
		results := store()
		out := make([]fetch.Stored, len(results))
		for i, result := range results {
			out[i] = fetch.Stored{Duplicate: result.Duplicate, Err: result.Err}
		}
		return out
	}
}

// PrepareMessages parses received messages of a mailbox in parallel (no
// database) and returns the function that stores them in one transaction
// with the module's settings, as [Service.Deliver] stores one. Every
// receiving path that takes many messages at once (the fetcher, "pochta
// import") goes through it. It checks no rights.
func (s *Service) PrepareMessages(ctx context.Context, mailbox store.Mailbox, items []intake.Item, origin string) func() []intake.Result {
	options, err := s.intakeOptions(ctx, mailbox, origin)
	if err != nil {
		return func() []intake.Result {
			out := make([]intake.Result, len(items))
			for i := range out {
				out[i].Err = err
			}
			return out
		}
	}
	prepared := intake.PrepareBatch(mailbox, items, options, 0)
	return func() []intake.Result {
		return intake.StoreBatch(ctx, s.store, s.log, mailbox, prepared)
	}
}

// ImportMessage stores a message given by a person or a script (the API's
// upload, "pochta import") as if it had been received: admins into any
// mailbox, a user into their own.
func (s *Service) ImportMessage(ctx context.Context, actor *Actor, mailboxID int64, raw io.Reader, origin string) (intake.Result, error) {
	mailbox, err := s.changeableMailbox(ctx, actor, mailboxID)
	if err != nil {
		return intake.Result{}, err
	}
	return s.DeliverReader(ctx, mailbox, raw, nil, origin)
}
