package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL takes a batch of messages in a fixed number of round trips,
// whatever its size: one for BEGIN with every lookup the batch needs (the
// sources its mailboxes already hold, the message IDs, the threads of the
// messages it answers), one for all its rows (each table's rows one
// statement, from arrays: messages with their search vectors, sources,
// attachments, UIDs, jobs, counts, log lines), one for COMMIT. A statement
// a message, each a round trip, held the import at a tenth of SQLite's
// rate. Only the parts of large messages (sources and attachments written
// in chunks from readers) still go one statement at a time, after the
// batch's rows.
//
// The statements go through pgx itself, on the connection database/sql
// holds for the call (sql.Conn.Raw): database/sql has no batches.

// insertBatchPostgres stores the messages of ms whose results have no Err
// (prepared by InsertMessagesLogged) in one transaction.
func (s *Store) insertBatchPostgres(ctx context.Context, ms []*NewMessage, results []InsertResult, log func([]InsertResult) []LogEntry) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pgxConn, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("connection: %T is no pgx connection", driverConn)
		}
		return s.writeBatchPostgres(ctx, pgxConn.Conn(), ms, results, log)
	})
}

// postgresBatch is what one batch writes, gathered as arrays (one a
// column) before anything is sent.
type postgresBatch struct {
	store *Store
	// Lookups, filled by the first round trip.
	hashes  map[hashKey]int64      // sources the batch's mailboxes hold, then those the batch adds
	threads map[threadKey]threadOf // the first message of each Message-ID the batch answers, then the batch's own
	ids     []int64                // reserved message IDs

	messages messageColumnArrays
	sources  struct {
		messageIDs []int64
		data       [][]byte
	}
	contents struct {
		messageIDs []int64
		data       [][]byte
	}
	attachments attachmentColumnArrays
	uids        map[uidKey]int64
	jobs        jobColumnArrays
	added       map[int64]*mailboxCounts
	// large are the new messages with a part written in chunks from a
	// reader (a spooled source, a source over a chunk, a streamed
	// attachment), after the batch's rows.
	large []*NewMessage
}

type threadKey struct {
	mailbox   int64
	messageID string
}

// threadOf is the thread of a Message-ID's first message in a mailbox;
// found but not valid is a first message without a thread (then the next
// parent is tried, as findThread does).
type threadOf struct {
	thread sql.NullInt64
}

type messageColumnArrays struct {
	ids, mailboxIDs, threadIDs, dates, receivedAts, sizes, priorities, attachmentCounts []int64
	messageIDs, inReplyTos, refs, subjects, froms, replyTos, tos, ccs, bccs             []string
	hashes, spams, spamWords, parseErrors, searches, snippets                           []string
	reads                                                                               []bool
	spamRatings                                                                         []*int64
}

type jobColumnArrays struct {
	kinds                                      []string
	mailboxIDs, messageIDs, runAts, createdAts []int64
	payloads                                   [][]byte
}

type attachmentColumnArrays struct {
	messageIDs, sizes                   []int64
	filenames, contentTypes, contentIDs []string
	data                                [][]byte
	dropped                             []bool
}

