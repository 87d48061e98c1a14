package service

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// The job runner: the rules' follow-up work (webhooks, forwards, training,
// deferred deletes), which the intake wrote in each message's own
// transaction. Every Pochta process runs one; runners sharing a database
// claim each due job under a lease (store.ClaimJob), so that one job runs in
// one process at a time. A runner that dies mid-job leaves its lease to
// expire and the job to run again: delivery is at least once, and a
// webhook's X-Pochta-Delivery header (the job's ID) lets the receiver drop a
// repeat.

// Outbound is the outbound mail queue a forward hands its message to (the
// SMTP issue's queue; app wires it). from is the envelope sender.
type Outbound interface {
	Enqueue(ctx context.Context, from string, to []string, message io.Reader) error
}

// ErrNoOutbound is what forwards fail with until an outbound queue is
// configured.
var ErrNoOutbound = errors.New("outbound queue not configured: forwarding needs the SMTP outbound queue")

// noOutbound is the Outbound of a service that has none.
type noOutbound struct{}

func (noOutbound) Enqueue(context.Context, string, []string, io.Reader) error { return ErrNoOutbound }

// outboundHolder lets app set the queue after the service is made.
type outboundHolder struct {
	queue Outbound
	host  string
}

// SetOutbound gives the service the outbound queue forwards go through and
// the SMTP hostname that queue greets with. The forwards' envelope sender
// is postmaster of that name (Pochta's own domain, so that the receiver's
// SPF check of the forward passes), and their loop header names it, so
// that two installs forwarding to each other each see their own name come
// back (os.Hostname is often a container's id, the same on both or
// meaningless to the other).
func (s *Service) SetOutbound(queue Outbound, hostname string) {
	s.outbound.Store(&outboundHolder{queue: queue, host: hostname})
}

// loopHost is the name this install's forwards carry in the loop header;
// "" before app sets the queue, when any loop header blocks a forward.
func (s *Service) loopHost() string {
	if h := s.outbound.Load(); h != nil {
		return h.host
	}
	return ""
}

// newView is the rules' view of a parsed message, knowing this install's
// loop header.
func (s *Service) newView(parsed *mime.Message, mailboxID int64) *rules.View {
	view := rules.NewView(parsed, mailboxID)
	view.LoopHost = s.loopHost()
	return view
}

func (s *Service) outboundQueue() (Outbound, string) {
	if h := s.outbound.Load(); h != nil && h.queue != nil {
		return h.queue, "postmaster@" + h.host
	}
	host, _ := os.Hostname()
	return noOutbound{}, "postmaster@" + host
}

// SetPublicURL sets the address the web admin and the API are reached at
// ("https://mail.example.com"), from which a webhook's link to a message's
// raw source is made.
func (s *Service) SetPublicURL(url string) {
	s.publicURL.Store(strings.TrimSuffix(url, "/"))
}

// Webhook delivery.
const (
	// WebhookTimeout bounds one attempt, connection to the last byte of
	// the answer.
	WebhookTimeout = 30 * time.Second
	// WebhookGiveUp is how long a webhook is retried from its first
	// attempt before it is given up.
	WebhookGiveUp = 24 * time.Hour
	// jobLease is how long a claimed job is its runner's: longer than an
	// attempt takes.
	jobLease = 5 * time.Minute
	// maxWebhookText bounds the text and HTML a webhook's body carries.
	maxWebhookText = 1 << 20
)

// webhookRetries is the growing wait after each failed attempt; past the
// last one the wait stays the last, until WebhookGiveUp, where the last
// retry is made.
var webhookRetries = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour}

func retryDelay(attempt int) time.Duration {
	if attempt-1 < len(webhookRetries) {
		return webhookRetries[max(0, attempt-1)]
	}
	return webhookRetries[len(webhookRetries)-1]
}

