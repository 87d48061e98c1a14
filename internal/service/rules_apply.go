package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/rules/rulestore"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
)

// parseStored reads a stored message back as the parser gives it: from
// its source, parsed again with its mailbox's charset, or, when the source
// was not kept, from the stored header, text, HTML and attachment names.
// What it gives is for reading its header fields, text and attachment
// names (rules, the spam filter), not attachment bodies.
func (s *Service) parseStored(ctx context.Context, m store.Message) (*mime.Message, error) {
	if !m.HasSource {
		content, err := s.store.MessageContent(ctx, m.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		parsed := mime.Parse([]byte(content.Header+"\r\n"), mime.Options{})
		parsed.Text, parsed.HTML, parsed.Size = content.Text, content.HTML, int(m.Size)
		attachments, err := s.store.Attachments(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		parsed.Attachments = nil
		for _, a := range attachments {
			parsed.Attachments = append(parsed.Attachments, mime.Attachment{Filename: a.Filename, ContentType: a.ContentType, Size: int(a.Size)})
		}
		return parsed, nil
	}
	charset, err := s.store.MailboxCharset(ctx, m.MailboxID)
	if err != nil {
		return nil, err
	}
	source, err := s.store.OpenSource(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	if m.Size <= intake.MaxInMemory {
		raw, err := io.ReadAll(source)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", m.ID, err)
		}
		return mime.Parse(raw, mime.Options{FallbackCharset: charset}), nil
	}
	spool, err := intake.NewSpool(source, s.tempDir, false)
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", m.ID, err)
	}
	defer spool.Close()
	parsed, err := spool.Parse(charset)
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", m.ID, err)
	}
	return parsed, nil
}

// storedView is the rules' view of a stored message, with its rating.
func (s *Service) storedView(m store.Message, parsed *mime.Message) *rules.View {
	view := s.newView(parsed, m.MailboxID)
	view.Size = m.Size
	if m.SpamRating != nil {
		view.SpamRating = *m.SpamRating
	}
	return view
}