func (s *Store) writeBatchPostgres(ctx context.Context, conn *pgx.Conn, ms []*NewMessage, results []InsertResult, log func([]InsertResult) []LogEntry) error {
	batch := &postgresBatch{store: s, hashes: map[hashKey]int64{}, threads: map[threadKey]threadOf{}, uids: map[uidKey]int64{}, added: map[int64]*mailboxCounts{}}
	lookups := &pgx.Batch{}
	lookups.BeginTx(pgx.TxOptions{})
	if err := batch.queueLookups(lookups, ms, results); err != nil {
		return err
	}
	sent := conn.SendBatch(ctx, lookups)
	tx := sent.Tx()
	defer tx.Rollback(ctx) // after Commit, a no-op
	if err := sent.Close(); err != nil {
		return fmt.Errorf("lookups: %w", err)
	}
	for i, m := range ms {
		switch {
		case results[i].Err != nil:
		case results[i].Dropped:
			// Stored nowhere, but known to the server's bookkeeping, so
			// that it is not fetched again.
			if m.UID != nil {
				batch.uids[uidKey{m.MailboxID, *m.UID}] = 0
			}
		default:
			id, duplicate, err := batch.add(m)
			if err != nil {
				return err
			}
			results[i].ID, results[i].Duplicate = id, duplicate
		}
	}
	var entries []LogEntry
	if log != nil {
		entries = log(results)
	}
	writes := &pgx.Batch{}
	if err := batch.queueWrites(writes, entries); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, writes).Close(); err != nil {
		return fmt.Errorf("write rows: %w", err)
	}
	large := &messageStatements{store: s, pg: tx}
	for _, m := range batch.large {
		if err := s.insertMessageParts(ctx, large, m, m.compressed); err != nil {
			return err
		}
	}
	// A large message's small source (beside a streamed attachment) is
	// collected for a multi-row INSERT, as in SQLite's path.
	if err := large.writeRows(ctx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// queueLookups queues the reads the batch needs, after its BEGIN: the
// duplicate check, the message IDs, and the threads of the Message-IDs its
// messages answer.
func (b *postgresBatch) queueLookups(lookups *pgx.Batch, ms []*NewMessage, results []InsertResult) error {
	wanted := map[int64][]string{}
	seen := map[hashKey]bool{}
	parents := map[string]bool{}
	n := 0
	for i, m := range ms {
		if results[i].Err != nil || results[i].Dropped {
			continue
		}
		n++
		if key := (hashKey{m.MailboxID, m.RawSHA256}); !seen[key] {
			seen[key] = true
			wanted[m.MailboxID] = append(wanted[m.MailboxID], hashPrefix(m.RawSHA256))
		}
		for _, parent := range messageParents(m) {
			parents[parent] = true
		}
	}
	if n == 0 {
		return nil
	}
	for mailbox, prefixes := range wanted {
		if err := checkText([]any{prefixes}); err != nil {
			return err
		}
		// The index holds the first 16 hex digits of each hash (see
		// loadHashes); the full hash is compared on the rows found.
		lookups.Queue(`SELECT raw_sha256, MIN(id) FROM messages WHERE mailbox_id = $1 AND substr(raw_sha256, 1, 16) = ANY($2::text[]) GROUP BY raw_sha256`,
			mailbox, prefixes).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var hash string
				var id int64
				if err := rows.Scan(&hash, &id); err != nil {
					return fmt.Errorf("duplicate check: %w", err)
				}
				if key := (hashKey{mailbox, hash}); seen[key] {
					b.hashes[key] = id
				}
			}
			return rows.Err()
		})
	}
	lookups.Queue(`SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1::bigint)`, n).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("reserve message ids: %w", err)
			}
			b.ids = append(b.ids, id)
		}
		return rows.Err()
	})
	if len(parents) == 0 {
		return nil
	}
	list := make([]string, 0, len(parents))
	for parent := range parents {
		list = append(list, parent)
	}
	if err := checkText([]any{list}); err != nil {
		return err
	}
	// The first message of each Message-ID per mailbox, as findThread asks
	// one at a time. The mailbox is compared here, not in SQL, so that the
	// planner takes messages_msgid (a Message-ID names a few messages, a
	// mailbox may hold millions).
	lookups.Queue(`SELECT DISTINCT ON (message_id, mailbox_id) message_id, mailbox_id, thread_id FROM messages
		WHERE message_id = ANY($1::text[]) ORDER BY message_id, mailbox_id, id`, list).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var key threadKey
			var found threadOf
			if err := rows.Scan(&key.messageID, &key.mailbox, &found.thread); err != nil {
				return fmt.Errorf("find threads: %w", err)
			}
			b.threads[key] = found
		}
		return rows.Err()
	})
	return nil
}

// messageParents are the Message-IDs a message answers, the nearest first.
func messageParents(m *NewMessage) []string {
	parents := make([]string, 0, len(m.References)+1)
	if m.InReplyTo != "" {
		parents = append(parents, m.InReplyTo)
	}
	for i := len(m.References) - 1; i >= 0; i-- {
		if m.References[i] != "" {
			parents = append(parents, m.References[i])
		}
	}
	return parents
}

