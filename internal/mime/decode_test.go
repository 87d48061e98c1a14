package mime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestDecodeHeader(t *testing.T) {
	for _, c := range []struct{ in, fallback, want string }{
		{"plain text", "", "plain text"},
		{"=?utf-8?Q?caf=C3=A9?=", "", "café"},
		{"=?utf-8?q?a_b?= =?utf-8?q?c?=", "", "a bc"},
		{"=?utf-8?Q?a?=  \t =?utf-8?Q?b?= c", "", "ab c"},
		{"x =?utf-8?Q?a?= y", "", "x a y"},
		{"=?utf-8?B?0J/RgNC4?==?utf-8?B?0LLQtdGC?=", "", "Привет"},
		{"=?UTF-8?B?0J/RgNC40LLQtdGC?", "", "=?UTF-8?B?0J/RgNC40LLQtdGC?"},
		{"=?utf-8*ru?B?0J/RgNC40LLQtdGC?=", "", "Привет"},
		{"=?koi8-r?B?" + b64s(enc(charmap.KOI8R, "Тест")) + "?=", "", "Тест"},
		{"=?unknown-x?B?" + b64s(enc(charmap.Windows1251, "Тест")) + "?=", "windows-1251", "Тест"},
		{enc(charmap.Windows1251, "Тест"), "cp1251", "Тест"},
		{enc(charmap.KOI8R, "Тест"), "koi8r", "Тест"},
		{"na\xefve", "", "naïve"},
		{"a\x00b", "", "ab"},
		{"a\r\n b", "", "a b"},
		{"=?", "", "=?"},
		{"=?utf-8?X?abc?=", "", "=?utf-8?X?abc?="},
		{"=?utf-8?B?4pyT?= done", "", "✓ done"},
		{"=?gb2312?B?" + b64s(enc(simplifiedchinese.GB18030, "中文")) + "?=", "", "中文"},
		{"=?ks_c_5601-1987?B?" + b64s(enc(korean.EUCKR, "한국")) + "?=", "", "한국"},
		{"=?iso-2022-jp?B?" + b64s(enc(japanese.ISO2022JP, "日本")) + "?=", "", "日本"},
		{"=?utf-8?B?0J/RgNC4?= =?koi8-r?B?" + b64s(enc(charmap.KOI8R, "вет")) + "?=", "", "Привет"},
		// Not base64 at all: kept as written rather than shown as bytes no
		// one wrote; a stray character in real base64 is still skipped.
		{"=?utf-8?B?brokenbase64!!!?=", "", "=?utf-8?B?brokenbase64!!!?="},
		{"Re: =?utf-8?B?brokenbase64!!!?= x", "", "Re: =?utf-8?B?brokenbase64!!!?= x"},
		{"=?utf-8?B?0J/RgNC4 0LLQtdGC?=", "", "Привет"},
		// A character split across two words, a space left in the first.
		{"=?utf-8?B?0J/R ?= =?utf-8?B?gNC40LLQtdGC?=", "", "Привет"},
	} {
		if got := DecodeHeader(c.in, c.fallback); got != c.want {
			t.Errorf("DecodeHeader(%q, %q) = %q, want %q", c.in, c.fallback, got, c.want)
		}
	}
}

func b64s(s string) string { return strings.TrimSpace(b64(s)) }

func TestCharsetAliases(t *testing.T) {
	for _, label := range []string{"utf8", "UTF-8", "cp1251", "win-1251", "windows-1251", "koi8r", "KOI8-R", "koi8-u", "cp866",
		"ibm866", "x-mac-cyrillic", "ks_c_5601-1987", "gb2312", "GBK", "gb18030", "big5", "iso-2022-jp", "shift_jis", "euc-jp",
		"iso-8859-5", "iso-8859-15", "iso-8859-2", "windows-1250", "windows-1257", "tis-620", "utf-16", "us-ascii", "latin1",
		"\"utf-8\"", "csKOI8R", "x-user-defined", "macintosh", "iso8859-1", "windows_1251", "euc-kr", "hz-gb-2312"} {
		if lookupCharset(label) == nil {
			t.Errorf("charset %q unknown", label)
		}
	}
	for _, label := range []string{"x-foo", "", "utf-99"} {
		if lookupCharset(label) != nil {
			t.Errorf("charset %q known", label)
		}
	}
}

