package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// SpamCount is a count of the Bayesian spam filter per class: of the
// trained messages that held a word, or of the trained messages.
type SpamCount struct {
	Spam int64
	Ham  int64
}

// spamBatch is how many words one statement reads or writes (three
// parameters a word, well under both backends' limits).
const spamBatch = 500

// The values of messages.spam_trained.
const (
	SpamTrainedNone = ""
	SpamTrainedSpam = "spam"
	SpamTrainedHam  = "ham"
)

// SpamTotals gives how many messages were trained as spam and as ham.
func (s *Store) SpamTotals(ctx context.Context) (SpamCount, error) {
	var c SpamCount
	err := s.queryRow(ctx, `SELECT spam_messages, ham_messages FROM spam_totals WHERE id = 1`).Scan(&c.Spam, &c.Ham)
	if err != nil {
		return c, fmt.Errorf("spam totals: %w", err)
	}
	return c, nil
}

// SpamVersion gives the totals and the number of changes ever made to the
// learned counts: a process that keeps word counts in memory keeps them
// while the changes stay the same.
func (s *Store) SpamVersion(ctx context.Context) (SpamCount, int64, error) {
	var c SpamCount
	var changes int64
	err := s.queryRow(ctx, `SELECT spam_messages, ham_messages, changes FROM spam_totals WHERE id = 1`).Scan(&c.Spam, &c.Ham, &changes)
	if err != nil {
		return c, 0, fmt.Errorf("spam totals: %w", err)
	}
	return c, changes, nil
}

// SpamWords gives the counts of those of words that were ever learned, in
// one query per 500 words. A word that is not storable text (NUL, bad
// UTF-8) was never learned.
func (s *Store) SpamWords(ctx context.Context, words []string) (map[string]SpamCount, error) {
	out := make(map[string]SpamCount, len(words)/4)
	words = storableWords(words)
	for start := 0; start < len(words); start += spamBatch {
		batch := words[start:min(start+spamBatch, len(words))]
		// The words go as one parameter, so that the statement is short
		// and always the same: PostgreSQL takes an array, SQLite a JSON
		// array it reads with json_each. A statement of hundreds of
		// parameters costs more to parse and plan than to run (a list of
		// placeholders made SQLite's parser most of the rating's query
		// time on receipt; docs/benchmarks.md).
		query, arg := `SELECT word, spam_count, ham_count FROM spam_words WHERE word = ANY(?)`, any(batch)
		if s.dialect != Postgres {
			encoded, err := json.Marshal(batch)
			if err != nil {
				return nil, fmt.Errorf("spam words: %w", err)
			}
			query = `SELECT word, spam_count, ham_count FROM spam_words WHERE word IN (SELECT value FROM json_each(?))`
			arg = string(encoded)
		}
		rows, err := s.queryPrepared(ctx, query, arg)
		if err != nil {
			return nil, fmt.Errorf("spam words: %w", err)
		}
		for rows.Next() {
			var word string
			var c SpamCount
			if err := rows.Scan(&word, &c.Spam, &c.Ham); err != nil {
				rows.Close()
				return nil, fmt.Errorf("spam words: %w", err)
			}
			out[word] = c
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("spam words: %w", err)
		}
	}
	return out, nil
}

// storableWords drops the words the database could not hold, and repeats.
func storableWords(words []string) []string {
	out := make([]string, 0, len(words))
	seen := make(map[string]bool, len(words))
	for _, w := range words {
		if !seen[w] && storableText(w) {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// ApplySpamDelta adds signed changes to the words' counts and to the
// message totals, in one transaction; a count that would go below zero
// stops at zero, and a word whose counts are both zero is removed.
// Concurrent calls, from this process or another on the same database,
// never lose one another's changes.
func (s *Store) ApplySpamDelta(ctx context.Context, words map[string]SpamCount, messages SpamCount) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.applySpamDelta(ctx, tx, words, messages) })
}

