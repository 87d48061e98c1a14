package mime_test

import (
	"fmt"

	"pochta.dev/pochta/internal/mime"
)

func ExampleParse() {
	raw := []byte("From: =?utf-8?B?0JjQstCw0L0=?= <ivan@example.ru>\n" +
		"To: Bob <bob@example.com>\n" +
		"Subject: =?koi8-r?B?8NLJ18XU?=\n" +
		"Content-Type: multipart/mixed; boundary=b\n" +
		"\n" +
		"--b\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"\n" +
		"Hello\n" +
		"--b\n" +
		"Content-Type: application/pdf\n" +
		"Content-Disposition: attachment; filename*=utf-8''%D0%A1%D1%87%D1%91%D1%82.pdf\n" +
		"Content-Transfer-Encoding: base64\n" +
		"\n" +
		"JVBERi0xLjQK\n")
	m := mime.Parse(raw, mime.Options{FallbackCharset: "windows-1251"})
	fmt.Println(m.From[0], "|", m.Subject, "|", m.Text)
	for _, a := range m.Attachments {
		fmt.Println(a.Filename, a.ContentType, a.Size)
	}
	fmt.Println(m.ParseErrors)
	// Output:
	// Иван <ivan@example.ru> | Привет | Hello
	// Счёт.pdf application/pdf 9
	// [message: missing closing boundary]
}
