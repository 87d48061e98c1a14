package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"pochta.dev/pochta/internal/queue"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/smtpd"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// newSMTPServer builds the internal SMTP server over the service.
func (a *App) newSMTPServer() *smtpd.Server {
	config := SMTPConfig(a.Service, a.logger)
	config.Log = a.WorkLog
	config.DataDir = a.Config.DataDir
	config.Hostname = a.Config.SMTPHostname
	config.Relay = a.Queue
	return smtpd.New(config)
}

// newQueue builds the outbound queue over the service's store and settings:
// smtpd relays into it, and the rules' forward action is to.
func (a *App) newQueue() *queue.Queue {
	return queue.New(QueueConfig(a.Service, a.logger, a.WorkLog, a.Config.SMTPHostname))
}

// QueueConfig is the outbound queue's configuration as Pochta wires it (the
// tests of other packages use it too).
func QueueConfig(svc *service.Service, logger *slog.Logger, log worklog.Recorder, hostname string) queue.Config {
	return queue.Config{Store: svc.Store(), Log: log, Logger: logger, Hostname: hostname, Settings: queueSettings(svc)}
}

func queueSettings(svc *service.Service) func(context.Context) (queue.Settings, error) {
	return func(ctx context.Context) (queue.Settings, error) {
		settings, err := svc.OutboundSettings(ctx)
		if err != nil {
			return queue.Settings{}, err
		}
		return queue.Settings{Smarthost: queue.Smarthost{Host: settings.Host, Port: settings.Port, TLS: settings.TLS, Login: settings.Login,
			Password: settings.Password, InsecureSkipVerify: settings.SkipVerify}, AllowedNetworks: settings.AllowedNetworks,
			Timeout: settings.Timeout}, nil
	}
}

// SMTPConfig is the part of an SMTP server's configuration that the service
// gives: its users sign in, its active SMTP mailboxes are the listeners, its
// intake stores the messages, its settings give the limits and the
// certificate. The caller adds the work log, data folder and host name (the
// smtpd tests use it too, so that they run the server as Pochta wires it).
func SMTPConfig(svc *service.Service, logger *slog.Logger) smtpd.Config {
	return smtpd.Config{
		Mailboxes: smtpMailboxes{svc, logger},
		Auth:      smtpAuth{svc},
		Sink:      svc.Intake(),
		Settings:  smtpSettings(svc),
		Logger:    logger,
	}
}

func smtpSettings(svc *service.Service) func(context.Context) (smtpd.Settings, error) {
	return func(ctx context.Context) (smtpd.Settings, error) {
		settings, err := svc.SystemSettings(ctx)
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
}

type smtpMailboxes struct {
	s      *service.Service
	logger *slog.Logger
}

func (m smtpMailboxes) ActiveSMTPMailboxes(ctx context.Context) ([]store.Mailbox, error) {
	return m.s.ActiveSMTPMailboxes(ctx)
}

func (m smtpMailboxes) ListenerError(ctx context.Context, mailboxID int64, err error) {
	if err := m.s.SetSMTPListenerError(ctx, mailboxID, err); err != nil && ctx.Err() == nil {
		m.logger.Error("smtp: recording a listener's error", "mailbox", mailboxID, "error", err)
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

// smtpControl shows the SMTP server to the service (its panel, the API).
type smtpControl struct{ s *smtpd.Server }

func (c smtpControl) Start() { c.s.Start() }
func (c smtpControl) Stop()  { c.s.Stop() }

func (c smtpControl) Status() service.SMTPStatus {
	st := c.s.Status()
	out := service.SMTPStatus{Running: st.Running, StartedAt: timeOrNil(st.Running, st.StartedAt), MessagesReceived: st.MessagesReceived,
		ConnectionsTotal: st.ConnectionsTotal, ConnectionsNow: st.ConnectionsNow, Listeners: []service.SMTPListenerStatus{}}
	for _, l := range st.Listeners {
		out.Listeners = append(out.Listeners, service.SMTPListenerStatus{MailboxID: l.MailboxID, Mailbox: l.Mailbox, Address: l.Address,
			Listening: l.Listening, Error: l.Error, StartedAt: timeOrNil(l.Listening, l.StartedAt), MessagesReceived: l.MessagesReceived,
			ConnectionsTotal: l.ConnectionsTotal, ConnectionsNow: l.ConnectionsNow})
	}
	return out
}

func timeOrNil(set bool, t time.Time) *time.Time {
	if !set || t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// registerSMTPMetrics puts the SMTP server's counters in /metrics.
func (a *App) registerSMTPMetrics() {
	status := func() service.SMTPStatus { return smtpControl{a.SMTP}.Status() }
	a.Metrics.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pochta_smtp_running", Help: "1 while the internal SMTP server is running."},
			func() float64 {
				if status().Running {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pochta_smtp_messages_received_total", Help: "Messages the internal SMTP server stored (250 given)."},
			func() float64 { return float64(status().MessagesReceived) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pochta_smtp_connections_total", Help: "Connections the internal SMTP server accepted."},
			func() float64 { return float64(status().ConnectionsTotal) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pochta_smtp_connections", Help: "Connections open now."},
			func() float64 { return float64(status().ConnectionsNow) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pochta_smtp_listeners_failed", Help: "Listeners of active SMTP mailboxes that could not be bound."},
			func() float64 {
				failed := 0
				for _, l := range status().Listeners {
					if !l.Listening {
						failed++
					}
				}
				return float64(failed)
			}),
	)
}
