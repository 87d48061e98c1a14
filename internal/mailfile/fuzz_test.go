package mailfile

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzMboxReader reads its input two ways. As an mbox file: no panic, the
// consumed bytes add up to the input's size, the messages do not depend on
// how the input's reads fall or on messages left half read, and (for an
// input that starts as an mbox file does) they are the old splitter's. As
// messages (the input split at NUL bytes) written by an mboxrd writer:
// they read back as written. Its corpus is in testdata/fuzz.
func FuzzMboxReader(f *testing.F) {
	for _, seed := range []string{
		"From x\nSubject: a\n\nbody\n\nFrom y\nSubject: b\n\n>From c\n\n",
		"From x\r\nSubject: a\r\n\r\nbody\r\n\r\nFrom y\r\n",
		"From x\nA: b\n\nFrom y",
		"junk\n\nFrom x\nA: b\n",
		"Subject: one\n\nFrom the start\n\x00Subject: two\r\n\r\n>>From there\r\n\x00\x00no end",
	} {
		f.Add([]byte(seed))
	}
	// Lines about the reader's buffer size, which mutation seldom makes:
	// one that just fits, one a byte too long, one ending the input.
	fits := strings.Repeat("L", bufferSize-len(">From \n"))
	f.Add([]byte("From x\n\n>From " + fits + "\n\nFrom y\n"))
	f.Add([]byte("From x\n\nFrom " + fits + "LL\n\nFrom y\n>From z\n"))
	f.Add([]byte("From x\n\n>From " + fits + "L"))
	f.Fuzz(func(t *testing.T, input []byte) {
		whole := readMbox(t, bytes.NewReader(input), len(input))
		halves := readMbox(t, iotest.HalfReader(bytes.NewReader(input)), len(input))
		if strings.Join(whole, "\x00") != strings.Join(halves, "\x00") || len(whole) != len(halves) {
			t.Fatalf("read whole %q, in halves %q", whole, halves)
		}
		checkHalfRead(t, input, whole)
		if bytes.HasPrefix(input, []byte("From ")) {
			reference, err := referenceMessages(input)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(whole, "\x00") != strings.Join(reference, "\x00") || len(whole) != len(reference) {
				t.Fatalf("got %q, the old splitter gave %q", whole, reference)
			}
		}

		newline := []string{"\n", "\r\n"}[len(input)%2]
		messages := bytes.Split(input, []byte{0})
		written := writeMboxrd(messages, newline)
		read := readMbox(t, bytes.NewReader(written), len(written))
		if len(read) != len(messages) {
			t.Fatalf("%d messages written, %d read back from %q", len(messages), len(read), written)
		}
		for i, message := range messages {
			if len(message) > 0 && message[len(message)-1] != '\n' {
				message = append(message, newline...)
			}
			if roundTrips(message) && read[i] != string(message) {
				t.Errorf("message %d written as %q, read back as %q", i+1, message, read[i])
			}
		}
	})
}

// checkHalfRead reads input again, leaving every other message after a
// few of its bytes: those bytes are the message's first, the messages
// read whole are as before, and the consumed bytes still add up.
func checkHalfRead(t *testing.T, input []byte, want []string) {
	t.Helper()
	reader := NewMboxReader(bytes.NewReader(input))
	for i := 0; ; i++ {
		message, err := reader.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("%d messages, want %d", i, len(want))
			}
			break
		}
		if err != nil || i >= len(want) {
			t.Fatalf("message %d of %d: %v", i+1, len(want), err)
		}
		if i%2 == 0 {
			head := make([]byte, i%7)
			n, _ := io.ReadFull(message, head)
			if !strings.HasPrefix(want[i], string(head[:n])) || n < min(len(head), len(want[i])) {
				t.Fatalf("message %d starts %q, want %q", i+1, head[:n], want[i])
			}
			continue
		}
		raw, err := io.ReadAll(message)
		if err != nil || string(raw) != want[i] {
			t.Fatalf("message %d after a half read one: %q, %v; want %q", i+1, raw, err, want[i])
		}
	}
	if reader.Consumed() != int64(len(input)) {
		t.Fatalf("consumed %d of %d bytes", reader.Consumed(), len(input))
	}
}
