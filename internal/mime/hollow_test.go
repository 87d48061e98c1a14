package mime

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// parseAtBytes runs ParseAt on raw held in memory.
func parseAtBytes(t testing.TB, raw []byte, options Options) *Message {
	t.Helper()
	m, err := ParseAt(bytes.NewReader(raw), int64(len(raw)), options)
	if err != nil {
		t.Fatalf("ParseAt: %v", err)
	}
	return m
}

// readAttachment reads an attachment's decoded bytes, checking that Data
// and Open are not both set and that Size is what is read.
func readAttachment(t testing.TB, a *Attachment) []byte {
	t.Helper()
	if a.Open != nil && a.Data != nil {
		t.Fatalf("attachment %q has both Data and Open", a.Filename)
	}
	data, err := io.ReadAll(a.Reader())
	if err != nil {
		t.Fatalf("reading attachment %q: %v", a.Filename, err)
	}
	if len(data) != a.Size {
		t.Fatalf("attachment %q: Size %d, read %d bytes", a.Filename, a.Size, len(data))
	}
	return data
}

// sameMessage fails unless got (from ParseAt) is want (from Parse) with
// attachments compared by their decoded bytes. It returns how many of
// got's attachments were left in the source.
func sameMessage(t testing.TB, want, got *Message) (opened int) {
	t.Helper()
	normal := func(m *Message) Message {
		c := *m
		c.Attachments = nil
		for i := range m.Attachments {
			a := m.Attachments[i]
			if a.Open != nil {
				opened++
			}
			a.Data = readAttachment(t, &m.Attachments[i])
			if len(a.Data) == 0 {
				a.Data = nil
			}
			a.Open = nil
			c.Attachments = append(c.Attachments, a)
		}
		return c
	}
	w := normal(want)
	opened = 0
	g := normal(got)
	if reflect.DeepEqual(w, g) {
		return opened
	}
	wv, gv := reflect.ValueOf(w), reflect.ValueOf(g)
	for i := 0; i < wv.NumField(); i++ {
		if !reflect.DeepEqual(wv.Field(i).Interface(), gv.Field(i).Interface()) {
			t.Errorf("%s differs:\nParse   %s\nParseAt %s", wv.Type().Field(i).Name,
				truncate(fmt.Sprintf("%q", wv.Field(i).Interface()), 600), truncate(fmt.Sprintf("%q", gv.Field(i).Interface()), 600))
		}
	}
	return opened
}

// hollowOptions force the large-message mode on small messages.
func hollowOptions(fallback string, minSpan int) Options {
	return Options{FallbackCharset: fallback, MaxInMemory: 1, MinSpan: minSpan}
}

func TestParseAtGoldenEquivalence(t *testing.T) {
	eachGolden(t, func(t *testing.T, _ string, raw []byte, g *golden) {
		want := Parse(raw, Options{FallbackCharset: g.FallbackCharset})
		for _, minSpan := range []int{1, 3, 40, 100} {
			got := parseAtBytes(t, raw, hollowOptions(g.FallbackCharset, minSpan))
			sameMessage(t, want, got)
			if t.Failed() {
				t.Fatalf("MinSpan %d", minSpan)
			}
		}
	})
}

// base64Lines encodes data as base64 lines of width characters.
func base64Lines(data []byte, width int) string {
	e := base64.StdEncoding.EncodeToString(data)
	var sb strings.Builder
	for len(e) > width {
		sb.WriteString(e[:width] + "\n")
		e = e[width:]
	}
	if e != "" {
		sb.WriteString(e + "\n")
	}
	return sb.String()
}

// pattern returns n bytes that are not text.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

const hollowHeader = "From: Alice <alice@example.com>\nTo: Bob <bob@example.com>\nSubject: large\nDate: Mon, 02 Jan 2006 15:04:05 +0000\nMIME-Version: 1.0\n"

func mixed(parts ...string) string {
	var sb strings.Builder
	sb.WriteString(hollowHeader + "Content-Type: multipart/mixed; boundary=\"outer\"\n\n")
	for _, p := range parts {
		sb.WriteString("--outer\n" + p)
		if !strings.HasSuffix(p, "\n") {
			sb.WriteString("\n")
		}
	}
	sb.WriteString("--outer--\n")
	return sb.String()
}

