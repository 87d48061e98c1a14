package mime

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// peerCorpusDir is where the shared corpus of hard messages from other
// projects' test suites lives (see its SOURCES.md). It is read in place
// and never copied into this repository.
const peerCorpusDir = "../../../shared/peer-corpus"

func requirePeers() bool {
	return os.Getenv("CI") == "true" || os.Getenv("POCHTA_REQUIRE_PEERS") == "1"
}

func peerFiles(t *testing.T) []string {
	t.Helper()
	dir := peerCorpusDir
	if d := os.Getenv("POCHTA_PEER_CORPUS"); d != "" {
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		if requirePeers() {
			t.Fatalf("peer corpus %s is required (CI=true or POCHTA_REQUIRE_PEERS=1) but missing: %v", dir, err)
		}
		t.Skipf("peer corpus %s not present (%v); set POCHTA_PEER_CORPUS or check out ../shared", dir, err)
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".md") || strings.HasPrefix(d.Name(), "ARTISTIC") || strings.HasSuffix(d.Name(), "LICENSE") {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// TestPeerCorpus parses every message of the shared peer corpus: none
// may panic, none may be rejected (Parse always returns a message; here
// that also means a message with a header must yield its header fields,
// and every message must yield a body, an attachment or a parse note).
func TestPeerCorpus(t *testing.T) {
	files := peerFiles(t)
	if len(files) < 200 {
		t.Fatalf("peer corpus has %d files, want about 237", len(files))
	}
	withErrors := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m *Message
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic: %v", f, r)
				}
			}()
			m = Parse(raw, Options{})
		}()
		if m == nil {
			t.Errorf("%s: nil message", f)
			continue
		}
		rel, _ := filepath.Rel(peerCorpusDir, f)
		for _, e := range m.ParseErrors {
			if strings.HasPrefix(e, "internal parser error") {
				t.Errorf("%s: %s", rel, e)
			}
		}
		if m.Size != len(raw) {
			t.Errorf("%s: size %d, want %d", rel, m.Size, len(raw))
		}
		if len(raw) > 0 && m.Text == "" && m.HTML == "" && len(m.Attachments) == 0 && len(m.Header) == 0 && len(m.ParseErrors) == 0 {
			t.Errorf("%s: nothing read from %d bytes and no parse error noted", rel, len(raw))
		}
		checkClean(t, rel, m)
		if len(m.ParseErrors) > 0 {
			withErrors++
			if testing.Verbose() {
				t.Logf("%s: %s", rel, strings.Join(m.ParseErrors, "; "))
			}
		}
	}
	t.Logf("peer corpus: %d messages parsed, 0 rejected, %d with parse errors noted", len(files), withErrors)
}
