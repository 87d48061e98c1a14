package web

import (
	"bufio"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/download"
	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// The view of one message (SPEC.md "Messages", View): its addresses, the
// text with quote levels coloured, the sanitised HTML in a sandboxed frame
// under its own strict CSP, attachments, the full header and source, the
// actions, its processing log, and previous/next within the list it was
// opened from.

// messageHTMLPolicy is the Content-Security-Policy of a message's HTML: no
// script, no style sheets or fonts from anywhere, images only from here
// (cid: parts) unless the reader asked for remote ones. The page is a
// sandbox even when opened on its own, and only this app may frame it.
// Its sandbox lets a link open in a new tab that escapes the sandbox (the
// sanitiser gives every link target=_blank and rel="noopener noreferrer"),
// and nothing else: no script, no same origin, no forms, no navigating the
// page around it.
const messageHTMLPolicy = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; " +
	"frame-ancestors 'self'; base-uri 'none'; form-action 'none'; " + messageFrameSandbox

const messageHTMLPolicyRemote = "default-src 'none'; img-src 'self' data: https: http:; style-src 'unsafe-inline'; " +
	"frame-ancestors 'self'; base-uri 'none'; form-action 'none'; " + messageFrameSandbox

// messageFrameSandbox is the sandbox of the HTML frame, the same in the
// CSP of its page and on the <iframe>.
const messageFrameSandbox = "sandbox allow-popups allow-popups-to-escape-sandbox"

// quoteBlock is a run of text lines at one quote level (0: not quoted).
type quoteBlock struct {
	Level int
	Class string
	Text  string
}

// quoteBlocks splits a text body into runs of lines by quote level: the
// number of leading ">" (spaces between them allowed). Levels past four
// share the colours again.
func quoteBlocks(text string) []quoteBlock {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var blocks []quoteBlock
	for _, line := range strings.Split(text, "\n") {
		level := 0
		for rest := line; ; {
			rest = strings.TrimLeft(rest, " ")
			if !strings.HasPrefix(rest, ">") {
				break
			}
			level++
			rest = rest[1:]
		}
		if n := len(blocks); n > 0 && blocks[n-1].Level == level {
			blocks[n-1].Text += "\n" + line
			continue
		}
		class := "quote-0"
		if level > 0 {
			class = "quote-" + strconv.Itoa((level-1)%4+1)
		}
		blocks = append(blocks, quoteBlock{Level: level, Class: class, Text: line})
	}
	return blocks
}

type attachmentRow struct {
	service.AttachmentView
	SizeText string
	URL      string
}

// messageData is the content of the view.
type messageData struct {
	Message     service.MessageView
	Row         messageRow
	Blocks      []quoteBlock
	HTMLURL     string
	FrameClass  string // the HTML frame's height classes, from frameHeightClass
	RemoteURL   string // the view with remote images, when some were held back
	Remote      bool
	Attachments []attachmentRow
	Log         []store.LogEntry
	Prev, Next  string
	Back        string // the list it was opened from
	Self        string // this view, to come back to after an action
	CanChange   bool
	// CanApplyRules offers "apply rules": all manual rules, or one of
	// ManualRules, those that may run on this message's mailbox.
	CanApplyRules bool
	ManualRules   []service.RuleView
	SpamRating    string
	SpamStatus    string
}

func messageURL(id int64) string { return "/messages/" + strconv.FormatInt(id, 10) }

// messagePage shows one message and marks it read (the service does not for
// auditors).
func (s *server) messagePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	actor := session.Actor
	query := r.URL.Query()
	back := listBack(query.Get("back"))
	remote := query.Get("remote") == "1"
	// The page itself shows no HTML (the frame loads it from /html), but
	// sizes the frame from it: a cid: image stands as a placeholder here,
	// so that it counts as the image the frame will show.
	m, err := s.svc.Message(r.Context(), actor, id, service.MessageOptions{MarkRead: true, AllowRemote: remote,
		CIDURL: func(int64) string { return cidPlaceholder }})
	if err != nil {
		return err
	}
	data := s.newPage(w, r, session, "page.message.title", "messages")
	content := messageData{Message: m, Row: newMessageRow(data.Lang, m, back), Blocks: quoteBlocks(m.Text), Back: back,
		Self: messageLink(id, back), CanChange: actor.CanChangeMail(), Remote: remote, SpamRating: spamText(m),
		SpamStatus: spamStatusText(data.Lang, m.Spam)}
	if content.CanApplyRules = actor.CanApplyRules(); content.CanApplyRules {
		if content.ManualRules, err = s.svc.ManualRules(r.Context(), actor, m.MailboxID); err != nil {
			return err
		}
	}
	data.Title = content.Row.SubjectText
	if m.HTML != "" {
		content.HTMLURL = messageURL(id) + "/html"
		content.FrameClass = frameHeightClass(m.HTML)
		if remote {
			content.HTMLURL += "?remote=1"
		}
		if m.RemoteBlocked > 0 && !remote {
			values := url.Values{"remote": {"1"}}
			if back != "/messages" {
				values.Set("back", back)
			}
			content.RemoteURL = messageURL(id) + "?" + values.Encode()
		}
	}
	for _, a := range m.Attachments {
		content.Attachments = append(content.Attachments, attachmentRow{AttachmentView: a, SizeText: humanSize(data.Lang, a.Size),
			URL: messageURL(id) + "/attachments/" + strconv.FormatInt(a.ID, 10)})
	}
	log, err := s.svc.Log(r.Context(), actor, store.LogFilter{MessageID: id, Limit: 100})
	if err != nil {
		return err
	}
	for i := range log {
		log[i].Text = service.LogText(data.Lang, log[i]) // in the reader's language
	}
	content.Log = log
	content.Prev, content.Next = s.messageNeighbours(r, actor, m, back)
	data.Path = content.Self
	data.Content = content
	s.render(w, r, http.StatusOK, "message", data)
	return nil
}

