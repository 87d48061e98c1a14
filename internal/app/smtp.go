package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"pochta.dev/pochta/internal/intake"
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
	config := QueueConfig(a.Service, a.logger, a.WorkLog, a.Config.SMTPHostname)
	config.SpoolDir = filepath.Join(a.Config.DataDir, "spool") // cleaned of a crash's leftovers at start
	return queue.New(config)
}

// QueueConfig is the outbound queue's configuration as Pochta wires it (the
// tests of other packages use it too).
func QueueConfig(svc *service.Service, logger *slog.Logger, log worklog.Recorder, hostname string) queue.Config {
	return queue.Config{Store: svc.Store(), Log: log, Logger: logger, Hostname: hostname, Settings: queueSettings(svc),
		Local: queueLocal{s: svc, hostname: hostname}}
}

// queueLocal is the outbound queue's door to Pochta's own mailboxes: a
// recipient in a domain an active SMTP mailbox serves (its "domains", not
// a catch-all listener's every domain) is stored in that mailbox through
// the intake, as the SMTP server stores it, instead of being sent out.
type queueLocal struct {
	s        *service.Service
	hostname string
}

// mailboxFor gives the active SMTP mailbox serving address's domain (the
// first by ID when several do).
func (l queueLocal) mailboxFor(ctx context.Context, address string) (store.Mailbox, bool, error) {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return store.Mailbox{}, false, nil
	}
	domain := strings.ToLower(address[at+1:])
	mailboxes, err := l.s.ActiveSMTPMailboxes(ctx)
	if err != nil {
		return store.Mailbox{}, false, err
	}
	for _, mailbox := range mailboxes {
		if slices.Contains(smtpd.ParseDomains(mailbox.Domains), domain) {
			return mailbox, true, nil
		}
	}
	return store.Mailbox{}, false, nil
}

func (l queueLocal) Serves(ctx context.Context, address string) (bool, error) {
	_, ok, err := l.mailboxFor(ctx, address)
	return ok, err
}

// Deliver stores the message once per mailbox of the recipients, each
// with Return-Path, X-Original-To and a Received field of its own, and
// returns once every copy has committed.
func (l queueLocal) Deliver(ctx context.Context, from string, recipients []string, open func() (io.ReadCloser, error)) error {
	byMailbox := map[int64][]string{}
	var mailboxes []store.Mailbox
	for _, to := range recipients {
		mailbox, ok, err := l.mailboxFor(ctx, to)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no mailbox serves %s any more", to)
		}
		if _, seen := byMailbox[mailbox.ID]; !seen {
			mailboxes = append(mailboxes, mailbox)
		}
		byMailbox[mailbox.ID] = append(byMailbox[mailbox.ID], to)
	}
	for _, mailbox := range mailboxes {
		if err := l.store(ctx, mailbox, from, byMailbox[mailbox.ID], open); err != nil {
			return err
		}
	}
	return nil
}

