package rules

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/mime"
)

const sample = "From: \"Иван Петров\" <ivan@example.ru>\r\n" +
	"Reply-To: support@example.ru\r\n" +
	"To: Sales <sales@pochta.test>, bob@pochta.test\r\n" +
	"Cc: Анна <anna@pochta.test>\r\n" +
	"Subject: =?UTF-8?B?0KHQp9CB0KIg4oSWIDQyINC+0YIgMTIuMDU=?= invoice\r\n" +
	"X-Mailer: MegaMailer 5.1\r\n" +
	"X-Tag: first\r\n" +
	"X-Tag: second\r\n" +
	"Received: from a by b\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n" +
	"\r\n" +
	"--b\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Добрый день!\r\nПРОШУ ОПЛАТИТЬ счёт до пятницы. Order 12345.\r\n" +
	"--b\r\n" +
	"Content-Type: application/pdf; name=\"Счёт-42.pdf\"\r\n" +
	"Content-Disposition: attachment; filename=\"Счёт-42.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQK\r\n" +
	"--b--\r\n"

// sampleView is the view of sample in mailbox 7, rated 80% spam.
func sampleView(t testing.TB) *View {
	t.Helper()
	v := NewView(mime.Parse([]byte(sample), mime.Options{}), 7)
	v.SpamRating = 80
	return v
}

func mustCompile(t testing.TB, r Rule) *Compiled {
	t.Helper()
	c, err := Compile(r)
	if err != nil {
		t.Fatalf("compile %+v: %v", r, err)
	}
	return c
}

func TestNewView(t *testing.T) {
	v := sampleView(t)
	if v.Subject != "СЧЁТ № 42 от 12.05 invoice" {
		t.Errorf("subject %q", v.Subject)
	}
	if !slices.Equal(v.From, []string{"Иван Петров <ivan@example.ru>"}) || !slices.Equal(v.ReplyTo, []string{"support@example.ru"}) {
		t.Errorf("sender %q %q", v.From, v.ReplyTo)
	}
	if !slices.Equal(v.To, []string{"Sales <sales@pochta.test>", "bob@pochta.test"}) || len(v.Cc) != 1 {
		t.Errorf("recipients %q %q", v.To, v.Cc)
	}
	if !slices.Equal(v.Headers["x-tag"], []string{"first", "second"}) || v.Header("X-MAILER") != "MegaMailer 5.1" {
		t.Errorf("headers %v", v.Headers)
	}
	if !slices.Equal(v.Attachments, []string{"Счёт-42.pdf"}) || !strings.Contains(v.Body, "ПРОШУ") {
		t.Errorf("attachments %q, body %q", v.Attachments, v.Body)
	}
	if v.Size != int64(len(sample)) || v.MailboxID != 7 {
		t.Errorf("size %d, mailbox %d", v.Size, v.MailboxID)
	}
	if NewView(mime.Parse([]byte(sample), mime.Options{}), 7).SpamRating >= 0 {
		t.Error("a new view is rated")
	}
}