// add takes one message into the batch: a duplicate, or a new message whose
// rows join the arrays.
func (b *postgresBatch) add(m *NewMessage) (id int64, duplicate bool, err error) {
	key := hashKey{m.MailboxID, m.RawSHA256}
	if known, ok := b.hashes[key]; ok {
		id, duplicate = known, true
	} else {
		if len(b.ids) == 0 {
			return 0, false, errors.New("insert message: no message id reserved")
		}
		id, b.ids = b.ids[0], b.ids[1:]
		m.ID = id
		b.hashes[key] = id
		b.addMessage(m)
		if err := b.addParts(m); err != nil {
			return 0, false, err
		}
		b.addJobs(m)
		counts := b.added[m.MailboxID]
		if counts == nil {
			counts = &mailboxCounts{}
			b.added[m.MailboxID] = counts
		}
		counts.total++
		if !m.Read {
			counts.unread++
		}
	}
	if m.UID != nil {
		b.uids[uidKey{m.MailboxID, *m.UID}] = id
	}
	return id, duplicate, nil
}

// thread gives a new message's thread: that of the first earlier message
// of its mailbox that it answers (the nearest parent first), else its own.
// Earlier messages of the batch count: each new message is entered under
// its Message-ID unless a message of that ID came before it.
func (b *postgresBatch) thread(m *NewMessage) int64 {
	thread := m.ID
	for _, parent := range messageParents(m) {
		if found, ok := b.threads[threadKey{m.MailboxID, parent}]; ok && found.thread.Valid {
			thread = found.thread.Int64
			break
		}
	}
	if key := (threadKey{m.MailboxID, m.MessageID}); m.MessageID != "" {
		if _, ok := b.threads[key]; !ok {
			b.threads[key] = threadOf{thread: sql.NullInt64{Int64: thread, Valid: true}}
		}
	}
	return thread
}

func (b *postgresBatch) addMessage(m *NewMessage) {
	c := &b.messages
	var rating *int64
	if m.SpamRating != nil {
		value := int64(*m.SpamRating)
		rating = &value
	}
	c.ids = append(c.ids, m.ID)
	c.mailboxIDs = append(c.mailboxIDs, m.MailboxID)
	c.threadIDs = append(c.threadIDs, b.thread(m))
	c.dates = append(c.dates, micros(m.Date))
	c.receivedAts = append(c.receivedAts, micros(m.ReceivedAt))
	c.sizes = append(c.sizes, m.Size)
	c.priorities = append(c.priorities, int64(m.Priority))
	c.attachmentCounts = append(c.attachmentCounts, int64(AttachmentCount(m.Attachments)))
	c.snippets = append(c.snippets, m.Snippet)
	c.messageIDs = append(c.messageIDs, m.MessageID)
	c.inReplyTos = append(c.inReplyTos, m.InReplyTo)
	c.refs = append(c.refs, strings.Join(m.References, " "))
	c.subjects = append(c.subjects, m.Subject)
	c.froms = append(c.froms, m.From)
	c.replyTos = append(c.replyTos, m.ReplyTo)
	c.tos = append(c.tos, m.To)
	c.ccs = append(c.ccs, m.Cc)
	c.bccs = append(c.bccs, m.Bcc)
	c.hashes = append(c.hashes, m.RawSHA256)
	c.spams = append(c.spams, m.Spam)
	c.spamWords = append(c.spamWords, m.SpamWords)
	c.parseErrors = append(c.parseErrors, strings.Join(m.ParseErrors, "\n"))
	c.searches = append(c.searches, tsvectorLiteral(m.searchEntry()))
	c.reads = append(c.reads, m.Read)
	c.spamRatings = append(c.spamRatings, rating)
}

