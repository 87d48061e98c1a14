package rules

import (
	"cmp"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reason fields that are not text fields: the spam probability and size
// conditions, as a [Reason] and a description name them.
const (
	FieldSpamRating Field = "spam_rating"
	FieldSize       Field = "size"
)

// Kind is the kind of one action of an outcome.
type Kind string

// Action kinds, in the order they are applied (see [Actions]).
const (
	KindRead    Kind = "read"     // mark the message read
	KindUnread  Kind = "unread"   // mark it unread
	KindSpam    Kind = "spam"     // mark it spam and train the filter with it as spam
	KindNotSpam Kind = "not_spam" // mark it not spam and train the filter with it as ham
	KindForward Kind = "forward"  // queue it for the addresses, with LoopHeader added (unless Blocked)
	KindWebhook Kind = "webhook"  // queue the webhook call
	KindDelete  Kind = "delete"   // delete it (after the forward and webhook have their copy)
	KindStop    Kind = "stop"     // no later rule runs (Evaluate has already honoured it)
)

// Step is one action to apply to the message.
type Step struct {
	Kind      Kind
	RuleID    int64
	Addresses []string // KindForward: where to
	Webhook   *Webhook // KindWebhook
	// Blocked says, for a forward, why it must not go out (the message is
	// automatic, looped or too travelled); "" when it may.
	Blocked LoopReason
}

// Reason is one condition of a matching rule and what of the message made
// it hold: the dry run's explanation.
type Reason struct {
	// Condition is the condition's index in Rule.Conditions; -1 for the
	// spam probability and the size.
	Condition int
	Field     Field // a text field, FieldSpamRating or FieldSize
	Header    string
	Op        Op
	// Value is the rule's string that matched (of a positive operator).
	// A negative operator holds because none matched: Value and Text are
	// then empty, and Values lists the strings none of which matched.
	Value  string
	Values []string
	// Text is the message's text that matched, with a little context, on
	// one line ("…" where cut); for the spam probability and the size,
	// the message's rating ("87%") or size in bytes.
	Text string
}

// Match is a rule that matched, with why and what it does.
type Match struct {
	RuleID  int64
	Name    string
	Reasons []Reason
	Steps   []Step // in the order of [Actions], stop included
}

// Outcome is the judgement of the rules on one message: the rules that
// matched, in the order they ran, each with its reasons and its actions.
// Applying it means applying each match's steps in order.
type Outcome struct {
	Event   Event
	Matches []Match
	// StoppedBy is the rule whose stop or delete ended the processing; 0
	// when every rule was tried.
	StoppedBy int64
}

// Steps gives every match's steps in the order they are to be applied.
func (o Outcome) Steps() []Step {
	var steps []Step
	for _, m := range o.Matches {
		steps = append(steps, m.Steps...)
	}
	return steps
}

// Effect is what the outcome leaves the message as: the last read and spam
// marks win (an earlier rule's mark is replaced by a later one's).
type Effect struct {
	Read     string // Unchanged, Read or Unread
	Spam     string // Unchanged, Spam or NotSpam
	Delete   bool
	Forwards []Step // the forwards that may go out
	Webhooks []Step
}

// Effect sums the outcome's steps up.
func (o Outcome) Effect() Effect {
	e := Effect{Read: Unchanged, Spam: Unchanged}
	for _, step := range o.Steps() {
		switch step.Kind {
		case KindRead:
			e.Read = Read
		case KindUnread:
			e.Read = Unread
		case KindSpam:
			e.Spam = Spam
		case KindNotSpam:
			e.Spam = NotSpam
		case KindForward:
			if step.Blocked == LoopNone {
				e.Forwards = append(e.Forwards, step)
			}
		case KindWebhook:
			e.Webhooks = append(e.Webhooks, step)
		case KindDelete:
			e.Delete = true
		}
	}
	return e
}

// byOrder orders rules as they run: by Sort, then ID.
func byOrder(a, b *Compiled) int {
	if c := cmp.Compare(a.rule.Sort, b.rule.Sort); c != 0 {
		return c
	}
	return cmp.Compare(a.rule.ID, b.rule.ID)
}

// Evaluate runs rules on the message v for event: the active rules of v's
// mailbox and of every mailbox that are set for event, by Sort then ID
// (rules given in another order are sorted, nil ones skipped), each
// matching when all its conditions hold, until a rule that stops or
// deletes. It changes nothing and is safe for concurrent use.
func Evaluate(rules []*Compiled, v *View, event Event) Outcome {
	if slices.Contains(rules, nil) || !slices.IsSortedFunc(rules, byOrder) {
		rules = slices.DeleteFunc(slices.Clone(rules), func(c *Compiled) bool { return c == nil })
		slices.SortStableFunc(rules, byOrder)
	}
	p := &prepared{view: v}
	out := Outcome{Event: event}
	for _, c := range rules {
		r := &c.rule
		if !r.Active || !r.On(event) || (r.MailboxID != 0 && r.MailboxID != v.MailboxID) {
			continue
		}
		if !c.matches(p, nil) {
			continue
		}
		match := Match{RuleID: r.ID, Name: r.Name}
		c.matches(p, &match.Reasons)
		match.Steps = c.steps(p)
		out.Matches = append(out.Matches, match)
		if r.Actions.Stop || r.Actions.Delete {
			out.StoppedBy = r.ID
			break
		}
	}
	return out
}

// steps lists the rule's actions in the order of [Actions].
func (c *Compiled) steps(p *prepared) []Step {
	a, id := &c.rule.Actions, c.rule.ID
	var steps []Step
	switch a.Read {
	case Read:
		steps = append(steps, Step{Kind: KindRead, RuleID: id})
	case Unread:
		steps = append(steps, Step{Kind: KindUnread, RuleID: id})
	}
	switch a.Spam {
	case Spam:
		steps = append(steps, Step{Kind: KindSpam, RuleID: id})
	case NotSpam:
		steps = append(steps, Step{Kind: KindNotSpam, RuleID: id})
	}
	if len(a.ForwardTo) > 0 {
		steps = append(steps, Step{Kind: KindForward, RuleID: id, Addresses: slices.Clone(a.ForwardTo), Blocked: ForwardLoop(p.view)})
	}
	if a.Webhook != nil {
		webhook := *a.Webhook
		webhook.Secret = slices.Clone(webhook.Secret)
		steps = append(steps, Step{Kind: KindWebhook, RuleID: id, Webhook: &webhook})
	}
	if a.Delete {
		steps = append(steps, Step{Kind: KindDelete, RuleID: id})
	}
	if a.Stop {
		steps = append(steps, Step{Kind: KindStop, RuleID: id})
	}
	return steps
}

// matches reports whether every condition holds. With reasons non-nil it
// also says why, condition by condition (the cheap tests come first; the
// reasons are in the rule's order).
func (c *Compiled) matches(p *prepared, reasons *[]Reason) bool {
	r, v := &c.rule, p.view
	if t := r.Spam; t != nil {
		if v.SpamRating < 0 || !compare(int64(v.SpamRating), t.Op, int64(t.Value)) {
			return false
		}
	}
	if s := r.Size; s != nil && !compare(v.Size, s.Op, s.Bytes()) {
		return false
	}
	for i := range c.conditions {
		condition := &c.conditions[i]
		var reason *Reason
		if reasons != nil {
			*reasons = append(*reasons, Reason{Condition: condition.index, Field: condition.Field,
				Header: condition.Header, Op: condition.Op})
			reason = &(*reasons)[len(*reasons)-1]
		}
		if p.found(condition, reason) == condition.Op.negative() {
			return false
		}
		if reason != nil && condition.Op.negative() {
			reason.Value, reason.Text, reason.Values = "", "", condition.Values
		}
	}
	if reasons != nil {
		if t := r.Spam; t != nil {
			*reasons = append(*reasons, Reason{Condition: -1, Field: FieldSpamRating, Op: t.Op,
				Value: strconv.Itoa(t.Value), Text: strconv.Itoa(v.SpamRating) + "%"})
		}
		if s := r.Size; s != nil {
			*reasons = append(*reasons, Reason{Condition: -1, Field: FieldSize, Op: s.Op,
				Value: strconv.FormatInt(s.Bytes(), 10), Text: strconv.FormatInt(v.Size, 10)})
		}
	}
	return true
}

func compare(have int64, op Op, limit int64) bool {
	if op == OpLess {
		return have < limit
	}
	return have > limit
}

// prepared is one evaluation's view of the message: its texts per field,
// gathered and folded on first use, once for all the rules.
type prepared struct {
	view    *View
	slots   [len(slotFields)]slot
	headers map[string]*slot
}

type slot struct {
	ready, foldedReady bool
	texts, folded      []string
	// one and foldedOne hold a field of one text (the subject, the body,
	// the header block), so that it costs no slice of its own.
	one, foldedOne [1]string
}

var slotFields = [...]Field{FieldSender, FieldRecipient, FieldSubject, FieldBody, FieldAll, FieldAttachment, FieldHeader}

func (p *prepared) slot(field Field, header string) *slot {
	if field == FieldHeader && header != "" {
		if p.headers == nil {
			p.headers = map[string]*slot{}
		}
		s := p.headers[header]
		if s == nil {
			s = &slot{ready: true, texts: p.view.Headers[header]}
			p.headers[header] = s
		}
		return s
	}
	i := slices.Index(slotFields[:], field)
	s := &p.slots[i]
	if s.ready {
		return s
	}
	v := p.view
	switch field {
	// The texts are only read: a field of one list is that list.
	case FieldSender:
		s.texts = v.From
		if len(v.ReplyTo) > 0 {
			s.texts = append(append([]string(nil), v.From...), v.ReplyTo...)
		}
	case FieldRecipient:
		s.texts = v.To
		if len(v.Cc) > 0 || len(v.Bcc) > 0 {
			s.texts = append(append(append([]string(nil), v.To...), v.Cc...), v.Bcc...)
		}
	case FieldSubject:
		s.one[0], s.texts = v.Subject, s.one[:]
	case FieldBody:
		s.one[0], s.texts = v.Body, s.one[:]
	case FieldAll:
		s.one[0], s.texts = v.HeaderText+"\n\n"+v.Body, s.one[:]
	case FieldAttachment:
		s.texts = v.Attachments
	case FieldHeader:
		s.one[0], s.texts = v.HeaderText, s.one[:]
	}
	s.ready = true
	return s
}

// folded gives the slot's texts folded. The whole message's is made from
// the header block's and the body's, which other conditions fold anyway.
func (p *prepared) folded(field Field, s *slot) []string {
	if field == FieldAll && !s.foldedReady {
		header := p.folded(FieldHeader, p.slot(FieldHeader, ""))[0]
		body := p.folded(FieldBody, p.slot(FieldBody, ""))[0]
		s.foldedOne[0] = header + "\n\n" + body
		s.folded, s.foldedReady = s.foldedOne[:], true
	}
	return s.foldedTexts()
}

func (s *slot) foldedTexts() []string {
	if !s.foldedReady {
		s.folded = s.foldedOne[:]
		if len(s.texts) != 1 {
			s.folded = make([]string, len(s.texts))
		}
		for i, text := range s.texts {
			s.folded[i] = fold(text)
		}
		s.foldedReady = true
	}
	return s.folded
}

// found reports whether one of the condition's strings is found in one of
// the field's texts (contains, equals or regex, whatever the operator's
// polarity), and with reason non-nil records which string and where.
func (p *prepared) found(c *compiledCondition, reason *Reason) bool {
	if c.Field == FieldAll && (c.Op == OpContains || c.Op == OpNotContains) {
		// In the header block, then in the body, each as folded for their
		// own conditions: a string, one line without a line break, cannot
		// span the blank line between them, so the whole message's text
		// need not be made and folded (two copies of the message).
		return p.contains(p.slot(FieldHeader, ""), c, reason) || p.contains(p.slot(FieldBody, ""), c, reason)
	}
	s := p.slot(c.Field, c.header)
	switch c.Op {
	case OpRegex:
		var folded []string
		if c.literals != nil || c.prefixes != nil {
			folded = p.folded(c.Field, s)
		}
		for i, text := range s.texts {
			if c.literals != nil && !containsAny(folded[i], c.literals) {
				continue
			}
			text = regexText(text)
			if c.prefixes != nil {
				if !c.anchoredMatch(text, folded[i]) {
					continue
				}
			} else if !c.any.MatchString(text) {
				continue
			}
			if reason != nil {
				for j, re := range c.each {
					if at := re.FindStringIndex(text); at != nil {
						reason.Value, reason.Text = c.Values[j], excerpt(text, at[0], at[1])
						break
					}
				}
			}
			return true
		}
	case OpContains, OpNotContains:
		return p.contains(s, c, reason)
	case OpEquals, OpNotEquals:
		addresses := c.Field == FieldSender || c.Field == FieldRecipient
		for i, text := range p.folded(c.Field, s) {
			text = strings.TrimSpace(text)
			name, address := "", ""
			if addresses {
				name, address = addressParts(text)
			}
			for j, value := range c.folded {
				if value == text || (addresses && (value == address || value == name)) {
					if reason != nil {
						original := s.texts[i]
						reason.Value, reason.Text = c.Values[j], excerpt(original, 0, len(original))
					}
					return true
				}
			}
		}
	}
	return false
}

// contains reports whether one of the condition's strings is in one of the
// slot's texts, folded.
func (p *prepared) contains(s *slot, c *compiledCondition, reason *Reason) bool {
	for i, text := range s.foldedTexts() {
		for j, value := range c.folded {
			at := strings.Index(text, value)
			if at < 0 {
				continue
			}
			if reason != nil {
				original := s.texts[i]
				start := originalOffset(original, text, at)
				end := originalOffset(original, text, at+len(value))
				reason.Value, reason.Text = c.Values[j], excerpt(original, start, end)
			}
			return true
		}
	}
	return false
}

// addressParts splits "Name <address>" (as View keeps addresses) into its
// name, unquoted, and its address; a bare address is its own address.
func addressParts(text string) (name, address string) {
	open := strings.LastIndexByte(text, '<')
	if open < 0 || !strings.HasSuffix(text, ">") {
		return "", text
	}
	name = strings.TrimSpace(text[:open])
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(name[1 : len(name)-1])
	}
	return name, text[open+1 : len(text)-1]
}