// permanentError is a job failure that no retry will mend.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// RunJobs runs the job runner until ctx ends: workers claim due jobs and
// run them, and wait a little when none is due.
func (s *Service) RunJobs(ctx context.Context, workers int) {
	host, _ := os.Hostname()
	var wg sync.WaitGroup
	for i := range max(1, workers) {
		holder := fmt.Sprintf("%s:%d:%s:%d", host, os.Getpid(), randomText(), i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ran, err := s.RunDueJob(ctx, holder)
				if err != nil && ctx.Err() == nil {
					s.logger.Error("job runner", "error", err)
				}
				if ran {
					continue
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	wg.Wait()
}

func randomText() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RunDueJob claims one due job for holder and runs it, reporting whether
// there was one.
func (s *Service) RunDueJob(ctx context.Context, holder string) (bool, error) {
	job, ok, err := s.store.ClaimJob(ctx, holder, jobLease)
	if err != nil || !ok {
		return false, err
	}
	var payload jobPayload
	if err := json.Unmarshal(job.Payload, &payload); err != nil {
		return true, s.store.FinishJob(ctx, job.ID, holder, store.JobFailed, time.Time{}, "payload: "+err.Error())
	}
	var runErr error
	retryAt := time.Time{}
	switch job.Kind {
	case JobWebhook:
		runErr = s.runWebhook(ctx, job, payload)
	case JobForward:
		runErr = s.runForward(ctx, job, payload)
	case JobSpamTrain:
		runErr = s.runTraining(ctx, job, payload)
	case JobDelete:
		var later bool
		later, runErr = s.runDelete(ctx, job)
		if later && runErr == nil {
			// Its other jobs are not done: wait for them, whatever it
			// takes (a webhook retried for a day).
			return true, s.store.FinishJob(ctx, job.ID, holder, store.JobPending, s.now().Add(time.Minute), "waiting for the message's other jobs")
		}
	default:
		runErr = permanentError{fmt.Errorf("unknown job kind %q", job.Kind)}
	}
	var permanent permanentError
	switch {
	case runErr == nil:
		return true, s.store.FinishJob(ctx, job.ID, holder, store.JobDone, time.Time{}, "")
	case errors.As(runErr, &permanent) || job.Kind != JobWebhook:
		return true, s.store.FinishJob(ctx, job.ID, holder, store.JobFailed, time.Time{}, runErr.Error())
	case s.now().Sub(job.CreatedAt) >= WebhookGiveUp:
		s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelError, Type: "rule", MailboxID: job.MailboxID, RuleID: payload.RuleID, MessageID: job.MessageID},
			worklog.Part("log.webhook_gave_up", job.Attempts)))
		return true, s.store.FinishJob(ctx, job.ID, holder, store.JobFailed, time.Time{}, runErr.Error())
	default:
		// The last retry comes at the latest a day after the job was
		// written (its first attempt is claimed at once, so never
		// before): a wait past it would try again beyond the day.
		retryAt = s.now().Add(retryDelay(job.Attempts))
		if deadline := job.CreatedAt.Add(WebhookGiveUp); retryAt.After(deadline) {
			retryAt = deadline
		}
		return true, s.store.FinishJob(ctx, job.ID, holder, store.JobPending, retryAt, runErr.Error())
	}
}

// webhookBody is the JSON a webhook receives: the parsed message and where
// its raw source is.
type webhookBody struct {
	Event      string           `json:"event"` // "receive" or "manual"
	RuleID     int64            `json:"rule_id"`
	DeliveryID string           `json:"delivery_id"`
	Message    webhookMessage   `json:"message"`
	Attachment []AttachmentView `json:"attachments"`
}

