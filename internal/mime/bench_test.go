package mime

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse parses every message of the golden corpus once per
// iteration and reports messages per second.
func BenchmarkParse(b *testing.B) {
	emls, _ := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	var msgs [][]byte
	total := 0
	for _, e := range emls {
		raw, err := os.ReadFile(e)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += len(raw)
	}
	if len(msgs) == 0 {
		b.Fatal("no golden messages")
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, raw := range msgs {
			Parse(raw, Options{})
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msg/s")
}
