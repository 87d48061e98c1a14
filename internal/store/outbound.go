package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The outbound queue's kinds and states (see migration 0013).
const (
	OutboundMail   = "mail"   // relayed or forwarded mail: bounced when it fails
	OutboundBounce = "bounce" // a delivery status notification of failure
	OutboundDelay  = "delay"  // a delivery status notification of delay

	OutboundQueued = "queued"
	OutboundSent   = "sent"
	OutboundFailed = "failed"
)

// ErrLeaseLost is returned when a process records the outcome of a delivery
// whose lease another process has taken over (it expired) or whose message
// was deleted meanwhile: the outcome is not recorded.
var ErrLeaseLost = errors.New("outbound message no longer leased by this process")

// NewOutbound is a message to put in the outbound queue.
type NewOutbound struct {
	Kind       string // OutboundMail when empty
	Sender     string // the envelope sender; "" is the null sender
	Recipients []string
	// Raw is the message; or, when Source is set, Source is read to its
	// end instead, compressed and written in chunks as it is read (a large
	// message from a spool file), and Size says how long it is.
	Raw     []byte
	Source  io.Reader
	Size    int64
	Subject string // for the admin's list only
	ForUser bool
	// NotBefore delays the first attempt (zero: at once).
	NotBefore time.Time
}

// OutboundRecipient is one recipient of a queued message.
type OutboundRecipient struct {
	Position  int
	Address   string
	State     string
	LastReply string
	UpdatedAt time.Time
}

// OutboundMessage is a message of the outbound queue.
type OutboundMessage struct {
	ID            int64
	Kind          string
	Sender        string
	Size          int64
	Subject       string
	ForUser       bool
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LastAttemptAt time.Time
	LastReply     string
	DelayNotified bool
	LeaseHolder   string
	LeaseUntil    time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Recipients: all of them in the admin's reads, the queued ones in a
	// claim.
	Recipients []OutboundRecipient
	// Raw is the message, in a claim only, when it is at most
	// ClaimedInMemory bytes; a larger one is read with OpenOutbound.
	Raw []byte
	// Chunks is how many pieces the compressed message is stored in.
	Chunks int
}

// ClaimedInMemory is the size up to which a claim gives a message's bytes
// (Raw); a larger message is streamed from the database when it is sent.
const ClaimedInMemory = 1 << 20

// Sending reports whether a process holds the message's lease at now.
func (m OutboundMessage) Sending(now time.Time) bool {
	return m.LeaseHolder != "" && m.LeaseUntil.After(now)
}

const outboundColumns = `id, kind, sender, size, subject, for_user, state, attempts, next_attempt_at, last_attempt_at, last_reply,
	delay_notified, lease_holder, lease_until, created_at, updated_at, chunks`

func scanOutbound(row rowScanner, extra ...any) (OutboundMessage, error) {
	var m OutboundMessage
	var next, created, updated int64
	var last, leaseUntil sql.NullInt64
	dest := append([]any{&m.ID, &m.Kind, &m.Sender, &m.Size, &m.Subject, &m.ForUser, &m.State, &m.Attempts, &next, &last,
		&m.LastReply, &m.DelayNotified, &m.LeaseHolder, &leaseUntil, &created, &updated, &m.Chunks}, extra...)
	if err := row.Scan(dest...); err != nil {
		return m, mapError(err)
	}
	m.NextAttemptAt, m.LastAttemptAt, m.LeaseUntil = fromMicros(next), nullMicros(last), nullMicros(leaseUntil)
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, nil
}

// EnqueueOutbound writes messages to the outbound queue in one transaction
// and gives their IDs: once it returns, they are durable.
func (s *Store) EnqueueOutbound(ctx context.Context, messages ...NewOutbound) ([]int64, error) {
	var ids []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		ids, err = s.enqueueOutboundOn(ctx, tx, messages)
		return err
	})
	return ids, err
}

