package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"pochta.dev/pochta/internal/testmail"
	"strconv"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/testpeer"
)

// endlessMessage produces a message of size bytes lazily: a header and
// then base64-looking lines, without holding it in memory.
type endlessMessage struct {
	size, sent int64
}

func (e *endlessMessage) Read(p []byte) (int, error) {
	const header = "Subject: endless\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	const line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
	if e.sent >= e.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), e.size-e.sent)]
	n := 0
	for n < len(p) {
		var k int
		if e.sent < int64(len(header)) {
			k = copy(p[n:], header[e.sent:])
		} else {
			k = copy(p[n:], line[(e.sent-int64(len(header)))%int64(len(line)):])
		}
		n += k
		e.sent += int64(k)
	}
	return n, nil
}

// TestUploadLarge uploads a message over intake.MaxInMemory through a real
// HTTP server (the body streamed, spooled to a file by the intake): 201,
// then GET .../raw gives its exact bytes with a Content-Length of its size,
// GET of the attachment its decoded bytes with a Content-Length of its size,
// GET of the message its text. The same upload again is a duplicate (200).
// With "save source" off, the text and attachment are still kept whole.
// A body over maxMessageBytes, declared or streamed without a length, is
// 413 and leaves no spool file behind. On SQLite and PostgreSQL.
func TestUploadLarge(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(t) // before TMPDIR changes: the server's files stay where it put them
			}
			spoolDir := t.TempDir()
			t.Setenv("TMPDIR", spoolDir) // where the intake spools (servicetest sets no folder)
			h := newHarness(t, dsn)
			testUploadLarge(t, h, spoolDir)
		})
	}
}