// Every field with every operator, each against a string that is in the
// field and one that is not (and, for the negative operators, the same
// pairs the other way round).
func TestFieldsAndOperators(t *testing.T) {
	tests := []struct {
		field      Field
		header     string
		op         Op
		values     []string
		want       bool
		wantValue  string // the string a positive match names
		wantInText string // part of the matched text
	}{
		// sender: From and Reply-To
		{FieldSender, "", OpContains, []string{"IVAN@"}, true, "IVAN@", "ivan@"},
		{FieldSender, "", OpContains, []string{"nobody", "SUPPORT@"}, true, "SUPPORT@", "support@"},
		{FieldSender, "", OpContains, []string{"nobody"}, false, "", ""},
		{FieldSender, "", OpNotContains, []string{"nobody", "anyone"}, true, "", ""},
		{FieldSender, "", OpNotContains, []string{"nobody", "петров"}, false, "", ""},
		{FieldSender, "", OpEquals, []string{"ivan@EXAMPLE.ru"}, true, "ivan@EXAMPLE.ru", "Иван Петров <ivan@example.ru>"},
		{FieldSender, "", OpEquals, []string{"иван петров"}, true, "иван петров", "Иван"},
		{FieldSender, "", OpEquals, []string{"support@example.ru"}, true, "support@example.ru", "support@"},
		{FieldSender, "", OpEquals, []string{"ivan@example"}, false, "", ""},
		{FieldSender, "", OpNotEquals, []string{"ivan@example"}, true, "", ""},
		{FieldSender, "", OpNotEquals, []string{"SUPPORT@example.ru"}, false, "", ""},
		{FieldSender, "", OpRegex, []string{`^\S+ \S+ <\w+@example\.ru>$`}, true, `^\S+ \S+ <\w+@example\.ru>$`, "ivan@"},
		{FieldSender, "", OpRegex, []string{`@example\.com`}, false, "", ""},
		// recipient: To, Cc and Bcc
		{FieldRecipient, "", OpContains, []string{"анна"}, true, "анна", "Анна"},
		{FieldRecipient, "", OpContains, []string{"ivan"}, false, "", ""},
		{FieldRecipient, "", OpNotContains, []string{"ivan"}, true, "", ""},
		{FieldRecipient, "", OpNotContains, []string{"BOB"}, false, "", ""},
		{FieldRecipient, "", OpEquals, []string{"Bob@Pochta.Test"}, true, "Bob@Pochta.Test", "bob@pochta.test"},
		{FieldRecipient, "", OpEquals, []string{"sales"}, true, "sales", "Sales"},
		{FieldRecipient, "", OpEquals, []string{"pochta.test"}, false, "", ""},
		{FieldRecipient, "", OpNotEquals, []string{"pochta.test"}, true, "", ""},
		{FieldRecipient, "", OpNotEquals, []string{"x@y.z", "anna@pochta.test"}, false, "", ""},
		{FieldRecipient, "", OpRegex, []string{`^anna@`, `^bob@`}, true, `^bob@`, "bob@"},
		{FieldRecipient, "", OpRegex, []string{`^carol@`}, false, "", ""},
		// subject
		{FieldSubject, "", OpContains, []string{"счёт"}, true, "счёт", "СЧЁТ"},
		{FieldSubject, "", OpContains, []string{"счет"}, false, "", ""}, // е is not ё
		{FieldSubject, "", OpNotContains, []string{"receipt"}, true, "", ""},
		{FieldSubject, "", OpNotContains, []string{"receipt", "INVOICE"}, false, "", ""},
		{FieldSubject, "", OpEquals, []string{"счёт № 42 от 12.05 INVOICE"}, true, "счёт № 42 от 12.05 INVOICE", "СЧЁТ"},
		{FieldSubject, "", OpEquals, []string{"счёт"}, false, "", ""},
		{FieldSubject, "", OpNotEquals, []string{"счёт"}, true, "", ""},
		{FieldSubject, "", OpNotEquals, []string{"СЧЁТ № 42 ОТ 12.05 invoice"}, false, "", ""},
		{FieldSubject, "", OpRegex, []string{`№\s*\d+\s+от\s+\d\d\.\d\d`}, true, `№\s*\d+\s+от\s+\d\d\.\d\d`, "№ 42 от 12.05"},
		{FieldSubject, "", OpRegex, []string{`^invoice`}, false, "", ""},
		// body
		{FieldBody, "", OpContains, []string{"прошу оплатить"}, true, "прошу оплатить", "ПРОШУ ОПЛАТИТЬ"},
		{FieldBody, "", OpContains, []string{"invoice"}, false, "", ""},
		{FieldBody, "", OpNotContains, []string{"invoice"}, true, "", ""},
		{FieldBody, "", OpNotContains, []string{"ПЯТНИЦЫ"}, false, "", ""},
		{FieldBody, "", OpEquals, []string{"добрый день!"}, false, "", ""},
		{FieldBody, "", OpNotEquals, []string{"добрый день!"}, true, "", ""},
		{FieldBody, "", OpRegex, []string{`order\s+\d{5}\b`}, true, `order\s+\d{5}\b`, "Order 12345"},
		{FieldBody, "", OpRegex, []string{`order\s+\d{6}`}, false, "", ""},
		// a named header: each of its values
		{FieldHeader, "x-mailer", OpContains, []string{"megamailer"}, true, "megamailer", "MegaMailer"},
		{FieldHeader, "X-Tag", OpEquals, []string{"SECOND"}, true, "SECOND", "second"},
		{FieldHeader, "X-Tag", OpEquals, []string{"third"}, false, "", ""},
		{FieldHeader, "X-Tag", OpNotEquals, []string{"third"}, true, "", ""},
		{FieldHeader, "X-Tag", OpNotEquals, []string{"first"}, false, "", ""},
		{FieldHeader, "X-Tag", OpNotContains, []string{"irs"}, false, "", ""},
		{FieldHeader, "X-Missing", OpContains, []string{"a"}, false, "", ""},
		{FieldHeader, "X-Missing", OpNotContains, []string{"a"}, true, "", ""},
		{FieldHeader, "X-Mailer", OpRegex, []string{`\d\.\d`}, true, `\d\.\d`, "5.1"},
		// the whole header block
		{FieldHeader, "", OpContains, []string{"mime-version: 1.0"}, true, "mime-version: 1.0", "MIME-Version"},
		{FieldHeader, "", OpContains, []string{"ПРОШУ"}, false, "", ""},
		{FieldHeader, "", OpNotContains, []string{"ПРОШУ"}, true, "", ""},
		{FieldHeader, "", OpRegex, []string{`^x-tag: second`}, false, "", ""}, // no (?m): ^ is the start
		{FieldHeader, "", OpRegex, []string{`(?m)^x-tag: second\r?$`}, true, `(?m)^x-tag: second\r?$`, "X-Tag: second"},
		// the whole message
		{FieldAll, "", OpContains, []string{"x-mailer"}, true, "x-mailer", "X-Mailer"},
		{FieldAll, "", OpContains, []string{"пятницы"}, true, "пятницы", "пятницы"},
		{FieldAll, "", OpContains, []string{"JVBERi0xLjQK"}, false, "", ""}, // attachment bytes are not text
		{FieldAll, "", OpNotContains, []string{"viagra"}, true, "", ""},
		{FieldAll, "", OpEquals, []string{"x-mailer"}, false, "", ""},
		{FieldAll, "", OpNotEquals, []string{"x-mailer"}, true, "", ""},
		{FieldAll, "", OpRegex, []string{`(?s)x-mailer.*оплатить`}, true, `(?s)x-mailer.*оплатить`, "X-Mailer"},
		// attachment names
		{FieldAttachment, "", OpContains, []string{".PDF"}, true, ".PDF", ".pdf"},
		{FieldAttachment, "", OpContains, []string{".exe"}, false, "", ""},
		{FieldAttachment, "", OpNotContains, []string{".exe", ".scr"}, true, "", ""},
		{FieldAttachment, "", OpNotContains, []string{"счёт"}, false, "", ""},
		{FieldAttachment, "", OpEquals, []string{"СЧЁТ-42.PDF"}, true, "СЧЁТ-42.PDF", "Счёт-42.pdf"},
		{FieldAttachment, "", OpEquals, []string{"счёт"}, false, "", ""},
		{FieldAttachment, "", OpNotEquals, []string{"счёт"}, true, "", ""},
		{FieldAttachment, "", OpRegex, []string{`\.(exe|scr|js)$`}, false, "", ""},
		{FieldAttachment, "", OpRegex, []string{`-\d+\.pdf$`}, true, `-\d+\.pdf$`, "-42.pdf"},
	}
	v := sampleView(t)
	for _, test := range tests {
		name := string(test.field) + "/" + test.header + "/" + string(test.op) + "/" + strings.Join(test.values, "|")
		t.Run(name, func(t *testing.T) {
			c := mustCompile(t, Rule{ID: 1, Active: true, OnReceive: true, Name: "r",
				Conditions: []Condition{{Field: test.field, Header: test.header, Op: test.op, Values: test.values}}})
			outcome := Evaluate([]*Compiled{c}, v, EventReceive)
			if got := len(outcome.Matches) == 1; got != test.want {
				t.Fatalf("matched %v, want %v", got, test.want)
			}
			if !test.want {
				return
			}
			reasons := outcome.Matches[0].Reasons
			if len(reasons) != 1 || reasons[0].Condition != 0 || reasons[0].Field != test.field || reasons[0].Op != test.op {
				t.Fatalf("reasons %+v", reasons)
			}
			reason := reasons[0]
			if reason.Value != test.wantValue || !strings.Contains(reason.Text, test.wantInText) {
				t.Errorf("reason value %q text %q, want %q and a text with %q", reason.Value, reason.Text, test.wantValue, test.wantInText)
			}
			if test.op.negative() && !slices.Equal(reason.Values, test.values) {
				t.Errorf("negative reason lists %q", reason.Values)
			}
		})
	}
}

