package spam

import (
	"fmt"
	"math"
	"runtime"
	"testing"
)

func TestVocabulary(t *testing.T) {
	v := NewVocabulary(0)
	want := map[string]Count{}
	for i := range 100_000 {
		word := fmt.Sprintf("word%d", i)
		count := Count{Spam: int64(i % 7), Ham: int64(i % 5)}
		v.Set(word, count)
		want[word] = count
	}
	v.Set("word3", Count{Spam: 9, Ham: 9}) // replaced, not added
	want["word3"] = Count{Spam: 9, Ham: 9}
	v.Set("", Count{Spam: 1})
	want[""] = Count{Spam: 1}
	v.Set("big", Count{Spam: math.MaxInt64, Ham: -3})
	want["big"] = Count{Spam: math.MaxInt32, Ham: -3} // saturated; a damaged negative kept
	if v.Len() != len(want) {
		t.Errorf("Len %d, want %d", v.Len(), len(want))
	}
	for word, count := range want {
		if got, ok := v.Count(word); !ok || got != count {
			t.Fatalf("%q: %v %v, want %v", word, got, ok, count)
		}
	}
	for _, word := range []string{"word100000", "Word1", "word", "слово"} {
		if got, ok := v.Count(word); ok {
			t.Errorf("%q never learned: got %v", word, got)
		}
	}
}

// BenchmarkVocabularyBytes is the memory a process's snapshot of a million
// learned words takes, held as a Vocabulary and as the map of words it
// replaced (bytes a word of the live heap).
func BenchmarkVocabularyBytes(b *testing.B) {
	const n = 1_000_000
	word := func(i int) string { return fmt.Sprintf("word%07d", i) }
	heap := func() uint64 {
		runtime.GC()
		var stats runtime.MemStats
		runtime.ReadMemStats(&stats)
		return stats.HeapAlloc
	}
	for range b.N {
		before := heap()
		v := NewVocabulary(0)
		for i := range n {
			v.Set(word(i), Count{Spam: 1, Ham: 2})
		}
		b.ReportMetric(float64(heap()-before)/n, "vocabulary-B/word")
		runtime.KeepAlive(v)
		v = nil
		before = heap()
		m := Words{}
		for i := range n {
			m[word(i)] = Count{Spam: 1, Ham: 2}
		}
		b.ReportMetric(float64(heap()-before)/n, "map-B/word")
		runtime.KeepAlive(m)
	}
}