func testUploadLarge(t *testing.T, h *harness, spoolDir string) {
	ctx := context.Background()
	server := httptest.NewServer(h.handler)
	t.Cleanup(server.Close)
	mailbox := addMailbox(t, h.env.Store, "uploads", h.adminID)
	raw, attachment := testmail.Large(7, "uploaded backup", 9<<20+4321)
	if len(raw) <= intake.MaxInMemory {
		t.Fatalf("the test message (%d bytes) is not large", len(raw))
	}
	request := func(method, path string, body io.Reader) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, server.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", h.admin)
		resp, err := server.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	readAll := func(resp *http.Response) []byte {
		t.Helper()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: reading the body: %v", resp.Request.URL.Path, err)
		}
		return body
	}
	noSpoolLeft := func(when string) {
		t.Helper()
		entries, _ := os.ReadDir(spoolDir)
		for _, e := range entries {
			if intake.SpoolOwner(e.Name()) != 0 {
				t.Errorf("%s: spool file %s left behind", when, e.Name())
			}
		}
	}

	upload := request("POST", fmt.Sprintf("/api/v1/mailboxes/%d/messages", mailbox), bytes.NewReader(raw))
	body := readAll(upload)
	if upload.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status %d, body %s", upload.StatusCode, body)
	}
	var result uploadResult
	if err := json.Unmarshal(body, &result); err != nil || result.ID == 0 || result.Duplicate || len(result.ParseErrors) != 0 {
		t.Fatalf("upload: %s (%v)", body, err)
	}
	if got, want := upload.Header.Get("Location"), fmt.Sprintf("/api/v1/messages/%d", result.ID); got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	noSpoolLeft("after the upload")

	source := request("GET", fmt.Sprintf("/api/v1/messages/%d/raw", result.ID), nil)
	got := readAll(source)
	if source.StatusCode != http.StatusOK || source.ContentLength != int64(len(raw)) ||
		source.Header.Get("Content-Length") != strconv.Itoa(len(raw)) || !bytes.Equal(got, raw) {
		t.Errorf("raw: status %d, Content-Length %q, %d bytes, want %d exact bytes", source.StatusCode, source.Header.Get("Content-Length"), len(got), len(raw))
	}

	message := request("GET", fmt.Sprintf("/api/v1/messages/%d", result.ID), nil)
	var view service.MessageView
	if err := json.Unmarshal(readAll(message), &view); err != nil {
		t.Fatal(err)
	}
	if message.StatusCode != http.StatusOK || !strings.Contains(view.Text, "Квитанция 7") || view.Subject != "uploaded backup" ||
		view.Size != int64(len(raw)) || !view.HasSource || len(view.Attachments) != 1 {
		t.Fatalf("message: status %d, %+v", message.StatusCode, view)
	}
	noSpoolLeft("after reading the message")
	a := view.Attachments[0]
	if a.Filename != "backup-7.bin" || a.Size != int64(len(attachment)) || a.Dropped {
		t.Errorf("attachment %+v, want backup-7.bin of %d bytes", a, len(attachment))
	}
	download := request("GET", fmt.Sprintf("/api/v1/messages/%d/attachments/%d", result.ID, a.ID), nil)
	got = readAll(download)
	if download.StatusCode != http.StatusOK || download.ContentLength != int64(len(attachment)) || !bytes.Equal(got, attachment) {
		t.Errorf("attachment: status %d, Content-Length %q, %d bytes, want %d exact bytes", download.StatusCode, download.Header.Get("Content-Length"), len(got), len(attachment))
	}

	again := request("POST", fmt.Sprintf("/api/v1/mailboxes/%d/messages", mailbox), bytes.NewReader(raw))
	body = readAll(again)
	if err := json.Unmarshal(body, &result); again.StatusCode != http.StatusOK || err != nil || !result.Duplicate {
		t.Errorf("the same upload again: status %d, %s", again.StatusCode, body)
	}

	// Over the limit: a declared length is refused before reading, a
	// streamed body once it passes the limit. The handler is called
	// directly: a real client may see the connection closed while it
	// still sends.
	for _, declared := range []bool{true, false} {
		req := httptest.NewRequest("POST", fmt.Sprintf("/api/v1/mailboxes/%d/messages", mailbox), &endlessMessage{size: maxMessageBytes + 1})
		req.ContentLength = -1
		if declared {
			req.ContentLength = maxMessageBytes + 1
		}
		req.Header.Set("Authorization", h.admin)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%d bytes (length declared: %v): status %d, body %s", maxMessageBytes+1, declared, rec.Code, rec.Body)
		}
		noSpoolLeft(fmt.Sprintf("after the refused upload (length declared: %v)", declared))
	}
	page := h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/messages?mailbox_id=%d", mailbox), "")
	if list := decodeAs[messageList](t, page); len(list.Items) != 1 {
		t.Errorf("%d messages in the mailbox, want 1", len(list.Items))
	}

	// Without "save source": the text is kept on its own, the attachment
	// still streamed from the spool, and there is no raw source.
	off := false
	if _, err := h.env.Service.UpdateSettings(ctx, h.env.Admin, service.SettingsInput{SaveSource: &off}); err != nil {
		t.Fatal(err)
	}
	raw, attachment = testmail.Large(8, "uploaded, source not kept", 6<<20+99)
	upload = request("POST", fmt.Sprintf("/api/v1/mailboxes/%d/messages", mailbox), bytes.NewReader(raw))
	body = readAll(upload)
	if err := json.Unmarshal(body, &result); upload.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("upload without source: status %d, %s", upload.StatusCode, body)
	}
	message = request("GET", fmt.Sprintf("/api/v1/messages/%d", result.ID), nil)
	view = service.MessageView{}
	if err := json.Unmarshal(readAll(message), &view); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(view.Text, "Квитанция 8") || view.HasSource || len(view.Attachments) != 1 || view.Size != int64(len(raw)) {
		t.Fatalf("message without source: %+v", view)
	}
	download = request("GET", fmt.Sprintf("/api/v1/messages/%d/attachments/%d", result.ID, view.Attachments[0].ID), nil)
	if got = readAll(download); download.StatusCode != http.StatusOK || !bytes.Equal(got, attachment) {
		t.Errorf("attachment without source: status %d, %d bytes, want %d", download.StatusCode, len(got), len(attachment))
	}
	if source := request("GET", fmt.Sprintf("/api/v1/messages/%d/raw", result.ID), nil); source.StatusCode != http.StatusNotFound {
		t.Errorf("raw of a message without source: status %d", source.StatusCode)
	}
	noSpoolLeft("after the upload without source")
}