func base64Part(name string, data []byte) string {
	return "Content-Type: application/octet-stream; name=\"" + name + "\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"" + name + "\"\n\n" + base64Lines(data, 76)
}

// hollowCases are generated messages that exercise the large-message
// mode; opened is how many attachments ParseAt must leave in the source
// with MinSpan 64.
func hollowCases() []struct {
	name   string
	raw    string
	opened int
} {
	text := "Content-Type: text/plain; charset=utf-8\n\nHello, Bob.\n"
	base64Looking := strings.Repeat(strings.Repeat("QUJD", 19)+"\n", 40)
	inner := "From: Carol <carol@example.com>\nSubject: Forwarded report\nContent-Type: multipart/mixed; boundary=\"in\"\n\n--in\n" + text + "--in\n" + base64Part("r.bin", pattern(3000)) + "--in--\n"
	deep := "Content-Type: multipart/mixed; boundary=\"d1\"\n\n--d1\nContent-Type: multipart/mixed; boundary=\"d2\"\n\n--d2\n" + base64Part("deep.bin", pattern(2000)) + "--d2--\n--d1--\n"
	var many strings.Builder
	for i := 0; i < 250; i++ {
		many.WriteString(strings.Repeat("QUJD", 10) + "\n")
	}
	cases := []struct {
		name   string
		raw    string
		opened int
	}{
		{"single base64 attachment", hollowHeader + "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n" + base64Lines(pattern(5000), 76), 1},
		{"run at the end without a line break", hollowHeader + "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n" + strings.TrimSuffix(base64Lines(pattern(5000), 76), "\n"), 1},
		{"identity run at the end without a line break", hollowHeader + "Content-Type: application/octet-stream\n\n" + strings.TrimSuffix(base64Looking, "\n"), 1},
		{"multipart without closing boundary, run at the end", strings.TrimSuffix(mixed(text, base64Part("a.bin", pattern(4000))), "--outer--\n"), 1},
		{"unclosed, run at the end without a line break", strings.TrimSuffix(strings.TrimSuffix(mixed(text, base64Part("a.bin", pattern(4000))), "--outer--\n"), "\n"), 1},
		{"empty attachment", mixed(text, base64Part("empty.bin", nil)), 0},
		{"tiny attachments", mixed(text, base64Part("1.bin", pattern(1)), base64Part("2.bin", pattern(2)), base64Part("3.bin", pattern(3)), base64Part("57.bin", pattern(57))), 1},
		{"attachments of several sizes", mixed(text, base64Part("a.bin", pattern(100)), base64Part("b.bin", pattern(1000)), base64Part("c.bin", pattern(100000))), 3},
		{"identity attachment of base64-looking lines", mixed(text, "Content-Type: application/octet-stream; name=x.txt\nContent-Transfer-Encoding: 7bit\n\n"+base64Looking, "Content-Type: text/csv; name=y.csv\n\n"+base64Looking+"trailer!\n"), 2},
		{"identity attachment, unknown encoding", mixed(text, "Content-Type: application/octet-stream\nContent-Transfer-Encoding: x-weird\n\n"+base64Looking), 1},
		{"base64 with garbage", mixed(text, base64Part("g.bin", pattern(3000))+"!!!\n"+base64Lines(pattern(3000), 76)), 1},
		{"base64 with data after padding", mixed(text, base64Part("p.bin", pattern(3001))+base64Lines(pattern(3002), 76)), 1},
		{"base64 truncated by one", mixed(text, base64Part("t1.bin", pattern(3000))+"Q\n"), 1},
		{"base64 truncated by two", mixed(text, base64Part("t2.bin", pattern(3000))+"QU\n"), 1},
		{"base64 truncated by three", mixed(text, base64Part("t3.bin", pattern(3000))+"QUJ\n"), 1},
		{"base64 padding only", mixed(text, "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"+strings.Repeat("====\n", 30)), 1},
		{"base64 with blanks", mixed(text, "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n "+base64Lines(pattern(2000), 76)+"\t"+base64Lines(pattern(2000), 60)), 1},
		{"nested multiparts", mixed("Content-Type: multipart/alternative; boundary=\"alt\"\n\n--alt\n" + text + "--alt\nContent-Type: multipart/related; boundary=\"rel\"\n\n--rel\nContent-Type: text/html\n\n<p>hi</p>\n--rel\nContent-Type: image/png\nContent-ID: <img1>\nContent-Transfer-Encoding: base64\n\n" + base64Lines(pattern(6000), 76) + "--rel--\n--alt--\n"), 1},
		{"forwarded message with a big attachment", mixed(text, "Content-Type: message/rfc822\n\n"+inner), 1},
		{"forwarded message in base64", mixed(text, "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"+base64Lines([]byte(inner), 76)), 1},
		{"forwarded message in base64 with a file name", mixed(text, "Content-Type: message/rfc822; name=fw.eml\nContent-Transfer-Encoding: base64\n\n"+base64Lines([]byte(inner), 76)), 1},
		{"forwarded message with a long header in base64", mixed(text, "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"+base64Lines([]byte("X-Long: "+strings.Repeat("y", 70000)+"\n"+inner), 76)), 1},
		{"forwarded message in quoted-printable", mixed(text, "Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n"+inner), 0},
		{"text/plain in base64 larger than MinSpan", hollowHeader + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + base64Lines([]byte(strings.Repeat("Привет, мир! ", 500)), 76), 0},
		{"html in base64", mixed("Content-Type: text/html; charset=windows-1251\nContent-Transfer-Encoding: base64\n\n" + base64Lines([]byte("<html><body>"+strings.Repeat("\xcf\xf0\xe8\xe2\xe5\xf2 ", 400)+"</body></html>"), 76)), 0},
		{"text with short lines", hollowHeader + "\n" + strings.Repeat("Thanks\nRegards\nBob\n", 50) + "end", 0},
		{"nested deeper than MaxDepth", mixed(text, deep), 1},
		{"multipart without its boundary read as text", hollowHeader + "Content-Type: multipart/mixed; boundary=\"nowhere\"\n\n" + base64Looking, 0},
		{"boundary guessed after a run", hollowHeader + "Content-Type: multipart/mixed; boundary=\"wrong\"\n\n" + base64Looking + "--right\n" + base64Part("g.bin", pattern(3000)) + "--right--\n", 1},
		{"boundary past 200 lines of runs", hollowHeader + "Content-Type: multipart/mixed; boundary=\"wrong\"\n\n" + many.String() + "--right\n" + text + "--right--\n", 0},
		{"boundary within 200 lines of runs", hollowHeader + "Content-Type: multipart/mixed; boundary=\"wrong\"\n\n" + strings.Repeat(strings.Repeat("QUJD", 10)+"\n", 198) + "--right\n" + text + "--right--\n", 0},
		{"skipped text/enriched in base64 with garbage", mixed("Content-Type: multipart/alternative; boundary=\"alt\"\n\n--alt\n" + text + "--alt\nContent-Type: text/enriched\nContent-Transfer-Encoding: base64\n\n" + base64Lines(pattern(3000), 76) + "$$\n--alt--\n"), 0},
		{"skipped text/enriched in uuencode", mixed("Content-Type: multipart/alternative; boundary=\"alt\"\n\n--alt\n" + text + "--alt\nContent-Type: text/enriched\nContent-Transfer-Encoding: x-uuencode\n\n" + base64Looking + "--alt--\n"), 0},
		{"skipped text/enriched, unknown encoding", mixed("Content-Type: multipart/alternative; boundary=\"alt\"\n\n--alt\n" + text + "--alt\nContent-Type: text/enriched\nContent-Transfer-Encoding: x-weird\n\n" + base64Looking + "--alt--\n"), 0},
		{"quoted-printable attachment", mixed(text, "Content-Type: application/octet-stream\nContent-Transfer-Encoding: quoted-printable\n\n"+strings.Repeat("=41=42=43=44=45=46=47=48=49=4A=4B=4C=4D=4E=4F=50=51=52=53=54=55=56=57=58=\n", 40)+"end\n"), 0},
		{"uuencode attachment", mixed(text, "Content-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\n"+uuencode("u.bin", []byte(strings.Repeat("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 100)))), 0},
		{"uuencode block in text", hollowHeader + "\nSee attached.\n" + base64Looking + uuencode("file.txt", []byte("hello\n")) + base64Looking, 0},
		{"long base64 line that is not", hollowHeader + "Content-Type: application/octet-stream\n\n" + base64Looking + strings.Repeat("A", 70000) + "!\n" + base64Looking, 1},
		{"long base64 line ending in CR", hollowHeader + "Content-Type: application/octet-stream\n\n" + base64Looking + strings.Repeat("A", 70000) + "\r", 1},
		{"CR inside lines", hollowHeader + "Content-Type: application/octet-stream\n\n" + base64Looking + "AAAA\rBBBB\n" + base64Looking + "AAAA\r\r\n" + base64Looking + "\r\n" + base64Looking, 1},
		{"no header", base64Looking + "\n" + base64Looking, 0},
		{"header ended by a run", "Subject: x\nContent-Type: application/octet-stream\n" + base64Looking, 1},
	}
	for _, c := range cases[:len(cases):len(cases)] {
		cases = append(cases, struct {
			name   string
			raw    string
			opened int
		}{c.name + ", CRLF", crlf(c.raw), c.opened})
	}
	return cases
}

func TestParseAtEquivalence(t *testing.T) {
	for _, c := range hollowCases() {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.raw)
			want := Parse(raw, Options{MaxDepth: 3})
			for _, minSpan := range []int{1, 5, 64, 1000, 1 << 20} {
				options := hollowOptions("", minSpan)
				options.MaxDepth = 3
				got := parseAtBytes(t, raw, options)
				opened := sameMessage(t, want, got)
				if minSpan == 64 && opened != c.opened {
					t.Errorf("%d attachments left in the source, want %d", opened, c.opened)
				}
				if t.Failed() {
					t.Fatalf("MinSpan %d; notes %q", minSpan, got.ParseErrors)
				}
			}
		})
	}
}

func TestParseAtInMemory(t *testing.T) {
	raw := []byte(mixed("Content-Type: text/plain\n\nhi\n", base64Part("a.bin", pattern(100000))))
	got := parseAtBytes(t, raw, Options{})
	want := Parse(raw, Options{})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("below MaxInMemory ParseAt is not Parse")
	}
	if got.Attachments[0].Open != nil {
		t.Errorf("Open set on a message parsed in memory")
	}
}

func TestParseAtForgedMarkers(t *testing.T) {
	// Markers as a message could write them: ours start with NUL, then a
	// nonce the message cannot know. Whatever it writes is text.
	forged := "\x00pochta-span AAAAAAAAAAAAAAAAAAAAAAAAAA 0\n\x00pochta-span  0\n\x00pochta-span x 1\n"
	for _, c := range []struct{ name, raw string }{
		{"in text", hollowHeader + "\n" + forged + strings.Repeat("QUJD", 100) + "\n" + forged},
		{"in an attachment", mixed("Content-Type: text/plain\n\n"+forged, "Content-Type: application/octet-stream\n\n"+forged+strings.Repeat("QUJD\n", 100)+forged)},
		{"alone", forged},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.raw)
			want := Parse(raw, Options{})
			got := parseAtBytes(t, raw, hollowOptions("", 8))
			sameMessage(t, want, got)
		})
	}
	// A real marker's line with another index or trailing text is text too.
	h := &hollow{prefix: []byte("\x00pochta-span N "), spans: []span{{offset: 0, length: 5, lines: 1, lineBreak: 1}}}
	for _, line := range []string{"\x00pochta-span N 1\n", "\x00pochta-span N 00\n", "\x00pochta-span N 0x\n", "\x00pochta-span N \n", "x\x00pochta-span N 0\n", "\x00pochta-span M 0\n"} {
		if h.marked([]byte(line)) {
			t.Errorf("%q taken for a marker", line)
		}
	}
	for _, line := range []string{"\x00pochta-span N 0\n", "\x00pochta-span N 0", "a\n\x00pochta-span N 0\nb"} {
		if !h.marked([]byte(line)) {
			t.Errorf("%q not taken for a marker", line)
		}
	}
}

