package protoline_test

import (
	"errors"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/protoline"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		safe      bool
		character byte
		offset    int
	}{
		{"plain", "user@example.com", true, 0, 0},
		{"empty", "", true, 0, 0},
		{"spaces and tabs", "a b\tc", true, 0, 0},
		{"Cyrillic", "Входящие/Архив", true, 0, 0},
		{"CRLF injection", "u\r\nDELE 1\r\nX", false, '\r', 1},
		{"bare LF", "INBOX\nA1 DELETE Sent", false, '\n', 5},
		{"NUL of SASL PLAIN", "user\x00admin", false, 0, 4},
		{"at the end", "secret\r", false, '\r', 6},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := protoline.Safe(test.value); got != test.safe {
				t.Errorf("Safe = %v, want %v", got, test.safe)
			}
			err := protoline.Check("login", test.value)
			if test.safe {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var unsafe *protoline.UnsafeError
			if !errors.As(err, &unsafe) || !errors.Is(err, protoline.ErrUnsafe) {
				t.Fatalf("Check: %v, want an *UnsafeError wrapping ErrUnsafe", err)
			}
			if unsafe.Argument != "login" || unsafe.Character != test.character || unsafe.Offset != test.offset {
				t.Errorf("error %+v, want character %q at %d", unsafe, test.character, test.offset)
			}
		})
	}
}

// The value may be a password: the error names the argument and the
// character, never the value.
func TestErrorHidesTheValue(t *testing.T) {
	err := protoline.Check("password", "hunter2\r\nDELE 1")
	if err == nil {
		t.Fatal("no error")
	}
	text := err.Error()
	if strings.Contains(text, "hunter2") || strings.Contains(text, "DELE") {
		t.Errorf("error %q shows the value", text)
	}
	if want := "password contains a line break or NUL character (CR at byte 7)"; text != want {
		t.Errorf("error %q, want %q", text, want)
	}
}