// TrainSpamMessage records that a message is now trained as class
// (SpamTrainedSpam, SpamTrainedHam, or SpamTrainedNone to untrain it) and
// moves its words' counts accordingly, once: words are the message's
// tokens, taken out of the class it was trained as (if any) and added to
// the new one, with the totals, in the transaction that changes the
// message's spam_trained. A message already trained as class changes
// nothing. It gives the class the message was trained as before; a
// missing message is ErrNotFound.
func (s *Store) TrainSpamMessage(ctx context.Context, messageID int64, class string, words []string) (previous string, err error) {
	if class != SpamTrainedNone && class != SpamTrainedSpam && class != SpamTrainedHam {
		return "", fmt.Errorf("train message %d: unknown class %q", messageID, class)
	}
	for attempt := 0; ; attempt++ {
		moved := false
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.queryRowOn(ctx, tx, `SELECT spam_trained FROM messages WHERE id = ?`, messageID).Scan(&previous); err != nil {
				return mapError(err)
			}
			if previous == class {
				moved = true
				return nil
			}
			// Compare and set: a concurrent trainer of the same message
			// that committed first makes this update change no row (on
			// PostgreSQL it waits for that commit and reads the row again).
			result, err := s.execOn(ctx, tx, `UPDATE messages SET spam_trained = ? WHERE id = ? AND spam_trained = ?`, class, messageID, previous)
			if err != nil {
				return err
			}
			if n, err := result.RowsAffected(); err != nil || n != 1 {
				return err
			}
			moved = true
			delta, totals := spamMove(words, previous, class)
			return s.applySpamDelta(ctx, tx, delta, totals)
		})
		if err != nil {
			return "", fmt.Errorf("train message %d: %w", messageID, err)
		}
		if moved {
			return previous, nil
		}
		if attempt > 100 {
			return "", fmt.Errorf("train message %d: %w", messageID, errors.New("changed by others on every attempt"))
		}
	}
}

// MessageSpamTrained gives how a message was trained.
func (s *Store) MessageSpamTrained(ctx context.Context, messageID int64) (string, error) {
	var class string
	if err := s.queryRow(ctx, `SELECT spam_trained FROM messages WHERE id = ?`, messageID).Scan(&class); err != nil {
		return "", mapError(err)
	}
	return class, nil
}

// spamMove is the change of counts that moves a message with these words
// from one class to another.
func spamMove(words []string, from, to string) (map[string]SpamCount, SpamCount) {
	var change SpamCount
	switch from {
	case SpamTrainedSpam:
		change.Spam--
	case SpamTrainedHam:
		change.Ham--
	}
	switch to {
	case SpamTrainedSpam:
		change.Spam++
	case SpamTrainedHam:
		change.Ham++
	}
	delta := make(map[string]SpamCount, len(words))
	for _, w := range words {
		delta[w] = change
	}
	return delta, change
}

func (s *Store) applySpamDelta(ctx context.Context, tx *sql.Tx, words map[string]SpamCount, messages SpamCount) error {
	greatest := "MAX"
	if s.dialect == Postgres {
		greatest = "GREATEST"
	}
	// The totals row first: every training takes its lock before any
	// word's, so that two trainings never wait on each other's words in
	// opposite orders (a deadlock on PostgreSQL).
	if _, err := s.execOn(ctx, tx, `UPDATE spam_totals SET spam_messages = `+greatest+`(0, spam_messages + ?), ham_messages = `+greatest+`(0, ham_messages + ?),
		changes = changes + 1 WHERE id = 1`,
		messages.Spam, messages.Ham); err != nil {
		return fmt.Errorf("spam totals: %w", err)
	}
	// Additions by upsert, subtractions by update (a word missing has
	// nothing to take away), each word's in the words' order.
	names := make([]string, 0, len(words))
	for w, c := range words {
		if c != (SpamCount{}) && storableText(w) {
			names = append(names, w)
		}
	}
	sort.Strings(names)
	var adds, subs []any
	var subWords []string
	for _, w := range names {
		c := words[w]
		if c.Spam > 0 || c.Ham > 0 {
			adds = append(adds, w, max(c.Spam, 0), max(c.Ham, 0))
		}
		if c.Spam < 0 || c.Ham < 0 {
			subs = append(subs, w, max(-c.Spam, 0), max(-c.Ham, 0))
			subWords = append(subWords, w)
		}
	}
	for start := 0; start < len(adds); start += 3 * spamBatch {
		batch := adds[start:min(start+3*spamBatch, len(adds))]
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(batch)/3), ", ")
		if _, err := s.execOn(ctx, tx, `INSERT INTO spam_words (word, spam_count, ham_count) VALUES `+values+`
			ON CONFLICT (word) DO UPDATE SET spam_count = spam_words.spam_count + excluded.spam_count,
			ham_count = spam_words.ham_count + excluded.ham_count`, batch...); err != nil {
			return fmt.Errorf("spam words: %w", err)
		}
	}
	for start := 0; start < len(subs); start += 3 * spamBatch {
		batch := subs[start:min(start+3*spamBatch, len(subs))]
		values := strings.TrimSuffix(strings.Repeat("(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT)), ", len(batch)/3), ", ")
		if _, err := s.execOn(ctx, tx, `UPDATE spam_words SET spam_count = `+greatest+`(0, spam_words.spam_count - v.column2),
			ham_count = `+greatest+`(0, spam_words.ham_count - v.column3)
			FROM (VALUES `+values+`) AS v WHERE spam_words.word = v.column1`, batch...); err != nil {
			return fmt.Errorf("spam words: %w", err)
		}
		removed := subWords[start/3 : start/3+len(batch)/3]
		args := make([]any, len(removed))
		for i, w := range removed {
			args[i] = w
		}
		if _, err := s.execOn(ctx, tx, `DELETE FROM spam_words WHERE spam_count = 0 AND ham_count = 0 AND word IN (`+placeholders(len(args))+`)`, args...); err != nil {
			return fmt.Errorf("spam words: %w", err)
		}
	}
	return nil
}