func TestParseAtMaxText(t *testing.T) {
	body := strings.Repeat("Привет, мир! ", 5000)
	raw := []byte(hollowHeader + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + base64Lines([]byte(body), 76))
	options := hollowOptions("", 64)
	options.MaxText = 16 << 10
	m := parseAtBytes(t, raw, options)
	if !hasNote(m, "part 1: text longer than 16 KB, the rest is only in the source") {
		t.Errorf("notes %q", m.ParseErrors)
	}
	if len(m.Text) < 10000 || len(m.Text) > 12<<10 || !strings.HasPrefix(body, m.Text[:10000]) {
		t.Errorf("text of %d bytes", len(m.Text))
	}
	if m.Size != len(raw) {
		t.Errorf("size %d, want %d", m.Size, len(raw))
	}
}

// failingReaderAt fails every read at or past failAt.
type failingReaderAt struct {
	data   []byte
	failAt int64
}

var errDisk = errors.New("disk on fire")

func (f *failingReaderAt) ReadAt(p []byte, offset int64) (int, error) {
	if offset+int64(len(p)) > f.failAt {
		return 0, errDisk
	}
	return bytes.NewReader(f.data).ReadAt(p, offset)
}

func TestParseAtReadErrors(t *testing.T) {
	raw := []byte(mixed("Content-Type: text/plain\n\nhi\n", base64Part("a.bin", pattern(100000))))
	size := int64(len(raw))
	for _, c := range []struct {
		name    string
		failAt  int64
		options Options
	}{
		{"in memory", size / 2, Options{}},
		{"hollowing", size / 2, hollowOptions("", 64)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAt(&failingReaderAt{data: raw, failAt: c.failAt}, size, c.options)
			if !errors.Is(err, errDisk) {
				t.Errorf("error %v, want %v", err, errDisk)
			}
		})
	}
	// A source shorter than the size given.
	if _, err := ParseAt(bytes.NewReader(raw[:size-10]), size, hollowOptions("", 64)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short source: %v", err)
	}
	// The source failing after the parse: Open's reader says so.
	source := &failingReaderAt{data: raw, failAt: size}
	m, err := ParseAt(source, size, hollowOptions("", 64))
	if err != nil {
		t.Fatal(err)
	}
	source.failAt = 0
	if _, err := io.ReadAll(m.Attachments[0].Open()); !errors.Is(err, errDisk) {
		t.Errorf("Open after the source failed: %v", err)
	}
}

