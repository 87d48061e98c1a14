package store

import (
	"math/bits"
	"unsafe"
)

// distinctPieces returns text with each of its pieces kept once, in the
// order first seen, lower-cased and joined by spaces. A piece is a run of
// bytes between ASCII bytes other than letters and digits, compared with
// its ASCII letters lower-cased.
//
// The full-text index answers which messages hold a word, not how often or
// where (nothing ranks, and a query word never spans such a byte), and
// SQLite's tokenizer was half the cost of storing a message: mail repeats
// its words, so handing it each piece once leaves the index's terms as
// they were while it reads a fraction of the text. Splitting only at ASCII
// separators, where unicode61 (and searchWords) always split, keeps every
// token whole: a piece tokenizes alone as it did in place.
func distinctPieces(text string) string {
	var set pieceSet
	// Mail has about one distinct piece in 30 bytes; a table of one slot
	// in 16 bytes rarely grows.
	set.grow(len(text) / 16)
	out := make([]byte, 0, len(text)/3+16)
	for i := 0; i < len(text); {
		for i < len(text) && pieceByte[text[i]] == 0 {
			i++
		}
		start := i
		hash := uint32(2166136261)
		for i < len(text) {
			c := pieceByte[text[i]]
			if c == 0 {
				break
			}
			hash = (hash ^ uint32(c)) * 16777619 // FNV-1a
			i++
		}
		if start < i {
			out = set.add(out, text[start:i], hash)
		}
	}
	return unsafe.String(unsafe.SliceData(out), len(out)) // out is not written again
}

// pieceByte maps a byte of a piece to itself with ASCII letters
// lower-cased, and a separator to 0.
var pieceByte = func() (table [256]byte) {
	for c := range 256 {
		switch {
		case 'A' <= c && c <= 'Z':
			table[c] = byte(c + 'a' - 'A')
		case c >= 0x80, '0' <= c && c <= '9', 'a' <= c && c <= 'z':
			table[c] = byte(c)
		}
	}
	return table
}()

// pieceSet is an open-addressing hash set of the pieces written to out, by
// position: cheaper than a map of strings at a few hundred pieces a
// message, which the set sees for every message stored.
type pieceSet struct {
	// slots hold a piece's hash << 32 | its start in out << 12 | its
	// length; 0 is empty (no piece is empty).
	slots []uint64
	used  int
	shift uint
}

const (
	pieceLengthBits = 12
	pieceStartBits  = 32 - pieceLengthBits
)

// add appends piece (lower-cased) after a space to out, unless out holds
// it already. A piece too long or too far into out to fit a slot is
// appended each time: such pieces are rare, and the index takes them twice
// as it takes them once.
func (s *pieceSet) add(out []byte, piece string, hash uint32) []byte {
	start := len(out)
	if start > 0 {
		start++ // after the space
	}
	if len(piece) >= 1<<pieceLengthBits || start >= 1<<pieceStartBits {
		return appendPiece(out, piece)
	}
	if s.used*2 >= len(s.slots) {
		s.grow(2 * len(s.slots))
	}
	mask := len(s.slots) - 1
	for slot := s.slot(hash); ; slot = (slot + 1) & mask {
		entry := s.slots[slot]
		if entry == 0 {
			s.slots[slot] = uint64(hash)<<32 | uint64(start)<<pieceLengthBits | uint64(len(piece))
			s.used++
			return appendPiece(out, piece)
		}
		if uint32(entry>>32) == hash {
			seenStart := int(uint32(entry) >> pieceLengthBits)
			seenLength := int(entry & (1<<pieceLengthBits - 1))
			if equalPiece(out[seenStart:seenStart+seenLength], piece) {
				return out
			}
		}
	}
}

func appendPiece(out []byte, piece string) []byte {
	if len(out) > 0 {
		out = append(out, ' ')
	}
	for i := 0; i < len(piece); i++ {
		out = append(out, pieceByte[piece[i]])
	}
	return out
}

// equalPiece tells whether seen (lower-cased) is piece lower-cased.
func equalPiece(seen []byte, piece string) bool {
	if string(seen) == piece { // the common case: no capitals
		return true
	}
	if len(seen) != len(piece) {
		return false
	}
	for i := range seen {
		if seen[i] != pieceByte[piece[i]] {
			return false
		}
	}
	return true
}

// slot spreads the hash over the table (Fibonacci hashing).
func (s *pieceSet) slot(hash uint32) int { return int((hash * 0x9e3779b1) >> s.shift) }

// grow makes the table at least size slots large (a power of two).
func (s *pieceSet) grow(size int) {
	size = 1 << bits.Len(uint(max(size, 64)-1))
	old := s.slots
	s.slots = make([]uint64, size)
	s.shift = uint(32 - bits.TrailingZeros(uint(size)))
	mask := size - 1
	for _, entry := range old {
		if entry == 0 {
			continue
		}
		slot := s.slot(uint32(entry >> 32))
		for s.slots[slot] != 0 {
			slot = (slot + 1) & mask
		}
		s.slots[slot] = entry
	}
}
