package rules

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"pochta.dev/pochta/internal/i18n"
)

// Limits of a rule, in characters where they are lengths. A rule is run on
// every message, so its size is its cost: these bound the work of one rule
// on one message and keep a form or a script from storing a megabyte of
// patterns.
const (
	MaxConditions       = 50   // text conditions of one rule
	MaxValues           = 200  // strings of one condition
	MaxValueLength      = 1000 // one string or pattern
	MaxHeaderNameLength = 200  // a header name, as the MIME parser reads them
	MaxForwardTo        = 20   // addresses of the forward action
	MaxAddressLength    = 254  // one address (RFC 5321's path less its brackets)
	MaxURLLength        = 2048 // the webhook's URL
	MaxSpam             = 100  // the spam probability is a percentage
	// MaxProgram bounds the RE2 instructions of one condition's patterns
	// together when a rule is saved: a regular expression's time on a text
	// grows with its instructions times the text's length (`\w{1000}` is a
	// thousand; RE2 runs in time linear in both), and the condition runs on
	// every message. An audit found a condition of 4,018 instructions
	// taking 83 s on a 1 MB body of a loaded machine.
	MaxProgram = 1000
	// MaxStoredProgram is the bound rules saved before MaxProgram was
	// lowered were held to: they still run, on texts cut to MaxRegexText,
	// rather than silently stopping (CompileStored).
	MaxStoredProgram = 5000
	// MaxRegexText is how much of a field's text, in bytes, a regular
	// expression looks at: the first 256 KB (cut at a character's
	// boundary). With MaxProgram it bounds one condition's time on any
	// message, a megabyte body included; contains and equals see the
	// whole text.
	MaxRegexText = 256 << 10
)

// maxSize bounds a size condition's value per unit, so that its bytes fit
// an int64 with room to spare (a terabyte).
var maxSize = map[string]int64{UnitB: 1 << 40, UnitKB: 1 << 30, UnitMB: 1 << 20}

// InvalidError is what Compile returns for a rule it refuses: a catalog
// message per field, named as the API's rule object names it
// ("conditions.0.values", "spam_rating.value", "size.unit",
// "actions.forward_to", "actions.webhook.url"). The service turns it into
// its own validation error; the front ends show each under its field.
type InvalidError struct {
	Fields map[string]i18n.Message
}

// Error gives the English text of every field error, sorted by field.
func (e *InvalidError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, name+": "+i18n.Default.Message(i18n.Fallback, e.Fields[name]))
	}
	return "invalid rule: " + strings.Join(parts, "; ")
}

func (e *InvalidError) add(field, key string, args ...any) {
	if _, seen := e.Fields[field]; !seen {
		e.Fields[field] = i18n.M(key, args...)
	}
}

// Compiled is a rule checked and made ready to run: its strings folded,
// its patterns compiled. It is read-only and safe for concurrent use.
type Compiled struct {
	rule       Rule
	conditions []compiledCondition
}

// Rule gives the rule as compiled: strings trimmed, blank ones dropped,
// header names and units in their canonical form. Its slices are the
// compiled rule's own: read them, do not change them.
func (c *Compiled) Rule() Rule { return c.rule }

// ID is the rule's ID.
func (c *Compiled) ID() int64 { return c.rule.ID }

type compiledCondition struct {
	Condition
	index  int
	header string   // FieldHeader: the header name lower-cased ("" = the header block)
	folded []string // the values folded (contains, equals and their negations)
	any    *regexp.Regexp
	each   []*regexp.Regexp // OpRegex: one per value, for the explanation
	// OpRegex: a folded text every match contains, when every value has
	// one (see requiredLiterals): a text holding none of them is skipped.
	literals []string
	// OpRegex: folded texts one of which every match begins with, when
	// every value has one (see prefixLiterals): the patterns are then run
	// anchored where those are ([anchoredMatch]), with the character
	// before (anchored) or at the text's start (anchoredStart).
	prefixes                []string
	anchored, anchoredStart *regexp.Regexp
}

// Compile checks rule and prepares it to run. A rule it refuses gives an
// *InvalidError that names every wrong field. The rule's name and
// description are the service's to check.
func Compile(rule Rule) (*Compiled, error) { return compile(rule, MaxProgram) }

// CompileStored is Compile for a rule as it was saved, to run it: its
// regular expressions are held to MaxStoredProgram, so that a rule saved
// under the earlier bound keeps working.
func CompileStored(rule Rule) (*Compiled, error) { return compile(rule, MaxStoredProgram) }