// maxAnchored is how many places of its prefixes a condition's patterns
// are tried at, anchored, before they are run over the whole text once
// instead. Each anchored run reads the text only as far as its pattern
// needs (a reader, see [anchoredRun]), and all of them together read at
// most anchoredBudget times the text: an anchored run that fails late
// (`(?s)invoice.*total`) may read to the text's end, and many of them must
// not cost more than a few full runs.
const (
	maxAnchored    = 64
	anchoredBudget = 2
)

// anchoredMatch reports whether the condition's patterns match text, whose
// fold is folded, trying them only where one of their prefixes begins:
// every match begins at one. RE2 takes some 40 ns a byte of a Cyrillic
// body over the whole text, and a run on a string clears a table the size
// of the text times the pattern however soon it fails; an anchored run on
// a reader stops where its pattern fails, a few characters on. Each run
// sees the character before its position, so that `\b` or `(?m)^` before
// the prefix is checked as in the whole text.
func (c *compiledCondition) anchoredMatch(text, folded string) bool {
	var at [maxAnchored]int
	found := 0
	for _, prefix := range c.prefixes {
		for from := 0; ; {
			i := strings.Index(folded[from:], prefix)
			if i < 0 {
				break
			}
			if found == maxAnchored {
				return c.any.MatchString(text)
			}
			at[found] = from + i
			found++
			from += i + 1 // overlapping places too: "aaab" in "aaaab"
		}
	}
	positions := at[:found]
	slices.Sort(positions)
	same := len(text) == len(folded) && text == folded
	reader := anchoredReader{budget: anchoredBudget*len(text) + 64*found}
	original, walked := 0, 0 // the same character's offsets in text and folded
	for _, position := range positions {
		offset := position
		if !same {
			// The fold keeps the characters, not their bytes: walk the
			// original as many characters on.
			for n := utf8.RuneCountInString(folded[walked:position]); n > 0 && original < len(text); n-- {
				_, size := utf8.DecodeRuneInString(text[original:])
				original += size
			}
			walked, offset = position, original
		}
		if offset >= len(text) {
			break // past the cut of regexText
		}
		var matched bool
		if offset == 0 {
			matched = reader.run(c.anchoredStart, text)
		} else {
			_, before := utf8.DecodeLastRuneInString(text[:offset])
			matched = reader.run(c.anchored, text[offset-before:])
		}
		if reader.spent {
			// The runs read too much: once over the whole text instead.
			return c.any.MatchString(text)
		}
		if matched {
			return true
		}
	}
	return false
}

