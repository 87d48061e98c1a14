package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
)

// TestRulesBrowser drives headless Chromium through the rules' main flow:
// a rule made through the form (a regex error shown at its field first),
// applied from the message list, the message changed, and the rule's log
// line.
func TestRulesBrowser(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	port, name := 2525, "Inbound"
	box, err := ts.env.Service.CreateMailbox(ctx, ts.env.Admin, service.MailboxInput{Type: &[]string{store.MailboxSMTP}[0], Name: &name, Port: &port})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ts.env.Service.ImportMessage(ctx, ts.env.Admin, box.ID,
		strings.NewReader("Subject: Счёт 2024-17\r\nFrom: a@example.com\r\n\r\nоплата\r\n"), "API")
	if err != nil {
		t.Fatal(err)
	}
	c := newChromium(t, ts)
	c.signIn(t, "admin", servicetest.AdminPassword)

	c.run(t, chromedp.Navigate(c.base+"/rules"), chromedp.WaitVisible(chromedp.CSS(".empty")),
		chromedp.Navigate(c.base+"/rules/new?template=manual"), chromedp.WaitVisible(chromedp.CSS("form.rule-form")),
		chromedp.SetValue(chromedp.CSS("#name"), "Invoices"),
		chromedp.SetValue(chromedp.CSS(`select[name="cond_op"]`), "regex"),
		chromedp.SetValue(chromedp.CSS(`textarea[name="cond_values"]`), `счёт\s+(\d+`),
		chromedp.SetValue(chromedp.CSS("#read"), "read"))
	if status := c.submit(t, "form.rule-form button[type=submit]"); status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad regex saved with status %d", status)
	}
	if got := c.text(t, ".condition .field-error"); !strings.Contains(got, "not a valid regular expression") {
		t.Fatalf("regex error at the field: %q", got)
	}
	c.run(t, chromedp.SetValue(chromedp.CSS(`textarea[name="cond_values"]`), `счёт\s+\d{4}-\d+`))
	if status := c.submit(t, "form.rule-form button[type=submit]"); status != http.StatusOK {
		t.Fatalf("saving the rule: status %d", status)
	}
	c.run(t, chromedp.Navigate(c.base+"/rules"), chromedp.WaitVisible(chromedp.CSS(".rules-table")))
	if got := c.text(t, ".rule-summary"); !strings.Contains(got, "mark as read") {
		t.Errorf("the rule in words: %q", got)
	}

	// Apply all manual rules to the message from the list.
	c.run(t, chromedp.Navigate(c.base+"/messages"), chromedp.WaitVisible(chromedp.CSS("#messages-group")),
		chromedp.Click(chromedp.CSS(`input[name="id"][value="`+strconv.FormatInt(stored.ID, 10)+`"]`)))
	if status := c.submit(t, `#messages-group button[value="apply_rules"]`); status != http.StatusOK {
		t.Fatalf("apply rules: status %d", status)
	}
	if got := c.text(t, ".flash"); !strings.Contains(got, "Rules matched 1 messages") {
		t.Errorf("after applying: %q", got)
	}
	if view, _ := ts.env.Service.MessageSummary(ctx, ts.env.Admin, stored.ID); !view.Read {
		t.Error("the message was not marked read")
	}
	page, _ := ts.env.Service.Rules(ctx, ts.env.Admin, service.RuleListFilter{}, store.RuleSort{}, "", 10)
	if len(page.Items) != 1 {
		t.Fatalf("rules: %+v", page.Items)
	}
	c.run(t, chromedp.Navigate(c.base+"/log?rule_id="+strconv.FormatInt(page.Items[0].ID, 10)), chromedp.WaitVisible(chromedp.CSS("main table")))
	if got := c.text(t, "main table"); !strings.Contains(got, "Invoices (manually)") || !strings.Contains(got, "marked as read") {
		t.Errorf("the rule's log: %q", got)
	}
}