// ApplyRules runs rules by hand on the selected messages ("apply rules" in
// the list, the view, the API and "pochta rules apply"; admins only, see
// [Actor.CanApplyRules]): every active rule set to run manually, or the
// one rule ruleID, which must be active and set to run manually too (a
// rule that is off stays off, whoever names it). Each message's flags
// change, its spam mark trains the filter, its forwards and webhooks
// become jobs, a delete deletes it (after its jobs when it has any), and
// every match and action is logged. It reports how many messages a rule
// matched.
func (s *Service) ApplyRules(ctx context.Context, actor *Actor, selection MessageSelection, ruleID int64) (int, error) {
	if !actor.CanApplyRules() {
		return 0, ErrForbidden
	}
	var compiled []*rules.Compiled
	if ruleID != 0 {
		row, err := s.store.RuleByID(ctx, ruleID)
		if err != nil {
			return 0, wrapNotFound("rule", err)
		}
		if !row.Active || !row.OnManual {
			return 0, &ValidationError{Fields: map[string]i18n.Message{"rule_id": i18n.M("error.rule_not_manual")}}
		}
		c, err := rules.CompileStored(rulestore.FromRow(row))
		if err != nil {
			return 0, err
		}
		compiled = []*rules.Compiled{c}
	} else {
		var err error
		if compiled, err = s.rules.get(ctx, s); err != nil {
			return 0, err
		}
	}
	filter := store.MessageFilter{IDs: selection.IDs}
	if selection.Filter != nil {
		filter = *selection.Filter
	} else if len(selection.IDs) == 0 {
		return 0, nil
	}
	if err := s.restrict(ctx, actor, &filter); err != nil {
		return 0, err
	}
	// The IDs first, then the messages: an applied rule may delete or
	// change them under a cursor.
	var ids []int64
	cursor := ""
	for {
		page, err := s.store.Messages(ctx, filter, store.MessageSort{Column: "id", Ascending: true}, cursor, 500)
		if err != nil {
			return 0, err
		}
		for _, m := range page.Items {
			ids = append(ids, m.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	matched := 0
	for _, id := range ids {
		m, err := s.store.MessageByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return matched, err
		}
		hit, err := s.applyRulesTo(ctx, m, compiled)
		if err != nil {
			return matched, fmt.Errorf("apply rules to message %d: %w", id, err)
		}
		if hit {
			matched++
		}
	}
	s.audit(ctx, actor, "rules applied", "rule_id", ruleID, "ids", selection.IDs, "all", selection.Filter != nil,
		"messages", len(ids), "matched", matched)
	return matched, nil
}

// applyRulesTo runs the manual rules on one stored message and applies
// their outcome.
func (s *Service) applyRulesTo(ctx context.Context, m store.Message, compiled []*rules.Compiled) (bool, error) {
	parsed, err := s.parseStored(ctx, m)
	if err != nil {
		return false, err
	}
	outcome := rules.Evaluate(compiled, s.storedView(m, parsed), rules.EventManual)
	if len(outcome.Matches) == 0 {
		return false, nil
	}
	effect := outcome.Effect()
	if effect.Read != rules.Unchanged {
		if err := s.store.SetMessagesRead(ctx, []int64{m.ID}, effect.Read == rules.Read); err != nil {
			return true, err
		}
	}
	if effect.Spam != rules.Unchanged {
		class := spam.Ham
		if effect.Spam == rules.Spam {
			class = spam.Spam
		}
		if err := s.markSpam(ctx, m, parsed, class); err != nil {
			return true, err
		}
	}
	var jobs []store.NewJob
	for _, job := range ruleJobs(outcome) {
		if job.Kind != JobSpamTrain { // trained above, at once
			jobs = append(jobs, job)
		}
	}
	if effect.Delete && len(jobs) > 0 {
		jobs = append(jobs, newJob(JobDelete, jobPayload{RuleID: outcome.StoppedBy}))
	}
	if err := s.store.AddJobs(ctx, m.MailboxID, m.ID, jobs); err != nil {
		return true, err
	}
	s.log.Record(ctx, ruleLogLines(outcome, m.MailboxID, m.ID)...)
	if effect.Delete && len(jobs) == 0 {
		if _, err := s.store.DeleteMessages(ctx, []int64{m.ID}); err != nil {
			return true, err
		}
	}
	return true, nil
}

// markSpam sets a message's spam flag and trains the filter with it as
// class, moving its counts once however often it is marked.
func (s *Service) markSpam(ctx context.Context, m store.Message, parsed *mime.Message, class spam.Class) error {
	flag := "no"
	if class == spam.Spam {
		flag = "yes"
	}
	if err := s.store.SetMessagesSpam(ctx, []int64{m.ID}, flag); err != nil {
		return err
	}
	if parsed == nil {
		// A list's row does not say whether the source was kept.
		full, err := s.store.MessageByID(ctx, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if parsed, err = s.parseStored(ctx, full); err != nil {
			return err
		}
	}
	if _, err := (spam.Store{St: s.store}).TrainMessage(ctx, m.ID, spam.Tokenize(parsed), class); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("train the spam filter with message %d: %w", m.ID, err)
	}
	s.spamCounts.forget()
	return nil
}

// RuleTestInput is a dry run's message: a stored one (MessageID), or a
// source (Raw) as if received into MailboxID (0: a message of no mailbox,
// which only the rules of every mailbox see).
type RuleTestInput struct {
	MessageID int64
	MailboxID int64
	Raw       []byte
	// Event is rules.EventReceive (the default) or rules.EventManual.
	Event rules.Event
	// RuleID tries that rule alone, active or not (0: the active rules).
	RuleID int64
}

// RuleTestMatch is one rule that would fire, and why.
type RuleTestMatch struct {
	RuleID  int64          `json:"rule_id"`
	Name    string         `json:"name"`
	Reasons []i18n.Message `json:"-"`
	Actions []i18n.Message `json:"-"`
	// ReasonData is each condition with the text that matched, as data.
	ReasonData []rules.Reason `json:"-"`
}

// RuleTestResult is a dry run: the rules that would fire in order, and the
// rule whose stop or delete would end the run.
type RuleTestResult struct {
	Event     rules.Event     `json:"event"`
	MailboxID int64           `json:"mailbox_id"`
	Subject   string          `json:"subject"`
	Matches   []RuleTestMatch `json:"matches"`
	StoppedBy int64           `json:"stopped_by"`
}

// MaxRuleTestSource bounds a pasted or uploaded source for the dry run.
const MaxRuleTestSource = 25 << 20

// TestRules is the dry run (admins and auditors: it changes nothing):
// which rules would fire on a message and why, without doing anything.
func (s *Service) TestRules(ctx context.Context, actor *Actor, input RuleTestInput) (RuleTestResult, error) {
	if err := requireReadAll(actor); err != nil {
		return RuleTestResult{}, err
	}
	event := input.Event
	if event == "" {
		event = rules.EventReceive
	}
	if event != rules.EventReceive && event != rules.EventManual {
		return RuleTestResult{}, &ValidationError{Fields: map[string]i18n.Message{"event": i18n.M("error.invalid", i18n.Key("field.event"))}}
	}
	var view *rules.View
	var subject string
	mailboxID := input.MailboxID
	switch {
	case input.MessageID != 0:
		m, err := s.message(ctx, actor, input.MessageID)
		if err != nil {
			return RuleTestResult{}, err
		}
		parsed, err := s.parseStored(ctx, m)
		if err != nil {
			return RuleTestResult{}, err
		}
		view, subject, mailboxID = s.storedView(m, parsed), m.Subject, m.MailboxID
	case len(input.Raw) > 0:
		if len(input.Raw) > MaxRuleTestSource {
			return RuleTestResult{}, &ValidationError{Fields: map[string]i18n.Message{"raw": i18n.M("error.too_large", i18n.Key("field.source"))}}
		}
		if mailboxID != 0 {
			if _, err := s.store.MailboxByID(ctx, mailboxID); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return RuleTestResult{}, &ValidationError{Fields: map[string]i18n.Message{"mailbox_id": i18n.M("error.rule_mailbox")}}
				}
				return RuleTestResult{}, err
			}
		}
		parsed := mime.Parse(bytes.Clone(input.Raw), mime.Options{})
		view, subject = s.newView(parsed, mailboxID), parsed.Subject
		if rating, ok := s.rate(ctx, parsed); ok {
			view.SpamRating = rating
		}
	default:
		return RuleTestResult{}, &ValidationError{Fields: map[string]i18n.Message{"raw": i18n.M("error.required", i18n.Key("field.source"))}}
	}
	var compiled []*rules.Compiled
	if input.RuleID != 0 {
		row, err := s.store.RuleByID(ctx, input.RuleID)
		if err != nil {
			return RuleTestResult{}, wrapNotFound("rule", err)
		}
		rule := rulestore.FromRow(row)
		rule.Active, rule.OnReceive, rule.OnManual = true, true, true
		if rule.MailboxID != 0 {
			rule.MailboxID = view.MailboxID // tried on this message whatever its mailbox
		}
		c, err := rules.CompileStored(rule)
		if err != nil {
			return RuleTestResult{}, err
		}
		compiled = []*rules.Compiled{c}
	} else {
		var err error
		if compiled, err = s.rules.get(ctx, s); err != nil {
			return RuleTestResult{}, err
		}
	}
	outcome := rules.Evaluate(compiled, view, event)
	result := RuleTestResult{Event: event, MailboxID: mailboxID, Subject: subject, Matches: []RuleTestMatch{}, StoppedBy: outcome.StoppedBy}
	for _, match := range outcome.Matches {
		tested := RuleTestMatch{RuleID: match.RuleID, Name: match.Name, ReasonData: match.Reasons}
		for _, reason := range match.Reasons {
			tested.Reasons = append(tested.Reasons, reason.Message())
		}
		for _, step := range match.Steps {
			tested.Actions = append(tested.Actions, step.LogLine())
		}
		result.Matches = append(result.Matches, tested)
	}
	return result, nil
}

// rate gives a parsed message's spam rating from the learned counts, if
// anything was learned of both classes.
func (s *Service) rate(ctx context.Context, parsed *mime.Message) (int, bool) {
	settings, err := s.currentSettings(ctx)
	if err != nil {
		return 0, false
	}
	tokens := spam.Tokenize(parsed)
	totals, counts, err := s.spamCounts.lookup(ctx, s, tokens)
	if err != nil || totals.Spam == 0 || totals.Ham == 0 || len(tokens) == 0 {
		return 0, false
	}
	classifier := spam.Classifier{Params: spam.Params{WordsUsed: settings.SpamWordsUsed, MinCount: settings.SpamMinWordCount}}
	return classifier.Rate(tokens, totals, counts).Rating(), true
}
