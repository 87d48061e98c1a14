-- Search that finds what people type (issue 16): the search vector holds
-- terms made in Go (store/terms.go: lower-cased, ё as е, stemmed for Russian
-- and English), the same as SQLite's index, and the attachment names'
-- terms after an "@".

-- Messages stored before this migration get their vectors anew in the
-- background (service.ReindexSearch), newest first, a batch a transaction:
-- their bodies are in their compressed sources, which only Go can parse,
-- and a migration that did it would hold the table for many minutes at
-- 1,000,000 messages. Their old vectors answer meanwhile (a stem is mostly
-- the start of its words, and a query word is looked for as a prefix).
-- Messages with an id below below_id are still to be done; the row goes
-- when none is left.
CREATE TABLE search_reindex (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    below_id  BIGINT  NOT NULL
);
INSERT INTO search_reindex (id, below_id) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM messages;
