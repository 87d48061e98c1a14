package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Message is a stored message: its parsed fields and flags. The raw source
// and attachment bodies are read separately.
type Message struct {
	ID              int64
	MailboxID       int64
	MessageID       string
	InReplyTo       string
	References      []string
	ThreadID        int64
	Subject         string
	From            string
	ReplyTo         string
	To              string
	Cc              string
	Bcc             string
	Date            time.Time
	ReceivedAt      time.Time
	Size            int64
	Priority        int
	RawSHA256       string
	Read            bool
	Spam            string // "unknown", "yes" or "no"
	SpamRating      *int
	SpamWords       string
	ParseErrors     []string
	AttachmentCount int
	// Snippet is the start of the text body for the message list
	// ([Snippet]); made at insert when left empty.
	Snippet     string
	HasSource   bool // the exact source is kept (else only its Content)
	MailboxName string
}

// Attachment is a part of a message kept apart from its text.
// AttachmentCount counts the files attached to a message: its parts but
// the inline images of its HTML (an image with a Content-ID), which are
// part of the text as the reader sees it, not files sent with it. Counted
// so since issue 16; messages stored before count their inline images too.
func AttachmentCount(attachments []Attachment) int {
	n := 0
	for _, a := range attachments {
		if a.ContentID != "" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.ContentType)), "image/") {
			continue
		}
		n++
	}
	return n
}

// Attachment is a part of a message kept apart from its text: a file, or an
// inline image.
type Attachment struct {
	ID          int64
	MessageID   int64
	Filename    string
	ContentType string
	Size        int64
	ContentID   string
	Dropped     bool   // the body was not kept (too large, or attachments are not saved)
	Data        []byte // only when asked for and kept
	// Body, set on a new attachment instead of Data, gives its bytes as a
	// stream (a large attachment read from a spool file); the store
	// writes it in chunks and never holds it whole.
	Body func() io.Reader
}

// Content is a message's header block, text and HTML (unsanitised), as the
// parser gives them. The store keeps it only for messages whose source is
// not kept; otherwise it is read from the source when the message is
// shown, so that the text is not on disk twice.
type Content struct {
	Header string `json:"header"`
	Text   string `json:"text"`
	HTML   string `json:"html"`
}

// UID is a message's identity on the server it was fetched from: a POP3
// UIDL (Folder "") or an IMAP UID in a folder.
type UID struct {
	Folder string
	UID    string
}

// NewMessage is what [Store.InsertMessage] stores.
type NewMessage struct {
	Message
	// Content's Text is also what the full-text index reads; all of it is
	// stored only when the source is not.
	Content
	Raw        []byte // the exact source; kept compressed when SaveSource
	SaveSource bool
	// CompressedSource, set instead of Raw for a large message, gives its
	// source as compressed by [SourceWriter] (a spool file), read in
	// chunks inside the insert's transaction. RawSHA256 must then be set
	// by the caller.
	CompressedSource func() (io.Reader, error)
	Attachments      []Attachment
	UID              *UID // recorded in the same transaction, when the message was fetched
	// Jobs are follow-up work on the message, written in its transaction
	// with its ID and mailbox; none for a duplicate.
	Jobs []NewJob
	// Dropped marks a message that is stored nowhere (a judge refused it):
	// only its UID is recorded, with no message, so that a fetcher does not
	// fetch it again. Nothing else of it is written: no row, source,
	// count, index entry or job; only its UID's text is checked.
	Dropped bool

	compressed []byte       // the source, compressed by CompressSource
	search     *searchEntry // the full-text entry, by PrepareSearch
}

const messageColumns = `m.id, m.mailbox_id, m.message_id, m.in_reply_to, m.refs, m.thread_id, m.subject, m.from_addr, m.reply_to,
	m.to_addr, m.cc, m.bcc, m.date, m.received_at, m.size, m.priority, m.raw_sha256, m.is_read, m.spam, m.spam_rating,
	m.spam_words, m.parse_errors, m.attachment_count, m.snippet, COALESCE((SELECT name FROM mailboxes WHERE id = m.mailbox_id), '')`

