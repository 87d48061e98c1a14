package mime

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// TestAgreesWithGoMessage is a differential test: for every golden and
// peer-corpus message that go-message reads without error, the subject,
// the From addresses and the date must agree with go-message's. (Where
// go-message rejects a message, this package still parses it: that is
// what the golden and peer tests check.)
func TestAgreesWithGoMessage(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	if _, err := os.Stat(peerCorpusDir); err == nil {
		files = append(files, peerFilesQuiet()...)
	}
	compared, rejected := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(raw, []byte("From ")) {
			continue // go-message does not skip mbox lines
		}
		e, err := message.Read(bytes.NewReader(raw))
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			rejected++
			continue
		}
		if e.Header.Len() == 0 {
			rejected++ // e.g. a leading blank line: go-message sees no header
			continue
		}
		h := mail.Header{Header: e.Header}
		subj, err1 := h.Subject()
		from, err2 := h.AddressList("From")
		date, err3 := h.Date()
		if err1 != nil || err2 != nil || err3 != nil {
			rejected++
			continue
		}
		compared++
		m := Parse(raw, Options{})
		// Known, deliberate differences: this package also decodes
		// malformed encoded words, removes NUL bytes, turns tabs into
		// spaces, unfolds display names and reads Y2K-buggy years and
		// zone names such as MSK and CST.
		subj = strings.ReplaceAll(strings.TrimSpace(subj), "\t", " ")
		if subj != m.Subject && !strings.ContainsAny(subj, "\uFFFD\x00") && !strings.Contains(subj, "=?") {
			t.Errorf("%s: subject %q, go-message %q", f, m.Subject, subj)
		}
		if len(from) != len(m.From) {
			t.Errorf("%s: from %v, go-message %v", f, m.From, from)
		} else {
			for i := range from {
				if from[i].Address != m.From[i].Address || from[i].Name != m.From[i].Name && !strings.ContainsAny(from[i].Name, "\n\t") {
					t.Errorf("%s: from %+v, go-message %+v", f, m.From[i], *from[i])
				}
			}
		}
		zone, off := date.Zone()
		namedZone := off == 0 && zone != "UTC" && zone != "GMT" && zone != "UT" && zone != "Z" && zone != ""
		if !date.Equal(m.Date) && date.Year() >= 1900 && !namedZone {
			t.Errorf("%s: date %v, go-message %v", f, m.Date, date)
		}
	}
	t.Logf("compared %d messages with go-message; go-message rejected %d (header errors)", compared, rejected)
}

func peerFilesQuiet() []string {
	var out []string
	for _, pat := range []string{"*/*/*"} {
		m, _ := filepath.Glob(filepath.Join(peerCorpusDir, pat))
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && !st.IsDir() && !strings.HasSuffix(f, ".md") && !strings.Contains(filepath.Base(f), "LICENSE") {
				out = append(out, f)
			}
		}
	}
	return out
}
