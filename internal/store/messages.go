package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

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
	HasSource       bool // the exact source is kept (else only its Content)
	MailboxName     string
}

// Attachment is a part of a message kept apart from its text.
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

	compressed []byte  // the source, compressed by CompressSource
	searchBody *string // the body as the SQLite full-text index takes it, by PrepareSearch
}

// PrepareSearch readies the body's text for the full-text index ahead of
// the insert, like CompressSource, so that a bulk importer does it on its
// parsing goroutines rather than inside the insert's transaction.
func (m *NewMessage) PrepareSearch() {
	if m.searchBody == nil {
		body := distinctPieces(indexedText(m.Text))
		m.searchBody = &body
	}
}

// searchText is the body as the full-text index takes it: each piece once
// (see distinctPieces; PostgreSQL's vector keeps no count either).
func (m *NewMessage) searchText() string {
	m.PrepareSearch()
	return *m.searchBody
}

// CompressSource compresses the source ahead of the insert, so that a bulk
// importer can do it on its parsing goroutines rather than inside the
// insert's transaction. InsertMessages does it for messages not done yet.
func (m *NewMessage) CompressSource() {
	if m.SaveSource && m.compressed == nil && m.CompressedSource == nil {
		// Mail text compresses to about a third; a large message is
		// mostly base64 attachments, which compress to about 3/4, and
		// growing the buffer by doubling would hold twice that.
		capacity := len(m.Raw)/3 + 64
		if len(m.Raw) > 1<<20 {
			capacity = len(m.Raw) * 4 / 5
		}
		m.compressed = sourceEncoder.EncodeAll(m.Raw, make([]byte, 0, capacity))
	}
}

// sourceLevel is the zstd level of stored sources. The fastest level costs
// a fifth less time a message than the default (22 against 28 us for 4 KB
// of mail, a third of preparing it for storage) for 2% more bytes (0.398
// of the source against 0.390).
const sourceLevel = zstd.SpeedFastest

// sourceEncoderOptions are the zstd settings of stored sources. Entropy
// coding of literals even where no repeats were found is what makes
// base64 attachments (most of a large message) compress to about 3/4: at
// the default level zstd would store them as they are.
func sourceEncoderOptions() []zstd.EOption {
	return []zstd.EOption{zstd.WithEncoderLevel(sourceLevel), zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true)}
}

// zstd coders are safe for concurrent EncodeAll/DecodeAll and costly to make.
var (
	sourceEncoder, _ = zstd.NewWriter(nil, sourceEncoderOptions()...)
	sourceDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(2<<30))
)

// RawHash is the duplicate key of a raw source.
func RawHash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// maxIndexedText is how much of a body the full-text index takes: a
// PostgreSQL tsvector holds at most 1 MB, and the start of a message is
// what people search for.
const maxIndexedText = 256 << 10

func indexedText(text string) string {
	if len(text) <= maxIndexedText {
		return text
	}
	return strings.ToValidUTF8(text[:maxIndexedText], "")
}

// senderText and recipientText are what the full-text index holds of a
// message's addresses: the sender (from, reply-to) and the recipients (to,
// cc, bcc), apart, for the list's "from" and "to" filters.
func senderText(m *Message) string { return m.From + " " + m.ReplyTo }

func recipientText(m *Message) string { return strings.Join([]string{m.To, m.Cc, m.Bcc}, " ") }

// InsertMessage stores a message, its source, attachments and full-text
// entry, and its server UID, in one transaction: when it returns nil, all of
// it is durable. A byte-identical source already in the same mailbox is not
// stored again: the existing message's ID comes back with duplicate true
// (and the UID is still recorded, so that a fetcher skips it next time).
func (s *Store) InsertMessage(ctx context.Context, m *NewMessage) (id int64, duplicate bool, err error) {
	results, err := s.InsertMessages(ctx, []*NewMessage{m})
	if err != nil {
		return 0, false, err
	}
	if results[0].Err != nil {
		return 0, false, results[0].Err
	}
	return results[0].ID, results[0].Duplicate, nil
}

// InsertResult is what [Store.InsertMessages] did with one message.
type InsertResult struct {
	ID        int64
	Duplicate bool
	// Err is set when this message alone was refused before the
	// transaction (ErrInvalidText); the others of the batch are stored.
	Err error
}

// InsertMessages stores a batch of messages in one transaction, each as
// [Store.InsertMessage] would: a byte-identical source already in the same
// mailbox, or earlier in the same batch, is a duplicate, and UIDs are
// recorded. When it returns a nil error every message whose result has no
// Err is durable; when it returns an error, none of the batch is stored.
// One commit for many messages is what makes a bulk import fast: with
// synchronous=FULL each commit waits for the disk.
func (s *Store) InsertMessages(ctx context.Context, ms []*NewMessage) ([]InsertResult, error) {
	return s.InsertMessagesLogged(ctx, ms, nil)
}

