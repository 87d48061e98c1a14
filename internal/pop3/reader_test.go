package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		line string
		want reply
		err  bool
	}{
		{"+OK", reply{ok: true}, false},
		{"+OK 2 320", reply{ok: true, text: "2 320"}, false},
		{"+ok lower", reply{ok: true, text: "lower"}, false},
		{"+OK\tPOP3 ready <1896.697170952@dbc.mtview.ca.us>", reply{ok: true, text: "POP3 ready <1896.697170952@dbc.mtview.ca.us>"}, false},
		{"-ERR", reply{}, false},
		{"-ERR no such message", reply{text: "no such message"}, false},
		{"-ERR [IN-USE] locked", reply{text: "[IN-USE] locked", code: "IN-USE"}, false},
		{"-ERR [SYS/TEMP] later", reply{text: "[SYS/TEMP] later", code: "SYS/TEMP"}, false},
		{"-ERR [bad code] x", reply{text: "[bad code] x"}, false},
		{"-ERR [unterminated", reply{text: "[unterminated"}, false},
		{"+", reply{cont: true}, false},
		{"+ ", reply{cont: true}, false},
		{"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", reply{cont: true, text: "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"}, false},
		{"", reply{}, true},
		{"OK", reply{}, true},
		{"+OKAY", reply{}, true},
		{"-ERROR", reply{}, true},
		{"* OK IMAP", reply{}, true},
		{"220 smtp.example.test ESMTP", reply{}, true},
		{"+-", reply{}, true},
	} {
		got, err := parseReply(tc.line)
		if (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrProtocol)) {
			t.Errorf("parseReply(%q) error %v, want error %v", tc.line, err, tc.err)
			continue
		}
		if got != tc.want {
			t.Errorf("parseReply(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestAPOPTimestamp(t *testing.T) {
	for text, want := range map[string]string{
		"POP3 server ready <1896.697170952@dbc.mtview.ca.us>": "<1896.697170952@dbc.mtview.ca.us>",
		"Dovecot ready. <5a6.1.6740e2d1.abc==@host>":          "<5a6.1.6740e2d1.abc==@host>",
		"ready":             "",
		"ready <>":          "",
		"ready <a b@c>":     "",
		"ready <unclosed":   "",
		"<x@y> and <z@w>":   "<x@y>",
		"a > b <c@d>":       "<c@d>",
		"ready <\x01@\xff>": "",
	} {
		if got := apopTimestamp(text); got != want {
			t.Errorf("apopTimestamp(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestMaskCommand(t *testing.T) {
	for line, want := range map[string]string{
		"USER alice":              "USER alice",
		"PASS secret with spaces": "PASS ***",
		"pass secret":             "pass ***",
		"APOP alice c4c9334bac560ecc979e58001b3e22fb": "APOP alice ***",
		"AUTH PLAIN AGFsaWNlAHNlY3JldA==":             "AUTH PLAIN ***",
		"RETR 1":                                      "RETR 1",
	} {
		if got := maskCommand(line); got != want {
			t.Errorf("maskCommand(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestDotReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire string
		max  int
		want string
		err  error // nil: the body ends with io.EOF
		rest string
	}{
		{"Simple", "a\r\nb\r\n.\r\nNEXT", 100, "a\r\nb\r\n", nil, "NEXT"},
		{"Empty", ".\r\n+OK", 100, "", nil, "+OK"},
		{"Stuffed", "..\r\n...\r\n..x\r\n. \r\n.\r\n", 100, ".\r\n..\r\n.x\r\n \r\n", nil, ""},
		{"LFOnlyTerminator", "a\n.\n+OK", 100, "a\n", nil, "+OK"},
		{"DotCR", ".\rx\r\n.\r\n", 100, "\rx\r\n", nil, ""},
		{"EightBit", "\xff\xfe\x00\r\n\xd0\x9f\r\n.\r\n", 100, "\xff\xfe\x00\r\n\xd0\x9f\r\n", nil, ""},
		{"DotInsideLine", "a.\r\n.b.\r\n.\r\n", 100, "a.\r\nb.\r\n", nil, ""},
		{"NoTerminator", "a\r\nb\r\n", 100, "a\r\nb\r\n", io.ErrUnexpectedEOF, ""},
		{"HalfLine", "a\r\nbc", 100, "a\r\nbc", io.ErrUnexpectedEOF, ""},
		{"HalfTerminator", "a\r\n.\r", 100, "a\r\n", io.ErrUnexpectedEOF, ""},
		{"Dot", "a\r\n.", 100, "a\r\n", io.ErrUnexpectedEOF, ""},
		{"NothingAtAll", "", 100, "", io.ErrUnexpectedEOF, ""},
		{"LineAtCap", "12345678\r\n.\r\n", 10, "12345678\r\n", nil, ""},
		{"LineOverCap", "123456789\r\n.\r\n", 10, "", ErrLineTooLong, ""},
		{"StuffedLineAtCap", "..234567\r\n.\r\n", 10, ".234567\r\n", nil, ""},
		{"LongLineNoEOL", strings.Repeat("x", 50), 10, "", ErrLineTooLong, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var src io.Reader = strings.NewReader(tc.wire)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				br := bufio.NewReaderSize(src, 16)
				d := newDotReader(br, tc.max)
				var got bytes.Buffer
				buf := make([]byte, 7)
				var err error
				for {
					var n int
					n, err = d.Read(buf)
					got.Write(buf[:n])
					if err != nil {
						break
					}
				}
				if tc.err == nil && err != io.EOF || tc.err != nil && !errors.Is(err, tc.err) {
					t.Fatalf("oneByte %v: error %v, want %v", oneByte, err, tc.err)
				}
				if tc.err != ErrLineTooLong && got.String() != tc.want {
					t.Errorf("oneByte %v: got %q, want %q", oneByte, got.String(), tc.want)
				}
				if n, err := d.Read(buf); n != 0 || err == nil {
					t.Errorf("Read after the end: %d, %v", n, err)
				}
				if tc.err == nil {
					rest, _ := io.ReadAll(br)
					if string(rest) != tc.rest {
						t.Errorf("left %q after the body, want %q", rest, tc.rest)
					}
				}
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	for _, tc := range []struct {
		wire string
		max  int
		want string
		err  error
	}{
		{"+OK\r\n", 10, "+OK", nil},
		{"+OK\n", 10, "+OK", nil},
		{"0123456789\r\n", 10, "0123456789", nil},
		{"01234567890\r\n", 10, "", ErrLineTooLong},
		{strings.Repeat("y", 100) + "\r\n", 50, "", ErrLineTooLong},
		{strings.Repeat("y", 40) + "\r\n", 50, strings.Repeat("y", 40), nil},
		{"+OK", 10, "", io.ErrUnexpectedEOF},
		{"", 10, "", io.EOF},
	} {
		br := bufio.NewReaderSize(strings.NewReader(tc.wire), 16)
		got, err := readLine(br, tc.max)
		if !errors.Is(err, tc.err) || tc.err == nil && err != nil || string(got) != tc.want {
			t.Errorf("readLine(%q, %d) = %q, %v; want %q, %v", clip(tc.wire, 20), tc.max, got, err, tc.want, tc.err)
		}
	}
}
