package web

import (
	"bytes"
	"net/http"
	"testing"

	"pochta.dev/pochta/internal/service/servicetest"
)

// "Original source" of 8-bit KOI8-R mail is its exact bytes in its own
// charset, not UTF-8 with replacement characters; the .eml stays
// message/rfc822.
func TestSourceInItsCharset(t *testing.T) {
	ts := newTestServer(t)
	f := mblSetup(t, ts)
	raw := []byte("From: a@example.ru\r\nTo: b@example.ru\r\nSubject: =?koi8-r?B?8NLJ18XU?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2!\r\n")
	id := msgImport(t, ts, f.alpha.ID, raw)
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/messages/" + mblID(id) + "/source")
	wantStatus(t, r, http.StatusOK)
	if got := r.header.Get("Content-Type"); got != "text/plain; charset=koi8-r" {
		t.Errorf("Content-Type %q", got)
	}
	if !bytes.Equal([]byte(r.body), raw) {
		t.Errorf("the source is not the exact bytes:\n%q", r.body)
	}
	r = b.get("/messages/" + mblID(id) + "/raw")
	if got := r.header.Get("Content-Type"); got != "message/rfc822" || r.body != string(raw) {
		t.Errorf(".eml: %q", got)
	}
}

// follow is the browser after a POST: it wants a redirect (303) and opens
// where it points, as F5-safe pages do.
func (b *browser) follow(r result) result {
	b.t.Helper()
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("status %d, want a redirect after the POST\n%s", r.status, r.body)
	}
	return b.get(r.header.Get("Location"))
}
