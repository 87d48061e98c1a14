package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// The spam filter's page: what it has learned and the warning until it
// knows enough, the telling words, the menu and Settings linking to it;
// an admin's bulk upload trains (one message, an mbox), an auditor reads
// and may not train, an employee may not open it.
func TestSpamPage(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/spam")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<h1>Spam filter</h1>", `data-count="spam">0<`, `id="spam-not-ready"`, "at least 200 messages of each kind",
		`href="/spam"`, "Bulk training", `data-spam-train`, "/static/spam.js?v=", `href="/settings#spam-filter"`)
	wantBody(t, b.get("/settings"), `<a href="/spam">What the filter has learned, and bulk training</a>`)

	// One message, then an mbox of two, as the page's script sends them.
	upload := func(class, contentType, body string) spamTrainReply {
		t.Helper()
		request, err := http.NewRequest("POST", b.base+"/spam/train?class="+class, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		request.Header.Set("Content-Type", contentType)
		request.Header.Set("X-CSRF-Token", b.csrf)
		response, err := b.http.Do(request)
		if err != nil {
			t.Fatal(err)
		}
		defer response.Body.Close()
		var reply spamTrainReply
		if err := json.NewDecoder(response.Body).Decode(&reply); err != nil || response.StatusCode != http.StatusOK {
			t.Fatalf("train: %d, %v", response.StatusCode, err)
		}
		return reply
	}
	reply := upload("spam", "message/rfc822", "Subject: cheap pills\r\n\r\nbuy cheap pills casino now\r\n")
	if reply.Trained != 1 || reply.State.SpamMessages != 1 {
		t.Errorf("one message: %+v", reply)
	}
	mbox := "From a@example.com Mon Jan  1 00:00:00 2024\nSubject: report\n\nquarterly report meeting\n\n" +
		"From b@example.com Mon Jan  1 00:00:00 2024\nSubject: отчёт\n\nквартальный отчёт meeting\n"
	reply = upload("ham", "application/mbox", mbox)
	if reply.Trained != 2 || reply.State.HamMessages != 2 || reply.State.Words == 0 {
		t.Errorf("an mbox: %+v", reply)
	}
	// Without its token the upload is refused.
	request, _ := http.NewRequest("POST", b.base+"/spam/train?class=spam", strings.NewReader("Subject: x\r\n\r\ny\r\n"))
	if response, err := b.http.Do(request); err != nil || response.StatusCode != http.StatusForbidden {
		t.Errorf("without a token: %v %v", response.StatusCode, err)
	}
	// A minimum word count of 1 lists every learned word by its lean.
	one := 1
	if _, err := ts.env.Service.UpdateSettings(ctx, ts.env.Admin, service.SettingsInput{SpamMinWordCount: &one}); err != nil {
		t.Fatal(err)
	}
	r = b.get("/spam")
	wantBody(t, r, `data-count="spam">1<`, `data-count="ham">2<`, "Words that tell most of spam", "pills", "meeting",
		// A word of the one spam learned, as a rating takes it: drawn a little
		// towards the assumed probability, not 100%.
		`data-label="Spam %">95%<`)

	// In Russian.
	wantStatus(t, b.postForm("/profile/language", map[string][]string{"language": {"ru"}, "back": {"/spam"}}), http.StatusSeeOther)
	wantBody(t, b.get("/spam"), "<h1>Спам-фильтр</h1>", "Массовое обучение", "хотя бы на 200 письмах")

	ts.addUser(t, "audrey", store.RoleAuditor)
	auditor := ts.signIn(t, "audrey", "password-audrey")
	r = auditor.get("/spam")
	wantStatus(t, r, http.StatusOK)
	wantNoBody(t, r, "data-spam-train", "spam.js")
	request, _ = http.NewRequest("POST", auditor.base+"/spam/train?class=spam", strings.NewReader("Subject: x\r\n\r\ny\r\n"))
	request.Header.Set("X-CSRF-Token", auditor.csrf)
	if response, err := auditor.http.Do(request); err != nil || response.StatusCode != http.StatusForbidden {
		t.Errorf("an auditor trains: %v %v", response.StatusCode, err)
	}
	ts.addUser(t, "emil", store.RoleUser)
	employee := ts.signIn(t, "emil", "password-emil")
	wantStatus(t, employee.get("/spam"), http.StatusForbidden)
	wantNoBody(t, employee.get("/messages"), `href="/spam"`)
}

// countingReader is an endless body that counts what is read of it.
type countingReader struct{ read int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'b'
	}
	c.read += int64(len(p))
	return len(p), nil
}

// The training upload may be 200 MB, but not for anyone: a request with
// no session (or no token) is answered before any of its body is read,
// whatever its type says (a urlencoded form was read whole into memory).
func TestSpamTrainUnsignedReadsNothing(t *testing.T) {
	ts := newTestServer(t)
	secure := false
	handler := New(ts.env.Service, Options{SecureCookies: &secure, Logger: slog.New(slog.DiscardHandler)})
	for _, contentType := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/mbox"} {
		body := &countingReader{}
		request := httptest.NewRequest("POST", "/spam/train?class=spam", body)
		request.Header.Set("Content-Type", contentType)
		recorder := httptest.NewRecorder()
		handler.ServeHTTP(recorder, request)
		if recorder.Code != http.StatusSeeOther || body.read != 0 {
			t.Errorf("%s: status %d after reading %d bytes; want 303 and nothing read", contentType, recorder.Code, body.read)
		}
	}
}
