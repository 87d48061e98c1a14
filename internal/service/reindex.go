package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"pochta.dev/pochta/internal/store"
)

// reindexBatch is how many messages the search reindex does a transaction:
// a few hundred parsed sources, a fraction of a second of the database.
const reindexBatch = 200

// reindexWait is how long a process waits while another holds the reindex.
const reindexWait = 30 * time.Second

// ReindexSearch makes the full-text entries of the messages stored before
// the search learnt word forms (store migration 0022) anew, newest first,
// a batch a transaction, and returns when none is left or ctx ends. Their
// bodies are in their sources, parsed again here (as the message view does,
// with the mailbox's charset). It runs in the background of every process
// (app), under a lease, so that one process of several sharing a database
// does the work; stopped anywhere, it goes on where it stopped.
func (s *Service) ReindexSearch(ctx context.Context) error {
	var random [8]byte
	rand.Read(random[:])
	holder := "reindex-" + hex.EncodeToString(random[:])
	const lease = "search-reindex"
	defer s.store.ReleaseLease(context.WithoutCancel(ctx), lease, holder)
	started, done := time.Now(), 0
	for {
		got, err := s.store.AcquireLease(ctx, lease, holder, 2*reindexWait)
		if err != nil {
			return fmt.Errorf("search reindex: %w", err)
		}
		if !got {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(reindexWait):
				continue
			}
		}
		ids, err := s.store.SearchReindexPending(ctx, reindexBatch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			if done > 0 {
				s.logger.Info("search reindex done", "messages", done, "took", time.Since(started).Round(time.Second))
			}
			return nil
		}
		entries := make([]store.ReindexEntry, 0, len(ids))
		for _, id := range ids {
			entry, err := s.reindexEntry(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// One unreadable source must not stop the rest: the
				// message is indexed without its body.
				s.logger.Warn("search reindex: message body not read", "message", id, "error", err)
			}
			entries = append(entries, entry)
		}
		if err := s.store.ReindexSearch(ctx, entries, ids[len(ids)-1]); err != nil {
			return err
		}
		done += len(ids)
	}
}

// reindexEntry reads what the full-text index holds of a stored message,
// with its snippet and its attachment count as a message stored now gets
// them. When its body cannot be read, the entry has the rest and the
// message's own snippet and count are kept.
func (s *Service) reindexEntry(ctx context.Context, id int64) (store.ReindexEntry, error) {
	m, err := s.store.MessageByID(ctx, id)
	if err != nil {
		return store.ReindexEntry{ID: id}, err
	}
	entry := store.ReindexEntry{ID: id, Text: store.MessageSearchText(m, "", nil), Snippet: m.Snippet, AttachmentCount: m.AttachmentCount}
	attachments, err := s.store.Attachments(ctx, id)
	if err != nil {
		return entry, err
	}
	filenames := make([]string, len(attachments))
	for i, a := range attachments {
		filenames[i] = a.Filename
	}
	entry.Text.Filenames = filenames
	entry.AttachmentCount = store.AttachmentCount(attachments)
	content, err := s.messageContent(ctx, m)
	if err != nil {
		return entry, err
	}
	entry.Text.Body, entry.Snippet = content.Text, store.Snippet(content.Text)
	return entry, nil
}
