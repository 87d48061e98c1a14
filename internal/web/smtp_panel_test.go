package web

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
)

// panelSMTP is a running SMTP server with one listener, as the panel shows it.
type panelSMTP struct{ mailboxID int64 }

func (panelSMTP) Start() {}
func (panelSMTP) Stop()  {}
func (p panelSMTP) Status() service.SMTPStatus {
	started := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	return service.SMTPStatus{Running: true, StartedAt: &started, Received: 12, MessagesReceived: 12, ConnectionsTotal: 30, ConnectionsNow: 2,
		Listeners: []service.SMTPListenerStatus{{MailboxID: p.mailboxID, Mailbox: "Inbound", Address: "127.0.0.1:2525", Listening: true,
			StartedAt: &started, Received: 7, MessagesReceived: 7, ConnectionsTotal: 9, ConnectionsNow: 1}}}
}

// The Settings page's SMTP panel: the counts the status gives, and each
// listener's mailbox linked to its page (which exists).
func TestSettingsSMTPPanel(t *testing.T) {
	ts := newTestServer(t)
	ts.env.Service.SetSMTPControl(panelSMTP{mailboxID: 42})
	b := ts.signIn(t, "admin", servicetest.AdminPassword)
	r := b.get("/settings")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "<strong>Running</strong>", "Messages received: 12. Connections: 30 in all, 2 now.",
		`<a href="/mailboxes/42">Inbound</a>`, "<td>7</td><td>9 / 1</td>", `value="stop"`)
	wantNoBody(t, r, "/edit")
	// The link's page is the mailbox's page: a missing mailbox is a 404
	// there, not a 405 or the list.
	wantStatus(t, b.get("/mailboxes/"+strconv.Itoa(42)), http.StatusNotFound)
}