// The original module upper-cased its regular expressions, which made \d,
// \w and \s mean \D, \W and \S; ours mean what they say, and (?i) matches
// Cyrillic in either case.
func TestRegexClassesAreNotUpperCased(t *testing.T) {
	v := &View{Subject: "Order 12345 paid", Body: "Заказ № 777 ОПЛАЧЕН"}
	tests := []struct {
		field   Field
		pattern string
		want    bool
	}{
		{FieldSubject, `\d+`, true},
		{FieldSubject, `^\w+\s\d{5}\s\w+$`, true},
		{FieldSubject, `\D{6}\d`, true},
		{FieldSubject, `^\S+$`, false},           // upper-cased \s would match
		{FieldSubject, `^[^\d]+$`, false},        // there are digits
		{FieldSubject, `ORDER \d+ PAID`, true},   // case-insensitive
		{FieldBody, `заказ № \d+ оплачен`, true}, // Cyrillic folds
		{FieldBody, `(?-i)заказ`, false},         // unless the pattern turns it off
		{FieldBody, `\p{Cyrillic}+ № \d+`, true}, // Unicode classes
		{FieldBody, `^\S+\s№\s\d+\s\S+$`, true},
	}
	for _, test := range tests {
		c := mustCompile(t, Rule{Active: true, OnManual: true, Conditions: []Condition{{Field: test.field, Op: OpRegex, Values: []string{test.pattern}}}})
		if got := len(Evaluate([]*Compiled{c}, v, EventManual).Matches) == 1; got != test.want {
			t.Errorf("%s ~ %s: %v, want %v", test.field, test.pattern, got, test.want)
		}
	}
}

func TestCyrillicCaseFolding(t *testing.T) {
	tests := []struct {
		text, value string
		want        bool
	}{
		{"ПРИВЕТ, МИР", "привет, мир", true},
		{"привет, мир", "ПРИВЕТ, МИР", true},
		{"Ёлка и ЁЖ", "ёлка и ёж", true},
		{"ЇЖАК ЄНОТ ІГОР ЎЗБЕК ЂАК", "їжак єнот ігор ўзбек ђак", true}, // Ѐ-Џ
		{"ёлка", "елка", false},
		{"ΣΟΦΟΣ", "σοφος", true},     // final sigma folds with sigma
		{"Straße", "STRASSE", false}, // simple folding: ß is one character
		{"Kelvin", "kelvin", true},   // the Kelvin sign
		{"İstanbul", "istanbul", true},
		{"mixed ТЕКСТ text", "MIXED текст TEXT", true},
	}
	for _, test := range tests {
		for _, op := range []Op{OpContains, OpEquals} {
			c := mustCompile(t, Rule{Active: true, OnReceive: true, Conditions: []Condition{{Field: FieldSubject, Op: op, Values: []string{test.value}}}})
			if got := len(Evaluate([]*Compiled{c}, &View{Subject: test.text}, EventReceive).Matches) == 1; got != test.want {
				t.Errorf("%q %s %q: %v, want %v", test.text, op, test.value, got, test.want)
			}
		}
	}
}

func TestExcerptMapsFoldedOffsetsBack(t *testing.T) {
	// "K" (Kelvin, 3 bytes) folds to "k" (1 byte): the excerpt must still
	// show the text as written around the match.
	text := strings.Repeat("KELVIN ", 10) + "ПРОШУ ОПЛАТИТЬ" + strings.Repeat(" хвост", 20)
	c := mustCompile(t, Rule{Active: true, OnReceive: true, Conditions: []Condition{{Field: FieldBody, Op: OpContains, Values: []string{"прошу оплатить"}}}})
	outcome := Evaluate([]*Compiled{c}, &View{Body: text}, EventReceive)
	if len(outcome.Matches) != 1 {
		t.Fatal("no match")
	}
	got := outcome.Matches[0].Reasons[0].Text
	if !strings.Contains(got, "KELVIN ПРОШУ ОПЛАТИТЬ хвост") || !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") {
		t.Errorf("excerpt %q", got)
	}
}