// anchoredReader feeds anchored runs their text rune by rune, within a
// budget of bytes shared by all the runs of one condition on one text.
type anchoredReader struct {
	text   string
	at     int
	budget int
	spent  bool // the budget ran out: the last run's answer is void
}

// run reports whether re, anchored at the text's start, matches text. When
// the budget runs out the run sees an early end, which may change its
// answer: the caller must then not use it (spent is set).
func (r *anchoredReader) run(re *regexp.Regexp, text string) bool {
	r.text, r.at = text, 0
	return re.MatchReader(r)
}

// ReadRune is [io.RuneReader]'s.
func (r *anchoredReader) ReadRune() (rune, int, error) {
	if r.at >= len(r.text) {
		return 0, 0, io.EOF
	}
	if r.budget <= 0 {
		r.spent = true
		return 0, 0, io.EOF
	}
	c := r.text[r.at]
	if c < utf8.RuneSelf {
		r.at++
		r.budget--
		return rune(c), 1, nil
	}
	rn, size := utf8.DecodeRuneInString(r.text[r.at:])
	r.at += size
	r.budget -= size
	return rn, size, nil
}

// regexText is the part of text a regular expression runs on: its first
// MaxRegexText bytes, cut after the last space, tab or line break within
// its last 4 KB, else before a character that would not fit whole. Cut
// after a space, the text's end looks to a pattern as the whole text does
// there (a word has ended, no digit follows): cut inside "123456 7", `\d{6}\b`
// or `\d{6}$` would match at the cut, and a delete rule would act on a
// match the whole text does not have.
func regexText(text string) string {
	if len(text) <= MaxRegexText {
		return text
	}
	end := MaxRegexText
	for end > 0 && !utf8.RuneStart(text[end]) {
		end--
	}
	if space := strings.LastIndexAny(text[end-4096:end], " \t\r\n"); space >= 0 {
		end = end - 4096 + space + 1
	}
	return text[:end]
}

func containsAny(text string, literals []string) bool {
	for _, literal := range literals {
		if strings.Contains(text, literal) {
			return true
		}
	}
	return false
}
