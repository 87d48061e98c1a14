package spam

import (
	"hash/maphash"
	"math"
)

// WordCounts gives the learned counts of words, for [Classifier.Rate].
type WordCounts interface {
	// Count gives the counts of word, and false when it was never learned.
	Count(word string) (Count, bool)
}

// Words is [WordCounts] held in a map: the counts [Counts.Words] reads.
type Words map[string]Count

// Count gives w[word].
func (w Words) Count(word string) (Count, bool) {
	count, ok := w[word]
	return count, ok
}

// Vocabulary is [WordCounts] of a whole vocabulary held in memory (the
// snapshot a process rates received mail with): an open-addressing table
// of a 64-bit hash of each word and its counts, 16 bytes a slot, without
// the words themselves. A map of the words took about 70 bytes a word
// (the string's header and bytes, the counts, the map's own overhead),
// twice that while a new snapshot was read beside the old one, and its
// lookups read the word's bytes again to compare them, a second cache miss
// a token. Two words whose hashes are equal share counts; among a million
// words that happens with a probability of about 3 in 100,000,000, and
// costs one word a wrong count, never an error.
//
// A Vocabulary is filled by [Vocabulary.Set] and then only read, by any
// number of goroutines.
type Vocabulary struct {
	seed maphash.Seed
	// slots has a power-of-two length, at most three quarters used; a
	// slot whose hash is 0 is empty (a word hashing to 0 is stored as 1).
	slots []vocabularySlot
	used  int
}

// vocabularySlot is one word's entry. The counts are kept in 32 bits,
// saturated: a word learned from more than 2,147,483,647 messages of a
// class rates as one learned from that many. (A damaged negative count
// stays negative, as the rating reads it from a map.)
type vocabularySlot struct {
	hash      uint64
	spam, ham int32
}

// NewVocabulary returns an empty vocabulary sized for about hint words.
func NewVocabulary(hint int) *Vocabulary {
	size := 16
	for size*3/4 < hint {
		size *= 2
	}
	return &Vocabulary{seed: maphash.MakeSeed(), slots: make([]vocabularySlot, size)}
}

// Len gives the number of words held.
func (v *Vocabulary) Len() int { return v.used }

// Set records word's counts, replacing any it had.
func (v *Vocabulary) Set(word string, count Count) {
	if (v.used+1)*4 > len(v.slots)*3 {
		v.grow()
	}
	h := v.hash(word)
	i := v.find(h)
	if v.slots[i].hash == 0 {
		v.used++
	}
	v.slots[i] = vocabularySlot{hash: h, spam: saturate(count.Spam), ham: saturate(count.Ham)}
}

// Count gives word's counts.
func (v *Vocabulary) Count(word string) (Count, bool) {
	slot := v.slots[v.find(v.hash(word))]
	if slot.hash == 0 {
		return Count{}, false
	}
	return Count{Spam: int64(slot.spam), Ham: int64(slot.ham)}, true
}

func (v *Vocabulary) hash(word string) uint64 {
	if h := maphash.String(v.seed, word); h != 0 {
		return h
	}
	return 1
}

// find gives the slot holding hash h, or the empty slot where it goes.
func (v *Vocabulary) find(h uint64) int {
	mask := len(v.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		if s := v.slots[i].hash; s == h || s == 0 {
			return i
		}
	}
}

// grow doubles the table.
func (v *Vocabulary) grow() {
	old := v.slots
	v.slots = make([]vocabularySlot, 2*len(old))
	for _, slot := range old {
		if slot.hash != 0 {
			v.slots[v.find(slot.hash)] = slot
		}
	}
}

func saturate(n int64) int32 {
	return int32(max(math.MinInt32, min(n, math.MaxInt32)))
}