// messageNeighbours finds the messages before and after m in the list back
// names (its filter and order), by keyset from m's own position.
func (s *server) messageNeighbours(r *http.Request, actor *service.Actor, m service.MessageView, back string) (prev, next string) {
	parsed, err := url.Parse(back)
	if err != nil {
		return "", ""
	}
	q := readMessagesQuery(parsed.Query(), "")
	filter, nothing := q.filter(s.svc.UserLocation(r.Context(), actor.User))
	if nothing {
		return "", ""
	}
	previous, following, err := s.svc.MessageNeighbours(r.Context(), actor, m.ID, filter, q.order())
	if err != nil {
		return "", ""
	}
	if following != 0 {
		next = messageLink(following, back)
	}
	if previous != 0 {
		prev = messageLink(previous, back)
	}
	return prev, next
}

// messageHTML serves a message's sanitised HTML as a page of its own, for
// the view's sandboxed frame, under messageHTMLPolicy.
func (s *server) messageHTML(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	remote := r.URL.Query().Get("remote") == "1"
	// cid: images travel inside the page as data: URLs. The frame is a
	// sandbox with an opaque origin, so a browser sends its requests
	// without the SameSite session cookie: a link to the attachment would
	// meet the login page instead.
	inlined := 0
	m, err := s.svc.Message(r.Context(), session.Actor, id, service.MessageOptions{AllowRemote: remote, CIDURL: func(attachment int64) string {
		a, body, err := s.svc.MessageAttachment(r.Context(), session.Actor, id, attachment)
		if err != nil {
			return ""
		}
		defer body.Close()
		media, _, err := mime.ParseMediaType(a.ContentType)
		if err != nil || !download.IsInlineImage(media) || inlined+int(a.Size) > maxInlineImages {
			return ""
		}
		data, err := io.ReadAll(io.LimitReader(body, maxInlineImages-int64(inlined)))
		if err != nil {
			return ""
		}
		inlined += len(data)
		return "data:" + strings.ToLower(media) + ";base64," + base64.StdEncoding.EncodeToString(data)
	}})
	if err != nil {
		return err
	}
	h := w.Header()
	if remote {
		h.Set("Content-Security-Policy", messageHTMLPolicyRemote)
	} else {
		h.Set("Content-Security-Policy", messageHTMLPolicy)
	}
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">")
	b.WriteString(messageFrameStyle)
	b.WriteString("</head><body>\n")
	b.WriteString(m.HTML)
	b.WriteString("\n</body></html>\n")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
	return nil
}

