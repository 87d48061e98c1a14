package service_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// learned is every row of the spam filter's tables: the word counts, the
// totals and how each message was trained.
type learned struct {
	words   map[string]store.SpamCount
	totals  store.SpamCount
	changes int64
	trained map[int64]string
}

func readLearned(t *testing.T, env *servicetest.Env) learned {
	t.Helper()
	ctx := context.Background()
	db := env.Store.DB()
	l := learned{words: map[string]store.SpamCount{}, trained: map[int64]string{}}
	rows, err := db.QueryContext(ctx, `SELECT word, spam_count, ham_count FROM spam_words`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var word string
		var c store.SpamCount
		if err := rows.Scan(&word, &c.Spam, &c.Ham); err != nil {
			t.Fatal(err)
		}
		l.words[word] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	totals := 0
	rows, err = db.QueryContext(ctx, `SELECT spam_messages, ham_messages, changes FROM spam_totals`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		totals++
		if err := rows.Scan(&l.totals.Spam, &l.totals.Ham, &l.changes); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if totals != 1 {
		t.Fatalf("spam_totals has %d rows", totals)
	}
	rows, err = db.QueryContext(ctx, `SELECT id, spam_trained FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var class string
		if err := rows.Scan(&id, &class); err != nil {
			t.Fatal(err)
		}
		l.trained[id] = class
	}
	rows.Close()
	return l
}

// sameCounts compares two states' counts: every word row, the totals and
// every message's training (not the changes counter, which only grows).
func sameCounts(t *testing.T, when string, got, want learned) {
	t.Helper()
	if !maps.Equal(got.words, want.words) || got.totals != want.totals || !maps.Equal(got.trained, want.trained) {
		var diff []string
		for w, c := range got.words {
			if want.words[w] != c {
				diff = append(diff, w)
			}
		}
		for w := range want.words {
			if _, ok := got.words[w]; !ok {
				diff = append(diff, w)
			}
		}
		t.Fatalf("%s: totals %+v want %+v; trained %v want %v; %d of %d words differ, e.g. %q",
			when, got.totals, want.totals, got.trained, want.trained, len(diff), len(want.words), diff[:min(5, len(diff))])
	}
}

// Training round trips leave the learned counts exactly as they were:
// spam, spam again (no change), re-marked ham, untrained; on both backends,
// with counts learned from other messages around the trained one.
func TestSpamTrainingRoundTrip(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(t)
			}
			spamRoundTrip(t, servicetest.New(t, dsn))
		})
	}
}

func spamRoundTrip(t *testing.T, env *servicetest.Env) {
	ctx := context.Background()
	inbox := smtpMailbox(t, env, "Inbound", 2525)
	sources := []string{
		message("Cheap pills", "viagra casino lottery winner, cheap pills today"),
		message("Meeting notes", "agenda minutes quarterly report, the winner is the team"),
		// The message trained back and forth shares words with both.
		message("Счёт и встреча", "cheap agenda: Счёт за май, lottery minutes, http://example.com/pay"),
	}
	var ids []int64
	for _, raw := range sources {
		result, err := env.Service.ImportMessage(ctx, env.Admin, inbox, strings.NewReader(raw), "API")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, result.ID)
	}
	act := func(id int64, action string) {
		t.Helper()
		if n, err := env.Service.MessageAction(ctx, env.Admin, service.MessageSelection{IDs: []int64{id}}, action); err != nil || n != 1 {
			t.Fatalf("%s on %d: %d, %v", action, id, n, err)
		}
	}
	act(ids[0], service.ActionSpam)
	act(ids[1], service.ActionNotSpam)
	before := readLearned(t, env)
	if len(before.words) == 0 || before.totals != (store.SpamCount{Spam: 1, Ham: 1}) || before.trained[ids[2]] != "" {
		t.Fatalf("learned before: %+v", before)
	}

	// What the message adds as either class, from its own tokens.
	tokens := spam.Tokenize(mime.Parse([]byte(sources[2]), mime.Options{}))
	with := func(class spam.Class) learned {
		want := learned{words: maps.Clone(before.words), totals: before.totals, trained: maps.Clone(before.trained)}
		for _, w := range tokens {
			c := want.words[w]
			if class == spam.Spam {
				c.Spam++
			} else {
				c.Ham++
			}
			want.words[w] = c
		}
		if class == spam.Spam {
			want.totals.Spam++
		} else {
			want.totals.Ham++
		}
		want.trained[ids[2]] = string(class)
		return want
	}

	act(ids[2], service.ActionSpam)
	sameCounts(t, "trained spam", readLearned(t, env), with(spam.Spam))
	act(ids[2], service.ActionSpam)
	sameCounts(t, "marked spam twice", readLearned(t, env), with(spam.Spam))
	act(ids[2], service.ActionNotSpam)
	sameCounts(t, "re-marked ham", readLearned(t, env), with(spam.Ham))
	previous, err := (spam.Store{St: env.Store}).TrainMessage(ctx, ids[2], tokens, spam.None)
	if err != nil || previous != spam.Ham {
		t.Fatalf("untrain: was %q, %v", previous, err)
	}
	after := readLearned(t, env)
	sameCounts(t, "untrained", after, before)
	if after.changes != before.changes+3 {
		t.Errorf("changes counter %d, want %d: one per training that moved counts", after.changes, before.changes+3)
	}

	// The same from the other side: ham first, then spam, then untrained.
	act(ids[2], service.ActionNotSpam)
	act(ids[2], service.ActionSpam)
	sameCounts(t, "ham then spam", readLearned(t, env), with(spam.Spam))
	if _, err := (spam.Store{St: env.Store}).TrainMessage(ctx, ids[2], tokens, spam.None); err != nil {
		t.Fatal(err)
	}
	sameCounts(t, "untrained again", readLearned(t, env), before)
}
