package service

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/rules/rulestore"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// The verdict stage's judges of the service, after the intake's own storage
// settings: the spam rating first, as the rules may test it, then the rules
// that run on receipt. Both run on the sink's workers for every message of
// every receiving path (POP3, SMTP, the API upload, "pochta import"), so
// that what they decide is stored with the message in its one write: the
// flags on its row, the forwards, webhooks and training as jobs in its
// transaction, the rules' lines in its work log.

// judgeSpam rates a message with the Bayesian filter when "check spam on
// receipt" is on: its rating and the words behind it go on the row. It
// never marks spam by itself (SPEC.md "Spam filter": rules decide). With
// nothing learned of either class the message is left unrated, so that a
// rule's "spam probability greater than N" cannot fire on the filter's
// shrug of 50%.
func (s *Service) judgeSpam(ctx context.Context, c *intake.Candidate) {
	settings, err := s.currentSettings(ctx)
	if err != nil || !settings.CheckSpam {
		return
	}
	// Nothing learned of a class yet: no rating, and no tokenizing.
	snapshot, err := s.spamCounts.current(ctx, s)
	if err != nil {
		s.logger.Error("spam rating: read the learned counts", "error", err)
		return
	}
	totals := snapshot.totals
	if totals.Spam == 0 || totals.Ham == 0 {
		return
	}
	tokens := spam.Tokenize(c.Parsed)
	if len(tokens) == 0 {
		c.Verdict.Log = append(c.Verdict.Log, worklog.Say(store.LogEntry{Level: store.LevelError, Type: "spam", MailboxID: c.Mailbox.ID},
			worklog.Part("log.spam_no_tokens", worklog.Subject(c.Message.Subject))))
		return
	}
	counts, err := s.spamCounts.words(ctx, s, snapshot, tokens)
	if err != nil {
		s.logger.Error("spam rating: read the learned counts", "error", err)
		return
	}
	classifier := spam.Classifier{Params: spam.Params{WordsUsed: settings.SpamWordsUsed, MinCount: settings.SpamMinWordCount}}
	result := classifier.Rate(tokens, totals, counts)
	rating := result.Rating()
	c.Message.SpamRating, c.Message.SpamWords = &rating, result.String()
}

// judgeRules runs the active rules of the message's mailbox and of every
// mailbox that are set to run on receipt, unless the delivery asked for
// none ("pochta import --no-rules").
func (s *Service) judgeRules(ctx context.Context, c *intake.Candidate) {
	if c.Delivery != nil && c.Delivery.SkipRules {
		return
	}
	compiled, err := s.rules.get(ctx, s)
	if err != nil {
		s.logger.Error("rules on receipt: load the rules", "error", err)
		c.Verdict.Log = append(c.Verdict.Log, worklog.Say(store.LogEntry{Level: store.LevelError, Type: "rule", MailboxID: c.Mailbox.ID},
			worklog.Part("log.rules_unavailable", err)))
		return
	}
	if len(compiled) == 0 {
		return
	}
	view := s.newView(c.Parsed, c.Mailbox.ID)
	if c.Message.SpamRating != nil {
		view.SpamRating = *c.Message.SpamRating
	}
	outcome := rules.Evaluate(compiled, view, rules.EventReceive)
	if len(outcome.Matches) == 0 {
		return
	}
	effect := outcome.Effect()
	switch effect.Read {
	case rules.Read:
		c.Message.Read = true
	case rules.Unread:
		c.Message.Read = false
	}
	switch effect.Spam {
	case rules.Spam:
		c.Message.Spam = "yes"
	case rules.NotSpam:
		c.Message.Spam = "no"
	}
	c.Verdict.Log = append(c.Verdict.Log, ruleLogLines(outcome, c.Mailbox.ID, 0)...)
	jobs := ruleJobs(outcome)
	if effect.Delete && len(jobs) == 0 {
		c.Verdict.Drop = true
		c.Verdict.DropReason = deletedBy(outcome)
		return
	}
	if effect.Delete {
		// The forward, the webhook or the training still needs the
		// message: it is stored, and deleted by a job once they are done.
		jobs = append(jobs, newJob(JobDelete, jobPayload{RuleID: outcome.StoppedBy}))
	}
	c.Verdict.Jobs = append(c.Verdict.Jobs, jobs...)
}

// deletedBy names the rule that deleted a message, for the "Not stored"
// line.
func deletedBy(outcome rules.Outcome) string {
	for _, m := range outcome.Matches {
		if m.RuleID == outcome.StoppedBy {
			return fmt.Sprintf("rule [%d] %s", m.RuleID, worklog.Subject(m.Name))
		}
	}
	return "rule"
}

