package store

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/russian"
)

// The terms of the full-text index are made here, in Go, for both backends
// alike, when a message is indexed and when a query is read: a word is a
// run of letters and digits, lower-cased, with ё as е (people type е for
// ё), and stemmed by Snowball, the Russian stemmer for a Cyrillic word and
// the English one for a word of ASCII letters, so that "лицензия" finds
// "лицензии" and "invoice" finds "invoices". SQLite's FTS5 table takes the
// terms through its "ascii" tokenizer, which splits only at ASCII bytes
// other than letters and digits (a term has none) and folds only ASCII
// capitals (a term has none): it keeps every term as Go made it, so the
// two backends index and look up the same terms (search_terms_test.go
// checks it).

// searchWords splits text into the index's terms, in order, repeats kept.
func searchWords(text string) []string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i, word := range words {
		words[i] = stemWord(foldWord(word))
	}
	return words
}

// foldWord writes ё as е in a lower-cased word (Ё is lower-cased already).
func foldWord(word string) string {
	if !strings.Contains(word, "ё") {
		return word
	}
	return strings.ReplaceAll(word, "ё", "е")
}

// stemWord gives a folded word's stem: the Russian stemmer's for a word of
// Cyrillic letters, the English one's for a word of ASCII letters, else the
// word itself (digits, other scripts, words of mixed scripts). Stop words
// are stemmed too and kept in the index: "не" and "the" are searchable.
func stemWord(word string) string {
	if len(word) > maxMemoWord {
		return stemUncached(word)
	}
	return stems.stem(word)
}

func stemUncached(word string) string {
	ascii, cyrillic := true, true
	for _, r := range word {
		if r >= utf8.RuneSelf {
			ascii = false
		} else if r < 'a' || r > 'z' {
			ascii = false
			cyrillic = false
		}
		if r < 'а' || r > 'я' {
			cyrillic = false
		}
		if !ascii && !cyrillic {
			return word
		}
	}
	var stem string
	if ascii {
		stem = english.Stem(word, true)
	} else {
		stem = russian.Stem(word, true)
	}
	if stem == "" {
		return word
	}
	return stem
}

// maxMemoWord is the longest word (in bytes) the stem memo keeps.
const maxMemoWord = 48

// stems is a memo of stemWord: a Russian stem costs 2-5 µs, a map lookup
// a twentieth of that, and mail repeats its vocabulary. It is the one
// mutable package variable of the store, kept only because it cannot change
// a result: with it or without it, stemWord gives the same stems (the zstd
// coders beside it are shared the same way).
var stems = newStemMemo()

// stemMemo is a bounded, sharded memo of stems. A full shard is emptied and
// fills again with the words in use.
type stemMemo struct {
	shards [16]stemShard
}

type stemShard struct {
	mu    sync.Mutex
	stems map[string]string
}

const stemShardSize = 8192

func newStemMemo() *stemMemo {
	memo := &stemMemo{}
	for i := range memo.shards {
		memo.shards[i].stems = make(map[string]string, 256)
	}
	return memo
}

func (m *stemMemo) stem(word string) string {
	hash := uint32(2166136261)
	for i := 0; i < len(word); i++ {
		hash = (hash ^ uint32(word[i])) * 16777619
	}
	shard := &m.shards[hash%uint32(len(m.shards))]
	shard.mu.Lock()
	stem, ok := shard.stems[word]
	shard.mu.Unlock()
	if ok {
		return stem
	}
	stem = stemUncached(word)
	shard.mu.Lock()
	if len(shard.stems) >= stemShardSize {
		clear(shard.stems)
	}
	// A copy of the word: it may be a slice of a whole message's text,
	// which the memo must not keep alive.
	shard.stems[strings.Clone(word)] = stem
	shard.mu.Unlock()
	return stem
}

// indexTerms is a text as the SQLite index takes it: its terms, each once,
// in the order first seen, joined by spaces.
func indexTerms(text string) string {
	words := searchWords(text)
	if len(words) == 0 {
		return ""
	}
	seen := make(map[string]struct{}, len(words))
	var b strings.Builder
	for _, word := range words {
		if len(word) > maxTermLength {
			continue
		}
		if _, ok := seen[word]; ok {
			continue
		}
		seen[word] = struct{}{}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(word)
	}
	return b.String()
}

// maxTermLength is the longest term indexed, in bytes: PostgreSQL refuses
// lexemes over 2 KB, and no one searches for such words.
const maxTermLength = 200
