package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

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
	ID        int64 // 0 for a dropped message
	Duplicate bool
	// Dropped is set for a message that was not stored because its
	// NewMessage said Dropped: only its UID was recorded.
	Dropped bool
	// Err is set when this message alone was refused before the
	// transaction (ErrInvalidText); the others of the batch are stored.
	Err error
}

// InsertMessages stores a batch of messages in one transaction, each as
// [Store.InsertMessage] would: a byte-identical source already in the same
// mailbox, or earlier in the same batch, is a duplicate (its jobs are not
// written), UIDs are recorded, and a new message's jobs are written with
// it. A message marked Dropped only has its UID recorded. When it returns
// a nil error every message whose result has no Err is durable; when it
// returns an error, none of the batch is stored, jobs and UIDs included.
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
		if m.Dropped {
			results[i].Dropped = true
			continue
		}
		m.CompressSource()
	}
	var err error
	if s.dialect == Postgres {
		err = s.insertBatchPostgres(ctx, ms, results, log)
	} else {
		err = s.insertBatchSQLite(ctx, ms, results, log)
	}
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

// insertBatchSQLite stores the messages of ms whose results have no Err
// (prepared by InsertMessagesLogged) in one transaction, a statement a
// row: SQLite runs in the process, so a statement costs no round trip, and
// its full-text rows must go one a statement anyway (indexBatch).
func (s *Store) insertBatchSQLite(ctx context.Context, ms []*NewMessage, results []InsertResult, log func([]InsertResult) []LogEntry) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		statements := &messageStatements{store: s, tx: tx, uids: map[uidKey]int64{}, added: map[int64]*mailboxCounts{}}
		defer statements.close()
		if len(ms) > 1 {
			if _, err := s.execOn(ctx, tx, batchCacheSize); err != nil {
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
			if results[i].Dropped {
				// Stored nowhere, but known to the server's bookkeeping, so
				// that it is not fetched again.
				if m.UID != nil {
					statements.uids[uidKey{m.MailboxID, *m.UID}] = 0
				}
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
}

// prepareMessage fills defaults and refuses text the backends would not
// store alike.
func (s *Store) prepareMessage(m *NewMessage) error {
	var uid []any
	if m.UID != nil {
		uid = []any{m.UID.Folder, m.UID.UID}
	}
	if m.Dropped {
		return checkText(uid)
	}
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
	if m.Snippet == "" {
		m.Snippet = Snippet(m.Text)
	}
	texts := []any{m.MessageID, m.InReplyTo, strings.Join(m.References, " "), m.Subject, m.From, m.ReplyTo, m.To, m.Cc, m.Bcc,
		m.Text, strings.Join(m.ParseErrors, "\n"), m.Snippet}
	if !m.SaveSource {
		// Stored only when the source is not (the text also goes to the
		// full-text index, so it is checked either way).
		texts = append(texts, m.Header, m.HTML)
	}
	for _, a := range m.Attachments {
		texts = append(texts, a.Filename, a.ContentType, a.ContentID)
	}
	for _, job := range m.Jobs {
		texts = append(texts, job.Kind)
	}
	return checkText(append(texts, uid...))
}

// messageStatements are the statements of one insert transaction, prepared
// once for the batch (SQLite), or those of a PostgreSQL batch's large
// messages, run one at a time on pg.
type messageStatements struct {
	store    *Store
	tx       *sql.Tx
	pg       pgx.Tx
	prepared map[string]*sql.Stmt
	indexed  []*NewMessage // new messages whose full-text rows are still to be written
	// hashes are the sources already in the batch's mailboxes, and those the
	// batch adds: the duplicate check, with one query per batch.
	hashes map[hashKey]int64
	ids    []int64 // message IDs reserved for the batch
	// sources (message ID, compressed source pairs) and uids are written
	// many rows a statement after the batch's messages (writeRows): one
	// statement per row was a sixth of a fetch's commit.
	sources []any
	uids    map[uidKey]int64 // 0: a dropped message's UID, recorded with no message
	jobs    []any            // the new messages' jobs, jobColumns values a row
	// added counts the batch's new messages per mailbox, for the
	// mailbox's counts.
	added map[int64]*mailboxCounts
}

// writeRows writes the sources and UIDs the batch collected, many rows a
// statement (rowsIn).
func (p *messageStatements) writeRows(ctx context.Context) error {
	if err := inRows(p.sources, 2, func(rows int, values []any) error {
		return p.exec(ctx, insertSources(rows), values...)
	}); err != nil {
		return fmt.Errorf("insert sources: %w", err)
	}
	p.sources = nil
	now := micros(p.store.clock())
	// Each UID once (a map), with the batch's last message under it.
	uids := make([]any, 0, 5*len(p.uids))
	for key, id := range p.uids {
		uids = append(uids, key.mailbox, key.uid.Folder, key.uid.UID, optionalID(id), now)
	}
	if err := inRows(uids, 5, func(rows int, values []any) error {
		return p.exec(ctx, insertUIDs(rows), values...)
	}); err != nil {
		return fmt.Errorf("record uids: %w", err)
	}
	p.uids = map[uidKey]int64{}
	if err := inRows(p.jobs, jobColumns, func(rows int, values []any) error {
		return p.exec(ctx, insertJobs(rows), values...)
	}); err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	p.jobs = nil
	return nil
}

// jobColumns is the number of values of a job row that the insert writes.
const jobColumns = 6

// addJobs collects a new message's jobs for writeRows.
func (p *messageStatements) addJobs(m *NewMessage) {
	now := p.store.clock()
	for _, job := range m.Jobs {
		runAt := job.RunAt
		if runAt.IsZero() {
			runAt = now
		}
		p.jobs = append(p.jobs, job.Kind, m.MailboxID, m.ID, job.Payload, micros(runAt), micros(now))
	}
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
		if results[i].Err != nil || results[i].Dropped || seen[key] {
			continue
		}
		seen[key] = true
		wanted[m.MailboxID] = append(wanted[m.MailboxID], m.RawSHA256)
	}
	for mailbox, hashes := range wanted {
		for start := 0; start < len(hashes); start += hashesPerLookup {
			chunk := hashes[start:min(start+hashesPerLookup, len(hashes))]
			// The index holds the first 16 hex digits of each hash (64
			// bits: as selective, a third of the space); the full hash
			// is compared on the rows found. The list is filled up to
			// its statement's size with its last prefix again.
			size := lookupSize(len(chunk))
			prefixes := make([]any, 1, 1+size)
			prefixes[0] = mailbox
			for i := range size {
				prefixes = append(prefixes, hashPrefix(chunk[min(i, len(chunk)-1)].(string)))
			}
			rows, err := p.store.queryOn(ctx, p.tx, selectHashes(size), prefixes...)
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

// reserveIDs takes the message IDs of the batch up front, so that each
// message is one INSERT with its thread rather than an INSERT and an
// UPDATE.
func (p *messageStatements) reserveIDs(ctx context.Context, ms []*NewMessage, results []InsertResult) error {
	n := 0
	for i := range ms {
		if results[i].Err == nil && !results[i].Dropped {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	// The transaction holds SQLite's write lock (BEGIN IMMEDIATE): the next
	// IDs are ours. AUTOINCREMENT never reuses an ID, so start after the
	// larger of the sequence and the largest ID.
	var last int64
	err := p.store.queryRowOn(ctx, p.tx, selectLastID).Scan(&last)
	if err != nil {
		return fmt.Errorf("reserve message ids: %w", err)
	}
	for i := range n {
		p.ids = append(p.ids, last+1+int64(i))
	}
	return nil
}

// The statements every insert batch runs a time per message: prepared on
// the store once at open (prepareInsertStatements), and then once per pooled
// connection, rather than parsed again in every transaction (SQLite's
// parser was 8% of the SMTP server's CPU, its batches being a few messages).
const (
	insertMessageRow = `INSERT INTO messages (id, mailbox_id, message_id, in_reply_to, refs, thread_id, subject, from_addr, reply_to, to_addr, cc, bcc,
		date, received_at, size, priority, raw_sha256, is_read, spam, spam_rating, spam_words,
		parse_errors, attachment_count, snippet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	selectThread        = `SELECT thread_id FROM messages WHERE message_id = ? AND +mailbox_id = ? ORDER BY id LIMIT 1`
	insertAttachmentRow = `INSERT INTO attachments (message_id, filename, content_type, size, content_id, data, dropped) VALUES (?, ?, ?, ?, ?, ?, ?)`
	insertSearchRow     = `INSERT INTO ` + searchTable + ` (rowid, subject, sender, recipients, body, filenames) VALUES (?, ?, ?, ?, ?, ?)`
)

// The statements every insert batch runs once or a few times: fixed texts,
// prepared at open too. A multi-row statement has a text for each size of
// rowSizes, and a batch's rows go in chunks of those sizes (rowsIn); a
// text for each number of rows was parsed again in every transaction,
// which for the SMTP server's batches of about five messages was 6% of
// its CPU.
const (
	batchCacheSize = `PRAGMA cache_size = -65536`
	selectLastID   = `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0),
		COALESCE((SELECT MAX(id) FROM messages), 0))`
	addCounts = `UPDATE mailboxes SET messages_total = messages_total + ?, messages_unread = messages_unread + ? WHERE id = ?`
)

// rowSizes are the row counts of the multi-row statements, largest first:
// many rows a statement (a statement a row was a sixth of a POP3 fetch's
// commit, and its work log's a tenth of its time), in few texts.
var rowSizes = []int{64, 16, 4, 1}

// inRows runs a multi-row statement for each chunk of values (columns of
// them a row), the chunks in the sizes of rowSizes (rowsIn): run gets the
// chunk's rows and values.
func inRows(values []any, columns int, run func(rows int, values []any) error) error {
	for start := 0; start < len(values); {
		rows := rowsIn((len(values) - start) / columns)
		if err := run(rows, values[start:start+columns*rows]); err != nil {
			return err
		}
		start += columns * rows
	}
	return nil
}

// rowsIn is how many of n rows (n > 0) the next statement writes: the
// largest of rowSizes that n fills.
func rowsIn(n int) int {
	for _, size := range rowSizes {
		if n >= size {
			return size
		}
	}
	return n
}

// hashesPerLookup bounds the sources one duplicate lookup asks for; its
// lists come in the sizes of lookupSizes.
const hashesPerLookup = 256

var lookupSizes = []int{1, 4, 16, 64, hashesPerLookup}

// lookupSize is the size of the list that holds n hashes (0 < n <=
// hashesPerLookup).
func lookupSize(n int) int {
	for _, size := range lookupSizes {
		if n <= size {
			return size
		}
	}
	return hashesPerLookup
}

func rowsOf(row string, rows int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

func insertSources(rows int) string {
	return `INSERT INTO message_sources (message_id, kind, compression, data) VALUES ` + rowsOf("(?, 'source', 'zstd', ?)", rows)
}

// insertUIDs does not let a dropped message's UID (no message) undo what
// an earlier fetch recorded for the same UID.
func insertUIDs(rows int) string {
	return `INSERT INTO mailbox_uids (mailbox_id, folder, uid, message_id, created_at) VALUES ` + rowsOf("(?, ?, ?, ?, ?)", rows) +
		` ON CONFLICT (mailbox_id, folder, uid) DO UPDATE SET message_id = COALESCE(excluded.message_id, mailbox_uids.message_id)`
}

func insertJobs(rows int) string {
	return `INSERT INTO jobs (kind, mailbox_id, message_id, payload, run_at, created_at) VALUES ` + rowsOf("(?, ?, ?, ?, ?, ?)", rows)
}

func selectHashes(size int) string {
	return `SELECT raw_sha256, MIN(id) FROM messages WHERE mailbox_id = ? AND substr(raw_sha256, 1, 16) IN (` +
		placeholders(size) + `) GROUP BY raw_sha256`
}

// prepareInsertStatements prepares the insert batch's fixed statements on
// the SQLite store, at open: never inside a batch's transaction, where
// preparing on the pool could wait for a connection that writers waiting
// for this transaction's lock hold. One that cannot be prepared (a schema
// opened before its migration, in a migration's test) is left to each
// transaction, as before, which says the error where it matters.
func (s *Store) prepareInsertStatements(ctx context.Context) {
	queries := []string{insertMessageRow, selectThread, insertAttachmentRow, insertSearchRow, batchCacheSize, selectLastID, addCounts}
	for _, rows := range rowSizes {
		queries = append(queries, insertSources(rows), insertUIDs(rows), insertJobs(rows), insertLogRows(rows))
	}
	for _, size := range lookupSizes {
		queries = append(queries, selectHashes(size))
	}
	for _, query := range queries {
		_, _ = s.statements.get(ctx, s.db, s.rebind(query))
	}
}

func (p *messageStatements) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if stmt, ok := p.prepared[query]; ok {
		return stmt, nil
	}
	// The store's statement on this transaction's connection (prepared
	// there the first time only), else this transaction's own.
	rebound := p.store.rebind(query)
	stmt := p.store.preparedOn(ctx, p.tx, rebound)
	if stmt == nil {
		var err error
		if stmt, err = p.tx.PrepareContext(ctx, rebound); err != nil {
			return nil, err
		}
	}
	if p.prepared == nil {
		p.prepared = map[string]*sql.Stmt{}
	}
	p.prepared[query] = stmt
	return stmt, nil
}

// exec runs a statement of the batch, prepared once per transaction, with
// the store's text check like every other statement (execOn).
func (p *messageStatements) exec(ctx context.Context, query string, args ...any) error {
	if err := checkText(args); err != nil {
		return err
	}
	if p.pg != nil {
		_, err := p.pg.Exec(ctx, p.store.rebind(query), args...)
		return err
	}
	stmt, err := p.get(ctx, query)
	if err != nil {
		return err
	}
	_, err = stmt.ExecContext(ctx, args...)
	return err
}

// queryRow is exec for a statement that gives one row.
func (p *messageStatements) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	if err := checkText(args); err != nil {
		return failedRow{err: err}
	}
	if p.pg != nil {
		return p.pg.QueryRow(ctx, p.store.rebind(query), args...)
	}
	stmt, err := p.get(ctx, query)
	if err != nil {
		return failedRow{err: err}
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
		tx.addJobs(m)
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
	if len(tx.ids) == 0 {
		return 0, errors.New("insert message: no message id reserved")
	}
	// With the ID known up front, the thread of a new conversation goes
	// into the one INSERT: updating a row afterwards rewrites all of it.
	id := tx.ids[0]
	tx.ids = tx.ids[1:]
	if threadID == 0 {
		threadID = id
	}
	err = tx.exec(ctx, insertMessageRow,
		id, m.MailboxID, m.MessageID, m.InReplyTo, strings.Join(m.References, " "),
		threadID, m.Subject, m.From, m.ReplyTo, m.To, m.Cc, m.Bcc, micros(m.Date), micros(m.ReceivedAt), m.Size,
		m.Priority, m.RawSHA256, m.Read, m.Spam, m.SpamRating, m.SpamWords, strings.Join(m.ParseErrors, "\n"),
		AttachmentCount(m.Attachments), m.Snippet)
	if err != nil {
		return 0, fmt.Errorf("insert message: %w", err)
	}
	m.ID = id
	// The full-text rows go in after the whole batch (indexBatch).
	tx.indexed = append(tx.indexed, m)
	return id, s.insertMessageParts(ctx, tx, m, compressed)
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
		if err := tx.exec(ctx, insertAttachmentRow,
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
		err := tx.queryRow(ctx, selectThread, parents[i], m.MailboxID).Scan(&thread)
		if err == nil && thread.Valid {
			return thread.Int64, nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("find thread: %w", err)
		}
	}
	return 0, nil
}