func TestParseAddressList(t *testing.T) {
	for _, c := range []struct {
		in    string
		want  []string
		isErr bool
	}{
		{"Alice <a@x.com>", []string{"Alice <a@x.com>"}, false},
		{"a@x.com, b@y.com", []string{"a@x.com", "b@y.com"}, false},
		{"\"Doe, Jane\" <j@x.com>", []string{"\"Doe, Jane\" <j@x.com>"}, false},
		{"Doe, Jane <j@x.com>", []string{"\"Doe, Jane\" <j@x.com>"}, false},
		{"g: a@x, b@y;", []string{"a@x", "b@y"}, false},
		{"undisclosed-recipients:;", nil, false},
		{"a@x (Alice)", []string{"Alice <a@x>"}, false},
		{"<@r1,@r2:u@h>", []string{"u@h"}, false},
		{"=?utf-8?B?0JjQstCw0L0=?= <i@x.ru>", []string{"Иван <i@x.ru>"}, false},
		{"\"=?utf-8?B?0JjQstCw0L0=?=\" <i@x.ru>", []string{"Иван <i@x.ru>"}, false},
		{"Broken <b@x", []string{"Broken <b@x>"}, true},
		{"Just A Name", []string{"Just A Name"}, true},
		{"root", []string{"root"}, false},
		{"", nil, false},
		{"<mailto:a@x>", []string{"a@x"}, false},
		{"'Alice' <a@x>", []string{"Alice <a@x>"}, false},
	} {
		got, err := ParseAddressList(c.in, "")
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if !eqStrings(s, c.want) || (err != nil) != c.isErr {
			t.Errorf("ParseAddressList(%q) = %q, %v; want %q, error %v", c.in, s, err, c.want, c.isErr)
		}
	}
	got, _ := ParseAddressList(enc(charmap.Windows1251, "Иван")+" <i@x.ru>", "windows-1251")
	if len(got) != 1 || got[0].Name != "Иван" {
		t.Errorf("8-bit name: %+v", got)
	}
}

