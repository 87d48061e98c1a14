-- from: and to: look their words up as lexemes of their own, the sender's
-- terms after "^" and the recipients' after "~" (store.tsvectorLiteral), which
-- the GIN index answers exactly: as weighted lexemes every match's vector was
-- read again and filtered. Messages stored before get them from the
-- background reindex (service.ReindexSearch), newest first; until it reaches
-- a message, from: and to: do not find it.
INSERT INTO search_reindex (id, below_id) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM messages
    ON CONFLICT (id) DO UPDATE SET below_id = EXCLUDED.below_id;
