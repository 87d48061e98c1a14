package main

import (
	"context"
	"testing"

	"pochta.dev/pochta/internal/benchcpu"
	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/spam"
)

// judgesBench is the judged POP3 fetch's judging without the fetch: the
// messages the fetch's Dovecot serves (goCorpus's), parsed beforehand; the counts learned from
// the 400 messages judgedSetup trains on, held as a process's snapshot
// holds them (a spam.Vocabulary of every word); judgedRules compiled.
type judgesBench struct {
	messages []*mime.Message
	totals   spam.Count
	words    *spam.Vocabulary
	rules    []*rules.Compiled
}

func newJudgesBench(b *testing.B) *judgesBench {
	ctx := context.Background()
	var counts spam.Memory
	var vocabulary []string
	if err := judgedTraining(func(tokens []string, class spam.Class) error {
		vocabulary = append(vocabulary, tokens...)
		return spam.Train(ctx, &counts, tokens, class)
	}); err != nil {
		b.Fatal(err)
	}
	j := &judgesBench{}
	j.totals, _ = counts.Totals(ctx)
	words, _ := counts.Words(ctx, vocabulary)
	j.words = spam.NewVocabulary(len(words))
	for word, count := range words {
		j.words.Set(word, count)
	}
	for _, rule := range judgedRules(1) {
		compiled, err := rules.Compile(rule)
		if err != nil {
			b.Fatal(err)
		}
		j.rules = append(j.rules, compiled)
	}
	for i := range 64 {
		j.messages = append(j.messages, mime.Parse([]byte(goCorpusMessage(i)), mime.Options{}))
	}
	return j
}

// spam is what the spam judge does once it has the snapshot: tokenize,
// rate, say the words behind the rating for the row.
func (j *judgesBench) spam(m *mime.Message) int {
	tokens := spam.Tokenize(m)
	result := (&spam.Classifier{}).Rate(tokens, j.totals, j.words)
	_ = result.String()
	return result.Rating()
}

// judgeRules is the rules' judge: the view, then the 20 rules.
func (j *judgesBench) judgeRules(m *mime.Message, rating int) {
	view := rules.NewView(m, 1)
	view.SpamRating = rating
	rules.Evaluate(j.rules, view, rules.EventReceive)
}

// BenchmarkJudges is both judges on a ~4 KB message of the judged POP3
// fetch (docs/benchmarks.md, "Judged POP3 fetch, session 10"), the CPU
// time a message that the fetch adds to its sink's workers.
func BenchmarkJudges(b *testing.B) {
	j := newJudgesBench(b)
	b.Run("spam", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		benchcpu.Measure(b, func() { j.spam(j.messages[i%len(j.messages)]); i++ })
	})
	b.Run("rules", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		benchcpu.Measure(b, func() { j.judgeRules(j.messages[i%len(j.messages)], 12); i++ })
	})
	b.Run("both", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		benchcpu.Measure(b, func() {
			m := j.messages[i%len(j.messages)]
			j.judgeRules(m, j.spam(m))
			i++
		})
	})
}