func TestDecodeFilename(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"attachment; filename=\"a.pdf\"", "a.pdf"},
		{"attachment; filename=a.pdf", "a.pdf"},
		{"attachment; filename=my file.pdf", "my file.pdf"},
		{"application/pdf; name=\"n.pdf\"", "n.pdf"},
		{"attachment; filename*=UTF-8''%D0%90%D0%91.txt", "АБ.txt"},
		{"attachment; filename*=utf-8'en'%E2%82%AC%20rates.txt", "€ rates.txt"},
		{"attachment; filename*0*=koi8-r''%F3%DE; filename*1*=%C5%D4; filename*2=\".txt\"", "Счет.txt"},
		{"attachment; filename*1=\"b.txt\"; filename*0=\"a-\"", "a-b.txt"},
		{"attachment; filename=\"x.pdf\"; filename*=utf-8''y.pdf", "y.pdf"},
		{"attachment; filename=\"=?utf-8?B?0JDQkS5wZGY=?=\"", "АБ.pdf"},
		{"attachment; filename=\"C:\\dir\\file.txt\"", "file.txt"},
		{"attachment; filename=\"../../etc/passwd\"", "passwd"},
		{"attachment; filename=\"..\"", ""},
		{"attachment", ""},
		{"attachment; filename=\"unterminated.pdf", "unterminated.pdf"},
		{"attachment;filename=\"a\\\"b.txt\"", "a\"b.txt"},
	} {
		if got := DecodeFilename(c.in, ""); got != c.want {
			t.Errorf("DecodeFilename(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := DecodeFilename("attachment; filename=\""+enc(charmap.Windows1251, "Файл")+".doc\"", "windows-1251"); got != "Файл.doc" {
		t.Errorf("8-bit filename: %q", got)
	}
}

func TestParseDate(t *testing.T) {
	utc := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"Mon, 02 Jan 2006 15:04:05 +0000", utc("2006-01-02T15:04:05Z")},
		{"Mon, 2 Jan 2006 15:04:05 +0300 (MSK)", utc("2006-01-02T12:04:05Z")},
		{"2 Jan 2006 15:04 -0500", utc("2006-01-02T20:04:00Z")},
		{"Mon, 02 Jan 06 15:04:05 GMT", utc("2006-01-02T15:04:05Z")},
		{"Monday, 2 January 2006 15:04:05 +0000", utc("2006-01-02T15:04:05Z")},
		{"Mon Jan  2 15:04:05 2006", utc("2006-01-02T15:04:05Z")},
		{"2006-01-02T15:04:05+03:00", utc("2006-01-02T12:04:05Z")},
		{"Mon, 02 Jan 2006 15:04:05 +03:00", utc("2006-01-02T12:04:05Z")},
		{"Mon, 2 Jan 2006 15:04:05 EST", utc("2006-01-02T20:04:05Z")},
		{"Wed, 24 Jul 0102 21:48:06 +0000", utc("2002-07-24T21:48:06Z")},
		{"Tue, 3 Dec 2002 11:51:12 +-0700", utc("2002-12-03T18:51:12Z")},
		{"Wed, 29 May 2002 16:54:6 +0300", utc("2002-05-29T13:54:06Z")},
		{"Tue, 17 Jul 2012 22:23:35.882 0000", utc("2012-07-17T22:23:35Z")},
		{"01 Jan 2001 00:01+0000", utc("2001-01-01T00:01:00Z")},
		{"Mon, 22 Jul 2002 12:37:15 US Mountain Standard Time", utc("2002-07-22T12:37:15Z")},
		{"", time.Time{}},
		{"not a date", time.Time{}},
	} {
		got := ParseDate(c.in)
		if !got.Equal(c.want) {
			t.Errorf("ParseDate(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.MaxDepth != DefaultMaxDepth || o.MaxParts != DefaultMaxParts {
		t.Fatalf("defaults %+v", o)
	}
	o = Options{MaxDepth: -1, MaxParts: -5}.withDefaults()
	if o.MaxDepth != DefaultMaxDepth || o.MaxParts != DefaultMaxParts {
		t.Fatalf("negative %+v", o)
	}
}

func TestLimits(t *testing.T) {
	// Depth: 30 nested multiparts with text at the bottom.
	var sb strings.Builder
	sb.WriteString("Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&sb, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i+1)
	}
	sb.WriteString("--b30\nContent-Type: text/plain\n\nbottom\n")
	m := Parse([]byte(sb.String()), Options{MaxDepth: 10})
	if !hasNote(m, "nested deeper than 10") || len(m.Attachments) != 1 {
		t.Errorf("depth: %q, %d attachments", m.ParseErrors, len(m.Attachments))
	}
	// Parts: 100 parts, limit 10.
	sb.Reset()
	sb.WriteString("Subject: many\nContent-Type: multipart/mixed; boundary=x\n\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, "--x\nContent-Type: application/octet-stream\n\n%d\n", i)
	}
	sb.WriteString("--x--\n")
	m = Parse([]byte(sb.String()), Options{MaxParts: 10})
	if !hasNote(m, "more than 10 parts") || len(m.Attachments) != 9 {
		t.Errorf("parts: %q, %d attachments", m.ParseErrors, len(m.Attachments))
	}
	// Unknown fallback charset.
	m = Parse([]byte("Subject: x\n\ny\n"), Options{FallbackCharset: "x-nope"})
	if !hasNote(m, "unknown fallback charset") {
		t.Errorf("fallback: %q", m.ParseErrors)
	}
}

func hasNote(m *Message, s string) bool {
	for _, e := range m.ParseErrors {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

func TestAddressString(t *testing.T) {
	for _, c := range []struct {
		a    Address
		want string
	}{
		{Address{"Alice", "a@x"}, "Alice <a@x>"},
		{Address{"", "a@x"}, "a@x"},
		{Address{"Doe, J.", "a@x"}, "\"Doe, J.\" <a@x>"},
		{Address{"Name", ""}, "Name"},
	} {
		if got := c.a.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.a, got, c.want)
		}
	}
}

func TestHeaderFields(t *testing.T) {
	raw := "Received: from a\n\tby b\nSubject: =?utf-8?Q?caf=C3=A9?=\nX-Empty:\n\nbody\n"
	m := Parse([]byte(raw), Options{})
	if len(m.Header) != 3 {
		t.Fatalf("%d fields", len(m.Header))
	}
	if h := m.Header[0]; h.Name != "Received" || h.Value != "from a by b" || h.Raw != "Received: from a\n\tby b" {
		t.Errorf("received: %+v", h)
	}
	if h := m.Header[1]; h.Value != "café" || m.Get("subject") != "café" {
		t.Errorf("subject: %+v", h)
	}
	if m.HeaderText != "Received: from a\n\tby b\nSubject: =?utf-8?Q?caf=C3=A9?=\nX-Empty:" {
		t.Errorf("header text %q", m.HeaderText)
	}
}

func TestHTMLToText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "a\n\nb"},
		{"a<br>b<br/>c", "a\nb\nc"},
		{"<script>x</script>y", "y"},
		{"<!-- c -->z", "z"},
		{"&lt;tag&gt; &amp; &nbsp;x", "<tag> & x"},
		{"<div\n>unclosed", "unclosed"},
		{"<b", ""},
		{"<STYLE>p{}</STYLE>ok", "ok"},
	} {
		if got := htmlToText(c.in); got != c.want {
			t.Errorf("htmlToText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPathological parses large hostile inputs that would be slow with
// quadratic scanning.
func TestPathological(t *testing.T) {
	n := 1 << 20
	inputs := map[string]string{
		"encoded-word starts": "Subject: " + strings.Repeat("=?a?b?", n/6) + "\n\nx\n",
		"angle brackets":      "To: " + strings.Repeat("<", n) + "\n\nx\n",
		"commas":              "To: " + strings.Repeat("a@b,", n/4) + "\n\nx\n",
		"comments":            "From: " + strings.Repeat("(", n) + "\n\nx\n",
		"delimiters":          "Content-Type: multipart/mixed; boundary=a\n\n" + strings.Repeat("--a\n", n/4),
		"boundary prefixes":   "Content-Type: multipart/mixed; boundary=aaaa\n\n" + strings.Repeat("--aaa\n", n/6),
		"uu begins":           "\n" + strings.Repeat("begin 644 x\n", n/12),
		"html tags":           "Content-Type: text/html\n\n" + strings.Repeat("<p", n/2),
		"html scripts":        "Content-Type: text/html\n\n" + strings.Repeat("<script>", n/8),
		"params":              "Content-Type: text/plain; " + strings.Repeat("a*1*=b; ", n/8) + "\n\nx\n",
		"header lines":        strings.Repeat("X: y\n", n/5) + "\nx\n",
		"folded":              "Subject: a" + strings.Repeat("\n b", n/3) + "\n\nx\n",
		"references":          "References: " + strings.Repeat("<a@b>", n/5) + "\n\nx\n",
		"nested multiparts":   strings.Repeat("Content-Type: multipart/mixed; boundary=q\n\n--q\n", 5000),
	}
	for name, in := range inputs {
		start := time.Now()
		m := Parse([]byte(in), Options{})
		if el := time.Since(start); el > 20*time.Second {
			t.Errorf("%s: %v", name, el)
		}
		checkClean(t, name, m)
	}
}