// ruleLogLines are the work log's lines of an outcome: per match
// "Processing with rule [ID] name (on receipt | manually)", then a line per
// action it took.
func ruleLogLines(outcome rules.Outcome, mailboxID, messageID int64) []store.LogEntry {
	var entries []store.LogEntry
	for _, match := range outcome.Matches {
		entry := store.LogEntry{Level: store.LevelInfo, Type: "rule", MailboxID: mailboxID, RuleID: match.RuleID, MessageID: messageID}
		line := match.LogLine(outcome.Event)
		entries = append(entries, worklog.Say(entry, worklog.Part(line.Key, line.Args...)))
		for _, step := range match.Steps {
			line := step.LogLine()
			entries = append(entries, worklog.Say(entry, worklog.Part(line.Key, line.Args...)))
		}
	}
	return entries
}

// ruleCache keeps the active rules compiled, so that a received message
// costs no query and no compilation of them: they are loaded again when
// this process changes a rule, and when another process sharing the
// database did (its version, a cheap query, read at most every
// ruleCheckInterval).
type ruleCache struct {
	// mu is read-locked by every received message's judge, on the sink's
	// workers at once, and locked to load.
	mu       sync.RWMutex
	compiled []*rules.Compiled
	version  string
	loaded   bool
	checked  time.Time
}

// ruleCheckInterval is how often the rules' version is read: a rule changed
// in another process applies to the mail that process's peers receive
// within this time (the SMTP server reloads its listeners as often).
const ruleCheckInterval = 2 * time.Second

func (c *ruleCache) get(ctx context.Context, s *Service) ([]*rules.Compiled, error) {
	now := s.now()
	c.mu.RLock()
	if c.loaded && now.Sub(c.checked) < ruleCheckInterval {
		compiled := c.compiled
		c.mu.RUnlock()
		return compiled, nil
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && now.Sub(c.checked) < ruleCheckInterval {
		return c.compiled, nil
	}
	version, err := s.store.RulesVersion(ctx)
	if err != nil {
		return nil, err
	}
	c.checked = now
	if c.loaded && version == c.version {
		return c.compiled, nil
	}
	rows, err := s.store.AllActiveRules(ctx)
	if err != nil {
		return nil, err
	}
	compiled := make([]*rules.Compiled, 0, len(rows))
	for _, row := range rows {
		rule, err := rules.CompileStored(rulestore.FromRow(row))
		if err != nil {
			// Saved rules were compiled when saved; one that no longer
			// compiles (a later, stricter check) is left out, loudly.
			s.logger.Error("rule does not compile and is skipped", "rule_id", row.ID, "error", err)
			continue
		}
		compiled = append(compiled, rule)
	}
	c.compiled, c.version, c.loaded = compiled, version, true
	return compiled, nil
}

// forget makes the next get load the rules again (a rule was saved here).
func (c *ruleCache) forget() {
	c.mu.Lock()
	c.loaded = false
	c.mu.Unlock()
}

// Job kinds the rules write (store.NewJob.Kind) and the job runner runs.
const (
	JobWebhook   = "webhook"    // POST the message to a rule's webhook
	JobForward   = "forward"    // hand the message to the outbound queue
	JobSpamTrain = "spam_train" // train the filter with the message as a rule marked it
	JobDelete    = "delete"     // delete the message once its other jobs are done
)

// jobPayload is the JSON of a rule's job: which rule asked, and what the
// kind needs.
type jobPayload struct {
	RuleID int64 `json:"rule_id"`
	// JobWebhook: the URL and the secret as the rule keeps it, sealed.
	URL    string `json:"url,omitempty"`
	Secret []byte `json:"secret,omitempty"`
	// JobForward: the recipients.
	To []string `json:"to,omitempty"`
	// JobSpamTrain: "spam" or "ham".
	Class string `json:"class,omitempty"`
	// Event is "receive" or "manual", for the webhook's body.
	Event string `json:"event,omitempty"`
}

func newJob(kind string, payload jobPayload) store.NewJob {
	encoded, err := json.Marshal(payload)
	if err != nil {
		panic(err) // a struct of strings and numbers always encodes
	}
	return store.NewJob{Kind: kind, Payload: encoded}
}

// ruleJobs are the jobs an outcome asks for: training for its spam mark
// (the last one wins, as on the row), its forwards that may go out and its
// webhooks.
func ruleJobs(outcome rules.Outcome) []store.NewJob {
	var jobs []store.NewJob
	effect := outcome.Effect()
	if effect.Spam != rules.Unchanged {
		class, rule := string(spam.Ham), int64(0)
		if effect.Spam == rules.Spam {
			class = string(spam.Spam)
		}
		for _, step := range outcome.Steps() {
			if step.Kind == rules.KindSpam || step.Kind == rules.KindNotSpam {
				rule = step.RuleID
			}
		}
		jobs = append(jobs, newJob(JobSpamTrain, jobPayload{RuleID: rule, Class: class, Event: string(outcome.Event)}))
	}
	for _, step := range effect.Forwards {
		jobs = append(jobs, newJob(JobForward, jobPayload{RuleID: step.RuleID, To: step.Addresses, Event: string(outcome.Event)}))
	}
	for _, step := range effect.Webhooks {
		jobs = append(jobs, newJob(JobWebhook, jobPayload{RuleID: step.RuleID, URL: step.Webhook.URL, Secret: step.Webhook.Secret,
			Event: string(outcome.Event)}))
	}
	return jobs
}