func (s *Store) enqueueOutboundOn(ctx context.Context, tx *sql.Tx, messages []NewOutbound) ([]int64, error) {
	now := s.clock()
	ids := make([]int64, 0, len(messages))
	for _, m := range messages {
		if len(m.Recipients) == 0 {
			return nil, fmt.Errorf("enqueue outbound: no recipients")
		}
		kind := m.Kind
		if kind == "" {
			kind = OutboundMail
		}
		next := now
		if m.NotBefore.After(now) {
			next = m.NotBefore
		}
		var data []byte
		size := int64(len(m.Raw))
		if m.Source == nil {
			data = sourceEncoder.EncodeAll(m.Raw, make([]byte, 0, len(m.Raw)/3+64))
		} else {
			size = m.Size
		}
		var id int64
		err := s.queryRowOn(ctx, tx, `INSERT INTO outbound_messages (kind, sender, data, size, subject, for_user, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, kind, m.Sender, nonNil(data), size, m.Subject, m.ForUser, micros(next), micros(now), micros(now)).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("enqueue outbound: %w", mapError(err))
		}
		if m.Source != nil {
			if err := s.writeOutboundSource(ctx, tx, id, m.Source); err != nil {
				return nil, fmt.Errorf("enqueue outbound: %w", err)
			}
		}
		for i, to := range m.Recipients {
			if _, err := s.execOn(ctx, tx, `INSERT INTO outbound_recipients (message_id, position, address, updated_at) VALUES (?, ?, ?, ?)`,
				id, i, to, micros(now)); err != nil {
				return nil, fmt.Errorf("enqueue outbound recipient: %w", mapError(err))
			}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ClaimOutbound takes the lease of up to limit queued messages due now
// whose lease is free or expired, for holder until now+ttl, and gives them
// with their bytes and queued recipients. On PostgreSQL the rows another
// process is claiming at the same moment are skipped (FOR UPDATE SKIP
// LOCKED), so two processes never take one message; SQLite has one writer.
func (s *Store) ClaimOutbound(ctx context.Context, holder string, ttl time.Duration, limit int) ([]OutboundMessage, error) {
	var claimed []OutboundMessage
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		claimed, err = s.claimOutboundOn(ctx, tx, holder, ttl, limit)
		return err
	})
	return claimed, err
}

func (s *Store) claimOutboundOn(ctx context.Context, tx *sql.Tx, holder string, ttl time.Duration, limit int) ([]OutboundMessage, error) {
	now := s.clock()
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := s.queryOn(ctx, tx, `UPDATE outbound_messages SET lease_holder = ?, lease_until = ?
		WHERE id IN (SELECT id FROM outbound_messages WHERE state = 'queued' AND next_attempt_at <= ?
			AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at LIMIT ?`+lock+`)
		RETURNING `+outboundColumns+`, data`, holder, micros(now.Add(ttl)), micros(now), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbound: %w", err)
	}
	defer rows.Close()
	var claimed []OutboundMessage
	for rows.Next() {
		var data []byte
		m, err := scanOutbound(rows, &data)
		if err != nil {
			return nil, fmt.Errorf("claim outbound: %w", err)
		}
		if m.Chunks <= 1 && m.Size <= ClaimedInMemory {
			if m.Raw, err = sourceDecoder.DecodeAll(data, make([]byte, 0, m.Size)); err != nil {
				return nil, fmt.Errorf("claim outbound %d: decompress: %w", m.ID, err)
			}
		}
		claimed = append(claimed, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim outbound: %w", err)
	}
	rows.Close()
	for i := range claimed {
		if claimed[i].Recipients, err = s.outboundRecipients(ctx, tx, claimed[i].ID, true); err != nil {
			return nil, err
		}
	}
	return claimed, nil
}

func (s *Store) outboundRecipients(ctx context.Context, on querier, id int64, queuedOnly bool) ([]OutboundRecipient, error) {
	query := `SELECT position, address, state, last_reply, updated_at FROM outbound_recipients WHERE message_id = ?`
	if queuedOnly {
		query += ` AND state = 'queued'`
	}
	rows, err := s.queryOn(ctx, on, query+` ORDER BY position`, id)
	if err != nil {
		return nil, fmt.Errorf("outbound recipients: %w", err)
	}
	defer rows.Close()
	var out []OutboundRecipient
	for rows.Next() {
		var r OutboundRecipient
		var updated int64
		if err := rows.Scan(&r.Position, &r.Address, &r.State, &r.LastReply, &updated); err != nil {
			return nil, fmt.Errorf("outbound recipients: %w", err)
		}
		r.UpdatedAt = fromMicros(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RenewOutboundLease moves the lease of a message holder still holds to
// now+ttl; ErrLeaseLost when it does not hold it any more.
func (s *Store) RenewOutboundLease(ctx context.Context, id int64, holder string, ttl time.Duration) error {
	result, err := s.exec(ctx, `UPDATE outbound_messages SET lease_until = ? WHERE id = ? AND lease_holder = ?`,
		micros(s.clock().Add(ttl)), id, holder)
	if err != nil {
		return fmt.Errorf("renew outbound lease: %w", err)
	}
	if n, err := result.RowsAffected(); err != nil || n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// OutboundAttempt is the outcome of one delivery attempt of a claimed
// message.
type OutboundAttempt struct {
	ID     int64
	Holder string
	// Counted: the attempt reached a server or failed to (false: the
	// process was stopping and gave the message back untried).
	Counted bool
	// Recipients whose state changed: position -> new state and reply.
	Recipients []OutboundRecipient
	// NextAttemptAt for the recipients still queued.
	NextAttemptAt time.Time
	LastReply     string
	DelayNotified bool
	// Notices (bounces, delay notices) written in the same transaction,
	// so that a crash neither loses nor repeats one.
	Notices []NewOutbound
}

// FinishOutboundAttempt records an attempt's outcome and gives the lease
// up, in one transaction with the notices it wrote. The message becomes
// "sent" when no recipient is queued and none failed, "failed" when none
// is queued and some failed. ErrLeaseLost when holder no longer holds it.
func (s *Store) FinishOutboundAttempt(ctx context.Context, attempt OutboundAttempt) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.finishOutboundOn(ctx, tx, attempt) })
}

// FinishAndClaimOutbound is FinishOutboundAttempt and a claim of the next
// due message (nil when none) in one transaction: a runner that goes on
// from one delivery to the next commits once a message instead of twice.
func (s *Store) FinishAndClaimOutbound(ctx context.Context, attempt OutboundAttempt, ttl time.Duration) (*OutboundMessage, error) {
	var next *OutboundMessage
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.finishOutboundOn(ctx, tx, attempt); err != nil {
			return err
		}
		claimed, err := s.claimOutboundOn(ctx, tx, attempt.Holder, ttl, 1)
		if len(claimed) > 0 {
			next = &claimed[0]
		}
		return err
	})
	return next, err
}

func (s *Store) finishOutboundOn(ctx context.Context, tx *sql.Tx, attempt OutboundAttempt) error {
	now := s.clock()
	set := `next_attempt_at = ?, delay_notified = ?, lease_holder = '', lease_until = NULL, updated_at = ?`
	args := []any{micros(attempt.NextAttemptAt), attempt.DelayNotified, micros(now)}
	if attempt.Counted {
		set += `, attempts = attempts + 1, last_attempt_at = ?`
		args = append(args, micros(now))
	}
	if attempt.LastReply != "" {
		set += `, last_reply = ?`
		args = append(args, attempt.LastReply)
	}
	result, err := s.execOn(ctx, tx, `UPDATE outbound_messages SET `+set+` WHERE id = ? AND lease_holder = ?`,
		append(args, attempt.ID, attempt.Holder)...)
	if err != nil {
		return fmt.Errorf("finish outbound attempt: %w", err)
	}
	if n, err := result.RowsAffected(); err != nil || n == 0 {
		return ErrLeaseLost
	}
	for _, r := range attempt.Recipients {
		if _, err := s.execOn(ctx, tx, `UPDATE outbound_recipients SET state = ?, last_reply = ?, updated_at = ? WHERE message_id = ? AND position = ?`,
			r.State, r.LastReply, micros(now), attempt.ID, r.Position); err != nil {
			return fmt.Errorf("finish outbound recipient: %w", err)
		}
	}
	if _, err := s.execOn(ctx, tx, `UPDATE outbound_messages SET state = CASE
			WHEN EXISTS (SELECT 1 FROM outbound_recipients WHERE message_id = ? AND state = 'queued') THEN 'queued'
			WHEN EXISTS (SELECT 1 FROM outbound_recipients WHERE message_id = ? AND state = 'failed') THEN 'failed'
			ELSE 'sent' END WHERE id = ?`, attempt.ID, attempt.ID, attempt.ID); err != nil {
		return fmt.Errorf("finish outbound state: %w", err)
	}
	if len(attempt.Notices) > 0 {
		if _, err := s.enqueueOutboundOn(ctx, tx, attempt.Notices); err != nil {
			return err
		}
	}
	return nil
}

// OutboundFilter narrows [Store.OutboundMessages].
type OutboundFilter struct {
	State  string // "" every state
	Cursor string
	Limit  int
}

// OutboundPage is one page of the queue, newest first.
type OutboundPage struct {
	Messages   []OutboundMessage // with their recipients
	NextCursor string
}

// OutboundMessages lists the queue, newest first, a page at a time.
func (s *Store) OutboundMessages(ctx context.Context, filter OutboundFilter) (OutboundPage, error) {
	var page OutboundPage
	var where []string
	var args []any
	if filter.State != "" {
		where, args = append(where, "state = ?"), append(args, filter.State)
	}
	clause := ""
	if len(where) > 0 {
		clause = " WHERE " + strings.Join(where, " AND ")
	}
	clause, orderBy, args, err := keysetPage(clause, args, filter.Cursor, "id", "id", true, "outbound queue")
	if err != nil {
		return page, err
	}
	limit := filter.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.query(ctx, `SELECT `+outboundColumns+` FROM outbound_messages`+clause+orderBy+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("outbound queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanOutbound(rows)
		if err != nil {
			return page, fmt.Errorf("outbound queue: %w", err)
		}
		page.Messages = append(page.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("outbound queue: %w", err)
	}
	rows.Close()
	if len(page.Messages) > limit {
		page.Messages = page.Messages[:limit]
		last := page.Messages[limit-1]
		page.NextCursor = nextKeysetCursor(last.ID, last.ID)
	}
	for i := range page.Messages {
		if page.Messages[i].Recipients, err = s.outboundRecipients(ctx, s.db, page.Messages[i].ID, false); err != nil {
			return page, err
		}
	}
	return page, nil
}

// OutboundMessageByID gives one message of the queue with its recipients
// (not its bytes).
func (s *Store) OutboundMessageByID(ctx context.Context, id int64) (OutboundMessage, error) {
	m, err := scanOutbound(s.queryRow(ctx, `SELECT `+outboundColumns+` FROM outbound_messages WHERE id = ?`, id))
	if err != nil {
		return m, fmt.Errorf("outbound message %d: %w", id, err)
	}
	m.Recipients, err = s.outboundRecipients(ctx, s.db, id, false)
	return m, err
}

// OutboundSource gives a queued message's bytes.
func (s *Store) OutboundSource(ctx context.Context, id int64) ([]byte, error) {
	source, err := s.OpenOutbound(ctx, id)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	return io.ReadAll(source)
}

// outboundBlobs are the chunks of the outbound queue's large messages.
var outboundBlobs = blobKind{owner: "outbound_messages", ownerID: "id", chunks: "outbound_chunks", chunkID: "message_id"}

// OpenOutbound streams a queued message's bytes: a large one a chunk at a
// time, each chunk in a query of its own, decompressed as it is read.
func (s *Store) OpenOutbound(ctx context.Context, id int64) (io.ReadCloser, error) {
	var data []byte
	var chunks int
	var size int64
	if err := s.queryRow(ctx, `SELECT data, chunks, size FROM outbound_messages WHERE id = ?`, id).Scan(&data, &chunks, &size); err != nil {
		return nil, fmt.Errorf("outbound message %d: %w", id, mapError(err))
	}
	if chunks <= 1 && size <= ClaimedInMemory {
		raw, err := sourceDecoder.DecodeAll(data, nil)
		if err != nil {
			return nil, fmt.Errorf("outbound message %d: %w", id, err)
		}
		return io.NopCloser(bytes.NewReader(raw)), nil
	}
	compressed := io.MultiReader(bytes.NewReader(data), &chunkReader{ctx: ctx, store: s, kind: outboundBlobs, owner: id, chunks: chunks, next: 1})
	decoder, err := zstd.NewReader(compressed, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("outbound message %d: %w", id, err)
	}
	return decompressingReader{decoder}, nil
}

// writeOutboundSource compresses source as it reads it into the chunks of
// message id (a window of one chunk, as SourceWriter's): chunk 0 in the
// message's row, the rest in outbound_chunks; at most two chunks are in
// memory at once.
func (s *Store) writeOutboundSource(ctx context.Context, tx *sql.Tx, id int64, source io.Reader) error {
	chunks := &outboundChunkWriter{ctx: ctx, store: s, tx: tx, id: id}
	encoder, err := SourceWriter(chunks)
	if err != nil {
		return err
	}
	if _, err := io.Copy(encoder, source); err != nil {
		encoder.Close()
		return fmt.Errorf("read the message: %w", err)
	}
	if err := encoder.Close(); err != nil {
		return err
	}
	return chunks.finish()
}

// nonNil keeps an empty value a value: a nil []byte is NULL to the drivers.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

type outboundChunkWriter struct {
	ctx     context.Context
	store   *Store
	tx      *sql.Tx
	id      int64
	first   []byte // chunk 0, written to the row at the end
	current []byte
	seq     int
	err     error
}

func (w *outboundChunkWriter) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 && w.err == nil {
		if w.current == nil {
			w.current = make([]byte, 0, ChunkSize)
		}
		n := min(len(p), ChunkSize-len(w.current))
		w.current = append(w.current, p[:n]...)
		p = p[n:]
		if len(w.current) == ChunkSize {
			w.err = w.flush()
		}
	}
	return written, w.err
}

func (w *outboundChunkWriter) flush() error {
	defer func() { w.seq++ }()
	if w.seq == 0 {
		w.first, w.current = w.current, nil
		return nil
	}
	_, err := w.store.execOn(w.ctx, w.tx, `INSERT INTO outbound_chunks (message_id, seq, data) VALUES (?, ?, ?)`, w.id, w.seq, w.current)
	w.current = w.current[:0]
	if err != nil {
		return fmt.Errorf("store chunk %d: %w", w.seq, err)
	}
	return nil
}

func (w *outboundChunkWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	if len(w.current) > 0 || w.seq == 0 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	_, err := w.store.execOn(w.ctx, w.tx, `UPDATE outbound_messages SET data = ?, chunks = ? WHERE id = ?`, nonNil(w.first), w.seq, w.id)
	if err != nil {
		return fmt.Errorf("store chunk 0: %w", err)
	}
	return nil
}

// OutboundStats are the queue's figures for /metrics.
type OutboundStats struct {
	// Queued: waiting for a first attempt; Deferred: tried and waiting
	// for another; Sent and Failed: kept for the list until purged.
	Queued, Deferred, Sent, Failed int64
	// Oldest is when the oldest queued message came (zero: none).
	Oldest time.Time
}

// OutboundStats counts the queue's messages by state.
func (s *Store) OutboundStats(ctx context.Context) (OutboundStats, error) {
	var stats OutboundStats
	var oldest sql.NullInt64
	err := s.queryRow(ctx, `SELECT
			COALESCE(SUM(CASE WHEN state = 'queued' AND attempts = 0 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'queued' AND attempts > 0 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0),
			MIN(CASE WHEN state = 'queued' THEN created_at END)
		FROM outbound_messages`).Scan(&stats.Queued, &stats.Deferred, &stats.Sent, &stats.Failed, &oldest)
	if err != nil {
		return stats, fmt.Errorf("outbound stats: %w", err)
	}
	stats.Oldest = nullMicros(oldest)
	return stats, nil
}

// RetryOutboundNow makes a queued message due at once. ErrNotFound when
// there is no such message, ErrConflict when it is not queued any more.
func (s *Store) RetryOutboundNow(ctx context.Context, id int64) error {
	now := micros(s.clock())
	result, err := s.exec(ctx, `UPDATE outbound_messages SET next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'queued'`, now, now, id)
	if err != nil {
		return fmt.Errorf("retry outbound %d: %w", id, err)
	}
	if n, _ := result.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := s.OutboundMessageByID(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("retry outbound %d: not queued: %w", id, ErrConflict)
}

// DeleteOutbound removes a message from the queue (a delivery in flight
// then fails to record its outcome: ErrLeaseLost).
func (s *Store) DeleteOutbound(ctx context.Context, id int64) error {
	result, err := s.exec(ctx, `DELETE FROM outbound_messages WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete outbound %d: %w", id, err)
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return fmt.Errorf("delete outbound %d: %w", id, ErrNotFound)
	}
	return nil
}

// PurgeOutbound deletes sent and failed messages last changed before.
func (s *Store) PurgeOutbound(ctx context.Context, before time.Time) (int64, error) {
	result, err := s.exec(ctx, `DELETE FROM outbound_messages WHERE state <> 'queued' AND updated_at < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("purge outbound: %w", err)
	}
	return result.RowsAffected()
}