func TestSpamAndSizeConditions(t *testing.T) {
	tests := []struct {
		spam *Threshold
		size *SizeLimit
		view View
		want bool
	}{
		{spam: &Threshold{OpGreater, 90}, view: View{SpamRating: 95}, want: true},
		{spam: &Threshold{OpGreater, 90}, view: View{SpamRating: 90}, want: false},
		{spam: &Threshold{OpLess, 10}, view: View{SpamRating: 9}, want: true},
		{spam: &Threshold{OpLess, 10}, view: View{SpamRating: 10}, want: false},
		{spam: &Threshold{OpLess, 10}, view: View{SpamRating: -1}, want: false}, // not rated
		{spam: &Threshold{OpGreater, 0}, view: View{SpamRating: -1}, want: false},
		{size: &SizeLimit{OpGreater, 1, UnitMB}, view: View{Size: 1<<20 + 1}, want: true},
		{size: &SizeLimit{OpGreater, 1, UnitMB}, view: View{Size: 1 << 20}, want: false},
		{size: &SizeLimit{OpLess, 10, UnitKB}, view: View{Size: 10*1024 - 1}, want: true},
		{size: &SizeLimit{OpLess, 10, UnitKB}, view: View{Size: 10 * 1024}, want: false},
		{size: &SizeLimit{OpLess, 500, ""}, view: View{Size: 499}, want: true},
		{size: &SizeLimit{OpGreater, 500, UnitB}, view: View{Size: 499}, want: false},
		{spam: &Threshold{OpGreater, 50}, size: &SizeLimit{OpLess, 1, UnitKB}, view: View{SpamRating: 60, Size: 100}, want: true},
		{spam: &Threshold{OpGreater, 50}, size: &SizeLimit{OpLess, 1, UnitKB}, view: View{SpamRating: 60, Size: 2000}, want: false},
	}
	for i, test := range tests {
		c := mustCompile(t, Rule{ID: 1, Active: true, OnReceive: true, Spam: test.spam, Size: test.size})
		outcome := Evaluate([]*Compiled{c}, &test.view, EventReceive)
		if got := len(outcome.Matches) == 1; got != test.want {
			t.Errorf("%d: matched %v, want %v", i, got, test.want)
			continue
		}
		if test.want {
			for _, reason := range outcome.Matches[0].Reasons {
				if reason.Condition != -1 || reason.Text == "" {
					t.Errorf("%d: reason %+v", i, reason)
				}
			}
		}
	}
}

// All conditions must hold.
func TestAllConditionsMustHold(t *testing.T) {
	v := sampleView(t)
	rule := Rule{ID: 1, Active: true, OnReceive: true, Conditions: []Condition{
		{Field: FieldSubject, Op: OpContains, Values: []string{"invoice"}},
		{Field: FieldSender, Op: OpContains, Values: []string{"example.ru"}},
		{Field: FieldAttachment, Op: OpNotContains, Values: []string{".exe"}},
	}, Spam: &Threshold{OpGreater, 50}}
	if got := Evaluate([]*Compiled{mustCompile(t, rule)}, v, EventReceive); len(got.Matches) != 1 || len(got.Matches[0].Reasons) != 4 {
		t.Fatalf("all hold: %+v", got)
	}
	rule.Conditions = append(rule.Conditions, Condition{Field: FieldBody, Op: OpContains, Values: []string{"absent"}})
	if got := Evaluate([]*Compiled{mustCompile(t, rule)}, v, EventReceive); len(got.Matches) != 0 {
		t.Fatalf("one fails: %+v", got)
	}
}

// Rules run by sort then ID, only the active ones of the message's mailbox
// or of every mailbox that are set for the event; stop and delete end the
// run after the rule's own actions.
func TestOrderEventsMailboxesAndStop(t *testing.T) {
	v := sampleView(t) // mailbox 7
	any := []Condition{{Field: FieldSubject, Op: OpContains, Values: []string{"invoice"}}}
	rule := func(id int64, sort int, mailbox int64, receive, manual bool, actions Actions) *Compiled {
		return mustCompile(t, Rule{ID: id, Name: "rule", Sort: sort, MailboxID: mailbox, Active: true,
			OnReceive: receive, OnManual: manual, Conditions: any, Actions: actions})
	}
	inactive := rule(9, 1, 0, true, true, Actions{Read: Read})
	inactive.rule.Active = false
	set := []*Compiled{
		rule(5, 500, 0, true, true, Actions{Read: Read}),
		rule(3, 500, 7, true, false, Actions{Spam: Spam}),
		rule(8, 100, 7, false, true, Actions{Read: Unread}),
		rule(2, 900, 8, true, true, Actions{Delete: true}), // another mailbox
		rule(4, 700, 0, true, true, Actions{ForwardTo: []string{"a@b.c"}}),
		inactive,
		nil,
	}
	ids := func(o Outcome) []int64 {
		var out []int64
		for _, m := range o.Matches {
			out = append(out, m.RuleID)
		}
		return out
	}
	if got := ids(Evaluate(set, v, EventReceive)); !slices.Equal(got, []int64{3, 5, 4}) {
		t.Errorf("on receipt: %v", got)
	}
	if got := ids(Evaluate(set, v, EventManual)); !slices.Equal(got, []int64{8, 5, 4}) {
		t.Errorf("manually: %v", got)
	}
	set = append(set, rule(6, 600, 0, true, true, Actions{Read: Unread, Stop: true}))
	outcome := Evaluate(set, v, EventReceive)
	if got := ids(outcome); !slices.Equal(got, []int64{3, 5, 6}) || outcome.StoppedBy != 6 {
		t.Errorf("stop: %v, stopped by %d", got, outcome.StoppedBy)
	}
	if effect := outcome.Effect(); effect.Read != Unread || effect.Spam != Spam || effect.Delete || len(effect.Forwards) != 0 {
		t.Errorf("effect %+v", effect)
	}
	set = append(set, rule(1, 550, 0, true, true, Actions{Delete: true, Read: Read}))
	outcome = Evaluate(set, v, EventReceive)
	if got := ids(outcome); !slices.Equal(got, []int64{3, 5, 1}) || outcome.StoppedBy != 1 || !outcome.Effect().Delete {
		t.Errorf("delete ends the run: %v, stopped by %d", got, outcome.StoppedBy)
	}
	// The caller's slice is not reordered.
	if set[0].ID() != 5 {
		t.Error("Evaluate sorted the caller's slice")
	}
}