// InsertMessagesLogged is [Store.InsertMessages] that also writes the work
// log lines that log makes of the results, in the same transaction: one
// commit (one disk sync) for a batch and its log rather than two.
func (s *Store) InsertMessagesLogged(ctx context.Context, ms []*NewMessage, log func([]InsertResult) []LogEntry) ([]InsertResult, error) {
	results := make([]InsertResult, len(ms))
	for i, m := range ms {
		if err := s.prepareMessage(m); err != nil {
			results[i].Err = fmt.Errorf("insert message into mailbox %d: %w", m.MailboxID, err)
			continue
		}
		m.CompressSource()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		statements := &messageStatements{store: s, tx: tx, uids: map[uidKey]int64{}, added: map[int64]*mailboxCounts{}}
		defer statements.close()
		if s.dialect == SQLite && len(ms) > 1 {
			if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -65536`); err != nil {
				return err
			}
		}
		if err := statements.loadHashes(ctx, ms, results); err != nil {
			return err
		}
		if err := statements.reserveIDs(ctx, ms, results); err != nil {
			return err
		}
		for i, m := range ms {
			if results[i].Err != nil {
				continue
			}
			id, duplicate, err := s.insertOne(ctx, statements, m, m.compressed)
			if err != nil {
				return err
			}
			results[i].ID, results[i].Duplicate = id, duplicate
		}
		if err := statements.writeRows(ctx); err != nil {
			return err
		}
		if err := s.adjustCounts(ctx, tx, statements.added); err != nil {
			return err
		}
		if log != nil {
			if err := s.insertLog(ctx, tx, log(results)); err != nil {
				return err
			}
		}
		// The full-text rows last: any other statement after them would
		// make FTS5 write its pending terms as a segment of their own.
		return s.indexBatch(ctx, statements)
	})
	if err != nil {
		mailbox := int64(0)
		if len(ms) > 0 {
			mailbox = ms[0].MailboxID
		}
		return nil, fmt.Errorf("insert messages into mailbox %d: %w", mailbox, mapError(err))
	}
	for i, m := range ms {
		if results[i].Err == nil {
			m.ID = results[i].ID
		}
	}
	return results, nil
}

// prepareMessage fills defaults and refuses text the backends would not
// store alike.
func (s *Store) prepareMessage(m *NewMessage) error {
	if m.RawSHA256 == "" {
		m.RawSHA256 = RawHash(m.Raw)
	}
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = s.clock()
	}
	if m.Date.IsZero() {
		m.Date = m.ReceivedAt
	}
	if m.Spam == "" {
		m.Spam = "unknown"
	}
	if m.Priority == 0 {
		m.Priority = 3
	}
	texts := []any{m.MessageID, m.InReplyTo, strings.Join(m.References, " "), m.Subject, m.From, m.ReplyTo, m.To, m.Cc, m.Bcc,
		m.Text, strings.Join(m.ParseErrors, "\n")}
	if !m.SaveSource {
		// Stored only when the source is not (the text also goes to the
		// full-text index, so it is checked either way).
		texts = append(texts, m.Header, m.HTML)
	}
	for _, a := range m.Attachments {
		texts = append(texts, a.Filename, a.ContentType, a.ContentID)
	}
	return checkText(texts)
}

// messageStatements are the statements of one insert transaction, prepared
// once for the batch.
type messageStatements struct {
	store    *Store
	tx       *sql.Tx
	prepared map[string]*sql.Stmt
	indexed  []*NewMessage // new messages whose full-text rows are still to be written
	// hashes are the sources already in the batch's mailboxes, and those the
	// batch adds: the duplicate check, with one query per batch.
	hashes map[hashKey]int64
	ids    []int64 // PostgreSQL: message IDs reserved for the batch
	// sources (message ID, compressed source pairs) and uids are written
	// many rows a statement after the batch's messages (writeRows): one
	// statement per row was a sixth of a fetch's commit.
	sources []any
	uids    map[uidKey]int64
	// added counts the batch's new messages per mailbox, for the
	// mailbox's counts.
	added map[int64]*mailboxCounts
}

// mailboxCounts is a change to a mailbox's message counts.
type mailboxCounts struct{ total, unread int64 }

// adjustCounts applies count changes to mailboxes within a transaction.
func (s *Store) adjustCounts(ctx context.Context, tx *sql.Tx, changes map[int64]*mailboxCounts) error {
	for mailbox, change := range changes {
		if change.total == 0 && change.unread == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE mailboxes SET messages_total = messages_total + ?, messages_unread = messages_unread + ? WHERE id = ?`),
			change.total, change.unread, mailbox); err != nil {
			return fmt.Errorf("mailbox counts: %w", err)
		}
	}
	return nil
}

