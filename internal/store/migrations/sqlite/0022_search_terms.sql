-- Search that finds what people type (issue 16): the full-text index holds
-- terms made in Go (store/terms.go: lower-cased, ё as е, stemmed for Russian
-- and English), the same on both backends, and the attachment names. The
-- "ascii" tokenizer keeps each term as Go made it (it splits only at ASCII
-- bytes other than letters and digits and folds only ASCII capitals, and a
-- term has neither).
CREATE VIRTUAL TABLE messages_fts_terms USING fts5(subject, sender, recipients, body, filenames, content='', contentless_delete=1, tokenize='ascii');
INSERT INTO messages_fts_terms(messages_fts_terms, rank) VALUES ('automerge', 16);
INSERT INTO messages_fts_terms(messages_fts_terms, rank) VALUES ('hashsize', 8388608);

-- Messages stored before this migration are indexed anew in the background
-- (service.ReindexSearch), newest first, a batch a transaction: their bodies
-- are in their compressed sources, which only Go can parse, and a migration
-- that did it would hold the database for many minutes at 1,000,000
-- messages. Messages with an id below below_id are still to be done; the row
-- goes, and with it the old index messages_fts, when none is left.
CREATE TABLE search_reindex (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    below_id  BIGINT  NOT NULL
);
INSERT INTO search_reindex (id, below_id) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM messages;