func TestActionOrder(t *testing.T) {
	c := mustCompile(t, Rule{ID: 4, Active: true, OnReceive: true, Actions: Actions{
		Stop: true, Delete: true, Webhook: &Webhook{URL: "https://hooks.example/x", Secret: []byte("s")},
		ForwardTo: []string{"a@example.com", " b@example.com "}, Spam: NotSpam, Read: Read,
	}})
	outcome := Evaluate([]*Compiled{c}, &View{}, EventReceive)
	var kinds []Kind
	for _, step := range outcome.Steps() {
		kinds = append(kinds, step.Kind)
		if step.RuleID != 4 {
			t.Errorf("step %+v", step)
		}
	}
	want := []Kind{KindRead, KindNotSpam, KindForward, KindWebhook, KindDelete, KindStop}
	if !slices.Equal(kinds, want) {
		t.Errorf("order %v, want %v", kinds, want)
	}
	steps := outcome.Steps()
	if !slices.Equal(steps[2].Addresses, []string{"a@example.com", "b@example.com"}) || string(steps[3].Webhook.Secret) != "s" {
		t.Errorf("parameters %+v %+v", steps[2], steps[3])
	}
	if len(outcome.Matches[0].Reasons) != 0 {
		t.Errorf("a rule without conditions has reasons: %+v", outcome.Matches[0].Reasons)
	}
}

func TestForwardLoops(t *testing.T) {
	received := make([]string, MaxHops+1)
	tests := []struct {
		headers  map[string][]string
		loopHost string
		want     LoopReason
	}{
		{map[string][]string{}, "", LoopNone},
		{map[string][]string{"auto-submitted": {"no"}}, "", LoopNone},
		{map[string][]string{"auto-submitted": {" No ; comment"}}, "", LoopNone},
		{map[string][]string{"auto-submitted": {"auto-replied"}}, "", LoopAutoSubmitted},
		{map[string][]string{"auto-submitted": {"Auto-Generated; owner-email=x@y"}}, "", LoopAutoSubmitted},
		// This install's name unknown: any Pochta's header blocks.
		{map[string][]string{"x-pochta-loop": {"mail.example.com"}}, "", LoopPochta},
		// Its own name, in any case, among others: its own loop.
		{map[string][]string{"x-pochta-loop": {"relay.example.org", " Mail.Example.COM "}}, "mail.example.com", LoopPochta},
		// Another install forwarded it: it may go on.
		{map[string][]string{"x-pochta-loop": {"relay.example.org"}}, "mail.example.com", LoopNone},
		{map[string][]string{"x-pochta-loop": {"mail.example.com.evil"}}, "mail.example.com", LoopNone},
		{map[string][]string{"received": received[:MaxHops]}, "", LoopNone},
		{map[string][]string{"received": received}, "", LoopHops},
	}
	c := mustCompile(t, Rule{ID: 1, Active: true, OnReceive: true, Actions: Actions{ForwardTo: []string{"a@example.com"}}})
	for _, test := range tests {
		v := &View{Headers: test.headers, LoopHost: test.loopHost}
		if got := ForwardLoop(v); got != test.want {
			t.Errorf("%v: %q, want %q", test.headers, got, test.want)
		}
		outcome := Evaluate([]*Compiled{c}, v, EventReceive)
		step := outcome.Steps()[0]
		if step.Blocked != test.want || (len(outcome.Effect().Forwards) == 1) != (test.want == LoopNone) {
			t.Errorf("%v: step %+v", test.headers, step)
		}
		line := i18n.Default.Message("en", step.LogLine())
		if strings.Contains(line, "not forwarded") != (test.want != LoopNone) || strings.Contains(line, "log.") {
			t.Errorf("log line %q", line)
		}
	}
}

