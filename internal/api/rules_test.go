package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRulesAPI(t *testing.T) {
	h := newHarness(t)
	mailbox := decodeAs[struct{ ID int64 }](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/mailboxes", `{"type":"smtp","name":"In","port":2525}`))

	// The regex's error at its field, with \d meaning a digit (not upper-cased).
	bad := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/rules",
		`{"name":"Bad","conditions":[{"field":"subject","op":"regex","values":["a(b"]}]}`))
	if !strings.Contains(bad.Fields["conditions.0.values"], "a(b") {
		t.Errorf("regex error: %+v", bad)
	}
	created := decodeAs[ruleBody](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/rules",
		fmt.Sprintf(`{"name":"Orders","mailbox_id":%d,"conditions":[{"field":"subject","op":"regex","values":["order\\s+\\d{3}"]}],
		"actions":{"read":"read","webhook":{"url":"https://hooks.example.com/o","secret":"k"}}}`, mailbox.ID)))
	if created.Summary == "" || created.MailboxID == nil || created.Actions.Webhook == nil || !created.Actions.Webhook.HasSecret {
		t.Errorf("created: %+v", created)
	}
	if strings.Contains(h.expect(t, http.StatusOK, h.auditor, "GET", fmt.Sprintf("/api/v1/rules/%d", created.ID), "").Body.String(), `"secret"`) {
		t.Error("the webhook secret is shown")
	}
	list := decodeAs[ruleList](t, h.expect(t, http.StatusOK, h.auditor, "GET", "/api/v1/rules?mailbox_id="+fmt.Sprint(mailbox.ID), ""))
	if list.Total != 1 || len(list.Items) != 1 {
		t.Errorf("list: %+v", list)
	}

	// Dry run of a pasted source, as message/rfc822.
	req := httptest.NewRequest("POST", fmt.Sprintf("/api/v1/rules/test?mailbox_id=%d", mailbox.ID),
		strings.NewReader("Subject: Your order 123 shipped\r\n\r\nhi\r\n"))
	req.Header.Set("Authorization", h.auditor)
	req.Header.Set("Content-Type", "message/rfc822")
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	dry := decodeAs[ruleTestBody](t, rec)
	if rec.Code != http.StatusOK || len(dry.Matches) != 1 || len(dry.Matches[0].Reasons) != 1 ||
		!strings.Contains(dry.Matches[0].Reasons[0].Text, "order 123") || len(dry.Matches[0].Actions) != 2 {
		t.Errorf("dry run %d: %s", rec.Code, rec.Body)
	}

	// Received through the upload: the rule runs; its webhook is a job.
	upload := httptest.NewRequest("POST", fmt.Sprintf("/api/v1/mailboxes/%d/messages", mailbox.ID),
		strings.NewReader("Subject: order 456\r\n\r\nhi\r\n"))
	upload.Header.Set("Authorization", h.admin)
	rec = httptest.NewRecorder()
	h.handler.ServeHTTP(rec, upload)
	stored := decodeAs[uploadResult](t, rec)
	message := decodeAs[struct{ Read bool }](t, h.expect(t, http.StatusOK, h.admin, "GET", fmt.Sprintf("/api/v1/messages/%d", stored.ID), ""))
	if !message.Read {
		t.Error("the upload's rule did not mark it read")
	}
	// apply_rules with a rule_id; rule_id with another action is refused.
	h.expect(t, http.StatusOK, h.admin, "POST", fmt.Sprintf("/api/v1/messages/%d/actions", stored.ID), `{"action":"unread"}`)
	h.expect(t, http.StatusBadRequest, h.admin, "POST", fmt.Sprintf("/api/v1/messages/%d/actions", stored.ID),
		fmt.Sprintf(`{"action":"read","rule_id":%d}`, created.ID))
	done := decodeAs[actionResult](t, h.expect(t, http.StatusOK, h.admin, "POST", fmt.Sprintf("/api/v1/messages/%d/actions", stored.ID),
		fmt.Sprintf(`{"action":"apply_rules","rule_id":%d}`, created.ID)))
	if done.Done != 1 {
		t.Errorf("apply rule: %+v", done)
	}
	// A rule that is off, or not set to run manually, is refused at its
	// field; an employee's token may apply nothing, neither to this message
	// (another's: not found) nor with this rule (403 on a group).
	off := decodeAs[ruleBody](t, h.expect(t, http.StatusCreated, h.admin, "POST", "/api/v1/rules",
		`{"name":"Off","active":false,"actions":{"read":"unread"}}`))
	refused := decodeAs[errorBody](t, h.expect(t, http.StatusBadRequest, h.admin, "POST", fmt.Sprintf("/api/v1/messages/%d/actions", stored.ID),
		fmt.Sprintf(`{"action":"apply_rules","rule_id":%d}`, off.ID)))
	if refused.Fields["rule_id"] == "" {
		t.Errorf("inactive rule applied: %+v", refused)
	}
	for _, body := range []string{`{"action":"apply_rules"}`, fmt.Sprintf(`{"action":"apply_rules","rule_id":%d}`, created.ID)} {
		h.expect(t, http.StatusNotFound, h.user, "POST", fmt.Sprintf("/api/v1/messages/%d/actions", stored.ID), body)
		h.expect(t, http.StatusForbidden, h.user, "POST", "/api/v1/messages/actions",
			strings.Replace(body, "{", fmt.Sprintf(`{"ids":[%d],`, stored.ID), 1))
	}

	// Bulk training from an mbox, then the state.
	mbox := "From a@example.com Mon Jan  1 00:00:00 2024\nSubject: one\n\ncheap pills\n\nFrom b@example.com Mon Jan  1 00:00:00 2024\nSubject: two\n\ncasino\n"
	train := httptest.NewRequest("POST", "/api/v1/spam/train?class=spam", strings.NewReader(mbox))
	train.Header.Set("Authorization", h.admin)
	train.Header.Set("Content-Type", "application/mbox")
	rec = httptest.NewRecorder()
	h.handler.ServeHTTP(rec, train)
	trained := decodeAs[struct {
		Messages int
		Trained  int
		Passes   int
		State    struct {
			SpamMessages int64 `json:"spam_messages"`
		}
	}](t, rec)
	if rec.Code != http.StatusOK || trained.Messages != 2 || trained.Trained != 2 || trained.Passes != 1 || trained.State.SpamMessages != 2 {
		// With no ham learned nothing is rated: both are trained, once.
		t.Errorf("train %d: %s", rec.Code, rec.Body)
	}
	h.expect(t, http.StatusBadRequest, h.admin, "POST", "/api/v1/spam/train?class=maybe", "x")
}
