package queue

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A server's reply is stored, logged and put in notices: whatever bytes it
// sent, it becomes one line of valid UTF-8 without NUL, of bounded length.
func TestOneLine(t *testing.T) {
	for _, reply := range []string{"451 4.0.0 a\r\nb\nc", "550 \xff\xfe\x00 bad", strings.Repeat("я", 2000), "250 ok"} {
		got := oneLine(reply)
		if strings.ContainsAny(got, "\r\n\x00") || !utf8.ValidString(got) || len(got) > 900 {
			t.Errorf("oneLine(%q) = %q", reply, got)
		}
	}
}