func TestCompileRefusesWithFieldErrors(t *testing.T) {
	long := strings.Repeat("я", MaxValueLength+1)
	many := make([]string, MaxValues+1)
	for i := range many {
		many[i] = "x"
	}
	tests := []struct {
		name  string
		rule  Rule
		field string
		key   string
	}{
		{"bad regex", Rule{Conditions: []Condition{{Field: FieldSubject, Op: OpRegex, Values: []string{"ok", "a(b"}}}}, "conditions.0.values", "error.rule_regex"},
		{"large program", Rule{Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`\w{1000}`, `\d{1000}`, `x{1000}\s{1000}`, `[a-я]{1000}`, `.{1000}`}}}}, "conditions.0.values", "error.rule_regex_large"},
		{"perl lookahead", Rule{Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`foo(?=bar)`}}}}, "conditions.0.values", "error.rule_regex"},
		{"second condition", Rule{Conditions: []Condition{{Field: FieldSubject, Op: OpContains, Values: []string{"a"}}, {Field: "from", Op: OpContains, Values: []string{"a"}}}}, "conditions.1.field", "error.rule_field"},
		{"unknown op", Rule{Conditions: []Condition{{Field: FieldSubject, Op: "like", Values: []string{"a"}}}}, "conditions.0.op", "error.rule_op"},
		{"no strings", Rule{Conditions: []Condition{{Field: FieldSubject, Op: OpContains, Values: []string{" ", "\r\n"}}}}, "conditions.0.values", "error.rule_values"},
		{"too many strings", Rule{Conditions: []Condition{{Field: FieldSubject, Op: OpContains, Values: many}}}, "conditions.0.values", "error.rule_values_many"},
		{"long string", Rule{Conditions: []Condition{{Field: FieldSubject, Op: OpContains, Values: []string{long}}}}, "conditions.0.values", "error.rule_value_long"},
		{"bad text", Rule{Conditions: []Condition{{Field: FieldSubject, Op: OpContains, Values: []string{"a\x00b"}}}}, "conditions.0.values", "error.rule_value_text"},
		{"header name", Rule{Conditions: []Condition{{Field: FieldHeader, Header: "X Bad:", Op: OpContains, Values: []string{"a"}}}}, "conditions.0.header", "error.rule_header"},
		{"too many conditions", Rule{Conditions: make([]Condition, MaxConditions+1)}, "conditions", "error.too_many"},
		{"spam op", Rule{Spam: &Threshold{Op: "=", Value: 5}}, "spam_rating.op", "error.rule_compare"},
		{"spam range", Rule{Spam: &Threshold{Op: OpGreater, Value: 101}}, "spam_rating.value", "error.range"},
		{"size unit", Rule{Size: &SizeLimit{Op: OpLess, Value: 1, Unit: "gb"}}, "size.unit", "error.rule_unit"},
		{"size range", Rule{Size: &SizeLimit{Op: OpLess, Value: -1, Unit: UnitKB}}, "size.value", "error.range"},
		{"read", Rule{Actions: Actions{Read: "maybe"}}, "actions.read", "error.rule_read"},
		{"spam mark", Rule{Actions: Actions{Spam: "ham"}}, "actions.spam", "error.rule_spam"},
		{"address", Rule{Actions: Actions{ForwardTo: []string{"ok@example.com", "Bob <bob@example.com>"}}}, "actions.forward_to", "error.rule_address"},
		{"address line", Rule{Actions: Actions{ForwardTo: []string{"a@example.com\r\nRCPT TO:<x@y>"}}}, "actions.forward_to", "error.rule_address"},
		{"webhook url", Rule{Actions: Actions{Webhook: &Webhook{URL: "ftp://x"}}}, "actions.webhook.url", "error.url"},
		{"webhook none", Rule{Actions: Actions{Webhook: &Webhook{URL: " "}}}, "actions.webhook.url", "error.required"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			c, err := Compile(test.rule)
			var invalid *InvalidError
			if c != nil || !errors.As(err, &invalid) {
				t.Fatalf("got %v, %v", c, err)
			}
			message, ok := invalid.Fields[test.field]
			if !ok || message.Key != test.key {
				t.Fatalf("fields %+v, want %s: %s", invalid.Fields, test.field, test.key)
			}
			for _, language := range []string{"en", "ru"} {
				if text := i18n.Default.Message(language, message); strings.Contains(text, "%!") || strings.HasPrefix(text, "error.") {
					t.Errorf("%s: %q", language, text)
				}
			}
		})
	}
	// The regex error names the pattern and RE2's complaint.
	_, err := Compile(Rule{Conditions: []Condition{{Field: FieldSubject, Op: OpRegex, Values: []string{`\d+(`}}}})
	if text := err.Error(); !strings.Contains(text, `\\d+(`) || !strings.Contains(text, "missing closing )") {
		t.Errorf("regex error %q", text)
	}
}

func TestCompileNormalises(t *testing.T) {
	c := mustCompile(t, Rule{Conditions: []Condition{
		{Field: FieldSubject, Header: "ignored", Op: OpContains, Values: []string{" a ", "b\r\nc", "", "  "}},
		{Field: FieldHeader, Header: " X-Mailer ", Op: OpEquals, Values: []string{"x"}},
	}, Size: &SizeLimit{Op: OpLess, Value: 3, Unit: " KB"}, Actions: Actions{ForwardTo: []string{" a@b.c ", ""}}})
	r := c.Rule()
	if !slices.Equal(r.Conditions[0].Values, []string{"a", "b", "c"}) || r.Conditions[0].Header != "" || r.Conditions[1].Header != "X-Mailer" {
		t.Errorf("conditions %+v", r.Conditions)
	}
	if r.Size.Unit != UnitKB || r.Size.Bytes() != 3072 || !slices.Equal(r.Actions.ForwardTo, []string{"a@b.c"}) {
		t.Errorf("size %+v, forward %q", r.Size, r.Actions.ForwardTo)
	}
}

func TestDescribe(t *testing.T) {
	rule := Rule{
		Conditions: []Condition{
			{Field: FieldSubject, Op: OpContains, Values: []string{"invoice", "счёт"}},
			{Field: FieldHeader, Header: "X-Mailer", Op: OpNotEquals, Values: []string{"Bulk"}},
		},
		Size:    &SizeLimit{Op: OpGreater, Value: 1, Unit: UnitMB},
		Spam:    &Threshold{Op: OpLess, Value: 50},
		Actions: Actions{Read: Read, Spam: NotSpam, ForwardTo: []string{"a@example.com", "b@example.com"}, Stop: true},
	}
	tests := []struct {
		language string
		rule     Rule
		want     string
	}{
		{"en", rule, `If the subject contains "invoice" or "счёт" and the header X-Mailer does not equal "Bulk" and the spam probability is less than 50% and the size is greater than 1 MB: mark as read, mark as not spam, forward to a@example.com, b@example.com, stop further rules`},
		{"ru", rule, `Если тема содержит «invoice» или «счёт» и заголовок X-Mailer не совпадает с «Bulk» и вероятность спама меньше 50% и размер сообщения больше 1 МБ: пометить как прочитанное, пометить как не спам, переслать на a@example.com, b@example.com, прекратить дальнейшую обработку правил`},
		{"en", Rule{Actions: Actions{Delete: true, Spam: Spam}}, "Every message: mark as spam, delete the message"},
		{"ru", Rule{Conditions: []Condition{{Field: FieldAttachment, Op: OpRegex, Values: []string{`\.exe$`}}}}, `Если имя вложения соответствует регулярному выражению «\.exe$»: ничего не делать`},
		{"en", Rule{Actions: Actions{Webhook: &Webhook{URL: "https://hooks.example/in"}}}, "Every message: call the webhook https://hooks.example/in"},
	}
	for _, test := range tests {
		if got := i18n.Default.Message(test.language, Describe(test.rule)); got != test.want {
			t.Errorf("%s:\n got %s\nwant %s", test.language, got, test.want)
		}
	}
}

