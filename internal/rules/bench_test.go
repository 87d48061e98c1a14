package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/benchcpu"
	"pochta.dev/pochta/internal/mime"
)

// typicalMessage is an ordinary business message of about 4 KB: trace
// headers, a few recipients, an RFC 2047 subject, a Russian and English
// text body and a PDF attachment.
func typicalMessage() []byte {
	var b strings.Builder
	for i := range 5 {
		fmt.Fprintf(&b, "Received: from relay%d.example.net (relay%d.example.net [192.0.2.%d]) by mx.pochta.test with ESMTPS id %d; Mon, 4 May 2026 10:0%d:00 +0300\r\n", i, i, i, 1000+i, i)
	}
	b.WriteString("From: \"Ольга Смирнова\" <o.smirnova@supplier.example.ru>\r\n" +
		"To: Отдел закупок <purchasing@pochta.test>, director@pochta.test\r\n" +
		"Cc: accounting@pochta.test\r\n" +
		"Subject: =?UTF-8?B?0KHRh9GR0YIg4oSWIDQ1Mzcg0L3QsCDQvtC/0LvQsNGC0YMg0L/QvtGB0YLQsNCy0LrQuA==?=\r\n" +
		"Date: Mon, 4 May 2026 10:05:00 +0300\r\n" +
		"Message-ID: <20260504100500.4537@supplier.example.ru>\r\n" +
		"X-Mailer: Microsoft Outlook 16.0\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for range 12 {
		b.WriteString("Добрый день! Направляем счёт на оплату поставки по договору № 17/2026. Просим оплатить до пятницы.\r\n" +
			"Please find attached the invoice for the May delivery; payment terms are as agreed.\r\n")
	}
	b.WriteString("--b1\r\nContent-Type: application/pdf; name=\"invoice-4537.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-4537.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n--b1--\r\n")
	return []byte(b.String())
}

// hundredRules is a rule set as an office grows one: mostly senders,
// recipients and subjects, some bodies, headers and attachment names, a few
// regular expressions and spam and size rules; two of them match the
// typical message.
func hundredRules(tb testing.TB) []*Compiled {
	tb.Helper()
	var set []*Compiled
	add := func(conditions []Condition, spam *Threshold, size *SizeLimit) {
		id := int64(len(set) + 1)
		set = append(set, mustCompile(tb, Rule{ID: id, Name: fmt.Sprintf("rule %d", id), Active: true, OnReceive: true,
			Sort: 100 * int(id%7), Conditions: conditions, Spam: spam, Size: size, Actions: Actions{Read: Read}}))
	}
	text := func(field Field, op Op, values ...string) []Condition {
		return []Condition{{Field: field, Op: op, Values: values}}
	}
	for i := range 30 {
		if i%3 == 0 {
			add(text(FieldSender, OpEquals, fmt.Sprintf("partner%d@vendor%d.example.com", i, i)), nil, nil)
		} else {
			add(text(FieldSender, OpContains, fmt.Sprintf("@vendor%d.example.com", i), fmt.Sprintf("@client%d.example.org", i)), nil, nil)
		}
	}
	for i := range 15 {
		add(text(FieldRecipient, OpContains, fmt.Sprintf("team%d@pochta.test", i)), nil, nil)
	}
	for i := range 20 {
		add(text(FieldSubject, OpContains, fmt.Sprintf("заказ %d", i), fmt.Sprintf("order %d", i), "рассылка", "unsubscribe"), nil, nil)
	}
	for i := range 10 {
		add(text(FieldBody, OpContains, fmt.Sprintf("промокод %d", i), "скидка дня", "click here to claim"), nil, nil)
	}
	add(text(FieldSubject, OpRegex, `^(re|fw|fwd):\s*\[ticket #\d+\]`), nil, nil)
	add(text(FieldSubject, OpRegex, `\b(viagra|casino|lottery)\b`), nil, nil)
	add(text(FieldSender, OpRegex, `@(mail|inbox)\.(xyz|top)$`), nil, nil)
	add(text(FieldRecipient, OpRegex, `^noreply-\d+@`), nil, nil)
	add(text(FieldBody, OpRegex, `bitcoin wallet [13][a-km-zA-HJ-NP-Z1-9]{25,34}`), nil, nil)
	add(text(FieldBody, OpRegex, `(карт[аы]|card)\s+(№\s*)?\d{4}`), nil, nil)
	add(text(FieldAttachment, OpRegex, `\.(exe|scr|js|vbs|bat)$`), nil, nil)
	add(text(FieldHeader, OpRegex, `^\d+\.\d+$`), nil, nil)
	for i := range 5 {
		add([]Condition{{Field: FieldHeader, Header: "X-Mailer", Op: OpContains, Values: []string{fmt.Sprintf("bulkmailer %d", i)}}}, nil, nil)
	}
	for i := range 4 {
		add(text(FieldAttachment, OpEquals, fmt.Sprintf("price-%d.xlsx", i)), nil, nil)
	}
	add(text(FieldAll, OpContains, "list-unsubscribe"), nil, nil)
	add(text(FieldSender, OpNotContains, "@supplier.example.ru", "@pochta.test"), nil, nil)
	add(text(FieldSubject, OpNotContains, "счёт", "invoice"), nil, nil)
	add(nil, &Threshold{OpGreater, 90}, nil)
	add(nil, &Threshold{OpGreater, 70}, &SizeLimit{OpLess, 2, UnitKB})
	add(nil, nil, &SizeLimit{OpGreater, 10, UnitMB})
	add(append(text(FieldSender, OpContains, "supplier.example.ru"), text(FieldSubject, OpContains, "счёт")...), nil, nil) // matches
	add(text(FieldAttachment, OpContains, ".pdf"), &Threshold{OpLess, 50}, nil)                                            // matches
	for len(set) < 100 {
		add(text(FieldSubject, OpEquals, fmt.Sprintf("weekly report %d", len(set))), nil, nil)
	}
	// In run order, as the store lists them.
	slices.SortFunc(set, byOrder)
	return set
}

