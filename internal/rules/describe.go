package rules

import (
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/i18n"
)

// describeValue is the most characters of one string a description or a
// log line quotes: a description sums a rule up, the form shows it whole.
const describeValue = 60

// Describe says what the rule does in plain language, from its conditions
// and actions ("If the subject contains "invoice" or "счёт" and the size
// is greater than 1 MB: mark as read, forward to a@example.com"), as a
// catalog message the reader's language says: the generated description
// of the rules list.
func Describe(r Rule) i18n.Message {
	var conditions []any
	for _, c := range r.Conditions {
		conditions = append(conditions, describeCondition(c.Field, c.Header, c.Op, c.Values))
	}
	if t := r.Spam; t != nil {
		conditions = append(conditions, i18n.M("rules.describe.spam", i18n.Key("rules.op."+opName(t.Op)), t.Value))
	}
	if s := r.Size; s != nil {
		conditions = append(conditions, i18n.M("rules.describe.size", i18n.Key("rules.op."+opName(s.Op)), sizeText(*s)))
	}
	var actions []any
	a := r.Actions
	if a.Read == Read || a.Read == Unread {
		actions = append(actions, i18n.Key("rules.describe."+a.Read))
	}
	switch a.Spam {
	case Spam:
		actions = append(actions, i18n.Key("rules.describe.spam_mark"))
	case NotSpam:
		actions = append(actions, i18n.Key("rules.describe.not_spam"))
	}
	if len(a.ForwardTo) > 0 {
		actions = append(actions, i18n.M("rules.describe.forward", strings.Join(a.ForwardTo, ", ")))
	}
	if a.Webhook != nil {
		actions = append(actions, i18n.M("rules.describe.webhook", i18n.Shorten(a.Webhook.URL, describeValue)))
	}
	if a.Delete {
		actions = append(actions, i18n.Key("rules.describe.delete"))
	}
	if a.Stop {
		actions = append(actions, i18n.Key("rules.describe.stop"))
	}
	var does any = i18n.Key("rules.describe.nothing")
	if len(actions) > 0 {
		does = join("rules.describe.then", actions)
	}
	if len(conditions) == 0 {
		return i18n.M("rules.describe.always", does)
	}
	return i18n.M("rules.describe.if", join("rules.describe.and", conditions), does)
}

func describeCondition(field Field, header string, op Op, values []string) i18n.Message {
	var what any = i18n.Key("rules.describe.field." + string(field))
	if field == FieldHeader && header != "" {
		what = i18n.M("rules.describe.header_named", header)
	}
	quoted := make([]any, len(values))
	for i, value := range values {
		quoted[i] = i18n.M("rules.quote", i18n.Shorten(value, describeValue))
	}
	alternatives := "rules.describe.or"
	if op.negative() {
		alternatives = "rules.describe.nor"
	}
	return i18n.M("rules.describe.condition", what, i18n.Key("rules.op."+opName(op)), join(alternatives, quoted))
}

// join links items with the catalog's "%s and %s" (or another such key),
// nested from the left, so that the reader's language says the list.
func join(key string, items []any) any {
	if len(items) == 0 {
		return ""
	}
	out := items[0]
	for _, item := range items[1:] {
		out = i18n.M(key, out, item)
	}
	return out
}

func opName(op Op) string {
	switch op {
	case OpLess:
		return "less"
	case OpGreater:
		return "greater"
	}
	return string(op)
}

func sizeText(s SizeLimit) i18n.Message {
	unit := s.Unit
	if unit == "" {
		unit = UnitB
	}
	return i18n.M("rules.unit."+unit, s.Value)
}

// Message says the reason in words, for the dry run: the condition, and
// the text that made it hold ("the subject contains "invoice": "…your
// invoice for May…"").
func (r Reason) Message() i18n.Message {
	switch r.Field {
	case FieldSpamRating:
		value, _ := strconv.Atoi(r.Value)
		return i18n.M("rules.reason.number", i18n.M("rules.describe.spam", i18n.Key("rules.op."+opName(r.Op)), value), r.Text)
	case FieldSize:
		value, _ := strconv.ParseInt(r.Value, 10, 64)
		have, _ := strconv.ParseInt(r.Text, 10, 64)
		return i18n.M("rules.reason.size", i18n.M("rules.describe.size", i18n.Key("rules.op."+opName(r.Op)), i18n.M("rules.unit.b", value)), have)
	}
	if r.Op.negative() {
		return i18n.M("rules.reason.none", describeCondition(r.Field, r.Header, r.Op, r.Values))
	}
	return i18n.M("rules.reason.text", describeCondition(r.Field, r.Header, r.Op, []string{r.Value}), r.Text)
}

// LogLine is the work log's line for the match: "Processing with rule [ID]
// name (on receipt | manually)". Its arguments are plain text, as the work
// log keeps them.
func (m Match) LogLine(event Event) i18n.Message {
	key := "log.rule_match_receive"
	if event == EventManual {
		key = "log.rule_match_manual"
	}
	return i18n.M(key, strconv.FormatInt(m.RuleID, 10), i18n.Shorten(m.Name, 200))
}

// LogLine is the work log's line for the step: what the rule did, or for a
// blocked forward why it did not.
func (s Step) LogLine() i18n.Message {
	id := strconv.FormatInt(s.RuleID, 10)
	switch s.Kind {
	case KindForward:
		if s.Blocked != LoopNone {
			return i18n.M("log.rule_forward_blocked_"+string(s.Blocked), id, strings.Join(s.Addresses, ", "))
		}
		return i18n.M("log.rule_forward", id, strings.Join(s.Addresses, ", "))
	case KindWebhook:
		url := ""
		if s.Webhook != nil {
			url = s.Webhook.URL
		}
		return i18n.M("log.rule_webhook", id, i18n.Shorten(url, 200))
	}
	return i18n.M("log.rule_"+string(s.Kind), id)
}