func TestReasonsAndLogLinesSay(t *testing.T) {
	v := sampleView(t)
	c := mustCompile(t, Rule{ID: 12, Name: "Счета", Active: true, OnReceive: true, OnManual: true, Conditions: []Condition{
		{Field: FieldSubject, Op: OpContains, Values: []string{"счёт"}},
		{Field: FieldBody, Op: OpNotContains, Values: []string{"viagra"}},
	}, Spam: &Threshold{OpGreater, 50}, Size: &SizeLimit{OpLess, 1, UnitMB}, Actions: Actions{Read: Read, Delete: true}})
	outcome := Evaluate([]*Compiled{c}, v, EventReceive)
	var reasons []string
	for _, reason := range outcome.Matches[0].Reasons {
		reasons = append(reasons, i18n.Default.Message("en", reason.Message()))
	}
	want := []string{
		`the subject contains "счёт": СЧЁТ № 42 от 12.05 invoice`,
		`the body does not contain "viagra": none found`,
		`the spam probability is greater than 50%: 80%`,
		`the size is less than 1048576 bytes: 1000 bytes`,
	}
	want[3] = strings.Replace(want[3], "1000", strconv.Itoa(len(sample)), 1)
	if !slices.Equal(reasons, want) {
		t.Errorf("reasons\n got %q\nwant %q", reasons, want)
	}
	match := outcome.Matches[0]
	if got := i18n.Default.Message("en", match.LogLine(EventReceive)); got != "Processing with rule [12] Счета (on receipt)" {
		t.Errorf("log line %q", got)
	}
	if got := i18n.Default.Message("ru", match.LogLine(EventManual)); got != "Обработка правилом [12] Счета (вручную)" {
		t.Errorf("log line %q", got)
	}
	for _, step := range match.Steps {
		for _, language := range []string{"en", "ru"} {
			if line := i18n.Default.Message(language, step.LogLine()); !strings.Contains(line, "[12]") || strings.Contains(line, "log.") {
				t.Errorf("%s step line %q", language, line)
			}
		}
	}
}

// The byte-level Cyrillic path of fold agrees with foldRune for every
// character of the Cyrillic block and its neighbours, and invalid bytes
// fold as the rune loop would.
func TestFoldFastPathAgrees(t *testing.T) {
	for r := rune(0x0370); r < 0x0530; r++ {
		text := "X" + string(r) + "y"
		want := "x" + string(foldRune(r)) + "y"
		if got := fold(text); got != want {
			t.Errorf("U+%04X: %q, want %q", r, got, want)
		}
	}
	for _, text := range []string{"\xd0", "a\xd0", "\xd0A", "\xd1\xff", "Ж\xc3"} {
		var want strings.Builder
		for _, r := range text {
			want.WriteRune(foldRune(unicode.ToLower(r)))
		}
		if got := fold(text); got != want.String() || utf8.RuneCountInString(got) != utf8.RuneCountInString(text) {
			t.Errorf("%q: %q, want %q", text, got, want.String())
		}
	}
}

// fold maps every character of a case-folding orbit (what RE2's (?i)
// treats as equal) to the same character: otherwise a literal prefilter
// on folded text could skip a text that the expression matches.
func TestFoldAgreesWithRegexCaseOrbits(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		want := fold(string(r))
		for other := unicode.SimpleFold(r); other != r; other = unicode.SimpleFold(other) {
			if got := fold(string(other)); got != want {
				t.Errorf("U+%04X folds to %q, U+%04X of its orbit to %q", r, want, other, got)
			}
		}
	}
}

// One compiled rule set judges many messages at once (the receipt's
// parallel batches): run under -race.
func TestEvaluateConcurrently(t *testing.T) {
	set := hundredRules(t)
	m := mime.Parse(typicalMessage(), mime.Options{})
	done := make(chan int)
	for range 4 {
		go func() {
			matched := 0
			for range 20 {
				v := NewView(m, 1)
				v.SpamRating = 12
				matched += len(Evaluate(set, v, EventReceive).Matches)
			}
			done <- matched
		}()
	}
	for range 4 {
		if got := <-done; got != 40 {
			t.Errorf("%d matches in 20 runs, want 40", got)
		}
	}
}

