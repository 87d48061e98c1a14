package mime

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// goldenCase is one hand-written case of the golden corpus: the message
// and what a correct parse yields.
type goldenCase struct {
	name string
	eml  string
	g    golden
}

func sp(s string) *string { return &s }

func atts(a ...goldenAt) *[]goldenAt {
	if a == nil {
		a = []goldenAt{}
	}
	return &a
}

func enc(e encoding.Encoding, s string) string {
	b, err := e.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return b
}

func b64(s string) string {
	e := base64.StdEncoding.EncodeToString([]byte(s))
	var sb strings.Builder
	for len(e) > 76 {
		sb.WriteString(e[:76] + "\n")
		e = e[76:]
	}
	sb.WriteString(e + "\n")
	return sb.String()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func bword(charset, s string) string {
	return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

func uuencode(name string, data []byte) string {
	var sb strings.Builder
	sb.WriteString("begin 644 " + name + "\n")
	for len(data) > 0 {
		n := min(45, len(data))
		chunk := data[:n]
		data = data[n:]
		sb.WriteByte(byte(' ' + n))
		for i := 0; i < len(chunk); i += 3 {
			var c [3]byte
			copy(c[:], chunk[i:])
			q := []byte{c[0] >> 2, (c[0]<<4 | c[1]>>4) & 63, (c[1]<<2 | c[2]>>6) & 63, c[2] & 63}
			for _, x := range q {
				if x == 0 {
					sb.WriteByte('`')
				} else {
					sb.WriteByte(' ' + x)
				}
			}
		}
		sb.WriteByte('\n')
	}
	sb.WriteString("`\nend\n")
	return sb.String()
}

const stdHdr = "From: Alice <alice@example.com>\nTo: Bob <bob@example.com>\nDate: Mon, 02 Jan 2006 15:04:05 +0000\nMessage-ID: <case@example.com>\n"

const pngData = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
const pdfData = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

func goldenCases() []goldenCase {
	ru := "Привет, мир! Съешь же ещё этих мягких французских булок."
	long := strings.Repeat("<ref-"+strings.Repeat("x", 30)+"@example.com>\n ", 400)
	cases := []goldenCase{
		// Part sizes: the line break before a delimiter line belongs to
		// the delimiter (RFC 2046), so "log line\n--r" is 8 bytes.
		{"001-plain-ascii", stdHdr + "Subject: Hello\n\nHello, Bob.\n", golden{
			Subject: sp("Hello"), From: []string{"Alice <alice@example.com>"}, To: []string{"Bob <bob@example.com>"},
			MessageID: sp("case@example.com"), Date: "2006-01-02T15:04:05Z", Priority: 3,
			TextEquals: sp("Hello, Bob.\n"), HTMLEmpty: true, Attachments: atts(), ParseErrors: "0"}},
		{"002-crlf", strings.ReplaceAll(stdHdr+"Subject: CRLF\n\nline one\nline two\n", "\n", "\r\n"), golden{
			Subject: sp("CRLF"), TextEquals: sp("line one\nline two\n"), ParseErrors: "0"}},
		{"003-lf-only-folded", stdHdr + "Subject: folded\n across\n\tlines\n\nbody\n", golden{
			Subject: sp("folded across lines"), TextEquals: sp("body\n"), ParseErrors: "0"}},
		{"004-mbox-from-line", "From alice@example.com  Mon Jan  2 15:04:05 2006\n" + stdHdr + "Subject: mbox\n\nfrom an mbox\n", golden{
			Subject: sp("mbox"), From: []string{"Alice <alice@example.com>"}, TextEquals: sp("from an mbox\n"), ParseErrors: "0"}},
		{"005-qp-utf8", stdHdr + "Subject: qp\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + qp(ru+"\n"), golden{
			TextContains: []string{ru}, ParseErrors: "0"}},
		{"006-base64-utf8", stdHdr + "Subject: b64\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n" + b64(ru+"\n"), golden{
			TextEquals: sp(ru + "\n"), ParseErrors: "0"}},
		{"007-koi8r-body", stdHdr + "Subject: koi8\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n" + enc(charmap.KOI8R, ru+"\n"), golden{
			TextEquals: sp(ru + "\n"), ParseErrors: "0"}},
		{"008-windows1251-body", stdHdr + "Subject: 1251\nContent-Type: text/plain; charset=windows-1251\nContent-Transfer-Encoding: 8bit\n\n" + enc(charmap.Windows1251, ru+"\n"), golden{
			TextEquals: sp(ru + "\n"), ParseErrors: "0"}},
		{"009-cp866-body", stdHdr + "Subject: 866\nContent-Type: text/plain; charset=cp866\nContent-Transfer-Encoding: 8bit\n\n" + enc(charmap.CodePage866, ru+"\n"), golden{
			TextEquals: sp(ru + "\n"), ParseErrors: "0"}},
		{"010-iso88595-body", stdHdr + "Subject: 8859-5\nContent-Type: text/plain; charset=ISO-8859-5\nContent-Transfer-Encoding: quoted-printable\n\n" + qp(enc(charmap.ISO8859_5, ru+"\n")), golden{
			TextEquals: sp(ru + "\n"), ParseErrors: "0"}},
		{"011-gb18030-body", stdHdr + "Subject: gb18030\nContent-Type: text/plain; charset=gb18030\nContent-Transfer-Encoding: base64\n\n" + b64(enc(simplifiedchinese.GB18030, "你好，世界\n")), golden{
			TextEquals: sp("你好，世界\n"), ParseErrors: "0"}},
		{"012-gb2312-read-as-gb18030", stdHdr + "Subject: gb2312\nContent-Type: text/plain; charset=\"gb2312\"\nContent-Transfer-Encoding: base64\n\n" + b64(enc(simplifiedchinese.GB18030, "中文邮件 €\n")), golden{
			Comment: "gb2312 is a label for the superset gb18030 (the euro sign is not in gb2312)", TextEquals: sp("中文邮件 €\n"), ParseErrors: "0"}},
		{"013-iso2022jp-body", stdHdr + "Subject: jis\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n" + enc(japanese.ISO2022JP, "こんにちは、世界\n"), golden{
			TextEquals: sp("こんにちは、世界\n"), ParseErrors: "0"}},
		{"014-koi8r-subject-b", stdHdr + "Subject: " + bword("koi8-r", enc(charmap.KOI8R, "Тема письма")) + "\n\nx\n", golden{
			Subject: sp("Тема письма"), ParseErrors: "0"}},
		{"015-cp1251-subject-q", stdHdr + "Subject: =?windows-1251?Q?" + strings.ReplaceAll(strings.TrimSpace(qp(enc(charmap.Windows1251, "Счёт"))), " ", "_") + "_=B91?=\n\nx\n", golden{
			Subject: sp("Счёт №1"), ParseErrors: "0"}},
		{"016-iso2022jp-subject", stdHdr + "Subject: " + bword("ISO-2022-JP", enc(japanese.ISO2022JP, "会議の件")) + "\n\nx\n", golden{
			Subject: sp("会議の件"), ParseErrors: "0"}},
		{"017-encoded-words-no-space", stdHdr + "Subject: =?utf-8?Q?Hello_?==?utf-8?Q?World?= and =?utf-8?B?0JzQuNGA?=\n\nx\n", golden{
			Subject: sp("Hello World and Мир"), ParseErrors: "0"}},
		{"018-encoded-word-split-character", stdHdr + "Subject: =?UTF-8?Q?=D0?= =?UTF-8?Q?=9F=D1=80=D0=B8=D0=B2=D0=B5=D1=82?=\n\nx\n", golden{
			Comment: "a UTF-8 character split across two encoded words", Subject: sp("Привет"), ParseErrors: "0"}},
		{"019-encoded-word-bad-padding", stdHdr + "Subject: =?utf-8?B?0J/RgNC40LLQtdGC?= =?utf-8?B?INC80LjRgA?=\n\nx\n", golden{
			Subject: sp("Привет мир"), ParseErrors: "0"}},
		{"020-encoded-word-unknown-charset", stdHdr + "Subject: =?x-foo?Q?" + strings.TrimSpace(qp(enc(charmap.Windows1251, "Отчёт"))) + "?=\n\nx\n", golden{
			FallbackCharset: "windows-1251", Comment: "unknown charset label: read with the mailbox fallback charset",
			Subject: sp("Отчёт")}},
		{"021-8bit-header-utf8", stdHdr + "Subject: Привет без кодирования\n\nx\n", golden{
			Subject: sp("Привет без кодирования"), ParseErrors: "0"}},
		{"022-8bit-header-fallback-cp1251", "From: " + enc(charmap.Windows1251, "Иван Петров") + " <ivan@example.ru>\nTo: bob@example.com\nSubject: " + enc(charmap.Windows1251, "Заказ") + "\n\n" + enc(charmap.Windows1251, "Текст") + "\n", golden{
			FallbackCharset: "windows-1251", Subject: sp("Заказ"), From: []string{"Иван Петров <ivan@example.ru>"},
			TextEquals: sp("Текст\n"), ParseErrors: "0"}},
		{"023-8bit-header-default-1252", stdHdr + "Subject: Caf\xe9 cr\xe8me\n\nna\xefve\n", golden{
			Comment: "no fallback set: UTF-8 if valid, else windows-1252", Subject: sp("Café crème"), TextEquals: sp("naïve\n"), ParseErrors: "0"}},
		{"024-alias-utf8", stdHdr + "Subject: alias\nContent-Type: text/plain; charset=utf8\n\nДа\n", golden{TextEquals: sp("Да\n"), ParseErrors: "0"}},
		{"025-alias-cp1251", stdHdr + "Subject: alias\nContent-Type: text/plain; charset=cp1251\n\n" + enc(charmap.Windows1251, "Да\n"), golden{TextEquals: sp("Да\n"), ParseErrors: "0"}},
		{"026-alias-win-1251", stdHdr + "Subject: alias\nContent-Type: text/plain; charset=\"win-1251\"\n\n" + enc(charmap.Windows1251, "Нет\n"), golden{TextEquals: sp("Нет\n"), ParseErrors: "0"}},
		{"027-alias-koi8r", stdHdr + "Subject: alias\nContent-Type: text/plain; charset=KOI8R\n\n" + enc(charmap.KOI8R, "Нет\n"), golden{TextEquals: sp("Нет\n"), ParseErrors: "0"}},
		{"028-x-mac-cyrillic", stdHdr + "Subject: mac\nContent-Type: text/plain; charset=x-mac-cyrillic\n\n" + enc(charmap.MacintoshCyrillic, "Привет\n"), golden{TextEquals: sp("Привет\n"), ParseErrors: "0"}},
		{"029-ks-c-5601", stdHdr + "Subject: " + bword("ks_c_5601-1987", enc(korean.EUCKR, "안녕하세요")) + "\nContent-Type: text/plain; charset=ks_c_5601-1987\nContent-Transfer-Encoding: base64\n\n" + b64(enc(korean.EUCKR, "한국어\n")), golden{
			Subject: sp("안녕하세요"), TextEquals: sp("한국어\n"), ParseErrors: "0"}},
		{"030-unknown-charset-body", stdHdr + "Subject: unknown\nContent-Type: text/plain; charset=x-foo\n\n" + enc(charmap.Windows1251, "Привет\n"), golden{
			FallbackCharset: "windows-1251", TextEquals: sp("Привет\n"), ParseErrors: ">0", ParseErrorContains: []string{"unknown charset x-foo, read as windows-1251"}}},
		{"031-multipart-alternative", stdHdr + "Subject: alt\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\npreamble\n--b1\nContent-Type: text/plain; charset=utf-8\n\nplain version\n--b1\nContent-Type: text/html; charset=utf-8\n\n<p>html <b>version</b></p>\n--b1--\nepilogue\n", golden{
			TextEquals: sp("plain version"), HTMLContains: []string{"<p>html <b>version</b></p>"}, Attachments: atts(), ParseErrors: "0"}},
		{"032-nested-multipart", stdHdr + "Subject: nested\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain\n\ntext part\n--inner\nContent-Type: multipart/related; boundary=rel\n\n--rel\nContent-Type: text/html\n\n<img src=\"cid:logo@x\">hi\n--rel\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n" + b64(pngData) + "--rel--\n--inner--\n--outer\nContent-Type: application/pdf; name=\"doc.pdf\"\nContent-Disposition: attachment; filename=\"doc.pdf\"\nContent-Transfer-Encoding: base64\n\n" + b64(pdfData) + "--outer--\n", golden{
			TextEquals: sp("text part"), HTMLContains: []string{"cid:logo@x"},
			Attachments: atts(goldenAt{"attachment-1.png", "image/png", len(pngData), "logo@x"}, goldenAt{"doc.pdf", "application/pdf", len(pdfData), ""}), ParseErrors: "0"}},
		{"033-deep-nesting", stdHdr + "Subject: deep\nContent-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: multipart/mixed; boundary=d\n\n--d\nContent-Type: multipart/alternative; boundary=e\n\n--e\nContent-Type: text/plain\n\ndeep text\n--e--\n--d--\n--c--\n--b--\n--a--\n", golden{
			TextEquals: sp("deep text"), ParseErrors: "0"}},
		{"034-missing-closing-boundary", stdHdr + "Subject: unclosed\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nfirst\n--zz\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment\n\nsecond part runs to the end\n", golden{
			TextEquals: sp("first"), Attachments: atts(goldenAt{"notes.txt", "text/plain", len("second part runs to the end\n"), ""}),
			ParseErrors: ">0", ParseErrorContains: []string{"missing closing boundary"}}},
		{"035-boundary-not-declared", stdHdr + "Subject: no boundary param\nContent-Type: multipart/mixed\n\n--guessme\nContent-Type: text/plain\n\nguessed text\n--guessme--\n", golden{
			TextEquals: sp("guessed text"), ParseErrors: ">0", ParseErrorContains: []string{"without a boundary"}}},
		{"036-boundary-never-used", stdHdr + "Subject: wrong boundary\nContent-Type: multipart/mixed; boundary=\"declared\"\n\nno delimiter lines at all here\n", golden{
			TextContains: []string{"no delimiter lines at all here"}, ParseErrors: ">0", ParseErrorContains: []string{"boundary not found"}}},
		{"037-truncated-base64", stdHdr + "Subject: truncated\nContent-Type: multipart/mixed; boundary=t\n\n--t\nContent-Type: text/plain\n\nsee file\n--t\nContent-Type: application/pdf; name=cut.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\nJVBER\n--t--\n", golden{
			TextEquals: sp("see file"), Attachments: atts(goldenAt{"cut.pdf", "application/pdf", 12, ""}),
			ParseErrors: ">0", ParseErrorContains: []string{"truncated base64 in part 2"}}},
		{"038-base64-garbage", stdHdr + "Subject: garbage\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n0J/RgNC4\n!!! ### !!!\n0LLQtdGC\n", golden{
			TextEquals: sp("Привет"), ParseErrors: ">0"}},
		{"039-uuencode-in-text", stdHdr + "Subject: uu\n\nHere is the file:\n\n" + uuencode("hello.txt", []byte("Hello from uuencode!\n")) + "\nBye.\n", golden{
			TextContains: []string{"Here is the file:", "Bye."}, TextNotContains: []string{"begin 644", "end\n"},
			Attachments: atts(goldenAt{"hello.txt", "text/plain", 21, ""}), ParseErrors: "0"}},
		{"040-uuencode-transfer-encoding", stdHdr + "Subject: x-uue\nContent-Type: multipart/mixed; boundary=u\n\n--u\nContent-Type: text/plain\n\nattached\n--u\nContent-Type: application/octet-stream; name=data.bin\nContent-Transfer-Encoding: x-uuencode\n\n" + uuencode("data.bin", []byte("\x00\x01\x02binary\xff")) + "--u--\n", golden{
			TextEquals: sp("attached"), Attachments: atts(goldenAt{"data.bin", "application/octet-stream", 10, ""}), ParseErrors: "0"}},
		{"041-rfc2231-continuations", stdHdr + "Subject: 2231\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nx\n--r\nContent-Type: application/pdf\nContent-Disposition: attachment;\n filename*0=\"a very long file name \";\n filename*1=\"split in three \";\n filename*2=\"pieces.pdf\"\nContent-Transfer-Encoding: base64\n\n" + b64(pdfData) + "--r--\n", golden{
			Attachments: atts(goldenAt{"a very long file name split in three pieces.pdf", "application/pdf", len(pdfData), ""}), ParseErrors: "0"}},
		{"042-rfc2231-charset-lang", stdHdr + "Subject: 2231 charset\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nx\n--r\nContent-Type: application/pdf\nContent-Disposition: attachment;\n filename*0*=utf-8'ru'%D0%9E%D1%82%D1%87%D1%91%D1%82;\n filename*1*=%20%E2%84%961.pdf\nContent-Transfer-Encoding: base64\n\n" + b64(pdfData) + "--r\nContent-Type: text/plain\nContent-Disposition: attachment; filename*=koi8-r''%F3%DE%C5%D4.txt\n\nbill\n--r--\n", golden{
			Attachments: atts(goldenAt{"Отчёт №1.pdf", "application/pdf", len(pdfData), ""}, goldenAt{"Счет.txt", "text/plain", 4, ""}), ParseErrors: "0"}},
		{"043-rfc2047-filename", stdHdr + "Subject: 2047 name\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nx\n--r\nContent-Type: application/pdf; name=\"" + bword("utf-8", "Договор.pdf") + "\"\nContent-Disposition: attachment; filename=\"" + bword("utf-8", "Договор.pdf") + "\"\nContent-Transfer-Encoding: base64\n\n" + b64(pdfData) + "--r--\n", golden{
			Attachments: atts(goldenAt{"Договор.pdf", "application/pdf", len(pdfData), ""}), ParseErrors: "0"}},
		{"044-filename-path-stripped", stdHdr + "Subject: path\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nx\n--r\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"C:\\Documents\\report.txt\"\n\nreport\n--r\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\n\nroot\n--r--\n", golden{
			Attachments: atts(goldenAt{"report.txt", "text/plain", 6, ""}, goldenAt{"passwd", "text/plain", 4, ""}), ParseErrors: "0"}},
		{"045-attachment-without-name", stdHdr + "Subject: noname\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nx\n--r\nContent-Type: application/pdf\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n" + b64(pdfData) + "--r\nContent-Type: application/x-unknown-thing\n\nopaque\n--r--\n", golden{
			Attachments: atts(goldenAt{"attachment-1.pdf", "application/pdf", len(pdfData), ""}, goldenAt{"attachment-2.bin", "application/x-unknown-thing", 6, ""}), ParseErrors: "0"}},
		{"046-inline-image-cid", stdHdr + "Subject: cid\nContent-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>Logo:</p><img src=\"cid:img1@example.com\"></body></html>\n--r\nContent-Type: image/png; name=\"logo.png\"\nContent-Disposition: inline; filename=\"logo.png\"\nContent-ID: <img1@example.com>\nContent-Transfer-Encoding: base64\n\n" + b64(pngData) + "--r--\n", golden{
			TextEquals: sp("Logo:"), HTMLContains: []string{"cid:img1@example.com"},
			Attachments: atts(goldenAt{"logo.png", "image/png", len(pngData), "img1@example.com"}), ParseErrors: "0"}},
		{"047-message-rfc822", stdHdr + "Subject: Fwd: report\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nforwarding this\n--r\nContent-Type: message/rfc822\n\nFrom: Carol <carol@example.com>\nSubject: Quarterly report\n\nINNER BODY TEXT\n--r--\n", golden{
			TextEquals: sp("forwarding this"), TextNotContains: []string{"INNER BODY TEXT"},
			Attachments: atts(goldenAt{"Quarterly report.eml", "message/rfc822", len("From: Carol <carol@example.com>\nSubject: Quarterly report\n\nINNER BODY TEXT"), ""}), ParseErrors: "0"}},
		{"048-html-only", stdHdr + "Subject: html only\nContent-Type: text/html; charset=utf-8\n\n<html><head><title>T</title><style>p{color:red}</style></head><body><h1>Title</h1><p>First &amp; second</p><script>alert(1)</script><ul><li>one</li><li>two</li></ul></body></html>\n", golden{
			TextEquals: sp("Title\n\nFirst & second\n\n- one\n- two"), HTMLContains: []string{"<script>alert(1)</script>"}, ParseErrors: "0"}},
		{"049-html-meta-charset", stdHdr + "Subject: meta\nContent-Type: text/html\n\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head><body>" + enc(charmap.Windows1251, "Привет") + "</body></html>\n", golden{
			HTMLContains: []string{"Привет"}, TextEquals: sp("Привет"), ParseErrors: "0"}},
		{"050-huge-header", stdHdr + "Subject: " + strings.Repeat("long subject ", 200) + "\nReferences: " + long + "<last@example.com>\nIn-Reply-To: <last@example.com>\n\nbody\n", golden{
			InReplyTo: sp("last@example.com"), TextEquals: sp("body\n"), ParseErrors: "0"}},
		{"051-nul-bytes", stdHdr + "Subject: nul\x00here\n\nbody\x00with\x00nuls\n", golden{
			Subject: sp("nulhere"), TextEquals: sp("bodywithnuls\n"), ParseErrors: ">0", ParseErrorContains: []string{"NUL"}}},
		{"052-no-header", "just some text without any header\nsecond line\n", golden{
			TextContains: []string{"just some text"}, ParseErrors: ">0"}},
		{"053-header-without-blank-line", stdHdr + "Subject: no blank\nThis line starts the body\nand so does this\n", golden{
			Subject: sp("no blank"), TextContains: []string{"This line starts the body"}, ParseErrors: ">0"}},
		{"054-binary-garbage", "\x00\xff\xfe\x01garbage\x80\x81\n\n\x02\x03", golden{
			ParseErrors: ">0"}},
		{"055-empty", "", golden{Subject: sp(""), TextEquals: sp(""), Date: "zero", Attachments: atts()}},
		{"056-address-groups-comments", "From: alice@example.com (Alice Example)\nTo: Team: bob@example.com, \"Carol, C.\" <carol@example.com>;, dave@example.com\nCc: undisclosed-recipients:;\nReply-To: <reply@example.com>\nSubject: addrs\n\nx\n", golden{
			From: []string{"Alice Example <alice@example.com>"}, To: []string{"bob@example.com", "\"Carol, C.\" <carol@example.com>", "dave@example.com"},
			ReplyTo: []string{"reply@example.com"}, ParseErrors: "0"}},
		{"057-address-encoded-name", "From: " + bword("utf-8", "Иван Иванов") + " <ivan@example.ru>\nTo: \"=?utf-8?Q?J=C3=BCrgen?=\" <j@example.de>\nSubject: names\n\nx\n", golden{
			From: []string{"Иван Иванов <ivan@example.ru>"}, To: []string{"Jürgen <j@example.de>"}, ParseErrors: "0"}},
		{"058-address-unquoted-comma", "From: Smith, John <john@example.com>\nTo: bob@example.com\nSubject: comma\n\nx\n", golden{
			From: []string{"\"Smith, John\" <john@example.com>"}, To: []string{"bob@example.com"}}},
		{"059-date-y2k-bug", "From: a@example.com\nDate: Wed, 24 Jul 0102 21:48:06 +1200\nSubject: date\n\nx\n", golden{
			Date: "2002-07-24T21:48:06+12:00", ParseErrors: "0"}},
		{"060-date-broken-zone", "From: a@example.com\nDate: Tue, 3 Dec 2002 11:51:12 +-0700\nSubject: date\n\nx\n", golden{
			Date: "2002-12-03T11:51:12-07:00", ParseErrors: "0"}},
		{"061-date-zone-name", "From: a@example.com\nDate: 5 Mar 2021 10:00:00 MSK\nSubject: date\n\nx\n", golden{
			Date: "2021-03-05T10:00:00+03:00", ParseErrors: "0"}},
		{"062-date-missing", "From: a@example.com\nSubject: no date\n\nx\n", golden{Date: "zero", ParseErrors: "0"}},
		{"063-date-garbage", "From: a@example.com\nDate: sometime last week\nSubject: date\n\nx\n", golden{Date: "zero", ParseErrors: ">0"}},
		{"064-priority-x-priority", stdHdr + "X-Priority: 1 (Highest)\nSubject: urgent\n\nx\n", golden{Priority: 1, ParseErrors: "0"}},
		{"065-priority-importance", stdHdr + "Importance: low\nSubject: later\n\nx\n", golden{Priority: 5, ParseErrors: "0"}},
		{"066-references", stdHdr + "Subject: Re: thread\nIn-Reply-To: <b@example.com> (message from Bob)\nReferences: <a@example.com>\n <b@example.com>\n\nx\n", golden{
			InReplyTo: sp("b@example.com"), References: []string{"a@example.com", "b@example.com"}, ParseErrors: "0"}},
		{"067-qp-broken", stdHdr + "Subject: qp\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nsoft=\nbreak, bad =ZZ escape, lower =c3=a9, end=  \nnext\n", golden{
			TextEquals: sp("softbreak, bad =ZZ escape, lower é, endnext\n")}},
		{"068-text-attachment", stdHdr + "Subject: txt att\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nthe body\n--r\nContent-Type: text/plain; charset=utf-8; name=log.txt\nContent-Disposition: attachment; filename=log.txt\n\nlog line\n--r\nContent-Type: text/html; name=page.html\n\n<p>page</p>\n--r--\n", golden{
			TextEquals: sp("the body"), HTMLEmpty: true, TextNotContains: []string{"log line"},
			Attachments: atts(goldenAt{"log.txt", "text/plain", 8, ""}, goldenAt{"page.html", "text/html", 11, ""}), ParseErrors: "0"}},
		{"069-multipart-digest", stdHdr + "Subject: digest\nContent-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: first\n\none\n--d\n\nSubject: second\n\ntwo\n--d--\n", golden{
			Attachments: atts(goldenAt{"first.eml", "message/rfc822", len("Subject: first\n\none"), ""}, goldenAt{"second.eml", "message/rfc822", len("Subject: second\n\ntwo"), ""}), ParseErrors: "0"}},
		{"070-unknown-transfer-encoding", stdHdr + "Subject: cte\nContent-Transfer-Encoding: x-weird\n\nkept as is\n", golden{
			TextEquals: sp("kept as is\n"), ParseErrors: ">0", ParseErrorContains: []string{"unknown transfer encoding"}}},
		{"071-inline-multiple-text-parts", stdHdr + "Subject: footer\nContent-Type: multipart/mixed; boundary=r\n\n--r\nContent-Type: text/plain\n\nmain text\n--r\nContent-Type: text/plain\nContent-Disposition: inline\n\n-- \nlist footer\n--r--\n", golden{
			TextEquals: sp("main text\n-- \nlist footer"), ParseErrors: "0"}},
		{"072-boundary-prefix-of-inner", stdHdr + "Subject: prefix\nContent-Type: multipart/mixed; boundary=\"abc\"\n\n--abc\nContent-Type: multipart/alternative; boundary=\"abcdef\"\n\n--abcdef\nContent-Type: text/plain\n\ninner plain\n--abcdef--\n--abc--\n", golden{
			TextEquals: sp("inner plain"), ParseErrors: "0"}},
		{"073-delivered-to", "Delivered-To: bob@example.com\nX-Original-To: bob+tag@example.com\n" + stdHdr + "Subject: trace\n\nx\n", golden{
			DeliveredTo: []string{"bob@example.com"}, ParseErrors: "0"}},
		{"074-header-encoded-continuation-folded", stdHdr + "Subject: =?utf-8?B?0J/RgNC40LLQtdGC?=\n =?utf-8?B?LCDQvNC40YA=?=\n\nx\n", golden{
			Subject: sp("Привет, мир"), HeaderContains: []string{"Subject: =?utf-8?B?0J/RgNC40LLQtdGC?="}, ParseErrors: "0"}},
	}
	return cases
}

// TestWriteGolden writes the golden corpus from goldenCases when
// POCHTA_WRITE_GOLDEN=1. It only adds missing files: an existing file
// whose content differs makes it fail, so expectations are never
// overwritten silently (delete the pair by hand to regenerate it, and
// review the diff).
func TestWriteGolden(t *testing.T) {
	cases := goldenCases()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case %s", c.name)
		}
		seen[c.name] = true
	}
	write := os.Getenv("POCHTA_WRITE_GOLDEN") == "1"
	for _, c := range cases {
		js, err := json.MarshalIndent(c.g, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, '\n')
		for path, want := range map[string][]byte{
			filepath.Join(goldenDir, c.name+".eml"):  []byte(c.eml),
			filepath.Join(goldenDir, c.name+".json"): js,
		} {
			got, err := os.ReadFile(path)
			switch {
			case err == nil && !bytes.Equal(got, want):
				t.Errorf("%s differs from the case table in golden_cases_test.go; not overwriting", path)
			case err != nil && write:
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", path)
			case err != nil:
				t.Errorf("%s missing (run with POCHTA_WRITE_GOLDEN=1 to add it)", path)
			}
		}
	}
}