// addParts takes a new message's source (or content) and attachments into
// the arrays, or the message into large when one of them is written in
// chunks from a reader. A message's attachments go in together, so that
// their IDs keep their order.
func (b *postgresBatch) addParts(m *NewMessage) error {
	streamed := false
	for _, a := range m.Attachments {
		streamed = streamed || (a.Body != nil && !a.Dropped)
	}
	if streamed || (m.SaveSource && (m.CompressedSource != nil || len(m.compressed) > ChunkSize)) {
		b.large = append(b.large, m)
		return nil
	}
	if m.SaveSource {
		b.sources.messageIDs = append(b.sources.messageIDs, m.ID)
		b.sources.data = append(b.sources.data, m.compressed)
	} else {
		content, err := json.Marshal(m.Content)
		if err != nil {
			return fmt.Errorf("encode content: %w", err)
		}
		b.contents.messageIDs = append(b.contents.messageIDs, m.ID)
		b.contents.data = append(b.contents.data, sourceEncoder.EncodeAll(content, nil))
	}
	c := &b.attachments
	for _, a := range m.Attachments {
		var data []byte // NULL: not kept
		if !a.Dropped {
			data = a.Data
			if data == nil {
				data = []byte{}
			}
		}
		c.messageIDs = append(c.messageIDs, m.ID)
		c.sizes = append(c.sizes, a.Size)
		c.filenames = append(c.filenames, a.Filename)
		c.contentTypes = append(c.contentTypes, a.ContentType)
		c.contentIDs = append(c.contentIDs, a.ContentID)
		c.data = append(c.data, data)
		c.dropped = append(c.dropped, a.Dropped)
	}
	return nil
}

// addJobs is messageStatements.addJobs for the batch's arrays.
func (b *postgresBatch) addJobs(m *NewMessage) {
	now := b.store.clock()
	c := &b.jobs
	for _, job := range m.Jobs {
		runAt := job.RunAt
		if runAt.IsZero() {
			runAt = now
		}
		c.kinds, c.payloads = append(c.kinds, job.Kind), append(c.payloads, job.Payload)
		c.mailboxIDs, c.messageIDs = append(c.mailboxIDs, m.MailboxID), append(c.messageIDs, m.ID)
		c.runAts, c.createdAts = append(c.runAts, micros(runAt)), append(c.createdAts, micros(now))
	}
}

// nullID is an ID for an array of nullable IDs: 0 is NULL.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// queue adds a statement to a batch after the store's text check, which
// every statement gets (execOn); arrays of text are checked too.
func queue(batch *pgx.Batch, query string, args ...any) error {
	if err := checkText(args); err != nil {
		return err
	}
	batch.Queue(query, args...)
	return nil
}

