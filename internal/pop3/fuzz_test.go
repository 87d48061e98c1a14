package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// Seeds are in testdata/fuzz/FuzzReplyParse and testdata/fuzz/FuzzMultiline
// (replayed by plain go test) and below. Run with e.g.
//
//	go test -run '^$' -fuzz FuzzMultiline -fuzztime 30s ./internal/pop3/

func FuzzReplyParse(f *testing.F) {
	for _, s := range []string{
		"+OK", "+OK 2 320", "-ERR", "-ERR [IN-USE] locked", "-ERR [SYS/TEMP/DISK] full", "+ ", "+",
		"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>", "* OK IMAP", "-ERR [", "-ERR []", "+OKAY",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseReply(line)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("parseReply(%q): %v does not wrap ErrProtocol", line, err)
			}
			return
		}
		if btoi(r.ok)+btoi(r.cont) > 1 {
			t.Fatalf("parseReply(%q) = %+v: both ok and continuation", line, r)
		}
		if !strings.HasSuffix(line, r.text) {
			t.Fatalf("parseReply(%q): text %q is not the end of the line", line, r.text)
		}
		if r.code != "" {
			if r.ok || r.cont || r.code != strings.ToUpper(r.code) || strings.ContainsAny(r.code, " []") {
				t.Fatalf("parseReply(%q): bad code %q", line, r.code)
			}
		}
		_ = newError("X", line, r.code).Error()
		apopTimestamp(r.text)

		// The same line through the line reader.
		br := bufio.NewReaderSize(strings.NewReader(line+"\r\n"), 16)
		got, err := readLine(br, len(line)+1)
		if err == nil && !strings.ContainsAny(line, "\r\n") && string(got) != line {
			t.Fatalf("readLine(%q) = %q", line, got)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func FuzzMultiline(f *testing.F) {
	f.Add([]byte("a\r\nb\r\n.\r\n"), uint16(100))
	f.Add([]byte("..\r\n...x\r\n.\r\n+OK"), uint16(5))
	f.Add([]byte(".\n"), uint16(1))
	f.Add([]byte("no terminator\r\n"), uint16(100))
	f.Add([]byte("\xff\xfe\x00.\r\n.\r"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, max uint16) {
		limit := int(max%4096) + 1

		// Any input: no panic, output no longer than input, a line over the
		// cap is an error, and the listing reader agrees on where it ends.
		d := newDotReader(bufio.NewReaderSize(bytes.NewReader(data), 16), limit)
		out, err := io.ReadAll(d)
		if len(out) > len(data) {
			t.Fatalf("%d bytes out of %d in", len(out), len(data))
		}
		if err == nil {
			for _, line := range bytes.SplitAfter(out, []byte("\n")) {
				if len(line) > limit {
					t.Fatalf("a %d-byte line passed the %d cap", len(line), limit)
				}
			}
		}
		_, lerr := readMultiLine(bufio.NewReaderSize(bytes.NewReader(data), 16), limit, func([]byte) error { return nil })
		_ = lerr

		// Round trip: dot-stuff data as a server would, then read it back.
		want := data
		if len(want) > 0 && want[len(want)-1] != '\n' {
			want = append(want[:len(want):len(want)], '\r', '\n')
		}
		var wire bytes.Buffer
		for _, line := range bytes.SplitAfter(want, []byte("\n")) {
			if len(line) > 0 && line[0] == '.' {
				wire.WriteByte('.')
			}
			wire.Write(line)
		}
		wire.WriteString(".\r\n+OK next")
		br := bufio.NewReaderSize(&wire, 16)
		got, err := io.ReadAll(newDotReader(br, len(want)+2))
		if err != nil {
			t.Fatalf("round trip of %q: %v", want, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round trip: got %q, want %q", got, want)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "+OK next" {
			t.Fatalf("round trip left %q", rest)
		}
	})
}