func BenchmarkEvaluate100Rules(b *testing.B) {
	set := hundredRules(b)
	v := NewView(mime.Parse(typicalMessage(), mime.Options{}), 1)
	v.SpamRating = 12
	if got := len(Evaluate(set, v, EventReceive).Matches); got != 2 {
		b.Fatalf("%d rules match the typical message, want 2", got)
	}
	b.ReportAllocs()
	benchcpu.Measure(b, func() { Evaluate(set, v, EventReceive) })
}

// BenchmarkEvaluate100RulesWithView also builds the view from the parsed
// message, as a receipt does.
func BenchmarkEvaluate100RulesWithView(b *testing.B) {
	set := hundredRules(b)
	m := mime.Parse(typicalMessage(), mime.Options{})
	b.ReportAllocs()
	benchcpu.Measure(b, func() {
		v := NewView(m, 1)
		v.SpamRating = 12
		Evaluate(set, v, EventReceive)
	})
}

// BenchmarkRegexWithoutLiteral is the cost of the one kind of condition
// the engine cannot make cheap: a regular expression with no literal text
// to look for first (here card numbers, \b\d{4} \d{4} \d{4} \d{4}\b), run
// on the typical message's body.
func BenchmarkRegexWithoutLiteral(b *testing.B) {
	c := mustCompile(b, Rule{ID: 1, Active: true, OnReceive: true,
		Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`\b\d{4} \d{4} \d{4} \d{4}\b`}}}})
	v := NewView(mime.Parse(typicalMessage(), mime.Options{}), 1)
	set := []*Compiled{c}
	benchcpu.Measure(b, func() { Evaluate(set, v, EventReceive) })
}

func BenchmarkCompile(b *testing.B) {
	rule := Rule{Conditions: []Condition{
		{Field: FieldSubject, Op: OpContains, Values: []string{"Счёт", "Invoice", "Заказ"}},
		{Field: FieldBody, Op: OpRegex, Values: []string{`\b\d{4} \d{4} \d{4} \d{4}\b`, `bitcoin`}},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(rule); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegexWithPrefix is a regular expression whose literal the
// typical body holds (the judged fetch's body rule, `\border\s+#?\d{6}\b`,
// on a body saying "order" three times): run anchored where "order" is
// rather than over the whole body.
func BenchmarkRegexWithPrefix(b *testing.B) {
	c := mustCompile(b, Rule{ID: 1, Active: true, OnReceive: true,
		Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`\border\s+#?\d{6}\b`}}}})
	v := NewView(mime.Parse(typicalMessage(), mime.Options{}), 1)
	v.Body += "\nPlease confirm the order. Order 12345 and the reorder of 1234567 follow.\n"
	set := []*Compiled{c}
	benchcpu.Measure(b, func() { Evaluate(set, v, EventReceive) })
}

// BenchmarkHostileRegex is a condition at the saving bound (990
// instructions, no literal) on a 1 MB body: the regex sees its first
// 256 KB. The same shape at 4,020 instructions over the whole megabyte
// took 16 times as long (docs/benchmarks.md).
func BenchmarkHostileRegex(b *testing.B) {
	c := mustCompile(b, Rule{ID: 1, Active: true, OnReceive: true,
		Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`(?:[a-zа-я]\w?){330}\d`}}}})
	// ASCII letters only, no digit: `\w?` matches or not at every
	// position, which keeps the most of RE2's threads alive.
	v := &View{Body: strings.Repeat("thequickbrownfoxjumpsoverthelazydog", 1<<20/35), SpamRating: -1}
	set := []*Compiled{c}
	benchcpu.Measure(b, func() { Evaluate(set, v, EventReceive) })
}

// BenchmarkRegexManyPlaces is the judged fetch's body rule on a body of
// the POP3 bench's kind: "order" a dozen times, never before a number.
func BenchmarkRegexManyPlaces(b *testing.B) {
	c := mustCompile(b, Rule{ID: 1, Active: true, OnReceive: true,
		Conditions: []Condition{{Field: FieldBody, Op: OpRegex, Values: []string{`\border\s+#?\d{6}\b`}}}})
	v := NewView(mime.Parse(typicalMessage(), mime.Options{}), 1)
	v.Body += strings.Repeat("\nthe order of the shipment and the invoice, payment order approved by the team.", 12)
	set := []*Compiled{c}
	benchcpu.Measure(b, func() { Evaluate(set, v, EventReceive) })
}