// A hostile regular expression's cost is bounded: a program of thousands
// of instructions is refused when saved (a rule saved under the earlier
// bound still runs), and a regular expression sees at most MaxRegexText
// bytes of a field, so a 1 MB body costs what 256 KB does. No timing is
// asserted: the bound is the refusal and the length of the cut text.
func TestHostileRegexBounded(t *testing.T) {
	hostile := `(?:[a-zа-я]\w?){1000}(?:[a-zа-я]\w?){339}\d`
	if size := programSize("(?i)" + hostile); size <= MaxProgram || size > MaxStoredProgram {
		t.Fatalf("the hostile pattern compiles to %d instructions; want between %d and %d", size, MaxProgram, MaxStoredProgram)
	}
	rule := Rule{ID: 1, Active: true, OnReceive: true, Actions: Actions{Read: Read},
		Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{hostile}}}}
	var invalid *InvalidError
	if _, err := Compile(rule); !errors.As(err, &invalid) || invalid.Fields["conditions.0.values"].Key != "error.rule_regex_large" {
		t.Fatalf("saving the hostile rule: %v", err)
	}
	if _, err := CompileStored(rule); err != nil {
		t.Fatalf("a stored rule under the earlier bound: %v", err)
	}

	// A 1 MB body, Cyrillic so that the cut falls inside a character.
	body := strings.Repeat("съешь ещё этих мягких булок x", 1<<20/50) + "tail-marker 42"
	if len(body) < 1<<20 {
		t.Fatalf("body of %d bytes", len(body))
	}
	cut := regexText(body)
	if len(cut) > MaxRegexText || len(cut) < MaxRegexText-4096 || !utf8.ValidString(cut) || !strings.HasPrefix(body, cut) {
		t.Errorf("the text a regex runs on: %d bytes (valid %v); want the first %d at most", len(cut), utf8.ValidString(cut), MaxRegexText)
	}
	view := &View{MailboxID: 7, Body: body, SpamRating: -1}
	beyond := mustCompile(t, Rule{ID: 2, Active: true, OnReceive: true, Actions: Actions{Read: Read},
		Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`tail-marker \d+`}}}})
	within := mustCompile(t, Rule{ID: 3, Active: true, OnReceive: true, Actions: Actions{Read: Read},
		Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`мягких\s+булок`}}}})
	// contains sees the whole text; a regex only its first MaxRegexText.
	whole := mustCompile(t, Rule{ID: 4, Active: true, OnReceive: true, Actions: Actions{Read: Read},
		Conditions: []Condition{{Field: FieldBody, Op: OpContains, Values: []string{"TAIL-MARKER"}}}})
	outcome := Evaluate([]*Compiled{beyond, within, whole}, view, EventReceive)
	var matched []int64
	for _, m := range outcome.Matches {
		matched = append(matched, m.RuleID)
	}
	if !slices.Equal(matched, []int64{3, 4}) {
		t.Errorf("matched rules %v; want [3 4] (the regex past the first %d bytes does not see its text)", matched, MaxRegexText)
	}

	// The cut does not make a match the whole text lacks: "order 123456"
	// ends at MaxRegexText, and "7" follows it.
	number := strings.Repeat("a", MaxRegexText-len("order 123456")) + "order 1234567 more text"
	for _, pattern := range []string{`order \d{6}\b`, `\d{6}$`, `order \d{6}(?:\D|$)`} {
		rule := mustCompile(t, Rule{ID: 5, Active: true, OnReceive: true, Actions: Actions{Delete: true},
			Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{pattern}}}})
		if outcome := Evaluate([]*Compiled{rule}, &View{Body: number, SpamRating: -1}, EventReceive); len(outcome.Matches) != 0 {
			t.Errorf("%s matched at the cut", pattern)
		}
	}
}

// A pattern that every match begins with a literal of is run anchored
// where the literal is, and finds what it finds over the whole text:
// assertions before the literal, Cyrillic folding (the offsets of the
// folded and the written text differ), several values, and more places
// than are tried anchored.
func TestAnchoredRegexAgrees(t *testing.T) {
	body := "Добрый день! ПРОШУ ОПЛАТИТЬ СЧЁТ №42 до пятницы.\nReorder 123456; order #654321.\nИТОГО: 5 000 руб.\n" +
		strings.Repeat("счёт-фактура ", 12) + "Invoice 77"
	patterns := []string{`\border\s+#?\d{6}\b`, `\border\s+\d{6}`, `\Border\s+\d{6}`, `^добрый`, `^день`, `(?m)^итого`,
		`(?m)^order`, `счёт\s+№\d+`, `счёт №43`, `(invoice|счёт)\s+\d+`, `invoice \d+$`, `фактура\s+invoice`,
		`пятницы\.$`, `(?s)прошу.*invoice`, `(?s)прошу.*nothing`}
	for _, pattern := range patterns {
		for _, values := range [][]string{{pattern}, {pattern, `zzz\d{9}`}} {
			rule := Rule{ID: 1, Active: true, OnReceive: true, Actions: Actions{Read: Read},
				Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: values}}}
			c := mustCompile(t, rule)
			if prefixLiterals("(?i)"+pattern) != nil && c.conditions[0].prefixes == nil {
				t.Errorf("%q: not run anchored", pattern)
			}
			want := regexp.MustCompile("(?i)" + pattern).MatchString(body)
			got := len(Evaluate([]*Compiled{c}, &View{Body: body, SpamRating: -1}, EventReceive).Matches) == 1
			if got != want {
				t.Errorf("%q (of %d values): matched %v, the pattern over the whole body %v", pattern, len(values), got, want)
			}
		}
	}
}

// Many places of a prefix, patterns that fail late: the anchored runs'
// budget runs out and the pattern runs once over the text, with the same
// answer as the pattern alone.
func TestAnchoredRegexBudget(t *testing.T) {
	body := strings.Repeat("an order of goods, ", 40) + "\nTOTAL 5"
	for _, pattern := range []string{`(?s)order.*total \d`, `(?s)order.*nothing`, `order.*\d$`, `order of goods, an order`, `order\s+\d`,
		`\border\b[^\n]*total`} {
		rule := Rule{ID: 1, Active: true, OnReceive: true, Actions: Actions{Read: Read},
			Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{pattern}}}}
		c := mustCompile(t, rule)
		if c.conditions[0].prefixes == nil {
			t.Errorf("%q: not run anchored", pattern)
		}
		want := regexp.MustCompile("(?i)" + pattern).MatchString(body)
		got := len(Evaluate([]*Compiled{c}, &View{Body: body, SpamRating: -1}, EventReceive).Matches) == 1
		if got != want {
			t.Errorf("%q: matched %v, the pattern over the whole body %v", pattern, got, want)
		}
	}
}
