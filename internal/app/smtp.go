package app

import (
	"context"
	"errors"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/smtpd"
	"pochta.dev/pochta/internal/store"
)

// newSMTPServer builds the internal SMTP server over the service: its
// users sign in, its active SMTP mailboxes are the listeners, its intake
// stores the messages, its settings give the limits and the certificate.
func (a *App) newSMTPServer() *smtpd.Server {
	return smtpd.New(smtpd.Config{
		Mailboxes: smtpMailboxes{a},
		Auth:      smtpAuth{a.Service},
		Sink:      a.Service.Intake(),
		Settings:  a.smtpSettings,
		Log:       a.WorkLog,
		Logger:    a.logger,
		DataDir:   a.Config.DataDir,
		Hostname:  a.Config.SMTPHostname,
	})
}

func (a *App) smtpSettings(ctx context.Context) (smtpd.Settings, error) {
	settings, err := a.Service.SystemSettings(ctx)
	if err != nil {
		return smtpd.Settings{}, err
	}
	return smtpd.Settings{
		TLSCertificate:      settings.SMTPTLSCertificate,
		TLSKey:              settings.SMTPTLSKey,
		AllowPlaintextAuth:  settings.SMTPAllowPlaintextAuth,
		MaxLineLength:       settings.SMTPMaxLineLength,
		MaxConnectionsPerIP: settings.SMTPMaxConnectionsPerIP,
		MaxRecipients:       settings.SMTPMaxRecipients,
	}, nil
}

type smtpMailboxes struct{ a *App }

func (m smtpMailboxes) ActiveSMTPMailboxes(ctx context.Context) ([]store.Mailbox, error) {
	return m.a.Service.ActiveSMTPMailboxes(ctx)
}

func (m smtpMailboxes) ListenerError(ctx context.Context, mailboxID int64, err error) {
	if err := m.a.Service.SetSMTPListenerError(ctx, mailboxID, err); err != nil && ctx.Err() == nil {
		m.a.logger.Error("smtp: recording a listener's error", "mailbox", mailboxID, "error", err)
	}
}

// smtpAuth checks SMTP AUTH against Pochta's users through the sign-in
// throttle, which counts failures by login and client address.
type smtpAuth struct{ s *service.Service }

func (a smtpAuth) Authenticate(ctx context.Context, login, password, address string) error {
	_, err := a.s.Login(ctx, login, password, address)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, service.ErrThrottled):
		return smtpd.ErrThrottled
	case errors.Is(err, service.ErrUnauthenticated):
		return smtpd.ErrBadCredentials
	}
	return err
}
