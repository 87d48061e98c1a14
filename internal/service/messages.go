package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"pochta.dev/pochta/internal/htmlsafe"
	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// AttachmentView is an attachment as the front ends show it.
type AttachmentView struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	ContentID   string `json:"content_id"`
	Dropped     bool   `json:"dropped"`
}

// MessageView is a message as API.md "message" names it. In lists, Text,
// HTML and Header are left empty (GET one message for them).
type MessageView struct {
	ID            int64            `json:"id"`
	MailboxID     int64            `json:"mailbox_id"`
	MailboxName   string           `json:"mailbox_name"`
	MessageID     string           `json:"message_id"`
	InReplyTo     string           `json:"in_reply_to"`
	References    []string         `json:"references"`
	ThreadID      int64            `json:"thread_id"`
	Subject       string           `json:"subject"`
	From          string           `json:"from"`
	ReplyTo       string           `json:"reply_to"`
	To            string           `json:"to"`
	Cc            string           `json:"cc"`
	Bcc           string           `json:"bcc"`
	Date          time.Time        `json:"date"`
	ReceivedAt    time.Time        `json:"received_at"`
	Size          int64            `json:"size"`
	Priority      int              `json:"priority"`
	Header        string           `json:"header,omitempty"`
	Text          string           `json:"text"`
	Snippet       string           `json:"snippet"` // the start of the text, as the message list shows it
	HTML          string           `json:"html"`
	RemoteBlocked int              `json:"remote_images_blocked"`
	Read          bool             `json:"read"`
	Spam          string           `json:"spam"`
	SpamRating    *int             `json:"spam_rating"`
	SpamWords     string           `json:"spam_words"`
	Attachments   []AttachmentView `json:"attachments"`
	AttachmentN   int              `json:"attachment_count"`
	ParseErrors   []string         `json:"parse_errors"`
	HasSource     bool             `json:"has_source"`
}

func messageView(m store.Message) MessageView {
	view := MessageView{ID: m.ID, MailboxID: m.MailboxID, MailboxName: m.MailboxName, MessageID: m.MessageID, InReplyTo: m.InReplyTo,
		References: m.References, ThreadID: m.ThreadID, Subject: m.Subject, From: m.From, ReplyTo: m.ReplyTo, To: m.To, Cc: m.Cc,
		Bcc: m.Bcc, Date: m.Date, ReceivedAt: m.ReceivedAt, Size: m.Size, Priority: m.Priority, Read: m.Read, Spam: m.Spam,
		SpamRating: m.SpamRating, SpamWords: m.SpamWords, AttachmentN: m.AttachmentCount, Snippet: m.Snippet, ParseErrors: m.ParseErrors,
		HasSource: m.HasSource, Attachments: []AttachmentView{}}
	if view.References == nil {
		view.References = []string{}
	}
	if view.ParseErrors == nil {
		view.ParseErrors = []string{}
	}
	return view
}

// visibleMailboxes gives the mailboxes an actor may read messages of: nil
// for all (admins, auditors), else the user's own.
func (s *Service) visibleMailboxes(ctx context.Context, actor *Actor) ([]int64, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	if actor.CanReadAll() {
		return nil, nil
	}
	owned, err := s.store.OwnedMailboxIDs(ctx, actor.User.ID)
	if owned == nil {
		owned = []int64{}
	}
	return owned, err
}

// restrict narrows filter.MailboxIDs to what the actor may see, and reads
// the search's dates in the actor's zone unless the filter names one.
func (s *Service) restrict(ctx context.Context, actor *Actor, filter *store.MessageFilter) error {
	if actor != nil && filter.Location == nil && strings.Contains(filter.Query, ":") {
		// The search's before: and after: name days of the reader's
		// calendar, as the web admin's date filters do.
		filter.Location = s.UserLocation(ctx, actor.User)
	}
	visible, err := s.visibleMailboxes(ctx, actor)
	if err != nil || visible == nil {
		return err
	}
	if filter.MailboxIDs == nil {
		filter.MailboxIDs = visible
		return nil
	}
	allowed := map[int64]bool{}
	for _, id := range visible {
		allowed[id] = true
	}
	kept := []int64{}
	for _, id := range filter.MailboxIDs {
		if allowed[id] {
			kept = append(kept, id)
		}
	}
	filter.MailboxIDs = kept
	return nil
}