func (l queueLocal) store(ctx context.Context, mailbox store.Mailbox, from string, to []string, open func() (io.ReadCloser, error)) error {
	source, err := open()
	if err != nil {
		return err
	}
	defer source.Close()
	now := time.Now()
	hostname := l.hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	// The queue checked the addresses (no CR, LF or brackets).
	header := fmt.Sprintf("Return-Path: <%s>\r\nX-Original-To: %s\r\nReceived: by %s (Pochta) from its outbound queue;\r\n\t%s\r\n",
		from, strings.Join(to, ",\r\n\t"), hostname, now.Format(time.RFC1123Z))
	stored := make(chan intake.Result, 1)
	delivery := intake.Delivery{Targets: []intake.Target{{Mailbox: mailbox}}, Origin: "SMTP", ReceivedAt: now,
		Envelope: &intake.Envelope{From: from, Recipients: to}}
	if err := l.s.Intake().Add(ctx, io.MultiReader(strings.NewReader(header), source), delivery,
		func(results []intake.Result) { stored <- results[0] }); err != nil {
		return err
	}
	select {
	case result := <-stored:
		return result.Err
	case <-ctx.Done():
		return ctx.Err()
	}
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
	out := service.SMTPStatus{Running: st.Running, StartedAt: timeOrNil(st.Running, st.StartedAt), Received: st.MessagesReceived,
		MessagesReceived: st.MessagesReceived,
		ConnectionsTotal: st.ConnectionsTotal, ConnectionsNow: st.ConnectionsNow, Listeners: []service.SMTPListenerStatus{}}
	for _, l := range st.Listeners {
		out.Listeners = append(out.Listeners, service.SMTPListenerStatus{MailboxID: l.MailboxID, Mailbox: l.Mailbox, Address: l.Address,
			Listening: l.Listening, Error: l.Error, StartedAt: timeOrNil(l.Listening, l.StartedAt), Received: l.MessagesReceived,
			MessagesReceived: l.MessagesReceived,
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

// unixSeconds is a start time as Prometheus has times (0: not started).
func unixSeconds(t *time.Time) float64 {
	if t == nil {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// registerSMTPMetrics puts the SMTP server's and the outbound queue's
// figures in /metrics.
func (a *App) registerSMTPMetrics() {
	a.Metrics.Registry.MustRegister(&smtpCollector{a: a})
}

var (
	smtpRunning      = prometheus.NewDesc("pochta_smtp_running", "1 while the internal SMTP server is running.", nil, nil)
	smtpMessages     = prometheus.NewDesc("pochta_smtp_messages_received_total", "Messages the internal SMTP server stored (250 given).", nil, nil)
	smtpConnections  = prometheus.NewDesc("pochta_smtp_connections_total", "Connections the internal SMTP server accepted.", nil, nil)
	smtpOpen         = prometheus.NewDesc("pochta_smtp_connections", "Connections open now.", nil, nil)
	smtpStarted      = prometheus.NewDesc("pochta_smtp_started_at_seconds", "When the internal SMTP server started (Unix time; 0 while stopped).", nil, nil)
	smtpFailed       = prometheus.NewDesc("pochta_smtp_listeners_failed", "Listeners of active SMTP mailboxes that could not be bound.", nil, nil)
	listenerLabels   = []string{"mailbox_id", "address"}
	listenerUp       = prometheus.NewDesc("pochta_smtp_listener_up", "1 while an SMTP mailbox's listener is bound, 0 when it could not be.", listenerLabels, nil)
	listenerMessages = prometheus.NewDesc("pochta_smtp_listener_messages_received_total", "Messages an SMTP mailbox's listener stored since it started.",
		listenerLabels, nil)
	listenerConnections = prometheus.NewDesc("pochta_smtp_listener_connections_total", "Connections an SMTP mailbox's listener accepted since it started.",
		listenerLabels, nil)
	listenerOpen    = prometheus.NewDesc("pochta_smtp_listener_connections", "Connections open now on an SMTP mailbox's listener.", listenerLabels, nil)
	listenerStarted = prometheus.NewDesc("pochta_smtp_listener_started_at_seconds", "When an SMTP mailbox's listener was bound (Unix time; 0 when it is not).",
		listenerLabels, nil)

	queueMessages = prometheus.NewDesc("pochta_queue_messages", "Messages of the outbound queue by state: queued (not tried yet), "+
		"deferred (tried, waiting for another try), sent and failed (kept 7 days).", []string{"state"}, nil)
	queueOldest     = prometheus.NewDesc("pochta_queue_oldest_message_age_seconds", "Age of the oldest message still queued (0: none).", nil, nil)
	queueAttempts   = prometheus.NewDesc("pochta_queue_attempts_total", "Delivery attempts this process made (one per message and try).", nil, nil)
	queueRecipients = prometheus.NewDesc("pochta_queue_recipients_total", "Recipients this process's attempts delivered, deferred or failed "+
		"(bounced); local counts those of the delivered stored in Pochta's own mailboxes.", []string{"outcome"}, nil)
	queueScrapeError = prometheus.NewDesc("pochta_queue_stats_error", "1 when the queue's counts could not be read from the database.", nil, nil)

	// The intake's group commit, which every SMTP message's 250 waits for:
	// messages per commit is how many share one disk sync.
	intakeCommits  = prometheus.NewDesc("pochta_intake_commits_total", "Transactions the intake committed to store received messages.", nil, nil)
	intakeMessages = prometheus.NewDesc("pochta_intake_messages_committed_total", "Messages the intake's commits stored (all ways in: SMTP, POP3, IMAP, API, import).",
		nil, nil)
)

// smtpCollector reads the SMTP server's status and the queue's counts at
// each scrape.
type smtpCollector struct{ a *App }

func (c *smtpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{smtpRunning, smtpStarted, smtpMessages, smtpConnections, smtpOpen, smtpFailed, listenerUp, listenerMessages,
		listenerConnections, listenerOpen, listenerStarted, queueMessages, queueOldest, queueAttempts, queueRecipients, queueScrapeError, intakeCommits, intakeMessages} {
		ch <- d
	}
}

func (c *smtpCollector) Collect(ch chan<- prometheus.Metric) {
	status := smtpControl{c.a.SMTP}.Status()
	running, failed := 0.0, 0.0
	if status.Running {
		running = 1
	}
	ch <- prometheus.MustNewConstMetric(smtpRunning, prometheus.GaugeValue, running)
	ch <- prometheus.MustNewConstMetric(smtpStarted, prometheus.GaugeValue, unixSeconds(status.StartedAt))
	ch <- prometheus.MustNewConstMetric(smtpMessages, prometheus.CounterValue, float64(status.Received))
	ch <- prometheus.MustNewConstMetric(smtpConnections, prometheus.CounterValue, float64(status.ConnectionsTotal))
	ch <- prometheus.MustNewConstMetric(smtpOpen, prometheus.GaugeValue, float64(status.ConnectionsNow))
	for _, l := range status.Listeners {
		labels := []string{strconv.FormatInt(l.MailboxID, 10), l.Address}
		up := 1.0
		if !l.Listening {
			up, failed = 0, failed+1
		}
		ch <- prometheus.MustNewConstMetric(listenerUp, prometheus.GaugeValue, up, labels...)
		ch <- prometheus.MustNewConstMetric(listenerStarted, prometheus.GaugeValue, unixSeconds(l.StartedAt), labels...)
		ch <- prometheus.MustNewConstMetric(listenerMessages, prometheus.CounterValue, float64(l.Received), labels...)
		ch <- prometheus.MustNewConstMetric(listenerConnections, prometheus.CounterValue, float64(l.ConnectionsTotal), labels...)
		ch <- prometheus.MustNewConstMetric(listenerOpen, prometheus.GaugeValue, float64(l.ConnectionsNow), labels...)
	}
	ch <- prometheus.MustNewConstMetric(smtpFailed, prometheus.GaugeValue, failed)
	intakeCounters := c.a.Service.IntakeCounters()
	ch <- prometheus.MustNewConstMetric(intakeCommits, prometheus.CounterValue, float64(intakeCounters.Commits))
	ch <- prometheus.MustNewConstMetric(intakeMessages, prometheus.CounterValue, float64(intakeCounters.Messages))

	if c.a.Queue == nil {
		return
	}
	counters := c.a.Queue.Counters()
	ch <- prometheus.MustNewConstMetric(queueAttempts, prometheus.CounterValue, float64(counters.Attempts))
	for outcome, n := range map[string]int64{"delivered": counters.Delivered, "local": counters.Local, "deferred": counters.Deferred,
		"failed": counters.Failed} {
		ch <- prometheus.MustNewConstMetric(queueRecipients, prometheus.CounterValue, float64(n), outcome)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.a.Store.OutboundStats(ctx)
	if err != nil {
		c.a.logger.Warn("metrics: the outbound queue's counts", "error", err)
		ch <- prometheus.MustNewConstMetric(queueScrapeError, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueScrapeError, prometheus.GaugeValue, 0)
	for state, n := range map[string]int64{"queued": stats.Queued, "deferred": stats.Deferred, "sent": stats.Sent, "failed": stats.Failed} {
		ch <- prometheus.MustNewConstMetric(queueMessages, prometheus.GaugeValue, float64(n), state)
	}
	age := 0.0
	if !stats.Oldest.IsZero() {
		age = max(0, time.Since(stats.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(queueOldest, prometheus.GaugeValue, age)
}