type webhookMessage struct {
	ID         int64     `json:"id"`
	MailboxID  int64     `json:"mailbox_id"`
	MessageID  string    `json:"message_id"`
	Subject    string    `json:"subject"`
	From       string    `json:"from"`
	ReplyTo    string    `json:"reply_to"`
	To         string    `json:"to"`
	Cc         string    `json:"cc"`
	Date       time.Time `json:"date"`
	ReceivedAt time.Time `json:"received_at"`
	Size       int64     `json:"size"`
	Spam       string    `json:"spam"`
	SpamRating *int      `json:"spam_rating"`
	Text       string    `json:"text"`
	HTML       string    `json:"html"` // as sent: the receiver sanitises it for display
	RawURL     string    `json:"raw_url"`
}

// runWebhook makes one attempt: a POST of the message as JSON, signed
// with HMAC-SHA256 of the body under the rule's secret
// (X-Pochta-Signature: sha256=hex), with the attempt's number and the
// delivery's ID, through the network guard: a webhook reaches no loopback
// or private address unless the "allowed networks" setting lists it.
func (s *Service) runWebhook(ctx context.Context, job store.Job, payload jobPayload) error {
	if job.MessageID == 0 {
		return permanentError{errors.New("the message was deleted before its webhook ran")}
	}
	m, err := s.store.MessageByID(ctx, job.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return permanentError{errors.New("the message was deleted before its webhook ran")}
	}
	if err != nil {
		return err
	}
	parsed, err := s.parseStored(ctx, m)
	if err != nil {
		return err
	}
	secret := ""
	if len(payload.Secret) > 0 {
		if secret, err = s.box.Open(payload.Secret); err != nil {
			return permanentError{fmt.Errorf("the webhook's secret cannot be read: %w", err)}
		}
	}
	delivery := strconv.FormatInt(job.ID, 10)
	body := webhookBody{Event: payload.Event, RuleID: payload.RuleID, DeliveryID: delivery, Attachment: []AttachmentView{},
		Message: webhookMessage{ID: m.ID, MailboxID: m.MailboxID, MessageID: m.MessageID, Subject: m.Subject, From: m.From, ReplyTo: m.ReplyTo,
			To: m.To, Cc: m.Cc, Date: m.Date, ReceivedAt: m.ReceivedAt, Size: m.Size, Spam: m.Spam, SpamRating: m.SpamRating,
			Text: cut(parsed.Text, maxWebhookText), HTML: cut(parsed.HTML, maxWebhookText)}}
	if base, _ := s.publicURL.Load().(string); base != "" {
		body.Message.RawURL = base + "/api/v1/messages/" + strconv.FormatInt(m.ID, 10) + "/raw"
	}
	if attachments, err := s.store.Attachments(ctx, m.ID); err == nil {
		for _, a := range attachments {
			body.Attachment = append(body.Attachment, AttachmentView{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size,
				ContentID: a.ContentID, Dropped: a.Dropped})
		}
	}
	encoded, err := json.Marshal(body)
	if err != nil {
		return permanentError{err}
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, payload.URL, bytes.NewReader(encoded))
	if err != nil {
		return permanentError{fmt.Errorf("webhook URL: %w", err)}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(encoded)
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("User-Agent", "Pochta-Webhook/1")
	request.Header.Set("X-Pochta-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	request.Header.Set("X-Pochta-Attempt", strconv.Itoa(job.Attempts))
	request.Header.Set("X-Pochta-Delivery", delivery)
	client := s.guardedDialer(ctx).HTTPClient(WebhookTimeout)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	entry := store.LogEntry{Level: store.LevelRequest, Type: "rule", MailboxID: m.MailboxID, RuleID: payload.RuleID, MessageID: m.ID}
	response, err := client.Do(request)
	if err != nil {
		entry.Level = store.LevelError
		s.log.Record(ctx, worklog.Say(entry, worklog.Part("log.webhook_failed", job.Attempts, worklog.Subject(payload.URL), err)))
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(response.Body, 64<<10))
	response.Body.Close()
	if response.StatusCode < 200 || response.StatusCode > 299 {
		entry.Level = store.LevelError
		s.log.Record(ctx, worklog.Say(entry, worklog.Part("log.webhook_status", job.Attempts, worklog.Subject(payload.URL), response.Status)))
		return fmt.Errorf("webhook answered %s", response.Status)
	}
	entry.Level = store.LevelReply
	s.log.Record(ctx, worklog.Say(entry, worklog.Part("log.webhook_delivered", job.Attempts, worklog.Subject(payload.URL), response.Status)))
	return nil
}

func cut(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	return strings.ToValidUTF8(text[:limit], "")
}

// runForward hands the message, with Pochta's loop header added, to the
// outbound queue. Mail that is automatic, forwarded by Pochta already or
// too travelled is not forwarded (checked again here, on the source as
// stored).
func (s *Service) runForward(ctx context.Context, job store.Job, payload jobPayload) error {
	if job.MessageID == 0 {
		return permanentError{errors.New("the message was deleted before its forward ran")}
	}
	m, err := s.store.MessageByID(ctx, job.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return permanentError{errors.New("the message was deleted before its forward ran")}
	}
	if err != nil {
		return err
	}
	source, err := s.store.MessageSource(ctx, m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return permanentError{errors.New("the message's source was not kept (\"save message source\" is off): nothing to forward")}
	}
	if err != nil {
		return err
	}
	view := s.newView(mime.Parse(source, mime.Options{}), m.MailboxID)
	entry := store.LogEntry{Level: store.LevelInfo, Type: "rule", MailboxID: m.MailboxID, RuleID: payload.RuleID, MessageID: m.ID}
	if reason := rules.ForwardLoop(view); reason != rules.LoopNone {
		step := rules.Step{Kind: rules.KindForward, RuleID: payload.RuleID, Addresses: payload.To, Blocked: reason}
		line := step.LogLine()
		s.log.Record(ctx, worklog.Say(entry, worklog.Part(line.Key, line.Args...)))
		return nil
	}
	host := view.LoopHost
	if host == "" {
		host, _ = os.Hostname()
	}
	forwarded := append([]byte(rules.LoopHeader+": "+host+"\r\n"), source...)
	queue, from := s.outboundQueue()
	if err := queue.Enqueue(ctx, from, payload.To, bytes.NewReader(forwarded)); err != nil {
		entry.Level = store.LevelError
		s.log.Record(ctx, worklog.Say(entry, worklog.Part("log.forward_failed", strings.Join(payload.To, ", "), err)))
		if errors.Is(err, ErrNoOutbound) {
			return permanentError{err}
		}
		return err
	}
	s.log.Record(ctx, worklog.Say(entry, worklog.Part("log.forward_queued", strings.Join(payload.To, ", "))))
	return nil
}

// runTraining trains the filter with a message as a rule marked it on
// receipt.
func (s *Service) runTraining(ctx context.Context, job store.Job, payload jobPayload) error {
	if job.MessageID == 0 {
		return nil // deleted: nothing to learn from
	}
	m, err := s.store.MessageByID(ctx, job.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	parsed, err := s.parseStored(ctx, m)
	if err != nil {
		return err
	}
	class := spam.Class(payload.Class)
	if class != spam.Spam && class != spam.Ham {
		return permanentError{fmt.Errorf("class %q", payload.Class)}
	}
	if _, err := (spam.Store{St: s.store}).TrainMessage(ctx, m.ID, spam.Tokenize(parsed), class); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.spamCounts.forget()
	return nil
}

// runDelete deletes a message a rule deleted once its other jobs are done;
// later says they are not yet.
func (s *Service) runDelete(ctx context.Context, job store.Job) (later bool, err error) {
	if job.MessageID == 0 {
		return false, nil
	}
	unfinished, err := s.store.UnfinishedJobs(ctx, job.MessageID, JobDelete)
	if err != nil {
		return false, err
	}
	if unfinished > 0 {
		return true, nil
	}
	_, err = s.store.DeleteMessages(ctx, []int64{job.MessageID})
	return false, err
}
