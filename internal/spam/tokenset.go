package spam

import (
	"hash/maphash"
)

// tokenSet is the tokenizer's set of the tokens already given for the
// message being tokenized: an open-addressing table of indexes into the
// message's tokens, keyed by a hash of their bytes. A Go map of strings
// was a third of the tokenizer's time (hashing, then its groups' control
// words, then the write barriers of storing each new string in it twice);
// here a token is hashed once, a repeated one costs a probe and one
// comparison of bytes, and a new one only its index is stored
// (docs/benchmarks.md, "Judged POP3 fetch, session 10").
type tokenSet struct {
	seed maphash.Seed
	// slots has a power-of-two length, at most half used, so that a probe
	// ends at an empty slot soon.
	slots []tokenSlot
	used  int
}

// tokenSlot is one entry of a tokenSet: the high half of the token's hash
// (most probes of another token end at a different one without reading
// its bytes) and its index in the tokens, plus one (0 is an empty slot).
type tokenSlot struct {
	hash  uint32
	index int32
}

// tokenSetSlots is the table's length for a new message: twice the
// distinct tokens of a typical message, so that it seldom grows.
const tokenSetSlots = 1024

// arenaBytes is the size of an arena's array: the new tokens of a typical
// ~4 KB message fit in one or two.
const arenaBytes = 4096

func newTokenSet() tokenSet {
	return tokenSet{seed: maphash.MakeSeed(), slots: make([]tokenSlot, tokenSetSlots)}
}

// reset empties the set for the next message; a table grown for a large
// message is dropped rather than cleared and kept at its largest.
func (s *tokenSet) reset() {
	if len(s.slots) > 4*tokenSetSlots {
		s.slots = make([]tokenSlot, tokenSetSlots)
	} else {
		clear(s.slots)
	}
	s.used = 0
}

// find gives the slot of token (whose hash is h): the slot holding it and
// true, or the empty slot where it goes and false. tokens are the ones the
// set's indexes refer to.
func findToken[T string | []byte](s *tokenSet, tokens []string, token T, h uint64) (int, bool) {
	mask := len(s.slots) - 1
	high := uint32(h >> 32)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		slot := s.slots[i]
		if slot.index == 0 {
			return i, false
		}
		if slot.hash == high && tokens[slot.index-1] == string(token) {
			return i, true
		}
	}
}

// insert puts the index of a token new to the set (its hash h), already
// appended to tokens, in the empty slot find gave, growing the table past
// half full.
func (s *tokenSet) insert(tokens []string, slot int, h uint64, index int) {
	s.slots[slot] = tokenSlot{hash: uint32(h >> 32), index: int32(index + 1)}
	s.used++
	if 2*s.used <= len(s.slots) {
		return
	}
	old := s.slots
	s.slots = make([]tokenSlot, 2*len(old))
	mask := len(s.slots) - 1
	for _, entry := range old {
		if entry.index == 0 {
			continue
		}
		h := maphash.String(s.seed, tokens[entry.index-1])
		i := int(h) & mask
		for s.slots[i].index != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = entry
	}
}

// addJoined is add for the token prefix+value, made in the tokenizer's
// buffer: a string (in the message's arena) only when it is new.
func (t *tokenizer) addJoined(prefix, value string) {
	if t.full() {
		return
	}
	t.joined = append(append(t.joined[:0], prefix...), value...)
	t.addBytes(t.joined)
}

// arenaString copies token into the message's arena and gives it as a
// string. The arena is a strings.Builder whose array is never written twice:
// when it is full (and for every message) a new one is begun, the strings
// already given keeping theirs alive, so they stay valid after the
// tokenizer has gone on to the next message, and a message's new tokens
// cost an allocation now and then rather than one each.
func (t *tokenizer) arenaString(token []byte) string {
	if t.arena.Cap()-t.arena.Len() < len(token) {
		t.arena.Reset()
		t.arena.Grow(max(arenaBytes, len(token)))
	}
	start := t.arena.Len()
	t.arena.Write(token)
	return t.arena.String()[start:]
}