func compile(rule Rule, maxProgram int) (*Compiled, error) {
	errs := &InvalidError{Fields: map[string]i18n.Message{}}
	c := &Compiled{rule: rule}
	c.rule.Conditions = nil
	if len(rule.Conditions) > MaxConditions {
		errs.add("conditions", "error.too_many", i18n.Key("rules.conditions"), MaxConditions)
	}
	for i, condition := range rule.Conditions {
		if i >= MaxConditions {
			break
		}
		compiled, ok := compileCondition(i, condition, maxProgram, errs)
		if ok {
			c.conditions = append(c.conditions, compiled)
		}
		c.rule.Conditions = append(c.rule.Conditions, compiled.Condition)
	}
	if t := rule.Spam; t != nil {
		spam := *t
		c.rule.Spam = &spam
		if spam.Op != OpLess && spam.Op != OpGreater {
			errs.add("spam_rating.op", "error.rule_compare", i18n.Key("rules.field.spam_rating"))
		}
		if spam.Value < 0 || spam.Value > MaxSpam {
			errs.add("spam_rating.value", "error.range", i18n.Key("rules.field.spam_rating"), 0, MaxSpam)
		}
	}
	if s := rule.Size; s != nil {
		size := *s
		size.Unit = strings.ToLower(strings.TrimSpace(size.Unit))
		if size.Unit == "" {
			size.Unit = UnitB
		}
		c.rule.Size = &size
		if size.Op != OpLess && size.Op != OpGreater {
			errs.add("size.op", "error.rule_compare", i18n.Key("rules.field.size"))
		}
		if most, ok := maxSize[size.Unit]; !ok {
			errs.add("size.unit", "error.rule_unit", i18n.Key("rules.field.size"))
		} else if size.Value < 0 || size.Value > most {
			errs.add("size.value", "error.range", i18n.Key("rules.field.size"), 0, most)
		}
	}
	c.rule.Actions = compileActions(rule.Actions, errs)
	if len(errs.Fields) > 0 {
		return nil, errs
	}
	return c, nil
}

func compileCondition(i int, condition Condition, maxProgram int, errs *InvalidError) (compiledCondition, bool) {
	at := func(name string) string { return fmt.Sprintf("conditions.%d.%s", i, name) }
	number := i + 1
	ok := true
	condition.Header = strings.TrimSpace(condition.Header)
	var values []string
	for _, value := range condition.Values {
		// One per line in a form: the line break a browser sends ends a
		// string, so a pasted "a\r\nb" is two.
		for _, line := range strings.Split(value, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				values = append(values, line)
			}
		}
	}
	condition.Values = values
	compiled := compiledCondition{Condition: condition, index: i}
	if !slices.Contains(Fields, condition.Field) {
		errs.add(at("field"), "error.rule_field", number)
		ok = false
	}
	if condition.Field == FieldHeader {
		if condition.Header != "" && !headerName(condition.Header) {
			errs.add(at("header"), "error.rule_header", number)
			ok = false
		}
		compiled.header = strings.ToLower(condition.Header)
	} else {
		compiled.Condition.Header = ""
	}
	if !slices.Contains(Ops, condition.Op) {
		errs.add(at("op"), "error.rule_op", number)
		return compiled, false
	}
	switch {
	case len(values) == 0:
		errs.add(at("values"), "error.rule_values", number)
		return compiled, false
	case len(values) > MaxValues:
		errs.add(at("values"), "error.rule_values_many", number, MaxValues)
		return compiled, false
	}
	for _, value := range values {
		if len(value) > MaxValueLength && utf8.RuneCountInString(value) > MaxValueLength {
			errs.add(at("values"), "error.rule_value_long", number, MaxValueLength)
			return compiled, false
		}
		if !utf8.ValidString(value) || strings.IndexByte(value, 0) >= 0 {
			errs.add(at("values"), "error.rule_value_text", number)
			return compiled, false
		}
	}
	if condition.Op == OpRegex {
		instructions := 0
		for _, value := range values {
			instructions += programSize("(?i)" + value)
		}
		if instructions > maxProgram {
			errs.add(at("values"), "error.rule_regex_large", number)
			return compiled, false
		}
		alternatives := make([]string, len(values))
		for j, value := range values {
			re, err := regexp.Compile("(?i)" + value)
			if err != nil {
				errs.add(at("values"), "error.rule_regex", number, value, regexError(err))
				return compiled, false
			}
			compiled.each = append(compiled.each, re)
			// The value as the parser understood it, not as typed: a
			// "\Q" with no "\E" quotes to the end of the text it is
			// in, so typed into a larger pattern it would swallow the
			// group's closing parenthesis (the fuzz test found it: the
			// joined pattern did not compile, and a stored rule made
			// every message of its mailboxes fail).
			parsed, err := syntax.Parse("(?i)"+value, syntax.Perl)
			if err != nil {
				errs.add(at("values"), "error.rule_regex", number, value, regexError(err))
				return compiled, false
			}
			alternatives[j] = "(?:" + parsed.String() + ")"
			if compiled.literals != nil || j == 0 {
				if literals := requiredLiterals("(?i)" + value); literals != nil {
					compiled.literals = append(compiled.literals, literals...)
				} else {
					compiled.literals = nil
				}
			}
		}
		for j, value := range values {
			literals := prefixLiterals("(?i)" + value)
			if literals == nil {
				compiled.prefixes = nil
				break
			}
			if j == 0 {
				compiled.prefixes = literals
			} else if compiled.prefixes != nil {
				compiled.prefixes = append(compiled.prefixes, literals...)
			}
		}
		if compiled.prefixes != nil {
			// Each value compiled alone above, as for any below.
			joined := strings.Join(alternatives, "|")
			// No (?i) around them: each alternative holds its own flags.
			anchored, err := regexp.Compile(`\A(?s:.)(?:` + joined + ")")
			anchoredStart, errStart := regexp.Compile(`\A(?:` + joined + ")")
			if err == nil && errStart == nil {
				compiled.anchored, compiled.anchoredStart = anchored, anchoredStart
			} else {
				compiled.prefixes = nil // the whole text is run instead
			}
		}
		if len(values) == 1 {
			compiled.any = compiled.each[0]
		} else {
			// One pass over the text for every alternative; each one
			// compiled on its own above, so a pattern cannot close the
			// group around it without failing there first (and each
			// holds its own flags, (?i) among them).
			re, err := regexp.Compile(strings.Join(alternatives, "|"))
			if err != nil {
				errs.add(at("values"), "error.rule_regex", number, strings.Join(values, "\n"), regexError(err))
				return compiled, false
			}
			compiled.any = re
		}
		return compiled, ok
	}
	compiled.folded = make([]string, len(values))
	for j, value := range values {
		compiled.folded[j] = fold(value)
	}
	return compiled, ok
}