func scanMessage(row interface{ Scan(...any) error }, full bool, extra ...any) (Message, error) {
	var m Message
	var refs, parseErrors string
	var thread, rating sql.NullInt64
	var date, received int64
	dest := []any{&m.ID, &m.MailboxID, &m.MessageID, &m.InReplyTo, &refs, &thread, &m.Subject, &m.From, &m.ReplyTo,
		&m.To, &m.Cc, &m.Bcc, &date, &received, &m.Size, &m.Priority, &m.RawSHA256, &m.Read, &m.Spam, &rating,
		&m.SpamWords, &parseErrors, &m.AttachmentCount, &m.Snippet, &m.MailboxName}
	if full {
		dest = append(dest, &m.HasSource)
	}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return m, mapError(err)
	}
	m.References = strings.Fields(refs)
	if parseErrors != "" {
		m.ParseErrors = strings.Split(parseErrors, "\n")
	}
	m.ThreadID, m.Date, m.ReceivedAt = thread.Int64, fromMicros(date), fromMicros(received)
	if rating.Valid {
		value := int(rating.Int64)
		m.SpamRating = &value
	}
	return m, nil
}

// MessageByID gives a message's fields (its text is read from its source:
// [Store.OpenSource], or for a message whose source was not kept
// [Store.MessageContent]).
func (s *Store) MessageByID(ctx context.Context, id int64) (Message, error) {
	m, err := scanMessage(s.queryRow(ctx, `SELECT `+messageColumns+`,
		EXISTS (SELECT 1 FROM message_sources WHERE message_id = m.id AND kind = 'source') FROM messages m WHERE m.id = ?`, id), true)
	if err != nil {
		return m, fmt.Errorf("message %d: %w", id, err)
	}
	return m, nil
}

// MessageSource gives the exact raw source of a message, or ErrNotFound when
// it was not kept. It holds the whole source in memory: for a message that
// may be large, use [Store.OpenSource].
func (s *Store) MessageSource(ctx context.Context, id int64) ([]byte, error) {
	source, err := s.OpenSource(ctx, id)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	raw, err := io.ReadAll(source)
	if err != nil {
		return nil, fmt.Errorf("source of message %d: %w", id, err)
	}
	return raw, nil
}

// OpenSource streams the exact raw source of a message, or gives
// ErrNotFound when it was not kept. A small source is decompressed at once;
// a large one is read and decompressed a chunk at a time.
func (s *Store) OpenSource(ctx context.Context, id int64) (io.ReadCloser, error) {
	var compression string
	var data []byte
	var chunks int
	err := s.queryRow(ctx, `SELECT compression, data, chunks FROM message_sources WHERE message_id = ? AND kind = 'source'`, id).Scan(&compression, &data, &chunks)
	if err != nil {
		return nil, fmt.Errorf("source of message %d: %w", id, mapError(err))
	}
	var compressed io.Reader = bytes.NewReader(data)
	if chunks > 1 {
		compressed = io.MultiReader(compressed, &chunkReader{ctx: ctx, store: s, kind: sourceBlobs, owner: id, chunks: chunks, next: 1})
	}
	switch compression {
	case "":
		return io.NopCloser(compressed), nil
	case "zstd":
		if chunks == 1 {
			raw, err := sourceDecoder.DecodeAll(data, nil)
			if err != nil {
				return nil, fmt.Errorf("source of message %d: %w", id, err)
			}
			return io.NopCloser(bytes.NewReader(raw)), nil
		}
		decoder, err := zstd.NewReader(compressed, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("source of message %d: %w", id, err)
		}
		return decompressingReader{decoder}, nil
	}
	return nil, fmt.Errorf("source of message %d: unknown compression %q", id, compression)
}

// MessageContent gives the header, text and HTML kept for a message whose
// source was not kept, or ErrNotFound (then they are in its source).
func (s *Store) MessageContent(ctx context.Context, id int64) (Content, error) {
	var compression string
	var data []byte
	err := s.queryRow(ctx, `SELECT compression, data FROM message_sources WHERE message_id = ? AND kind = 'text'`, id).Scan(&compression, &data)
	if err != nil {
		return Content{}, fmt.Errorf("content of message %d: %w", id, mapError(err))
	}
	if compression == "zstd" {
		if data, err = sourceDecoder.DecodeAll(data, nil); err != nil {
			return Content{}, fmt.Errorf("content of message %d: %w", id, err)
		}
	}
	var content Content
	if err := json.Unmarshal(data, &content); err != nil {
		return Content{}, fmt.Errorf("content of message %d: %w", id, err)
	}
	return content, nil
}