// countsOf gives, per mailbox, how many of the messages ids (that match
// the condition, if any) there are and how many of them are unread.
func (s *Store) countsOf(ctx context.Context, tx *sql.Tx, ids []any, condition string, conditionArgs ...any) (map[int64]*mailboxCounts, error) {
	query := `SELECT mailbox_id, COUNT(*), COALESCE(SUM(CASE WHEN is_read THEN 0 ELSE 1 END), 0) FROM messages WHERE id IN (` + placeholders(len(ids)) + `)`
	if condition != "" {
		query += " AND " + condition
	}
	rows, err := tx.QueryContext(ctx, s.rebind(query+` GROUP BY mailbox_id`), append(append([]any{}, ids...), conditionArgs...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[int64]*mailboxCounts{}
	for rows.Next() {
		var mailbox int64
		c := &mailboxCounts{}
		if err := rows.Scan(&mailbox, &c.total, &c.unread); err != nil {
			return nil, err
		}
		counts[mailbox] = c
	}
	return counts, rows.Err()
}

type uidKey struct {
	mailbox int64
	uid     UID
}

// rowsPerStatement bounds the rows of one multi-row INSERT.
const rowsPerStatement = 64

// writeRows writes the sources and UIDs the batch collected.
func (p *messageStatements) writeRows(ctx context.Context) error {
	for start := 0; start < len(p.sources); start += 2 * rowsPerStatement {
		chunk := p.sources[start:min(start+2*rowsPerStatement, len(p.sources))]
		query := `INSERT INTO message_sources (message_id, kind, compression, data) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, 'source', 'zstd', ?), ", len(chunk)/2), ", ")
		if err := p.exec(ctx, query, chunk...); err != nil {
			return fmt.Errorf("insert sources: %w", err)
		}
	}
	p.sources = nil
	now := micros(p.store.clock())
	args := make([]any, 0, 5*min(len(p.uids), rowsPerStatement))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		query := `INSERT INTO mailbox_uids (mailbox_id, folder, uid, message_id, created_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(args)/5), ", ") +
			` ON CONFLICT (mailbox_id, folder, uid) DO UPDATE SET message_id = excluded.message_id`
		err := p.exec(ctx, query, args...)
		args = args[:0]
		return err
	}
	// Each UID once (a map): PostgreSQL refuses a statement that updates
	// one row twice.
	for key, id := range p.uids {
		args = append(args, key.mailbox, key.uid.Folder, key.uid.UID, id, now)
		if len(args) == 5*rowsPerStatement {
			if err := flush(); err != nil {
				return fmt.Errorf("record uids: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("record uids: %w", err)
	}
	p.uids = map[uidKey]int64{}
	return nil
}

// hashPrefix is the part of a source hash the duplicate index holds.
func hashPrefix(hash string) string { return hash[:min(len(hash), 16)] }

type hashKey struct {
	mailbox int64
	hash    string
}

// loadHashes finds which of the batch's sources its mailboxes already hold.
func (p *messageStatements) loadHashes(ctx context.Context, ms []*NewMessage, results []InsertResult) error {
	p.hashes = map[hashKey]int64{}
	wanted := map[int64][]any{}
	seen := map[hashKey]bool{}
	for i, m := range ms {
		key := hashKey{m.MailboxID, m.RawSHA256}
		if results[i].Err != nil || seen[key] {
			continue
		}
		seen[key] = true
		wanted[m.MailboxID] = append(wanted[m.MailboxID], m.RawSHA256)
	}
	for mailbox, hashes := range wanted {
		for start := 0; start < len(hashes); start += 500 {
			chunk := hashes[start:min(start+500, len(hashes))]
			// The index holds the first 16 hex digits of each hash (64
			// bits: as selective, a third of the space); the full hash
			// is compared on the rows found.
			prefixes := make([]any, len(chunk))
			for i, hash := range chunk {
				prefixes[i] = hashPrefix(hash.(string))
			}
			rows, err := p.tx.QueryContext(ctx, p.store.rebind(`SELECT raw_sha256, MIN(id) FROM messages WHERE mailbox_id = ? AND substr(raw_sha256, 1, 16) IN (`+
				placeholders(len(chunk))+`) GROUP BY raw_sha256`), append([]any{mailbox}, prefixes...)...)
			if err != nil {
				return fmt.Errorf("duplicate check: %w", err)
			}
			for rows.Next() {
				var hash string
				var id int64
				if err := rows.Scan(&hash, &id); err != nil {
					rows.Close()
					return err
				}
				if seen[hashKey{mailbox, hash}] {
					p.hashes[hashKey{mailbox, hash}] = id
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// reserveIDs takes message IDs from the PostgreSQL sequence for the batch in
// one query, so that each message is one INSERT with its thread and search
// vector rather than an INSERT and two UPDATEs.
func (p *messageStatements) reserveIDs(ctx context.Context, ms []*NewMessage, results []InsertResult) error {
	n := 0
	for i := range ms {
		if results[i].Err == nil {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if p.store.dialect == SQLite {
		// The transaction holds SQLite's write lock (BEGIN IMMEDIATE): the
		// next IDs are ours. AUTOINCREMENT never reuses an ID, so start
		// after the larger of the sequence and the largest ID.
		var last int64
		err := p.tx.QueryRowContext(ctx, `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0),
			COALESCE((SELECT MAX(id) FROM messages), 0))`).Scan(&last)
		if err != nil {
			return fmt.Errorf("reserve message ids: %w", err)
		}
		for i := range n {
			p.ids = append(p.ids, last+1+int64(i))
		}
		return nil
	}
	rows, err := p.tx.QueryContext(ctx, `SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1)`, n)
	if err != nil {
		return fmt.Errorf("reserve message ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		p.ids = append(p.ids, id)
	}
	return rows.Err()
}

func (p *messageStatements) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if stmt, ok := p.prepared[query]; ok {
		return stmt, nil
	}
	stmt, err := p.tx.PrepareContext(ctx, p.store.rebind(query))
	if err != nil {
		return nil, err
	}
	if p.prepared == nil {
		p.prepared = map[string]*sql.Stmt{}
	}
	p.prepared[query] = stmt
	return stmt, nil
}

func (p *messageStatements) exec(ctx context.Context, query string, args ...any) error {
	stmt, err := p.get(ctx, query)
	if err != nil {
		return err
	}
	_, err = stmt.ExecContext(ctx, args...)
	return err
}

func (p *messageStatements) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	stmt, err := p.get(ctx, query)
	if err != nil {
		// A *sql.Row cannot be made with an error; run it unprepared so
		// that the error surfaces from Scan.
		return p.tx.QueryRowContext(ctx, p.store.rebind(query), args...)
	}
	return stmt.QueryRowContext(ctx, args...)
}

func (p *messageStatements) close() {
	for _, stmt := range p.prepared {
		stmt.Close()
	}
}

func (s *Store) insertOne(ctx context.Context, tx *messageStatements, m *NewMessage, compressed []byte) (id int64, duplicate bool, err error) {
	key := hashKey{m.MailboxID, m.RawSHA256}
	if known, ok := tx.hashes[key]; ok {
		id, duplicate = known, true
	} else {
		if id, err = s.insertMessageRows(ctx, tx, m, compressed); err != nil {
			return 0, false, err
		}
		tx.hashes[key] = id
		counts := tx.added[m.MailboxID]
		if counts == nil {
			counts = &mailboxCounts{}
			tx.added[m.MailboxID] = counts
		}
		counts.total++
		if !m.Read {
			counts.unread++
		}
	}
	if m.UID != nil {
		tx.uids[uidKey{m.MailboxID, *m.UID}] = id
	}
	return id, duplicate, nil
}

func (s *Store) insertMessageRows(ctx context.Context, tx *messageStatements, m *NewMessage, compressed []byte) (int64, error) {
	threadID, err := s.findThread(ctx, tx, m)
	if err != nil {
		return 0, err
	}
	parseErrors := strings.Join(m.ParseErrors, "\n")
	query := `INSERT INTO messages (mailbox_id, message_id, in_reply_to, refs, thread_id, subject, from_addr, reply_to, to_addr, cc, bcc,
		date, received_at, size, priority, raw_sha256, is_read, spam, spam_rating, spam_words,
		parse_errors, attachment_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	var id int64
	if len(tx.ids) > 0 {
		// With the ID known up front, the thread of a new conversation
		// and (PostgreSQL) the search vector go into the one INSERT:
		// updating a row afterwards rewrites all of it.
		id, tx.ids = tx.ids[0], tx.ids[1:]
		if threadID == 0 {
			threadID = id
		}
		args := []any{id, m.MailboxID, m.MessageID, m.InReplyTo, strings.Join(m.References, " "),
			threadID, m.Subject, m.From, m.ReplyTo, m.To, m.Cc, m.Bcc, micros(m.Date), micros(m.ReceivedAt), m.Size,
			m.Priority, m.RawSHA256, m.Read, m.Spam, m.SpamRating, m.SpamWords, parseErrors,
			len(m.Attachments)}
		query = `INSERT INTO messages (id, mailbox_id, message_id, in_reply_to, refs, thread_id, subject, from_addr, reply_to, to_addr, cc, bcc,
		date, received_at, size, priority, raw_sha256, is_read, spam, spam_rating, spam_words,
		parse_errors, attachment_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if s.dialect == Postgres {
			query = strings.Replace(query, "attachment_count)", "attachment_count, search)", 1)
			query = strings.TrimSuffix(query, ")") + ", CAST(? AS tsvector))"
			args = append(args, tsvectorLiteral(m.Subject, senderText(&m.Message), recipientText(&m.Message), m.searchText()))
		}
		if err := tx.exec(ctx, query, args...); err != nil {
			return 0, fmt.Errorf("insert message: %w", err)
		}
		m.ID = id
		if s.dialect == SQLite {
			tx.indexed = append(tx.indexed, m)
		}
		return id, s.insertMessageParts(ctx, tx, m, compressed)
	}
	err = tx.queryRow(ctx, query, m.MailboxID, m.MessageID, m.InReplyTo, strings.Join(m.References, " "),
		optionalID(threadID), m.Subject, m.From, m.ReplyTo, m.To, m.Cc, m.Bcc, micros(m.Date), micros(m.ReceivedAt), m.Size,
		m.Priority, m.RawSHA256, m.Read, m.Spam, m.SpamRating, m.SpamWords, parseErrors,
		len(m.Attachments)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert message: %w", err)
	}
	m.ID = id
	if threadID == 0 {
		if err := tx.exec(ctx, `UPDATE messages SET thread_id = id WHERE id = ?`, id); err != nil {
			return 0, err
		}
	}
	if err := s.insertMessageParts(ctx, tx, m, compressed); err != nil {
		return 0, err
	}
	if s.dialect == SQLite {
		// The full-text rows go in after the whole batch (indexBatch).
		tx.indexed = append(tx.indexed, m)
	} else {
		err = tx.exec(ctx, `UPDATE messages SET search = CAST(? AS tsvector) WHERE id = ?`,
			tsvectorLiteral(m.Subject, senderText(&m.Message), recipientText(&m.Message), m.searchText()), id)
		if err != nil {
			return 0, fmt.Errorf("index message: %w", err)
		}
	}
	return id, nil
}

// insertMessageParts stores a new message's source (or, when the source is
// not kept, its content) and attachments.
func (s *Store) insertMessageParts(ctx context.Context, tx *messageStatements, m *NewMessage, compressed []byte) error {
	id := m.ID
	switch {
	case m.SaveSource && m.CompressedSource != nil:
		source, err := m.CompressedSource()
		if err != nil {
			return fmt.Errorf("read spooled source: %w", err)
		}
		if err := tx.insertChunked(ctx, sourceBlobs, id, source, `INSERT INTO message_sources (message_id, kind, compression, data) VALUES (?, 'source', 'zstd', ?)`); err != nil {
			return fmt.Errorf("insert source: %w", err)
		}
	case m.SaveSource && len(compressed) <= ChunkSize:
		// The common case: one value, no chunking buffers.
		tx.sources = append(tx.sources, id, compressed)
	case m.SaveSource:
		if err := tx.insertChunked(ctx, sourceBlobs, id, bytes.NewReader(compressed), `INSERT INTO message_sources (message_id, kind, compression, data) VALUES (?, 'source', 'zstd', ?)`); err != nil {
			return fmt.Errorf("insert source: %w", err)
		}
	default:
		content, err := json.Marshal(m.Content)
		if err != nil {
			return fmt.Errorf("encode content: %w", err)
		}
		if err := tx.exec(ctx, `INSERT INTO message_sources (message_id, kind, compression, data) VALUES (?, 'text', 'zstd', ?)`,
			id, sourceEncoder.EncodeAll(content, nil)); err != nil {
			return fmt.Errorf("insert content: %w", err)
		}
	}
	for _, a := range m.Attachments {
		if a.Body != nil && !a.Dropped {
			var attachmentID int64
			body := a.Body()
			first, err := firstChunk(body)
			if err != nil {
				return fmt.Errorf("read attachment %q: %w", a.Filename, err)
			}
			err = tx.queryRow(ctx, `INSERT INTO attachments (message_id, filename, content_type, size, content_id, data, dropped) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				id, a.Filename, a.ContentType, a.Size, a.ContentID, first, false).Scan(&attachmentID)
			if err != nil {
				return fmt.Errorf("insert attachment: %w", err)
			}
			if err := tx.writeChunks(ctx, attachmentBlobs, attachmentID, body); err != nil {
				return fmt.Errorf("insert attachment %q: %w", a.Filename, err)
			}
			continue
		}
		var data any
		if !a.Dropped {
			data = a.Data
			if a.Data == nil {
				data = []byte{}
			}
		}
		if err := tx.exec(ctx, `INSERT INTO attachments (message_id, filename, content_type, size, content_id, data, dropped) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, a.Filename, a.ContentType, a.Size, a.ContentID, data, a.Dropped); err != nil {
			return fmt.Errorf("insert attachment: %w", err)
		}
	}
	return nil
}

// insertChunked inserts the owner row of a value read from r (query takes
// the owner's ID and chunk 0) and then the value's other chunks.
func (p *messageStatements) insertChunked(ctx context.Context, kind blobKind, owner int64, r io.Reader, query string) error {
	first, err := firstChunk(r)
	if err != nil {
		return err
	}
	if err := p.exec(ctx, query, owner, first); err != nil {
		return err
	}
	return p.writeChunks(ctx, kind, owner, r)
}

// indexBatch writes the SQLite full-text rows of a batch's new messages,
// after all its other statements. FTS5 flushes its pending terms to a new
// index segment whenever another statement of the transaction opens a
// savepoint; interleaved with the messages' own inserts, that made one
// segment per message and constant merging (135 messages/s at 20,000
// messages instead of thousands).
func (s *Store) indexBatch(ctx context.Context, tx *messageStatements) error {
	// One row a statement: a multi-row INSERT opens a statement savepoint,
	// and FTS5 writes a segment at each (a 100,000-message import spent
	// two thirds of its time merging them).
	for _, m := range tx.indexed {
		if err := tx.exec(ctx, `INSERT INTO messages_fts (rowid, subject, sender, recipients, body) VALUES (?, ?, ?, ?, ?)`,
			m.ID, m.Subject, senderText(&m.Message), recipientText(&m.Message), m.searchText()); err != nil {
			return fmt.Errorf("index message: %w", err)
		}
	}
	tx.indexed = nil
	return nil
}

// findThread gives the thread of the first earlier message of the mailbox
// that this one answers or references, or 0 for a new thread.
func (s *Store) findThread(ctx context.Context, tx *messageStatements, m *NewMessage) (int64, error) {
	parents := append([]string{}, m.References...)
	if m.InReplyTo != "" {
		parents = append(parents, m.InReplyTo)
	}
	for i := len(parents) - 1; i >= 0; i-- { // the nearest parent first
		if parents[i] == "" {
			continue
		}
		var thread sql.NullInt64
		// "+mailbox_id" keeps either planner on messages_msgid: a
		// Message-ID names a few messages, a mailbox may hold millions.
		err := tx.queryRow(ctx, `SELECT thread_id FROM messages WHERE message_id = ? AND +mailbox_id = ? ORDER BY id LIMIT 1`, parents[i], m.MailboxID).Scan(&thread)
		if err == nil && thread.Valid {
			return thread.Int64, nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("find thread: %w", err)
		}
	}
	return 0, nil
}

const messageColumns = `m.id, m.mailbox_id, m.message_id, m.in_reply_to, m.refs, m.thread_id, m.subject, m.from_addr, m.reply_to,
	m.to_addr, m.cc, m.bcc, m.date, m.received_at, m.size, m.priority, m.raw_sha256, m.is_read, m.spam, m.spam_rating,
	m.spam_words, m.parse_errors, m.attachment_count, COALESCE((SELECT name FROM mailboxes WHERE id = m.mailbox_id), '')`

func scanMessage(row interface{ Scan(...any) error }, full bool, extra ...any) (Message, error) {
	var m Message
	var refs, parseErrors string
	var thread, rating sql.NullInt64
	var date, received int64
	dest := []any{&m.ID, &m.MailboxID, &m.MessageID, &m.InReplyTo, &refs, &thread, &m.Subject, &m.From, &m.ReplyTo,
		&m.To, &m.Cc, &m.Bcc, &date, &received, &m.Size, &m.Priority, &m.RawSHA256, &m.Read, &m.Spam, &rating,
		&m.SpamWords, &parseErrors, &m.AttachmentCount, &m.MailboxName}
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

// MessageFilter narrows [Store.Messages]. Zero fields do not filter.
type MessageFilter struct {
	IDs        []int64
	MailboxIDs []int64 // any of these; a non-nil empty slice matches nothing
	Query      string  // full text over subject, addresses and body
	From       string  // words in the sender (from, reply-to)
	To         string  // words in the recipients (to, cc, bcc)
	Subject    string  // words in the subject
	Text       string  // words in the body
	Spam       string  // "yes", "no", "unknown"
	Read       *bool
	Since      time.Time
	Until      time.Time
}

// MessageSort orders [Store.Messages].
type MessageSort struct {
	Column    string // "date" (default), "received_at", "size", "id"
	Ascending bool
}

var messageSortColumns = map[string]string{"date": "m.date", "received_at": "m.received_at", "size": "m.size", "id": "m.id"}

// MessagePage is one page of messages.
type MessagePage struct {
	Items      []Message
	NextCursor string
}

// ftsQuery turns words a person typed into a full-text query that matches
// messages holding every word (each as a prefix), in one column or all.
func (s *Store) ftsQuery(text, column string) string {
	words := searchWords(text)
	if len(words) == 0 {
		return ""
	}
	parts := make([]string, 0, len(words))
	for _, word := range words {
		if s.dialect == SQLite {
			// Quoted, so that no word is read as an FTS5 operator.
			part := `"` + word + `"*`
			if column != "" {
				part = column + ": " + part
			}
			parts = append(parts, part)
		} else {
			weight := map[string]string{"subject": "A", "sender": "B", "recipients": "C", "body": "D"}[column]
			parts = append(parts, quoteLexeme(strings.ToLower(word))+":*"+weight)
		}
	}
	if s.dialect == SQLite {
		return strings.Join(parts, " AND ")
	}
	return strings.Join(parts, " & ")
}

// searchWords splits text into the words the full-text index knows:
// runs of letters and digits, lower-cased by Go.
func searchWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// quoteLexeme writes a word as a tsvector or tsquery lexeme literal.
func quoteLexeme(word string) string {
	return "'" + strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(word) + "'"
}

// tsvectorLiteral builds the PostgreSQL search vector in Go: subject words
// weighted A, sender B, recipients C, body D. Building it here rather than with
// to_tsvector makes the index independent of the server's locale: under the
// C locale PostgreSQL's parser neither splits nor lower-cases Cyrillic words.
// Each word keeps one position per weight: the index answers "which
// messages hold these words", not phrase queries. A word found only in the
// body has no position at all (a third less space): such a lexeme matches
// a query of any weight, so the subject, sender and recipient filters
// recheck with ts_filter (see Messages), while the body's weight D matches
// it as it should.
func tsvectorLiteral(subject, sender, recipients, body string) string {
	type entry struct{ positions []string }
	entries := map[string]*entry{}
	var order []string
	position := 0
	for _, part := range []struct{ text, weight string }{{subject, "A"}, {sender, "B"}, {recipients, "C"}, {body, "D"}} {
		seen := map[string]bool{}
		for _, word := range searchWords(part.text) {
			// PostgreSQL refuses lexemes over 2 KB; no one searches for them.
			if len(word) > 200 || seen[word] {
				continue
			}
			seen[word] = true
			position = min(position+1, 16383)
			e := entries[word]
			if e == nil {
				e = &entry{}
				entries[word] = e
				order = append(order, word)
				if part.weight == "D" {
					// A word of the body alone goes in without a position:
					// positions are four bytes a word, and only the
					// columns' weights need them (see ftsQuery).
					continue
				}
			}
			e.positions = append(e.positions, strconv.Itoa(position)+part.weight)
		}
	}
	var b strings.Builder
	for i, word := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteLexeme(word))
		if positions := entries[word].positions; len(positions) > 0 {
			b.WriteByte(':')
			b.WriteString(strings.Join(positions, ","))
		}
	}
	return b.String()
}

// SearchVector is the PostgreSQL search vector (a tsvector literal) the
// store writes for a message, for tools that fill a database in bulk, such
// as the benchmarks.
func SearchVector(subject, sender, recipients, body string) string {
	return tsvectorLiteral(subject, sender, recipients, indexedText(body))
}

func encodeMessageCursor(value, id int64) string {
	raw, _ := json.Marshal(messageCursor{Value: value, ID: id})
	return base64.RawURLEncoding.EncodeToString(raw)
}

// MessageCursor is the cursor of a list ordered by column that continues
// right after m: the next page of [Store.Messages] starts at the message
// that follows m (the previous one, with the order reversed).
func MessageCursor(m Message, column string) string {
	value := micros(m.Date)
	switch column {
	case "received_at":
		value = micros(m.ReceivedAt)
	case "size":
		value = m.Size
	case "id":
		value = m.ID
	}
	return encodeMessageCursor(value, m.ID)
}

type messageCursor struct {
	Value int64 `json:"v"`
	ID    int64 `json:"id"`
}

// Messages lists a page of messages, newest first by default. Paging is by
// keyset (sort value, id), so a deep page costs what the first does.
func (s *Store) Messages(ctx context.Context, filter MessageFilter, order MessageSort, cursor string, limit int) (MessagePage, error) {
	var page MessagePage
	column, ok := messageSortColumns[order.Column]
	if !ok {
		column = "m.date"
	}
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	var where []string
	var args []any
	if filter.MailboxIDs != nil {
		if len(filter.MailboxIDs) == 0 {
			return page, nil
		}
		where = append(where, "m.mailbox_id IN ("+placeholders(len(filter.MailboxIDs))+")")
		for _, id := range filter.MailboxIDs {
			args = append(args, id)
		}
	}
	if len(filter.IDs) > 0 {
		where = append(where, "m.id IN ("+placeholders(len(filter.IDs))+")")
		for _, id := range filter.IDs {
			args = append(args, id)
		}
	}
	if filter.Spam != "" {
		where, args = append(where, "m.spam = ?"), append(args, filter.Spam)
	}
	if filter.Read != nil {
		where, args = append(where, "m.is_read = ?"), append(args, *filter.Read)
	}
	if !filter.Since.IsZero() {
		where, args = append(where, "m.date >= ?"), append(args, micros(filter.Since))
	}
	if !filter.Until.IsZero() {
		where, args = append(where, "m.date < ?"), append(args, micros(filter.Until))
	}
	var search []string
	var searchQuery string // PostgreSQL: the tsquery of the hits CTE
	var rechecks []any     // PostgreSQL: weight, query pairs for ts_filter
	for _, part := range []struct{ text, column string }{{filter.Query, ""}, {filter.From, "sender"}, {filter.To, "recipients"}, {filter.Subject, "subject"}, {filter.Text, "body"}} {
		if query := s.ftsQuery(part.text, part.column); query != "" {
			search = append(search, query)
			if weight := map[string]string{"subject": "a", "sender": "b", "recipients": "c"}[part.column]; weight != "" && s.dialect == Postgres {
				rechecks = append(rechecks, "{"+weight+"}", s.ftsQuery(part.text, ""))
			}
		}
	}
	from := "messages m"
	if len(search) > 0 {
		if s.dialect == SQLite {
			match := strings.Join(search, " AND ")
			where, args = append(where, "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"), append(args, match)
			if index := s.walkIndex(ctx, filter, column, match); index != "" {
				from += " INDEXED BY " + index
			}
		} else {
			// The matches come from the GIN index first, behind a
			// materialized CTE: left to itself, PostgreSQL walks the date
			// index and tests every row, hoping to fill the page early,
			// which for a rare word reads the whole table (2 s at
			// 1,000,000 messages).
			searchQuery = strings.Join(search, " & ")
			where = append(where, "m.id IN (SELECT id FROM hits)")
		}
	}
	direction, compare := "DESC", "<"
	if order.Ascending {
		direction, compare = "ASC", ">"
	}
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		var position messageCursor
		if err == nil {
			err = json.Unmarshal(raw, &position)
		}
		if err != nil {
			return page, fmt.Errorf("messages: %w", ErrBadCursor)
		}
		// A row value, so that both backends seek the (column, id) index
		// to the cursor instead of walking it from the start.
		where = append(where, "("+column+", m.id) "+compare+" (?, ?)")
		args = append(args, position.Value, position.ID)
	}
	query := `SELECT ` + messageColumns + `, ` + column + ` FROM ` + from
	if searchQuery != "" {
		hits := `SELECT id FROM messages WHERE search @@ CAST(? AS tsquery)`
		for range len(rechecks) / 2 {
			hits += ` AND ts_filter(search, CAST(? AS "char"[])) @@ CAST(? AS tsquery)`
		}
		query = `WITH hits AS MATERIALIZED (` + hits + `) ` + query
		args = append(append([]any{searchQuery}, rechecks...), args...)
	}
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + column + " " + direction + ", m.id " + direction + " LIMIT ?"
	rows, err := s.query(ctx, query, append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var sortValues []int64
	for rows.Next() {
		var value int64
		m, err := scanMessage(rows, false, &value)
		if err != nil {
			return page, fmt.Errorf("list messages: %w", err)
		}
		page.Items, sortValues = append(page.Items, m), append(sortValues, value)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list messages: %w", err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = encodeMessageCursor(sortValues[limit-1], page.Items[limit-1].ID)
	}
	return page, nil
}

// frequentMatches is the number of full-text matches from which a search
// walks the date index instead of sorting its matches: SQLite fetches and
// sorts every match (73 ms for 10,000 of them at 1,000,000 messages), while
// walking the list's own order and testing each row against the matches
// stops at the page's end, which for a frequent word comes soon. For a rare
// word the walk would read the whole table, so the matches are counted
// first, up to this number. A variable for the tests.
var frequentMatches = 2000

// walkIndex gives the index a frequent-word search of the message list
// walks (SQLite), or "" to sort the matches: only for the date order with
// no filter but the search and at most one mailbox, where the walk is
// known to end early.
func (s *Store) walkIndex(ctx context.Context, filter MessageFilter, column, match string) string {
	if column != "m.date" || len(filter.IDs) > 0 || filter.Spam != "" || filter.Read != nil || !filter.Since.IsZero() ||
		!filter.Until.IsZero() || len(filter.MailboxIDs) > 1 {
		return ""
	}
	var matches int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)`, match, frequentMatches).Scan(&matches)
	if err != nil || matches < frequentMatches {
		return ""
	}
	if len(filter.MailboxIDs) == 1 {
		return "messages_mailbox_date"
	}
	return "messages_date"
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

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
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE messages SET is_read = ? WHERE id IN (`+placeholders(len(ids))+`)`), append([]any{read}, ids64...)...); err != nil {
			return err
		}
		return s.adjustCounts(ctx, tx, changing)
	})
	return mapError(err)
}

// DeleteMessages removes messages with their sources, attachments and index
// entries, in one transaction.
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
		gone, err := s.countsOf(ctx, tx, args, "")
		if err != nil {
			return err
		}
		for _, c := range gone {
			c.total, c.unread = -c.total, -c.unread
		}
		if err := s.adjustCounts(ctx, tx, gone); err != nil {
			return err
		}
		if s.dialect == SQLite {
			if _, err := tx.ExecContext(ctx, `DELETE FROM messages_fts WHERE rowid IN (`+placeholders(len(ids))+`)`, args...); err != nil {
				return err
			}
		}
		result, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM messages WHERE id IN (`+placeholders(len(ids))+`)`), args...)
		if err != nil {
			return err
		}
		deleted, err = result.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete messages: %w", err)
	}
	return deleted, nil
}

// KnownUIDs gives the UIDs recorded for a mailbox folder.
func (s *Store) KnownUIDs(ctx context.Context, mailboxID int64, folder string) (map[string]bool, error) {
	rows, err := s.query(ctx, `SELECT uid FROM mailbox_uids WHERE mailbox_id = ? AND folder = ?`, mailboxID, folder)
	if err != nil {
		return nil, fmt.Errorf("known uids of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return nil, err
		}
		known[uid] = true
	}
	return known, rows.Err()
}

// PruneUIDs forgets the UIDs of a folder that are not in present (messages
// gone from the server), and reports how many went.
func (s *Store) PruneUIDs(ctx context.Context, mailboxID int64, folder string, present map[string]bool) (int, error) {
	known, err := s.KnownUIDs(ctx, mailboxID, folder)
	if err != nil {
		return 0, err
	}
	var gone []any
	for uid := range known {
		if !present[uid] {
			gone = append(gone, uid)
		}
	}
	for start := 0; start < len(gone); start += 500 {
		batch := gone[start:min(start+500, len(gone))]
		args := append([]any{mailboxID, folder}, batch...)
		if _, err := s.exec(ctx, `DELETE FROM mailbox_uids WHERE mailbox_id = ? AND folder = ? AND uid IN (`+placeholders(len(batch))+`)`, args...); err != nil {
			return 0, fmt.Errorf("prune uids of mailbox %d: %w", mailboxID, err)
		}
	}
	return len(gone), nil
}

// MessagesOlderThan lists the IDs of a mailbox's messages received before a
// time, at most limit of them (for retention, which deletes in batches).
func (s *Store) MessagesOlderThan(ctx context.Context, mailboxID int64, before time.Time, limit int) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT id FROM messages WHERE mailbox_id = ? AND received_at < ? ORDER BY id LIMIT ?`, mailboxID, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("old messages of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
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

// MailboxesWithRetention lists the active and inactive mailboxes that keep
// messages for a limited number of days.
func (s *Store) MailboxesWithRetention(ctx context.Context) ([]Mailbox, error) {
	list, err := s.mailboxList(ctx, `WHERE m.keep_days > 0 ORDER BY m.id`)
	if err != nil {
		return nil, fmt.Errorf("mailboxes with retention: %w", err)
	}
	return list, nil
}
