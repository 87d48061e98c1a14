package spam

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/benchcpu"
	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// benchCorpus makes messages from a Zipf-distributed vocabulary of Latin
// and Cyrillic words (as mail's words are distributed), with headers and
// a link each; size is a message's approximate body size in bytes.
type benchCorpus struct {
	rnd   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newBenchCorpus() *benchCorpus {
	rnd := rand.New(rand.NewPCG(1, 2))
	c := &benchCorpus{rnd: rnd, zipf: rand.NewZipf(rnd, 1.1, 2, 59999)}
	latin, cyrillic := []rune("abcdefghijklmnopqrstuvwxyz"), []rune("абвгдежзийклмнопрстуфхцчшщыэюя")
	for i := 0; i < 60000; i++ {
		letters := latin
		if i%3 == 0 {
			letters = cyrillic
		}
		n := 3 + rnd.IntN(8)
		w := make([]rune, n)
		for j := range w {
			w[j] = letters[rnd.IntN(len(letters))]
		}
		c.vocab = append(c.vocab, string(w))
	}
	return c
}

func (c *benchCorpus) message(size int) *mime.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s <%s@%s.example>\r\nTo: user@pochta.test\r\nSubject: %s %s %s\r\n",
		c.word(), c.word(), c.word(), c.word(), c.word(), c.word())
	fmt.Fprintf(&b, "Received: from mx%d.%s.example ([192.0.2.%d]) by mx.pochta.test\r\n", c.rnd.IntN(50), c.word(), c.rnd.IntN(255))
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Mailer: Bench Mailer 1.0\r\n\r\n")
	start := b.Len()
	for b.Len()-start < size {
		b.WriteString(c.word())
		if c.rnd.IntN(12) == 0 {
			b.WriteString(".\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	fmt.Fprintf(&b, "\r\nhttps://www.%s.example/%s\r\n", c.word(), c.word())
	return mime.Parse([]byte(b.String()), mime.Options{})
}

func (c *benchCorpus) word() string { return c.vocab[c.zipf.Uint64()] }

// learned trains counts on n messages, a third of them spam.
func (c *benchCorpus) learned(b *testing.B, n int) *Memory {
	b.Helper()
	var counts Memory
	for i := 0; i < n; i++ {
		class := Ham
		if i%3 == 0 {
			class = Spam
		}
		if err := Train(context.Background(), &counts, Tokenize(c.message(1000+c.rnd.IntN(6000))), class); err != nil {
			b.Fatal(err)
		}
	}
	return &counts
}

// BenchmarkClassify tokenizes and rates a ~4 KB message against counts
// learned from 3,000 messages (about the SpamAssassin training half), in
// memory: the filter's own cost, without the store's query.
func BenchmarkClassify(b *testing.B) {
	c := newBenchCorpus()
	counts := c.learned(b, 3000)
	m := c.message(4 << 10)
	classifier := NewClassifier(Params{}, counts)
	b.Logf("%d words learned, %d tokens in the message", counts.Len(), len(Tokenize(m)))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	benchcpu.Measure(b, func() {
		if _, err := classifier.Classify(ctx, Tokenize(m)); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkTrain tokenizes a ~4 KB message and adds it to counts in
// memory.
func BenchmarkTrain(b *testing.B) {
	c := newBenchCorpus()
	counts := c.learned(b, 3000)
	messages := make([]*mime.Message, 64)
	for i := range messages {
		messages[i] = c.message(4 << 10)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if err := Train(ctx, counts, Tokenize(messages[i%len(messages)]), Spam); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkTokenize is the tokenizer alone on a ~4 KB message.
func BenchmarkTokenize(b *testing.B) {
	m := newBenchCorpus().message(4 << 10)
	b.ReportAllocs()
	benchcpu.Measure(b, func() { Tokenize(m) })
}

// BenchmarkClassifyStore is BenchmarkClassify with the counts read from
// the store (one query for the message's words, one for the totals), on
// SQLite and PostgreSQL, the counts learned from 1,000 messages.
func BenchmarkClassifyStore(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "pochta.db")
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(b)
			}
			ctx := context.Background()
			st, err := store.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			c := newBenchCorpus()
			counts := Store{St: st}
			for i := 0; i < 1000; i++ {
				class := Ham
				if i%3 == 0 {
					class = Spam
				}
				if err := Train(ctx, counts, Tokenize(c.message(1000+c.rnd.IntN(6000))), class); err != nil {
					b.Fatal(err)
				}
			}
			m := c.message(4 << 10)
			classifier := NewClassifier(Params{}, counts)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := classifier.Classify(ctx, Tokenize(m)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJudge is what the rating on receipt does per message once the
// counts are at hand: tokenize, rate, and say the words behind the rating
// for the message's row.
func BenchmarkJudge(b *testing.B) {
	c := newBenchCorpus()
	counts := c.learned(b, 3000)
	m := c.message(4 << 10)
	ctx := context.Background()
	totals, _ := counts.Totals(ctx)
	classifier := Classifier{Params: Params{}}
	b.ReportAllocs()
	b.ResetTimer()
	benchcpu.Measure(b, func() {
		tokens := Tokenize(m)
		words, _ := counts.Words(ctx, tokens)
		result := classifier.Rate(tokens, totals, Words(words))
		_ = result.String()
	})
}
