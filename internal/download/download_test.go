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
		{"source as a file", "GET", download.Source(42, 4, false), "message/rfc822", "attachment; filename=message-42.eml", "private, no-store", "data"},
		{"source to read", "GET", download.Source(42, 4, true), "text/plain; charset=utf-8", "inline", "private, no-store", "data"},
		{"logo", "GET", download.Logo("image/png", 4), "image/png", "inline", "private, no-cache", "data"},
		{"HEAD sends no body", "HEAD", download.Source(42, 4, false), "message/rfc822", "attachment; filename=message-42.eml", "private, no-store", ""},
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
