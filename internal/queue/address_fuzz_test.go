package queue

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheckAddress: whatever checkAddress takes is one safe SMTP path: no
// line breaks, NUL, tabs or angle brackets, valid UTF-8, at most 256 bytes,
// an @ with something on each side, and a space only inside a quoted local
// part that the @ follows.
//
//	go test -run '^$' -fuzz FuzzCheckAddress ./internal/queue/
func FuzzCheckAddress(f *testing.F) {
	for _, seed := range []string{"a@b", `"john doe"@example.com`, `"a\"b"@c`, `"a b"c@d`, `"open@x`, "a b@c", "a\r\n@b",
		"алиса@пример.рф", `""@x`, `"a\`, "@b", "a@", `"x"@"y"`, "a\t@b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, address string) {
		if checkAddress("recipient", address, false) != nil {
			return
		}
		if strings.ContainsAny(address, "\r\n\x00\t<>") || !utf8.ValidString(address) || len(address) > maxAddress {
			t.Fatalf("taken: %q", address)
		}
		at := strings.LastIndexByte(address, '@')
		if at <= 0 || at == len(address)-1 {
			t.Fatalf("taken without a local part and a domain: %q", address)
		}
		rest := address
		if strings.HasPrefix(address, `"`) {
			end := quotedEnd(address)
			if end < 2 || end >= len(address) || address[end] != '@' {
				t.Fatalf("taken with a bad quoted local part: %q", address)
			}
			rest = address[end:]
		}
		if strings.Contains(rest, " ") {
			t.Fatalf("taken with a space outside quotes: %q", address)
		}
	})
}
