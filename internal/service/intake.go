package service

import (
	"context"
	"io"
	"sync"
	"time"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/store"
)

// Intake gives the service's intake sink, the one door of received mail,
// started on first use: the POP3 fetch, the API upload and "pochta import"
// add their messages to it, and so will the SMTP server and the IMAP sync.
// One sink for the process lets messages of concurrent receivers share
// transactions. [Service.Close] stores what is pending and stops it.
func (s *Service) Intake() *intake.Sink {
	s.sinkOnce.Do(func() {
		s.sink = intake.NewSink(intake.SinkConfig{
			Store:   s.store,
			Log:     s.log,
			Options: s.intakeOptions,
			Judges:  s.judges,
			TempDir: s.tempDir,
		})
	})
	return s.sink
}

// IntakeCounters gives the intake's commit counters for /metrics (the
// SMTP server starts the sink anyway; after Close, the last counts).
func (s *Service) IntakeCounters() intake.Counters { return s.Intake().Counters() }

// Close stores the messages the intake still holds and stops it.
func (s *Service) Close() error {
	s.sinkOnce.Do(func() {}) // no sink is started after Close
	if s.sink != nil {
		return s.sink.Close()
	}
	return nil
}

// intakeOptions are the module's storage settings for a mailbox, with its
// charset (else its site's) as the fallback for undeclared text. The sink
// asks for every message, so both come from caches.
func (s *Service) intakeOptions(ctx context.Context, mailbox store.Mailbox) (intake.Options, error) {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return intake.Options{}, err
	}
	// The mailbox's charset, else its site's: the same rule the view uses
	// when it parses the source again.
	charset := mailbox.Charset
	if charset == "" {
		charset = s.siteCharsets.get(ctx, s, mailbox.SiteID)
	}
	return intake.Options{
		SaveSource:         settings.SaveSource,
		SaveAttachments:    settings.SaveAttachments,
		MaxAttachmentBytes: int64(settings.MaxAttachmentSizeKB) * 1024,
		Charset:            charset,
	}, nil
}

// siteCharsetCache keeps the sites' charsets for the intake, which needs
// one per message. Changing a site clears it.
type siteCharsetCache struct {
	mu      sync.Mutex
	values  map[int64]string
	expires time.Time
}

func (c *siteCharsetCache) get(ctx context.Context, s *Service, siteID int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.now()
	if c.values == nil || now.After(c.expires) {
		c.values, c.expires = map[int64]string{}, now.Add(settingsCacheTTL)
	}
	if charset, ok := c.values[siteID]; ok {
		return charset
	}
	charset := ""
	if site, err := s.store.SiteByID(ctx, siteID); err == nil {
		charset = site.Charset
	}
	c.values[siteID] = charset
	return charset
}

func (c *siteCharsetCache) clear() {
	c.mu.Lock()
	c.values = nil
	c.mu.Unlock()
}

// ImportMessage stores a message given by a person or a script (the API's
// upload) as if it had been received: admins into any mailbox, a user into
// their own. It returns once the message is durable.
func (s *Service) ImportMessage(ctx context.Context, actor *Actor, mailboxID int64, raw io.Reader, origin string) (intake.Result, error) {
	mailbox, err := s.changeableMailbox(ctx, actor, mailboxID)
	if err != nil {
		return intake.Result{}, err
	}
	result, err := s.DeliverOne(ctx, intake.Delivery{Targets: []intake.Target{{Mailbox: mailbox}}, Origin: origin}, raw)
	if err != nil {
		return result, err
	}
	s.audit(ctx, actor, "message imported", "mailbox", mailbox.Name, "mailbox_id", mailbox.ID, "message_id", result.ID,
		"duplicate", result.Duplicate, "dropped", result.Dropped, "origin", origin)
	return result, nil
}

// DeliverOne adds one message to the intake and waits until it is durable
// (or could not be stored). It checks no rights: it is for callers that
// act for Pochta itself, and for the methods above that checked them.
func (s *Service) DeliverOne(ctx context.Context, delivery intake.Delivery, raw io.Reader) (intake.Result, error) {
	stored := make(chan intake.Result, 1)
	err := s.Intake().Add(ctx, raw, delivery, func(results []intake.Result) { stored <- results[0] })
	if err != nil {
		return intake.Result{}, err
	}
	// Once added, the message is stored whatever becomes of ctx; waiting
	// for it keeps the answer true.
	result := <-stored
	return result, result.Err
}
