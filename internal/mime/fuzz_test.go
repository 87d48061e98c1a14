package mime

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Seeds: the committed corpora in testdata/fuzz/<Target>/ (replayed by a
// plain "go test") plus, for FuzzParse, every golden message. Crashers
// found by fuzzing are kept in the same folders.

func addGoldenSeeds(f *testing.F) int {
	emls, _ := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	for _, e := range emls {
		b, err := os.ReadFile(e)
		if err == nil {
			f.Add(b)
		}
	}
	return len(emls)
}

func FuzzParse(f *testing.F) {
	if addGoldenSeeds(f) < 60 {
		f.Fatal("golden seeds missing")
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, fb := range []string{"", "windows-1251"} {
			m := Parse(raw, Options{FallbackCharset: fb, MaxParts: 50, MaxDepth: 8})
			if m == nil {
				t.Fatal("nil message")
			}
			for _, e := range m.ParseErrors {
				if strings.HasPrefix(e, "internal parser error") {
					t.Fatal(e)
				}
			}
			if m.Size != len(raw) {
				t.Fatalf("size %d, want %d", m.Size, len(raw))
			}
			checkClean(t, "fuzz", m)
		}
	})
}

func checkDecoded(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("invalid UTF-8: %q", s)
	}
	if strings.ContainsAny(s, "\x00\r\n") {
		t.Fatalf("NUL or line break in %q", s)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{"plain", "=?utf-8?Q?a?= =?utf-8?Q?b?=", "=?koi8-r?B?9MXNwQ==?="} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, v, fallback string) {
		got := DecodeHeader(v, fallback)
		checkDecoded(t, got)
		if !strings.Contains(v, "=?") && isPrintableASCII(v) {
			if want := strings.TrimSpace(v); got != want {
				t.Fatalf("DecodeHeader(%q) = %q, want it unchanged", v, got)
			}
		}
	})
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{"Alice <a@example.com>, b@example.com", "g: a@x, \"B, b\" <b@x>;", "(c) a@x"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, v, fallback string) {
		list, _ := ParseAddressList(v, fallback)
		for _, a := range list {
			checkDecoded(t, a.Name)
			checkDecoded(t, a.Address)
			if a.Name == "" && a.Address == "" {
				t.Fatal("empty address returned")
			}
			checkDecoded(t, a.String())
		}
	})
}

func FuzzDecodeFilename(f *testing.F) {
	for _, s := range []string{"attachment; filename=\"a.pdf\"", "attachment; filename*0*=utf-8''%D0%90; filename*1=b.txt", "inline; name==?utf-8?B?0JA=?="} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, v, fallback string) {
		name := DecodeFilename(v, fallback)
		checkDecoded(t, name)
		if strings.ContainsAny(name, "/\\") {
			t.Fatalf("path separator in %q", name)
		}
		if strings.HasPrefix(name, ".") {
			t.Fatalf("leading dot in %q", name)
		}
		if len(name) > 300 {
			t.Fatalf("name of %d bytes", len(name))
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"Mon, 02 Jan 2006 15:04:05 +0000", "Wed, 24 Jul 0102 21:48:06 +1200", "5 Mar 2021 10:00 MSK", "2006-01-02T15:04:05Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := ParseDate(v)
		if !d.IsZero() && (d.Year() < 1900 || d.Year() > 9999) {
			t.Fatalf("ParseDate(%q) = %v", v, d)
		}
	})
}

// FuzzParseAt checks that the large-message mode, forced on with tiny
// limits, gives what Parse gives on the same input.
func FuzzParseAt(f *testing.F) {
	emls, _ := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	for i, e := range emls {
		if b, err := os.ReadFile(e); err == nil && i%4 == 0 {
			f.Add(b, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, minSpan uint8) {
		options := Options{MaxParts: 50, MaxDepth: 8}
		want := Parse(raw, options)
		options.MaxInMemory = 1
		options.MinSpan = int(minSpan%32) + 1
		got, err := ParseAt(bytes.NewReader(raw), int64(len(raw)), options)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got.ParseErrors {
			if strings.HasPrefix(e, "internal parser error") {
				t.Fatal(e)
			}
		}
		sameMessage(t, want, got)
	})
}

// FuzzBase64Reader checks the streaming base64 decoder against
// decodeBase64Body, with reads of every size.
func FuzzBase64Reader(f *testing.F) {
	for _, s := range []string{"QUJDRA==", "QUJD\r\nRA=\n=QQ", "Q!U", "QUJDR"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, readSize uint8) {
		want, wantTruncated, wantGarbage := decodeBase64Body(in)
		r := newBase64Reader(bytes.NewReader(in))
		var got []byte
		buffer := make([]byte, int(readSize)+1)
		for {
			n, err := r.Read(buffer)
			got = append(got, buffer[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) || r.Truncated != wantTruncated || r.Garbage != wantGarbage {
			t.Fatalf("%d bytes truncated %v garbage %v, want %d bytes %v %v", len(got), r.Truncated, r.Garbage, len(want), wantTruncated, wantGarbage)
		}
	})
}