// messageSource shows the exact source as plain text.
func (s *server) messageSource(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	s.writeSource(w, r, session, false)
	return nil
}

// messageRaw downloads the exact source as a .eml file.
func (s *server) messageRaw(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	s.writeSource(w, r, session, true)
	return nil
}

func (s *server) writeSource(w http.ResponseWriter, r *http.Request, session *service.WebSession, asFile bool) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	source, size, err := s.svc.MessageSource(r.Context(), session.Actor, id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	defer source.Close()
	if asFile {
		download.Write(w, r, download.Source(id, size, false, ""), source)
		return
	}
	// Shown as text, the exact bytes go with the message's own charset.
	buffered := bufio.NewReaderSize(source, download.SourceHead)
	head, _ := buffered.Peek(download.SourceHead)
	fallback := ""
	if summary, err := s.svc.MessageSummary(r.Context(), session.Actor, id); err == nil {
		if mailbox, err := s.svc.Mailbox(r.Context(), session.Actor, summary.MailboxID); err == nil {
			fallback = mailbox.Charset
		}
	}
	download.Write(w, r, download.Source(id, size, true, download.SourceCharset(head, fallback)), buffered)
}

// maxInlineImages caps the bytes of cid: images one page of HTML carries.
const maxInlineImages = 16 << 20

// messageAttachment downloads an attachment with its exact bytes and its
// original file name; ?inline=1 shows an image in place (cid: images).
func (s *server) messageAttachment(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok {
		return nil
	}
	attachmentID, ok := s.pathValueID(w, r, "attachment")
	if !ok {
		return nil
	}
	a, body, err := s.svc.MessageAttachment(r.Context(), session.Actor, id, attachmentID)
	if err != nil {
		return err
	}
	defer body.Close()
	download.Write(w, r, download.Attachment(a, r.URL.Query().Get("inline") == "1"), body)
	return nil
}

// deleteMessagePage asks before deleting one message.
func (s *server) deleteMessagePage(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.messageChangeAllowed(w, r, session) {
		return nil
	}
	back := safeMessagesBack(r.URL.Query().Get("back"))
	s.confirmDeleteMessages(w, r, session, service.MessageSelection{IDs: []int64{id}}, nil, back, messageURL(id)+"/action")
	return nil
}

// messageAction is one message's action from its row menu or its view:
// read, unread, spam, not_spam, apply_rules (all manual rules or the form's
// rule_id) or delete (asks first unless confirm=yes). It goes back where it came
// from, or to the list when the message is gone or was just marked unread
// from its view (showing it again would mark it read).
func (s *server) messageAction(w http.ResponseWriter, r *http.Request, session *service.WebSession) error {
	id, ok := s.pathID(w, r)
	if !ok || !s.messageChangeAllowed(w, r, session) {
		return nil
	}
	back := safeMessagesBack(formValue(r, "back"))
	action := formValue(r, "action")
	flash, known := messageActions[action]
	if !known {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return nil
	}
	if action == service.ActionDelete && formValue(r, "confirm") != "yes" {
		s.confirmDeleteMessages(w, r, session, service.MessageSelection{IDs: []int64{id}}, nil, back, messageURL(id)+"/action")
		return nil
	}
	// A message the reader may not see is not found, as on its view.
	if _, err := s.svc.MessageSummary(r.Context(), session.Actor, id); err != nil {
		return err
	}
	done, err := s.applyMessageAction(r, session.Actor, service.MessageSelection{IDs: []int64{id}}, action)
	if err != nil {
		return err
	}
	if action == service.ActionApplyRules {
		flash = "flash.rule_matched"
		if done == 0 {
			flash = "flash.rule_not_matched"
		}
	}
	if strings.HasPrefix(back, "/messages/") && (action == service.ActionDelete || action == service.ActionUnread) {
		if parsed, err := url.Parse(back); err == nil {
			back = listBack(parsed.Query().Get("back"))
		} else {
			back = "/messages"
		}
	}
	s.flash(w, r, flash)
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// spamStatusText names a message's spam flag.
func spamStatusText(lang, spam string) string {
	switch spam {
	case "yes", "no":
		return i18n.Default.T(lang, "messages.spam."+spam)
	}
	return i18n.Default.T(lang, "messages.spam.unknown")
}
