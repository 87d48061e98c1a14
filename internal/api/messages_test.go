package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

func TestMessagesAPI(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	box := createMailbox(t, h, h.admin, `{"type":"smtp","name":"Inbound","port":2525}`)
	raw := "Subject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\nContent-Type: text/html\r\n\r\n" +
		`<p onclick="x()">Hi</p><img src="cid:logo@x"><img src="https://t.example/p.gif">` + "\r\n"
	m := &store.NewMessage{Message: store.Message{MailboxID: box.ID, Subject: "Привет", From: "Иван <ivan@example.ru>"},
		Content: store.Content{Text: "Hi"}, Raw: []byte(raw), SaveSource: true,
		Attachments: []store.Attachment{{Filename: "логотип.png", ContentType: "image/png", ContentID: "logo@x", Size: 4, Data: []byte("\x89PNG")}}}
	id, _, err := h.env.Store.InsertMessage(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		other := &store.NewMessage{Message: store.Message{MailboxID: box.ID, Subject: fmt.Sprintf("Other %d", i)}, Raw: []byte(fmt.Sprint(i))}
		if _, _, err := h.env.Store.InsertMessage(ctx, other); err != nil {
			t.Fatal(err)
		}
	}

	list := decodeAs[messageList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/messages?limit=2", ""))
	if len(list.Items) != 2 || list.NextCursor == "" {
		t.Fatalf("first page: %+v", list)
	}
	rest := decodeAs[messageList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/messages?limit=2&cursor="+list.NextCursor, ""))
	if len(rest.Items) != 2 || rest.NextCursor != "" {
		t.Errorf("second page: %+v", rest)
	}
	found := decodeAs[messageList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/messages?q=%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82", "")) // "привет"
	if len(found.Items) != 1 || found.Items[0].ID != id || found.Items[0].Text != "" {
		t.Errorf("full-text search: %+v", found.Items)
	}
	for _, bad := range []string{"?spam=maybe", "?read=perhaps", "?sort=color", "?cursor=garbage!", "?since=yesterday", "?mailbox_id=x"} {
		h.expect(t, http.StatusBadRequest, h.admin, "GET", "/api/v1/messages"+bad, "")
	}

	view := decodeAs[service.MessageView](t, h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/messages/%d", id), ""))
	if strings.Contains(view.HTML, "onclick") || strings.Contains(view.HTML, "t.example") || view.RemoteBlocked != 1 ||
		!strings.Contains(view.HTML, fmt.Sprintf(`src="/api/v1/messages/%d/attachments/%d"`, id, view.Attachments[0].ID)) {
		t.Errorf("html = %q", view.HTML)
	}
	if view.Read {
		t.Error("reading through the API marked the message read")
	}
	allowed := decodeAs[service.MessageView](t, h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/messages/%d?remote_images=allow", id), ""))
	if !strings.Contains(allowed.HTML, "https://t.example/p.gif") {
		t.Errorf("remote image not allowed on request: %q", allowed.HTML)
	}

	source := h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/messages/%d/raw", id), "")
	if source.Body.String() != raw || source.Header().Get("Content-Type") != "message/rfc822" {
		t.Errorf("raw: %q %s", source.Body.String(), source.Header().Get("Content-Type"))
	}
	download := h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/messages/%d/attachments/%d", id, view.Attachments[0].ID), "")
	if download.Body.String() != "\x89PNG" || !strings.Contains(download.Header().Get("Content-Disposition"), "filename*=utf-8''%D0%BB") ||
		!strings.Contains(download.Header().Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("attachment: %q %v", download.Body.String(), download.Header())
	}
	h.expect(t, http.StatusNotFound, h.admin, "GET", fmt.Sprintf("/api/v1/messages/%d/attachments/999", id), "")

	result := decodeAs[actionResult](t, h.expect(t, http.StatusOK, h.admin, "POST", fmt.Sprintf("/api/v1/messages/%d/actions", id), `{"action":"read"}`))
	if result.Done != 1 {
		t.Errorf("read action: %+v", result)
	}
	result = decodeAs[actionResult](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/messages/actions", `{"action":"spam","filter":{"q":"other"}}`))
	if result.Done != 3 {
		t.Errorf("spam on a filter: %+v", result)
	}
	if spam := decodeAs[messageList](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/messages?spam=yes", "")); len(spam.Items) != 3 {
		t.Errorf("%d spam messages, want 3", len(spam.Items))
	}
	if applied := decodeAs[actionResult](t, h.expect(t, http.StatusOK, h.admin, "POST", "/api/v1/messages/actions",
		fmt.Sprintf(`{"action":"apply_rules","ids":[%d]}`, id))); applied.Done != 0 {
		t.Errorf("apply rules with none: %+v", applied)
	}
	h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/messages/actions", `{"action":"read"}`)
	h.expect(t, http.StatusNoContent, h.admin, "DELETE", fmt.Sprintf("/api/v1/messages/%d", id), "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", fmt.Sprintf("/api/v1/messages/%d", id), "")
}