// MessagePage is a page of messages.
type MessagePage struct {
	Items      []MessageView `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

// Messages lists messages the actor may read, newest first by default.
func (s *Service) Messages(ctx context.Context, actor *Actor, filter store.MessageFilter, order store.MessageSort, cursor string, limit int) (MessagePage, error) {
	if err := s.restrict(ctx, actor, &filter); err != nil {
		return MessagePage{}, err
	}
	if cursor == "" {
		s.wakeOwnMailboxes(ctx, actor, filter.MailboxIDs)
	}
	page, err := s.store.Messages(ctx, filter, order, cursor, limit)
	if err != nil {
		return MessagePage{}, err
	}
	out := MessagePage{Items: make([]MessageView, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, m := range page.Items {
		out.Items = append(out.Items, messageView(m))
	}
	return out, nil
}

// wakeOwnMailboxes asks the IMAP sync to sync at once the actor's own
// mailboxes among ids (all of theirs when ids is empty): the owner opened
// them (SPEC.md "Receiving > IMAP user mailboxes": at once when the owner
// opens the mailbox). Only the first page of a list counts as opening.
func (s *Service) wakeOwnMailboxes(ctx context.Context, actor *Actor, ids []int64) {
	waker, ok := s.receiver(store.MailboxIMAP).(receive.Waker)
	if !ok || actor.User.ID == 0 {
		return
	}
	owned, err := s.store.OwnedMailboxIDs(ctx, actor.User.ID)
	if err != nil {
		s.logger.Warn("own mailboxes to sync", "user", actor.User.Login, "error", err)
		return
	}
	for _, id := range owned {
		if len(ids) == 0 || containsID(ids, id) {
			waker.Wake(id)
		}
	}
}

// message finds a message the actor may read.
func (s *Service) message(ctx context.Context, actor *Actor, id int64) (store.Message, error) {
	m, err := s.store.MessageByID(ctx, id)
	if err != nil {
		return m, wrapNotFound("message", err)
	}
	visible, err := s.visibleMailboxes(ctx, actor)
	if err != nil {
		return m, err
	}
	if visible != nil && !containsID(visible, m.MailboxID) {
		return store.Message{}, fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	return m, nil
}

func containsID(ids []int64, id int64) bool {
	for _, candidate := range ids {
		if candidate == id {
			return true
		}
	}
	return false
}

// MessageSummary gives one message's fields, as in a list row, without
// reading its source: for checking that the actor may see it, and for
// confirmation pages. [Service.Message] parses the source for the view.
func (s *Service) MessageSummary(ctx context.Context, actor *Actor, id int64) (MessageView, error) {
	m, err := s.message(ctx, actor, id)
	if err != nil {
		return MessageView{}, err
	}
	return messageView(m), nil
}

// MessageOptions say how to show one message.
type MessageOptions struct {
	MarkRead    bool // opening in the web admin marks it read (not for auditors)
	AllowRemote bool // the reader asked for remote images
	// CIDURL gives the URL that serves an attachment by its ID, for cid:
	// images in the HTML; nil leaves them blank.
	CIDURL func(attachmentID int64) string
}

// Message gives one message with its header, text, sanitised HTML and
// attachments.
func (s *Service) Message(ctx context.Context, actor *Actor, id int64, options MessageOptions) (MessageView, error) {
	m, err := s.message(ctx, actor, id)
	if err != nil {
		return MessageView{}, err
	}
	if options.MarkRead && !m.Read && actor.CanChangeMail() {
		if err := s.store.SetMessagesRead(ctx, []int64{id}, true); err != nil {
			return MessageView{}, err
		}
		m.Read = true
	}
	attachments, err := s.store.Attachments(ctx, id)
	if err != nil {
		return MessageView{}, err
	}
	content, err := s.messageContent(ctx, m)
	if err != nil {
		return MessageView{}, err
	}
	view := messageView(m)
	view.Header, view.Text = content.Header, content.Text
	byCID := map[string]int64{}
	for _, a := range attachments {
		view.Attachments = append(view.Attachments, AttachmentView{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, ContentID: a.ContentID, Dropped: a.Dropped})
		if a.ContentID != "" && !a.Dropped {
			byCID[a.ContentID] = a.ID
		}
	}
	if content.HTML != "" {
		safe := htmlsafe.Sanitize(content.HTML, htmlsafe.Options{AllowRemote: options.AllowRemote, CID: func(contentID string) string {
			if attachment, ok := byCID[contentID]; ok && options.CIDURL != nil {
				return options.CIDURL(attachment)
			}
			return ""
		}})
		view.HTML, view.RemoteBlocked = safe.HTML, safe.RemoteBlocked
	}
	return view, nil
}

// MessageNeighbours gives the IDs of the messages before and after message
// id in a list with filter and order (0 where there is none), for the
// view's previous and next links.
func (s *Service) MessageNeighbours(ctx context.Context, actor *Actor, id int64, filter store.MessageFilter, order store.MessageSort) (previous, next int64, err error) {
	m, err := s.message(ctx, actor, id)
	if err != nil {
		return 0, 0, err
	}
	if err := s.restrict(ctx, actor, &filter); err != nil {
		return 0, 0, err
	}
	cursor := store.MessageCursor(m, order.Column)
	after, err := s.store.Messages(ctx, filter, order, cursor, 1)
	if err != nil {
		return 0, 0, err
	}
	if len(after.Items) > 0 {
		next = after.Items[0].ID
	}
	reverse := store.MessageSort{Column: order.Column, Ascending: !order.Ascending}
	before, err := s.store.Messages(ctx, filter, reverse, cursor, 1)
	if err != nil {
		return 0, 0, err
	}
	if len(before.Items) > 0 {
		previous = before.Items[0].ID
	}
	return previous, next, nil
}

// messageContent reads a message's header, text and HTML: from its source,
// parsed again with its mailbox's charset (so that a corrected charset
// setting shows old mail right), or, when the source was not kept, as
// stored. A large source is spooled to a file and parsed from there.
func (s *Service) messageContent(ctx context.Context, m store.Message) (store.Content, error) {
	if !m.HasSource {
		content, err := s.store.MessageContent(ctx, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			return store.Content{}, nil
		}
		return content, err
	}
	charset, err := s.store.MailboxCharset(ctx, m.MailboxID)
	if err != nil {
		return store.Content{}, err
	}
	source, err := s.store.OpenSource(ctx, m.ID)
	if err != nil {
		return store.Content{}, err
	}
	defer source.Close()
	var parsed *mime.Message
	if m.Size <= intake.MaxInMemory {
		raw, err := io.ReadAll(source)
		if err != nil {
			return store.Content{}, fmt.Errorf("message %d: %w", m.ID, err)
		}
		parsed = mime.Parse(raw, mime.Options{FallbackCharset: charset})
	} else {
		spool, err := intake.NewSpool(source, s.tempDir, false)
		if err != nil {
			return store.Content{}, fmt.Errorf("message %d: %w", m.ID, err)
		}
		defer spool.Close()
		if parsed, err = spool.Parse(charset); err != nil {
			return store.Content{}, fmt.Errorf("message %d: %w", m.ID, err)
		}
	}
	return store.Content{Header: parsed.HeaderText, Text: parsed.Text, HTML: parsed.HTML}, nil
}

// MessageSource gives the exact source of a message the actor may read, as
// a stream (a source may be large), with its size.
func (s *Service) MessageSource(ctx context.Context, actor *Actor, id int64) (io.ReadCloser, int64, error) {
	m, err := s.message(ctx, actor, id)
	if err != nil {
		return nil, 0, err
	}
	source, err := s.store.OpenSource(ctx, id)
	if err != nil {
		return nil, 0, wrapNotFound("message source", err)
	}
	return source, m.Size, nil
}

// MessageAttachment gives one attachment and a stream of its bytes.
func (s *Service) MessageAttachment(ctx context.Context, actor *Actor, messageID, attachmentID int64) (store.Attachment, io.ReadCloser, error) {
	if _, err := s.message(ctx, actor, messageID); err != nil {
		return store.Attachment{}, nil, err
	}
	a, body, err := s.store.OpenAttachment(ctx, messageID, attachmentID)
	if err != nil {
		return a, nil, wrapNotFound("attachment", err)
	}
	if a.Dropped || body == nil {
		return a, nil, fmt.Errorf("attachment %d was not kept: %w", attachmentID, ErrNotFound)
	}
	return a, body, nil
}

// Message actions (API.md "message actions").
const (
	ActionRead       = "read"
	ActionUnread     = "unread"
	ActionSpam       = "spam"
	ActionNotSpam    = "not_spam"
	ActionDelete     = "delete"
	ActionApplyRules = "apply_rules"
)

// MessageSelection names the messages of an action: IDs, or everything a
// filter matches (as the actor sees them).
type MessageSelection struct {
	IDs    []int64
	Filter *store.MessageFilter
}

// MessageAction changes the selected messages: read, unread, spam,
// not_spam or delete. Auditors may not; a user only in their own mailboxes.
// It reports how many messages it changed.
func (s *Service) MessageAction(ctx context.Context, actor *Actor, selection MessageSelection, action string) (int, error) {
	if !actor.CanChangeMail() {
		return 0, ErrForbidden
	}
	switch action {
	case ActionRead, ActionUnread, ActionSpam, ActionNotSpam, ActionDelete:
	case ActionApplyRules:
		return s.ApplyRules(ctx, actor, selection, 0)
	default:
		return 0, &ValidationError{Fields: map[string]i18n.Message{"action": i18n.M("error.invalid", i18n.Key("field.action"))}}
	}
	filter := store.MessageFilter{IDs: selection.IDs}
	if selection.Filter != nil {
		filter = *selection.Filter
	} else if len(selection.IDs) == 0 {
		return 0, nil
	}
	if err := s.restrict(ctx, actor, &filter); err != nil {
		return 0, err
	}
	done := 0
	cursor := ""
	for {
		page, err := s.store.Messages(ctx, filter, store.MessageSort{Column: "id", Ascending: true}, cursor, 500)
		if err != nil {
			return done, err
		}
		ids := make([]int64, 0, len(page.Items))
		for _, m := range page.Items {
			ids = append(ids, m.ID)
		}
		switch action {
		case ActionRead, ActionUnread:
			err = s.store.SetMessagesRead(ctx, ids, action == ActionRead)
		case ActionSpam, ActionNotSpam:
			// Each message trains the filter (SPEC.md: "spam / not spam"
			// in the list and the view), its counts moved once however
			// often it is marked.
			class := spam.Ham
			if action == ActionSpam {
				class = spam.Spam
			}
			for _, m := range page.Items {
				if err = s.markSpam(ctx, m, nil, class); err != nil {
					break
				}
			}
		case ActionDelete:
			_, err = s.store.DeleteMessages(ctx, ids)
		}
		if err != nil {
			return done, err
		}
		done += len(ids)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	s.audit(ctx, actor, "messages "+action, "ids", selection.IDs, "all", selection.Filter != nil, "done", done)
	return done, nil
}

// RunRetention deletes, in every mailbox with "delete messages older than N
// days", the messages received before then, and logs what it deleted.
func (s *Service) RunRetention(ctx context.Context) error {
	mailboxes, err := s.store.MailboxesWithRetention(ctx)
	if err != nil {
		return err
	}
	for _, m := range mailboxes {
		before := s.now().AddDate(0, 0, -m.KeepDays)
		deleted := 0
		for {
			ids, err := s.store.MessagesOlderThan(ctx, m.ID, before, 500)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			if _, err := s.store.DeleteMessages(ctx, ids); err != nil {
				return err
			}
			deleted += len(ids)
		}
		if deleted > 0 {
			s.log.Record(ctx, worklog.Say(store.LogEntry{Level: store.LevelInfo, Type: "retention", MailboxID: m.ID},
				worklog.Part("log.retention", deleted, m.KeepDays)))
		}
	}
	return nil
}
