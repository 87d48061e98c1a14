package web

import (
	"net/http"
	"net/url"
	"strconv"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
)

// queueData is the Queue page: the outbound queue, newest first, filtered
// by status, a page at a time.
type queueData struct {
	Items    []service.QueuedMessage
	Statuses []string
	Status   string
	Filtered bool
	Older    string // the next page, "" on the last
	Newest   string // back to the first page, "" on it
}

// queuePage lists the outbound queue to admins and auditors; admins retry
// and delete.
func (s *server) queuePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !session.Actor.CanReadAll() {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
		return nil
	}
	query := r.URL.Query()
	status := query.Get("status")
	page, err := s.svc.OutboundQueue(r.Context(), session.Actor, service.QueueFilter{Status: status, Cursor: query.Get("cursor")})
	if err != nil {
		// A hand-edited status or cursor: the first page, unfiltered.
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	content := queueData{Items: page.Items, Statuses: service.QueueStatuses, Status: status, Filtered: status != ""}
	base := url.Values{}
	if status != "" {
		base.Set("status", status)
	}
	if page.NextCursor != "" {
		older := url.Values{"cursor": {page.NextCursor}}
		if status != "" {
			older.Set("status", status)
		}
		content.Older = "/queue?" + older.Encode()
	}
	if query.Get("cursor") != "" {
		content.Newest = "/queue"
		if encoded := base.Encode(); encoded != "" {
			content.Newest += "?" + encoded
		}
	}
	data := s.newPage(w, r, session, "page.queue.title", "queue")
	data.Content = content
	s.render(w, r, http.StatusOK, "queue", data)
	return nil
}

// retryQueued is "retry now".
func (s *server) retryQueued(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	if err := s.svc.RetryOutbound(r.Context(), session.Actor, id); err != nil {
		return err
	}
	s.flash(w, r, "flash.queue_retried")
	http.Redirect(w, r, "/queue", http.StatusSeeOther)
	return nil
}

func (s *server) deleteQueuedPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	s.confirmDeleteQueued(w, r, session)
	return nil
}

func (s *server) confirmDeleteQueued(w http.ResponseWriter, r *http.Request, session *service.WebSession) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	message, err := s.svc.OutboundMessage(r.Context(), session.Actor, id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	data := s.newPage(w, r, session, "page.queue_delete.title", "queue")
	data.Content = confirmData{
		Question: i18n.Default.T(data.Lang, "confirm.delete_queued", strconv.FormatInt(message.ID, 10), listTitleOf(message.Subject)),
		Action:   "/queue/" + strconv.FormatInt(id, 10) + "/delete", Cancel: "/queue",
	}
	s.render(w, r, http.StatusOK, "confirm", data)
}

// deleteQueued deletes only with confirm=yes, which the confirmation page
// (or the JavaScript confirm dialog) adds; a bare POST shows the question.
func (s *server) deleteQueued(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if formValue(r, "confirm") != "yes" {
		s.confirmDeleteQueued(w, r, session)
		return nil
	}
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	if err := s.svc.DeleteOutbound(r.Context(), session.Actor, id); err != nil {
		return err
	}
	s.flash(w, r, "flash.queue_deleted")
	http.Redirect(w, r, "/queue", http.StatusSeeOther)
	return nil
}

func listTitleOf(text string) string { return i18n.Shorten(text, listTitleLength) }