func TestBase64ReaderMatchesDecodeBase64Body(t *testing.T) {
	inputs := []string{"", "QQ", "QUI", "QUJD", "QUJDRA==", "QUJDRA", "Q", "QUJDR", "QU=JD", "QUJD!RA==", "QUJDRA==QUJD", "====", "=Q",
		"QUJD\r\nRA==\r\n", " Q U J D ", "QUJDRA=\n=", base64Lines(pattern(100000), 76) + "QUJ", base64Lines(pattern(70001), 64)}
	for _, in := range inputs {
		want, wantTruncated, wantGarbage := decodeBase64Body([]byte(in))
		// One byte at a time: quanta and "=" split across reads.
		for _, source := range []io.Reader{strings.NewReader(in), &oneByteReader{strings.NewReader(in)}} {
			r := newBase64Reader(source)
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || r.Truncated != wantTruncated || r.Garbage != wantGarbage {
				t.Errorf("%q: %d bytes truncated %v garbage %v, want %d bytes %v %v", truncate(in, 40), len(got), r.Truncated, r.Garbage, len(want), wantTruncated, wantGarbage)
			}
		}
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// unalignedFailingReaderAt fails reads at offsets that are not multiples
// of 64 KB: hollowOut's sequential reads pass, the parser's later reads
// of runs fail.
type unalignedFailingReaderAt struct{ data []byte }

func (u *unalignedFailingReaderAt) ReadAt(p []byte, offset int64) (int, error) {
	if offset%(64<<10) != 0 {
		return 0, errDisk
	}
	return bytes.NewReader(u.data).ReadAt(p, offset)
}

func TestParseAtReadErrorsWhileParsing(t *testing.T) {
	body := base64Lines(pattern(100000), 76)
	for _, c := range []struct{ name, raw string }{
		{"base64 attachment", mixed(base64Part("a.bin", pattern(100000)))},
		{"text", hollowHeader + "Content-Transfer-Encoding: base64\n\n" + body},
		{"quoted-printable", hollowHeader + "Content-Type: image/png\nContent-Transfer-Encoding: quoted-printable\n\n" + body},
		{"skipped", mixed("Content-Type: multipart/alternative; boundary=alt\n\n--alt\nContent-Type: text/enriched\nContent-Transfer-Encoding: base64\n\n" + body + "--alt--\n")},
		{"forwarded in base64", mixed("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + body)},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.raw)
			_, err := ParseAt(&unalignedFailingReaderAt{data: raw}, int64(len(raw)), hollowOptions("", 64))
			if !errors.Is(err, errDisk) {
				t.Errorf("error %v, want %v", err, errDisk)
			}
		})
	}
}

// writeLargeMessage writes to dir a message with a short text part and
// one attachment of attachmentSize pattern bytes in base64 (76-character
// CR LF lines), and returns its path and size and the attachment's
// SHA-256. It streams, so that the test's own memory stays small.
func writeLargeMessage(t testing.TB, dir string, attachmentSize int) (path string, size int64, sum []byte) {
	t.Helper()
	path = filepath.Join(dir, "large.eml")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	hash := sha256.New()
	head := crlf(hollowHeader + "Content-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\nContent-Type: text/plain\n\nThe report is attached.\n--outer\nContent-Type: application/zip; name=\"report.zip\"\nContent-Transfer-Encoding: base64\n\n")
	w.WriteString(head)
	chunk := pattern(57 * 1024)
	line := make([]byte, 78)
	for written := 0; written < attachmentSize; {
		n := min(len(chunk), attachmentSize-written)
		hash.Write(chunk[:n])
		for i := 0; i < n; i += 57 {
			encoded := base64.StdEncoding.EncodedLen(min(57, n-i))
			base64.StdEncoding.Encode(line, chunk[i:min(i+57, n)])
			line[encoded], line[encoded+1] = '\r', '\n'
			w.Write(line[:encoded+2])
		}
		written += n
		chunk[0]++ // so that the attachment does not repeat exactly
	}
	w.WriteString("--outer--\r\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	info, err := file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return path, info.Size(), hash.Sum(nil)
}

func TestParseAtMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 40 MB message")
	}
	attachmentSize, options := 29<<20, Options{}
	if raceEnabled {
		// the same path on a 5 MB message, in a few seconds
		attachmentSize, options = 4<<20, Options{MaxInMemory: 1 << 20}
	}
	path, size, sum := writeLargeMessage(t, t.TempDir(), attachmentSize)
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := ParseAt(file, size, options)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("ParseAt of %d MB: %.2f MB allocated", size>>20, float64(allocated)/(1<<20))
	if allocated > 32<<20 {
		t.Errorf("ParseAt allocated %d MB for a %d MB message", allocated>>20, size>>20)
	}

	if m.Size != int(size) || m.Text != "The report is attached." || len(m.Attachments) != 1 || len(m.ParseErrors) != 0 {
		t.Fatalf("size %d text %q %d attachments notes %q", m.Size, m.Text, len(m.Attachments), m.ParseErrors)
	}
	a := m.Attachments[0]
	if a.Data != nil || a.Open == nil || a.Size != attachmentSize || a.Filename != "report.zip" {
		t.Fatalf("attachment %q size %d, Data set %v", a.Filename, a.Size, a.Data != nil)
	}
	runtime.ReadMemStats(&before)
	hash := sha256.New()
	n, err := io.Copy(hash, a.Open())
	runtime.ReadMemStats(&after)
	if err != nil || n != int64(attachmentSize) || !bytes.Equal(hash.Sum(nil), sum) {
		t.Fatalf("Open gave %d bytes, %v, checksum equal %v", n, err, bytes.Equal(hash.Sum(nil), sum))
	}
	allocated = after.TotalAlloc - before.TotalAlloc
	t.Logf("reading the attachment: %.2f MB allocated", float64(allocated)/(1<<20))
	if allocated > 4<<20 {
		t.Errorf("reading the attachment allocated %d MB", allocated>>20)
	}
}

// BenchmarkParseAtLarge parses a 100 MB message (a 73 MB attachment in
// base64) from a file and reports the throughput.
func BenchmarkParseAtLarge(b *testing.B) {
	path, size, _ := writeLargeMessage(b, b.TempDir(), 73<<20)
	file, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ParseAt(file, size, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