// queueWrites queues every row of the batch, a statement a table, in an
// order that satisfies the foreign keys. Rows that keep an order (their
// IDs) are inserted in their arrays' order (WITH ORDINALITY).
func (b *postgresBatch) queueWrites(writes *pgx.Batch, entries []LogEntry) error {
	if c := &b.messages; len(c.ids) > 0 {
		err := queue(writes, `INSERT INTO messages (id, mailbox_id, message_id, in_reply_to, refs, thread_id, subject, from_addr, reply_to,
			to_addr, cc, bcc, date, received_at, size, priority, raw_sha256, is_read, spam, spam_rating, spam_words, parse_errors,
			attachment_count, search, snippet)
			SELECT id, mailbox_id, message_id, in_reply_to, refs, thread_id, subject, from_addr, reply_to, to_addr, cc, bcc, date,
				received_at, size, priority, raw_sha256, is_read, spam, spam_rating, spam_words, parse_errors, attachment_count,
				CAST(search AS tsvector), snippet
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[],
				$10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::text[], $18::boolean[],
				$19::text[], $20::bigint[], $21::text[], $22::text[], $23::bigint[], $24::text[], $25::text[])
			AS m (id, mailbox_id, message_id, in_reply_to, refs, thread_id, subject, from_addr, reply_to, to_addr, cc, bcc, date,
				received_at, size, priority, raw_sha256, is_read, spam, spam_rating, spam_words, parse_errors, attachment_count, search,
				snippet)`,
			c.ids, c.mailboxIDs, c.messageIDs, c.inReplyTos, c.refs, c.threadIDs, c.subjects, c.froms, c.replyTos, c.tos, c.ccs, c.bccs,
			c.dates, c.receivedAts, c.sizes, c.priorities, c.hashes, c.reads, c.spams, c.spamRatings, c.spamWords, c.parseErrors,
			c.attachmentCounts, c.searches, c.snippets)
		if err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
	}
	if len(b.sources.messageIDs) > 0 {
		writes.Queue(`INSERT INTO message_sources (message_id, kind, compression, data)
			SELECT message_id, 'source', 'zstd', data FROM unnest($1::bigint[], $2::bytea[]) AS s (message_id, data)`,
			b.sources.messageIDs, b.sources.data)
	}
	if len(b.contents.messageIDs) > 0 {
		writes.Queue(`INSERT INTO message_sources (message_id, kind, compression, data)
			SELECT message_id, 'text', 'zstd', data FROM unnest($1::bigint[], $2::bytea[]) AS s (message_id, data)`,
			b.contents.messageIDs, b.contents.data)
	}
	if c := &b.attachments; len(c.messageIDs) > 0 {
		err := queue(writes, `INSERT INTO attachments (message_id, filename, content_type, size, content_id, data, dropped)
			SELECT message_id, filename, content_type, size, content_id, data, dropped
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bytea[], $7::boolean[])
				WITH ORDINALITY AS a (message_id, filename, content_type, size, content_id, data, dropped, n)
			ORDER BY n`,
			c.messageIDs, c.filenames, c.contentTypes, c.sizes, c.contentIDs, c.data, c.dropped)
		if err != nil {
			return fmt.Errorf("insert attachments: %w", err)
		}
	}
	if len(b.uids) > 0 {
		var mailboxes []int64
		var messages []*int64
		var folders, uids []string
		for key, id := range b.uids {
			mailboxes, folders, uids = append(mailboxes, key.mailbox), append(folders, key.uid.Folder), append(uids, key.uid.UID)
			messages = append(messages, nullID(id))
		}
		// Each UID once (a map): PostgreSQL refuses a statement that
		// updates one row twice. A dropped message's UID (no message)
		// does not undo what an earlier fetch recorded for it.
		err := queue(writes, `INSERT INTO mailbox_uids (mailbox_id, folder, uid, message_id, created_at)
			SELECT mailbox_id, folder, uid, message_id, $5 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS u (mailbox_id, folder, uid, message_id)
			ON CONFLICT (mailbox_id, folder, uid) DO UPDATE SET message_id = COALESCE(excluded.message_id, mailbox_uids.message_id)`,
			mailboxes, folders, uids, messages, micros(b.store.clock()))
		if err != nil {
			return fmt.Errorf("record uids: %w", err)
		}
	}
	if c := &b.jobs; len(c.kinds) > 0 {
		err := queue(writes, `INSERT INTO jobs (kind, mailbox_id, message_id, payload, run_at, created_at)
			SELECT kind, mailbox_id, message_id, payload, run_at, created_at
			FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[], $5::bigint[], $6::bigint[])
				WITH ORDINALITY AS j (kind, mailbox_id, message_id, payload, run_at, created_at, n)
			ORDER BY n`,
			c.kinds, c.mailboxIDs, c.messageIDs, c.payloads, c.runAts, c.createdAts)
		if err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
	}
	if len(b.added) > 0 {
		var mailboxes, totals, unreads []int64
		for mailbox, change := range b.added {
			mailboxes, totals, unreads = append(mailboxes, mailbox), append(totals, change.total), append(unreads, change.unread)
		}
		writes.Queue(`UPDATE mailboxes SET messages_total = messages_total + c.total, messages_unread = messages_unread + c.unread
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS c (id, total, unread) WHERE mailboxes.id = c.id`,
			mailboxes, totals, unreads)
	}
	if len(entries) > 0 {
		now := micros(b.store.clock())
		var times []int64
		var levels, types, texts, parts []string
		var mailboxes, rules, messages []*int64
		for _, entry := range entries {
			row := logRow(entry, now)
			times, levels, types, texts, parts = append(times, row.time), append(levels, row.level), append(types, row.kind), append(texts, row.text), append(parts, row.parts)
			mailboxes, rules, messages = append(mailboxes, nullID(row.mailbox)), append(rules, nullID(row.rule)), append(messages, nullID(row.message))
		}
		err := queue(writes, `INSERT INTO log (time, level, type, text, parts, mailbox_id, rule_id, message_id)
			SELECT time, level, type, text, parts, mailbox_id, rule_id, message_id
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])
				WITH ORDINALITY AS l (time, level, type, text, parts, mailbox_id, rule_id, message_id, n)
			ORDER BY n`,
			times, levels, types, texts, parts, mailboxes, rules, messages)
		if err != nil {
			return fmt.Errorf("add log: %w", err)
		}
	}
	return nil
}
