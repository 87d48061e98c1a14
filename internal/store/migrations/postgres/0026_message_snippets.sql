-- The start of a message's text under its subject in the message list
-- (issue 16), stored with the message so that a list page parses no source.
-- Messages stored before get theirs from the background reindex
-- (service.ReindexSearch), which also counts their attachments anew without
-- the inline images of their HTML (counted as files before issue 16): every
-- message is to be done again, newest first, even when the reindex of
-- migration 0022 had finished.
ALTER TABLE messages ADD COLUMN snippet TEXT NOT NULL DEFAULT '';
INSERT INTO search_reindex (id, below_id) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM messages
    ON CONFLICT (id) DO UPDATE SET below_id = EXCLUDED.below_id;