// SpamWordCount is how many distinct words the filter has learned.
func (s *Store) SpamWordCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM spam_words`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count spam words: %w", err)
	}
	return n, nil
}

// EachSpamWord calls fn with every learned word and its counts, in no
// order, as long as there are at most limit of them: a process that holds
// the whole vocabulary in memory reads it so, and one statement reads it
// all (a statement sees one state of the table on both backends). With
// more than limit words it stops and gives complete false, having called
// fn for some of them.
func (s *Store) EachSpamWord(ctx context.Context, limit int, fn func(word string, count SpamCount)) (complete bool, err error) {
	rows, err := s.query(ctx, `SELECT word, spam_count, ham_count FROM spam_words LIMIT ?`, limit+1)
	if err != nil {
		return false, fmt.Errorf("read spam words: %w", err)
	}
	defer rows.Close()
	read := 0
	for rows.Next() {
		if read == limit {
			return false, nil
		}
		var word string
		var c SpamCount
		if err := rows.Scan(&word, &c.Spam, &c.Ham); err != nil {
			return false, fmt.Errorf("read spam words: %w", err)
		}
		fn(word, c)
		read++
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read spam words: %w", err)
	}
	return true, nil
}

// SpamWord is one learned word with its counts.
type SpamWord struct {
	Word string
	SpamCount
}

// SpamTellingWords gives the limit words learned in at least minCount
// messages that lean most towards spam (spam true) or ham: ordered by how
// much more often they were seen in one class than in the other, as shares
// of that class's trained messages (totals), the word itself breaking
// ties; words that do not lean to the class are left out. It reads the
// whole table: for the spam page, not for rating mail.
func (s *Store) SpamTellingWords(ctx context.Context, totals SpamCount, spam bool, minCount int64, limit int) ([]SpamWord, error) {
	// s/S - h/H, scaled by S*H to stay in integers: s*H - h*S.
	lean := `spam_count * ? - ham_count * ?`
	own, other := max(totals.Ham, 1), max(totals.Spam, 1)
	if !spam {
		lean = `ham_count * ? - spam_count * ?`
		own, other = other, own
	}
	// Only words that lean to the class: with fewer of them than the limit,
	// the list of one class would go on with the other's words.
	rows, err := s.query(ctx, `SELECT word, spam_count, ham_count FROM spam_words WHERE spam_count + ham_count >= ?
		AND `+lean+` > 0 ORDER BY `+lean+` DESC, word LIMIT ?`, max(minCount, 1), own, other, own, other, limit)
	if err != nil {
		return nil, fmt.Errorf("telling spam words: %w", err)
	}
	defer rows.Close()
	out := []SpamWord{}
	for rows.Next() {
		var w SpamWord
		if err := rows.Scan(&w.Word, &w.Spam, &w.Ham); err != nil {
			return nil, fmt.Errorf("telling spam words: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("telling spam words: %w", err)
	}
	return out, nil
}
