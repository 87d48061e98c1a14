package download_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/download"
	"pochta.dev/pochta/internal/store"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		file        download.File
		contentType string
		disposition string
		cache       string
		body        string
	}{
		{"attachment with a Russian name", "GET", download.Attachment(store.Attachment{ID: 7, Filename: "отчёт.pdf", ContentType: "application/pdf", Size: 4}, false),
			"application/pdf", "attachment; filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf", "private, no-store", "data"},
		{"attachment without a name or a valid type", "GET", download.Attachment(store.Attachment{ID: 7, ContentType: "not a type", Size: 4}, false),
			"application/octet-stream", `attachment; filename=attachment-7`, "private, no-store", "data"},
		{"image asked inline", "GET", download.Attachment(store.Attachment{ID: 8, Filename: "a.png", ContentType: "image/png", Size: 4}, true),
			"image/png", "inline; filename=a.png", "private, no-store", "data"},
		{"SVG asked inline is still a download", "GET", download.Attachment(store.Attachment{ID: 9, Filename: "a.svg", ContentType: "image/svg+xml", Size: 4}, true),
			"image/svg+xml", "attachment; filename=a.svg", "private, no-store", "data"},
		{"HTML asked inline is still a download", "GET", download.Attachment(store.Attachment{ID: 9, Filename: "a.html", ContentType: "text/html", Size: 4}, true),
			"text/html", "attachment; filename=a.html", "private, no-store", "data"},
		{"source as a file", "GET", download.Source(42, 4, false, ""), "message/rfc822", "attachment; filename=message-42.eml", "private, no-store", "data"},
		{"source to read", "GET", download.Source(42, 4, true, ""), "text/plain; charset=utf-8", "inline", "private, no-store", "data"},
		{"logo", "GET", download.Logo("image/png", 4), "image/png", "inline", "private, no-cache", "data"},
		{"source in its charset", "GET", download.Source(42, 4, true, "koi8-r"), "text/plain; charset=koi8-r", "inline", "private, no-store", "data"},
		{"HEAD sends no body", "HEAD", download.Source(42, 4, false, ""), "message/rfc822", "attachment; filename=message-42.eml", "private, no-store", ""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			recorder := httptest.NewRecorder()
			download.Write(recorder, httptest.NewRequest(test.method, "/", nil), test.file, strings.NewReader("data"))
			header := recorder.Header()
			checks := map[string]string{
				"Content-Type":            test.contentType,
				"Content-Disposition":     test.disposition,
				"Content-Length":          "4",
				"Cache-Control":           test.cache,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; sandbox",
			}
			for name, want := range checks {
				if got := header.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if recorder.Code != http.StatusOK || recorder.Body.String() != test.body {
				t.Errorf("status %d, body %q", recorder.Code, recorder.Body.String())
			}
		})
	}
}

// The charset to show a source in: UTF-8 when it is, else the first one
// declared that browsers know, else the mailbox's, else one in which every
// byte is a character.
func TestSourceCharset(t *testing.T) {
	koi8 := []byte("Content-Type: text/plain; charset=\"KOI8-R\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n")
	multipart := []byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=bogus\r\n\r\nx\r\n" +
		"--b\r\nContent-Type: text/plain; charset=windows-1251\r\n\r\n\xcf\xf0\xe8\xe2\xe5\xf2\r\n--b--\r\n")
	for _, test := range []struct {
		name     string
		head     []byte
		fallback string
		want     string
	}{
		{"ascii", []byte("Subject: hi\r\n\r\nhello\r\n"), "koi8-r", "utf-8"},
		{"utf-8", []byte("Subject: hi\r\n\r\nпривет\r\n"), "koi8-r", "utf-8"},
		{"koi8-r declared", koi8, "", "koi8-r"},
		{"the first known one", multipart, "", "windows-1251"},
		{"undeclared: the mailbox's", []byte("Subject: x\r\n\r\n\xf0\xd2\xc9\r\n"), "koi8-r", "koi8-r"},
		{"undeclared, no fallback", []byte("Subject: x\r\n\r\n\xf0\xd2\xc9\r\n"), "", "windows-1252"},
		{"a header cannot inject", []byte("Content-Type: text/plain; charset=koi8-r\r\nX: \xff\r\n"), "", "koi8-r"},
		{"a label that is not one", []byte("Content-Type: text/plain; charset=\"koi8-r\r\nSet-Cookie: a=b\"\r\n\r\n\xff"), "", "koi8-r"},
	} {
		if got := download.SourceCharset(test.head, test.fallback); got != test.want {
			t.Errorf("%s: %q, want %q", test.name, got, test.want)
		}
	}
}
