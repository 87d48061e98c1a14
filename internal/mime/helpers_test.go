package mime

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// checkClean asserts the storability invariants: valid UTF-8, no NUL.
func checkClean(t testing.TB, name string, m *Message) {
	t.Helper()
	check := func(field, s string) {
		if !utf8.ValidString(s) {
			t.Errorf("%s: %s is not valid UTF-8", name, field)
		}
		if strings.IndexByte(s, 0) >= 0 {
			t.Errorf("%s: %s contains NUL", name, field)
		}
	}
	check("Subject", m.Subject)
	check("Text", m.Text)
	check("HTML", m.HTML)
	check("HeaderText", m.HeaderText)
	check("MessageID", m.MessageID)
	for _, h := range m.Header {
		check("header name", h.Name)
		check("header "+h.Name, h.Value)
		check("raw header "+h.Name, h.Raw)
	}
	for _, l := range [][]Address{m.From, m.To, m.Cc, m.Bcc, m.ReplyTo, m.DeliveredTo, m.XOriginalTo} {
		for _, a := range l {
			check("address name", a.Name)
			check("address", a.Address)
		}
	}
	for i, a := range m.Attachments {
		check("attachment filename", a.Filename)
		if a.Filename == "" {
			t.Errorf("%s: attachment %d has no filename", name, i+1)
		}
		if a.Size != len(a.Data) {
			t.Errorf("%s: attachment %d size %d != len(data) %d", name, i+1, a.Size, len(a.Data))
		}
	}
	for _, e := range m.ParseErrors {
		check("parse error", e)
	}
	if m.Priority < 1 || m.Priority > 5 {
		t.Errorf("%s: priority %d", name, m.Priority)
	}
}
