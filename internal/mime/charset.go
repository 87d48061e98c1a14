package mime

import (
	"strings"
	"sync"
	"unicode/utf8"

	// go-message's charset package registers every x/text charset with
	// go-message (message.CharsetReader). This package resolves labels
	// itself (see lookupCharset) but imports it once, here, so that any
	// go-message reader in the program sees the same charsets.
	_ "github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// charsetAliases maps labels seen in real mail, after normalisation by
// [normCharset], to the encoding to use. It is consulted before the
// IANA and WHATWG indexes of golang.org/x/text, so it also overrides them
// where a superset is the safer reading (gb2312 is read as gb18030,
// iso-8859-1 and us-ascii as windows-1252, as browsers do).
var charsetAliases = map[string]encoding.Encoding{
	"utf8":              unicode.UTF8,
	"utf-8":             unicode.UTF8,
	"x-utf8":            unicode.UTF8,
	"x-utf-8":           unicode.UTF8,
	"unicode-1-1-utf-8": unicode.UTF8,
	"x-utf_8j":          unicode.UTF8,
	"us-ascii":          charmap.Windows1252,
	"ascii":             charmap.Windows1252,
	"ansi_x3.4-1968":    charmap.Windows1252,
	"iso-8859-1":        charmap.Windows1252,
	"iso8859-1":         charmap.Windows1252,
	"iso88591":          charmap.Windows1252,
	"latin1":            charmap.Windows1252,
	"latin-1":           charmap.Windows1252,
	"ansi_x3.110-1983":  charmap.ISO8859_1,
	"cp1250":            charmap.Windows1250,
	"cp1251":            charmap.Windows1251,
	"cp1252":            charmap.Windows1252,
	"cp1253":            charmap.Windows1253,
	"cp1254":            charmap.Windows1254,
	"cp1255":            charmap.Windows1255,
	"cp1256":            charmap.Windows1256,
	"cp1257":            charmap.Windows1257,
	"cp1258":            charmap.Windows1258,
	"win-1251":          charmap.Windows1251,
	"win1251":           charmap.Windows1251,
	"windows1251":       charmap.Windows1251,
	"x-cp1251":          charmap.Windows1251,
	"ms-cyrl":           charmap.Windows1251,
	"win-1252":          charmap.Windows1252,
	"windows1252":       charmap.Windows1252,
	"x-cp1252":          charmap.Windows1252,
	"win-1250":          charmap.Windows1250,
	"windows1250":       charmap.Windows1250,
	"koi8r":             charmap.KOI8R,
	"koi8-r":            charmap.KOI8R,
	"koi8":              charmap.KOI8R,
	"koi8u":             charmap.KOI8U,
	"koi8-u":            charmap.KOI8U,
	"koi8-ru":           charmap.KOI8U,
	"cp866":             charmap.CodePage866,
	"ibm866":            charmap.CodePage866,
	"866":               charmap.CodePage866,
	"csibm866":          charmap.CodePage866,
	"dos-866":           charmap.CodePage866,
	"alt":               charmap.CodePage866,
	"x-mac-cyrillic":    charmap.MacintoshCyrillic,
	"mac-cyrillic":      charmap.MacintoshCyrillic,
	"maccyrillic":       charmap.MacintoshCyrillic,
	"x-mac-ukrainian":   charmap.MacintoshCyrillic,
	"macintosh":         charmap.Macintosh,
	"mac":               charmap.Macintosh,
	"x-mac-roman":       charmap.Macintosh,
	"iso-8859-5":        charmap.ISO8859_5,
	"iso8859-5":         charmap.ISO8859_5,
	"iso88595":          charmap.ISO8859_5,
	"gb2312":            simplifiedchinese.GB18030,
	"gb_2312-80":        simplifiedchinese.GB18030,
	"csgb2312":          simplifiedchinese.GB18030,
	"x-gbk":             simplifiedchinese.GB18030,
	"gbk":               simplifiedchinese.GB18030,
	"cp936":             simplifiedchinese.GB18030,
	"euc-cn":            simplifiedchinese.GB18030,
	"x-euc-cn":          simplifiedchinese.GB18030,
	"gb18030":           simplifiedchinese.GB18030,
	"hz-gb-2312":        simplifiedchinese.HZGB2312,
	"big5":              traditionalchinese.Big5,
	"big5-hkscs":        traditionalchinese.Big5,
	"x-x-big5":          traditionalchinese.Big5,
	"cp950":             traditionalchinese.Big5,
	"ks_c_5601-1987":    korean.EUCKR,
	"ks_c_5601":         korean.EUCKR,
	"ksc5601":           korean.EUCKR,
	"ksc_5601":          korean.EUCKR,
	"cp949":             korean.EUCKR,
	"uhc":               korean.EUCKR,
	"euc-kr":            korean.EUCKR,
	"euckr":             korean.EUCKR,
	"iso-2022-jp":       japanese.ISO2022JP,
	"iso2022jp":         japanese.ISO2022JP,
	"csiso2022jp":       japanese.ISO2022JP,
	"iso-2022-jp-2":     japanese.ISO2022JP,
	"shift_jis":         japanese.ShiftJIS,
	"shift-jis":         japanese.ShiftJIS,
	"sjis":              japanese.ShiftJIS,
	"x-sjis":            japanese.ShiftJIS,
	"cp932":             japanese.ShiftJIS,
	"windows-31j":       japanese.ShiftJIS,
	"euc-jp":            japanese.EUCJP,
	"eucjp":             japanese.EUCJP,
	"x-euc-jp":          japanese.EUCJP,
	"tis-620":           charmap.Windows874,
	"cp874":             charmap.Windows874,
	"utf-16":            unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
	"utf16":             unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
	"utf-16be":          unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf-16le":          unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM),
	"ucs-2":             unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
}

// normCharset lower-cases a charset label and strips what mailers wrap
// around it: quotes, spaces, an RFC 2231 language suffix ("utf-8*en").
func normCharset(label string) string {
	label = strings.TrimSpace(label)
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	label = strings.Trim(label, "\"' \t")
	label = strings.ToLower(label)
	// charset="charset=us-ascii"
	label = strings.TrimPrefix(label, "charset=")
	return strings.Trim(label, "\"' \t")
}

var charsetCache struct {
	sync.RWMutex
	m map[string]encoding.Encoding // normalised label -> encoding (nil when unknown)
}

// lookupCharset returns the encoding for a charset label, or nil when no
// table knows it. UTF-8 is returned as unicode.UTF8.
func lookupCharset(label string) encoding.Encoding {
	n := normCharset(label)
	if n == "" {
		return nil
	}
	if e, ok := charsetAliases[n]; ok {
		return e
	}
	charsetCache.RLock()
	e, ok := charsetCache.m[n]
	charsetCache.RUnlock()
	if ok {
		return e
	}
	e = lookupCharsetSlow(n)
	charsetCache.Lock()
	if charsetCache.m == nil {
		charsetCache.m = map[string]encoding.Encoding{}
	}
	if len(charsetCache.m) < 4096 { // labels are chosen by senders: bound the cache
		charsetCache.m[n] = e
	}
	charsetCache.Unlock()
	return e
}

func lookupCharsetSlow(n string) encoding.Encoding {
	if len(n) > 64 {
		return nil
	}
	for _, idx := range []*ianaindex.Index{ianaindex.MIME, ianaindex.IANA} {
		if e, err := idx.Encoding(n); err == nil && e != nil {
			return e
		}
	}
	if e, err := htmlindex.Get(n); err == nil && e != nil {
		return e
	}
	// Labels such as "windows_1251", "win 1251", "cp-1251".
	alt := strings.NewReplacer("_", "-", " ", "-").Replace(n)
	if alt != n {
		if e, ok := charsetAliases[alt]; ok {
			return e
		}
		if e, err := htmlindex.Get(alt); err == nil && e != nil {
			return e
		}
	}
	// go-message's charset.Reader also tries the "cs" alias form.
	if e, err := ianaindex.MIME.Encoding("cs" + n); err == nil && e != nil {
		return e
	}
	return nil
}

// decodeWith converts b from encoding e to valid UTF-8; invalid input
// becomes U+FFFD.
func decodeWith(e encoding.Encoding, b []byte) string {
	if e == unicode.UTF8 {
		return validUTF8(b)
	}
	if isASCII(b) && !isStateful(e) {
		return string(b)
	}
	out, err := e.NewDecoder().Bytes(b)
	if err != nil {
		// Decoders of x/text replace bad input; an error here is a
		// transformer failure. Read byte by byte as a last resort.
		return validUTF8(b)
	}
	return validUTF8(out)
}

func isStateful(e encoding.Encoding) bool {
	switch e {
	case japanese.ISO2022JP, simplifiedchinese.HZGB2312:
		return true
	}
	// UTF-16 and friends are not ASCII-compatible.
	if _, ok := e.(interface{ String() string }); ok {
		s := e.(interface{ String() string }).String()
		if strings.Contains(strings.ToLower(s), "utf-16") || strings.Contains(strings.ToLower(s), "utf-32") {
			return true
		}
	}
	return false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// charsetDecoder converts text of a part or header to UTF-8 for one
// message, remembering the fallback.
type charsetDecoder struct {
	fallback     encoding.Encoding // used when no charset is declared and the bytes are not UTF-8
	fallbackName string
}

func newCharsetDecoder(fallback string) (charsetDecoder, bool) {
	if fallback != "" {
		if e := lookupCharset(fallback); e != nil {
			return charsetDecoder{fallback: e, fallbackName: normCharset(fallback)}, true
		}
		return charsetDecoder{fallback: charmap.Windows1252, fallbackName: "windows-1252"}, false
	}
	return charsetDecoder{fallback: charmap.Windows1252, fallbackName: "windows-1252"}, true
}

// undeclared decodes bytes with no declared charset: UTF-8 when valid,
// else the fallback.
func (d charsetDecoder) undeclared(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return decodeWith(d.fallback, b)
}

// declared decodes bytes with a declared charset label. known is false
// when the label is unknown (the fallback rules of undeclared are used).
func (d charsetDecoder) declared(label string, b []byte) (s string, known bool) {
	if strings.TrimSpace(label) == "" {
		return d.undeclared(b), true
	}
	n := normCharset(label)
	switch n {
	case "default", "default_charset", "unknown", "x-unknown", "none", "us-ascii?", "undefined", "unknown-8bit", "x-unknown-8bit", "8bit", "iso":
		return d.undeclared(b), true // a placeholder, not a charset
	}
	e := lookupCharset(label)
	if e == nil {
		return d.undeclared(b), false
	}
	if n == "us-ascii" || n == "ascii" || n == "iso-8859-1" || n == "latin1" {
		// Often a lie: 8-bit bytes in "us-ascii" mail are usually UTF-8
		// or the sender's legacy charset.
		if utf8.Valid(b) {
			return string(b), true
		}
		if n != "iso-8859-1" && n != "latin1" {
			return decodeWith(d.fallback, b), true
		}
	}
	return decodeWith(e, b), true
}
