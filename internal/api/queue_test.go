package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

func TestQueueRoutes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var batch []store.NewOutbound
	for i := range 3 {
		batch = append(batch, store.NewOutbound{Sender: "alice@example.test", Recipients: []string{"bob@elsewhere.test"},
			Raw: []byte("Subject: x\r\n\r\nx\r\n"), Subject: fmt.Sprint("queued ", i), NotBefore: time.Now().Add(time.Hour)})
	}
	ids, err := h.env.Store.EnqueueOutbound(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	page := decodeAs[listBody[service.QueuedMessage]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/queue?limit=2", ""))
	if len(page.Items) != 2 || page.Items[0].ID != ids[2] || page.NextCursor == "" || page.Items[0].Status != "queued" ||
		page.Items[0].NextAttemptAt == nil || len(page.Items[0].Recipients) != 1 {
		t.Fatalf("first page %+v", page)
	}
	rest := decodeAs[listBody[service.QueuedMessage]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/queue?limit=2&cursor="+page.NextCursor, ""))
	if len(rest.Items) != 1 || rest.Items[0].ID != ids[0] || rest.NextCursor != "" {
		t.Fatalf("second page %+v", rest)
	}
	h.expect(t, http.StatusBadRequest, h.admin, "GET", "/api/v1/queue?status=lost", "")
	h.expect(t, http.StatusBadRequest, h.admin, "GET", "/api/v1/queue?cursor=garbage", "")
	if sent := decodeAs[listBody[service.QueuedMessage]](t, h.expect(t, http.StatusOK, h.admin, "GET", "/api/v1/queue?status=sent", "")); len(sent.Items) != 0 {
		t.Errorf("sent: %+v", sent.Items)
	}
	got := decodeAs[service.QueuedMessage](t, h.expect(t, http.StatusOK, h.admin, "POST", fmt.Sprintf("/api/v1/queue/%d/retry", ids[0]), ""))
	if got.ID != ids[0] || got.NextAttemptAt == nil || got.NextAttemptAt.After(time.Now()) {
		t.Errorf("after retry %+v", got)
	}
	h.expect(t, http.StatusNoContent, h.admin, "DELETE", fmt.Sprintf("/api/v1/queue/%d", ids[1]), "")
	h.expect(t, http.StatusNotFound, h.admin, "GET", fmt.Sprintf("/api/v1/queue/%d", ids[1]), "")
	h.expect(t, http.StatusNotFound, h.admin, "POST", fmt.Sprintf("/api/v1/queue/%d/retry", ids[1]), "")
	h.expect(t, http.StatusNotFound, h.admin, "DELETE", "/api/v1/queue/01", "")
	// A message no longer waiting cannot be retried.
	claimed, err := h.env.Store.ClaimOutbound(ctx, "test", time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim %d %v", len(claimed), err)
	}
	if err := h.env.Store.FinishOutboundAttempt(ctx, store.OutboundAttempt{ID: ids[0], Holder: "test", Counted: true,
		Recipients: []store.OutboundRecipient{{Position: 0, State: store.OutboundSent, LastReply: "250 ok"}}, LastReply: "250 ok"}); err != nil {
		t.Fatal(err)
	}
	h.expect(t, http.StatusConflict, h.admin, "POST", fmt.Sprintf("/api/v1/queue/%d/retry", ids[0]), "")
	sent := decodeAs[service.QueuedMessage](t, h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/queue/%d", ids[0]), ""))
	if sent.Status != "sent" || sent.NextAttemptAt != nil || sent.Recipients[0].Status != "sent" || sent.Attempts != 1 {
		t.Errorf("sent message %+v", sent)
	}
	h.expect(t, http.StatusForbidden, h.user, "GET", "/api/v1/queue", "")
}