// regexError is RE2's complaint without its "error parsing regexp: "
// prefix, which the catalog's message says in the reader's language.
func regexError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// headerName reports whether name can be a header field name: printable
// ASCII other than the colon (RFC 5322 section 2.2), as the MIME parser
// reads them.
func headerName(name string) bool {
	if len(name) > MaxHeaderNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

func compileActions(actions Actions, errs *InvalidError) Actions {
	out := actions
	if out.Read == "" {
		out.Read = Unchanged
	}
	if out.Spam == "" {
		out.Spam = Unchanged
	}
	switch out.Read {
	case Unchanged, Read, Unread:
	default:
		errs.add("actions.read", "error.rule_read")
	}
	switch out.Spam {
	case Unchanged, Spam, NotSpam:
	default:
		errs.add("actions.spam", "error.rule_spam")
	}
	out.ForwardTo = nil
	for _, address := range actions.ForwardTo {
		if address = strings.TrimSpace(address); address != "" {
			out.ForwardTo = append(out.ForwardTo, address)
		}
	}
	if len(out.ForwardTo) > MaxForwardTo {
		errs.add("actions.forward_to", "error.too_many", i18n.Key("rules.action.forward_to"), MaxForwardTo)
	}
	for _, address := range out.ForwardTo {
		if !plainAddress(address) {
			errs.add("actions.forward_to", "error.rule_address", address)
			break
		}
	}
	if actions.Webhook != nil {
		webhook := *actions.Webhook
		webhook.URL = strings.TrimSpace(webhook.URL)
		out.Webhook = &webhook
		if webhook.URL == "" {
			errs.add("actions.webhook.url", "error.required", i18n.Key("rules.action.webhook_url"))
		} else if len(webhook.URL) > MaxURLLength {
			errs.add("actions.webhook.url", "error.too_long", i18n.Key("rules.action.webhook_url"), MaxURLLength)
		} else if !webURL(webhook.URL) {
			errs.add("actions.webhook.url", "error.url", i18n.Key("rules.action.webhook_url"))
		}
	}
	return out
}

// plainAddress reports whether text is a bare e-mail address
// (name@example.com), which the outbound queue can take as an SMTP
// recipient: no display name, no line break, at most MaxAddressLength.
func plainAddress(text string) bool {
	if len(text) > MaxAddressLength || strings.ContainsAny(text, " \t\r\n<>\x00") {
		return false
	}
	parsed, err := mail.ParseAddress(text)
	if err != nil || parsed.Address != text || parsed.Name != "" {
		return false
	}
	at := strings.LastIndexByte(text, '@')
	return at > 0 && at < len(text)-1
}

func webURL(text string) bool {
	if strings.ContainsAny(text, " \t\r\n\x00") {
		return false
	}
	parsed, err := url.Parse(text)
	return err == nil && (parsed.Scheme == "http" || parsed.Scheme == "https") && parsed.Host != ""
}

// programSize is the number of RE2 instructions pattern compiles to (0
// when it does not parse: Compile then says why).
func programSize(pattern string) int {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0
	}
	program, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0
	}
	return len(program.Inst)
}