// Attachments lists a message's attachments without their bodies.
func (s *Store) Attachments(ctx context.Context, messageID int64) ([]Attachment, error) {
	rows, err := s.query(ctx, `SELECT id, message_id, filename, content_type, size, content_id, dropped FROM attachments WHERE message_id = ? ORDER BY id`, messageID)
	if err != nil {
		return nil, fmt.Errorf("attachments of message %d: %w", messageID, err)
	}
	defer rows.Close()
	list := []Attachment{}
	for rows.Next() {
		var a Attachment
		if err := rows.Scan(&a.ID, &a.MessageID, &a.Filename, &a.ContentType, &a.Size, &a.ContentID, &a.Dropped); err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, rows.Err()
}

// AttachmentData gives one attachment with its body, whole in memory: for
// one that may be large, use [Store.OpenAttachment].
func (s *Store) AttachmentData(ctx context.Context, messageID, attachmentID int64) (Attachment, error) {
	a, body, err := s.OpenAttachment(ctx, messageID, attachmentID)
	if err != nil {
		return a, err
	}
	if body == nil {
		return a, nil
	}
	defer body.Close()
	if a.Data, err = io.ReadAll(body); err != nil {
		return a, fmt.Errorf("attachment %d of message %d: %w", attachmentID, messageID, err)
	}
	return a, nil
}

// OpenAttachment gives one attachment and a stream of its body (nil when
// the body was not kept), read a chunk at a time.
func (s *Store) OpenAttachment(ctx context.Context, messageID, attachmentID int64) (Attachment, io.ReadCloser, error) {
	var a Attachment
	var data []byte
	var chunks int
	err := s.queryRow(ctx, `SELECT id, message_id, filename, content_type, size, content_id, dropped, data, chunks FROM attachments WHERE id = ? AND message_id = ?`,
		attachmentID, messageID).Scan(&a.ID, &a.MessageID, &a.Filename, &a.ContentType, &a.Size, &a.ContentID, &a.Dropped, &data, &chunks)
	if err != nil {
		return a, nil, fmt.Errorf("attachment %d of message %d: %w", attachmentID, messageID, mapError(err))
	}
	if a.Dropped || data == nil {
		return a, nil, nil
	}
	var body io.Reader = bytes.NewReader(data)
	if chunks > 1 {
		body = io.MultiReader(body, &chunkReader{ctx: ctx, store: s, kind: attachmentBlobs, owner: a.ID, chunks: chunks, next: 1})
	}
	return a, io.NopCloser(body), nil
}

// SetMessagesRead marks messages read or unread.
func (s *Store) SetMessagesRead(ctx context.Context, ids []int64, read bool) error {
	if len(ids) == 0 {
		return nil
	}
	ids64 := make([]any, len(ids))
	for i, id := range ids {
		ids64[i] = id
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The messages whose flag changes move between read and unread.
		changing, err := s.countsOf(ctx, tx, ids64, "is_read <> ?", read)
		if err != nil {
			return err
		}
		for _, c := range changing {
			c.unread, c.total = c.total, 0
			if read {
				c.unread = -c.unread
			}
		}
		if _, err := s.execOn(ctx, tx, `UPDATE messages SET is_read = ? WHERE id IN (`+placeholders(len(ids))+`)`, append([]any{read}, ids64...)...); err != nil {
			return err
		}
		return s.adjustCounts(ctx, tx, changing)
	})
	return mapError(err)
}

// DeleteMessages removes messages with their sources, attachments and index
// entries, in one transaction. A message of an IMAP mailbox leaves a
// tombstone (its content hash, so that the sync never imports it again)
// and its server UIDs marked deleted (for "delete on the server too").
func (s *Store) DeleteMessages(ctx context.Context, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var deleted int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.tombstone(ctx, tx, args); err != nil {
			return err
		}
		var err error
		deleted, err = s.deleteMessagesOn(ctx, tx, args)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete messages: %w", err)
	}
	return deleted, nil
}

// deleteMessagesOn deletes messages in a transaction, keeping the
// mailboxes' counts and the SQLite index in step.
func (s *Store) deleteMessagesOn(ctx context.Context, tx *sql.Tx, args []any) (int64, error) {
	gone, err := s.countsOf(ctx, tx, args, "")
	if err != nil {
		return 0, err
	}
	for _, c := range gone {
		c.total, c.unread = -c.total, -c.unread
	}
	if err := s.adjustCounts(ctx, tx, gone); err != nil {
		return 0, err
	}
	if err := s.deleteSearchRows(ctx, tx, placeholders(len(args)), args...); err != nil {
		return 0, err
	}
	result, err := s.execOn(ctx, tx, `DELETE FROM messages WHERE id IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return 0, err
	}
	return result.RowsAffected()
}

// SetMessagesSpam sets the spam flag ("yes", "no" or "unknown") of messages.
func (s *Store) SetMessagesSpam(ctx context.Context, ids []int64, spam string) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{spam}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := s.exec(ctx, `UPDATE messages SET spam = ? WHERE id IN (`+placeholders(len(ids))+`)`, args...)
	return mapError(err)
}
