package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// oldSearchTable is the SQLite full-text table before migration 0022,
// kept until the reindex is done so that deletes still reach it.
const oldSearchTable = "messages_fts"

// MessageSearchText is what the full-text index holds of a stored message
// with its body text and attachment names: for indexing it anew.
func MessageSearchText(m Message, body string, filenames []string) SearchText {
	return SearchText{Subject: m.Subject, Sender: senderText(&m), Recipients: recipientText(&m), Body: body, Filenames: filenames}
}

// SearchReindexPending gives the IDs of up to limit messages stored before
// migration 0022 whose full-text entries are still to be made anew, newest
// first (recent mail is what people search). When none is left it ends the
// reindex, on SQLite dropping the old index, and gives none.
func (s *Store) SearchReindexPending(ctx context.Context, limit int) ([]int64, error) {
	var below int64
	err := s.queryRow(ctx, `SELECT below_id FROM search_reindex WHERE id = 1`).Scan(&below)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("search reindex: %w", err)
	}
	rows, err := s.query(ctx, `SELECT id FROM messages WHERE id < ? ORDER BY id DESC LIMIT ?`, below, limit)
	if err != nil {
		return nil, fmt.Errorf("search reindex: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("search reindex: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search reindex: %w", err)
	}
	if len(ids) > 0 {
		return ids, nil
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.execOn(ctx, tx, `DELETE FROM search_reindex WHERE id = 1`); err != nil {
			return err
		}
		if s.dialect == SQLite {
			_, err := s.execOn(ctx, tx, `DROP TABLE IF EXISTS `+oldSearchTable)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search reindex: finish: %w", err)
	}
	return nil, nil
}

// ReindexEntry is a stored message's full-text text, to index anew, with
// the columns made from its parsed source that the reindex fills in for
// mail stored before they were made (migration 0026): the snippet, and the
// attachment count without inline images.
type ReindexEntry struct {
	ID              int64
	Text            SearchText
	Snippet         string
	AttachmentCount int
}

// ReindexSearch writes the full-text entries of stored messages anew and
// marks every message from below up as done, in one transaction, so that a
// reindex stopped anywhere goes on where it stopped. A message deleted in
// the meantime is skipped.
func (s *Store) ReindexSearch(ctx context.Context, entries []ReindexEntry, below int64) error {
	ids := make([]any, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	prepared := make([]searchEntry, len(entries))
	for i, e := range entries {
		if err := checkText([]any{e.Text.Subject, e.Text.Sender, e.Text.Recipients, e.Text.Body, strings.Join(e.Text.Filenames, " ")}); err != nil {
			// Text the store would not take is indexed without its body.
			e.Text.Body, e.Text.Filenames = "", nil
		}
		if checkText([]any{e.Snippet}) != nil {
			entries[i].Snippet = ""
		}
		prepared[i] = newSearchEntry(e.Text)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if len(entries) > 0 && s.dialect == SQLite {
			existing := map[int64]bool{}
			rows, err := s.queryOn(ctx, tx, `SELECT id FROM messages WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				existing[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			// A row of the new index already there (another process's
			// reindex of the same batch) would be a second one.
			if _, err := s.execOn(ctx, tx, `DELETE FROM `+searchTable+` WHERE rowid IN (`+placeholders(len(ids))+`)`, ids...); err != nil {
				return err
			}
			exec := func(ctx context.Context, query string, args ...any) error {
				_, err := s.execOn(ctx, tx, query, args...)
				return err
			}
			for i, e := range entries {
				if existing[e.ID] {
					if err := s.writeSearchEntry(ctx, exec, e.ID, &prepared[i]); err != nil {
						return err
					}
					if err := exec(ctx, `UPDATE messages SET snippet = ?, attachment_count = ? WHERE id = ?`, e.Snippet, e.AttachmentCount, e.ID); err != nil {
						return err
					}
				}
			}
		} else if len(entries) > 0 {
			messageIDs, counts := make([]int64, len(entries)), make([]int64, len(entries))
			vectors, snippets := make([]string, len(entries)), make([]string, len(entries))
			for i, e := range entries {
				messageIDs[i], vectors[i] = e.ID, tsvectorLiteral(&prepared[i])
				snippets[i], counts[i] = e.Snippet, int64(e.AttachmentCount)
			}
			if _, err := s.execOn(ctx, tx, `UPDATE messages AS m SET search = CAST(v.search AS tsvector), snippet = v.snippet,
					attachment_count = v.attachment_count
				FROM unnest(CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]))
					AS v(id, search, snippet, attachment_count)
				WHERE m.id = v.id`, messageIDs, vectors, snippets, counts); err != nil {
				return err
			}
		}
		_, err := s.execOn(ctx, tx, `UPDATE search_reindex SET below_id = ? WHERE id = 1 AND below_id > ?`, below, below)
		return err
	})
	if err != nil {
		return fmt.Errorf("search reindex: %w", mapError(err))
	}
	return nil
}

// deleteSearchRows removes the SQLite full-text rows of the messages that
// ids (a subquery or a list of placeholders) gives, from the old index too
// while the reindex keeps it.
func (s *Store) deleteSearchRows(ctx context.Context, tx *sql.Tx, ids string, args ...any) error {
	if s.dialect != SQLite {
		return nil
	}
	tables := []string{searchTable}
	var old int
	if err := s.queryRowOn(ctx, tx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, oldSearchTable).Scan(&old); err != nil {
		return err
	}
	if old > 0 {
		tables = append(tables, oldSearchTable)
	}
	for _, table := range tables {
		if _, err := s.execOn(ctx, tx, `DELETE FROM `+table+` WHERE rowid IN (`+ids+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}
