package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
)

// spamTrainPath is the spam page's bulk training: its script posts each
// chosen file's bytes there, so the body may be far larger than a form's
// (checkCSRF lets it be up to service.MaxSpamUploadBytes and reads none of
// it).
const spamTrainPath = "/spam/train"

// spamData is the content of the spam filter's page.
type spamData struct {
	State    service.SpamState
	CanTrain bool
}

// spamPage shows what the filter has learned (SPEC.md "The UI shows how
// much it has learned"): the counts, a warning until it knows enough, the
// words that tell most of each class, and, for admins, bulk training.
func (s *server) spamPage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	state, err := s.svc.Spam(r.Context(), session.Actor)
	if err != nil {
		return err
	}
	data := s.newPage(w, r, session, "page.spam.title", "spam")
	data.Content = spamData{State: state, CanTrain: session.Actor.IsAdmin()}
	s.render(w, r, http.StatusOK, "spam", data)
	return nil
}

// spamTrainReply answers the page's script: how many messages the file
// taught and the filter's counts after it.
type spamTrainReply struct {
	Trained int               `json:"trained"`
	State   service.SpamState `json:"state"`
	Error   string            `json:"error,omitempty"`
	// Skipped says the messages of the file left out as too large.
	Skipped string `json:"skipped,omitempty"`
}

// trainSpam teaches the filter one uploaded file as ?class=spam or ham:
// a message, or an mbox (its type says application/mbox, or it starts
// with an mbox "From " line). The page's script sends the files one by
// one and shows the progress; the answer is JSON.
func (s *server) trainSpam(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	if !session.Actor.IsAdmin() {
		return service.ErrForbidden
	}
	class := r.URL.Query().Get("class")
	if class != "spam" && class != "ham" {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	body := bufio.NewReader(r.Body)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	start, _ := body.Peek(5)
	mbox := mediaType == "application/mbox" || string(start) == "From "
	examples, skipped, err := service.SpamExamples(class, body, mbox)
	if err == nil {
		// The file's messages are learned together, on error with a
		// margin (service.TrainSpamBulk), as pochta spam train does.
		_, err = s.svc.TrainSpamBulk(r.Context(), session.Actor, examples, nil)
	}
	lang := s.svc.UserLanguage(r.Context(), session.Actor.User)
	reply := spamTrainReply{}
	if err == nil {
		reply.Trained = len(examples)
	}
	status := http.StatusOK
	var tooLarge *http.MaxBytesError
	var invalid *service.ValidationError
	switch {
	case errors.As(err, &tooLarge):
		status, reply.Error = http.StatusRequestEntityTooLarge, i18n.Default.T(lang, "spam.train_too_large", service.MaxSpamUploadBytes>>20)
	case errors.As(err, &invalid):
		var texts []string
		for _, text := range invalid.Translated(lang) {
			texts = append(texts, text)
		}
		slices.Sort(texts)
		status, reply.Error = http.StatusBadRequest, strings.Join(texts, " ")
	case err != nil:
		return fmt.Errorf("train the spam filter from an upload: %w", err)
	case skipped > 0:
		reply.Skipped = i18n.Default.T(lang, "spam.train_skipped", skipped, service.MaxRuleTestSource>>20)
	}
	if reply.State, err = s.svc.SpamCounts(r.Context(), session.Actor); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(reply)
}
