-- Bulk import tuning of the full-text index (merging index segments was a
-- third of the CPU time of importing 100,000 messages):
-- FTS5 merges segments once a level holds "automerge" of them (4 by
-- default); 16 halves the merge work at the cost of a few more segments
-- for a search to read.
INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 16);
-- FTS5 writes a new segment whenever its pending terms pass "hashsize"
-- (1 MB by default), several times per import batch; 8 MB makes it about
-- one segment per batch (commit).
INSERT INTO messages_fts(messages_fts, rank) VALUES ('hashsize', 8388608);
