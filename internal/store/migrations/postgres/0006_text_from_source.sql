-- A message's header, text and HTML are no longer stored beside its source:
-- they are read from the source when the message is shown. Messages whose
-- source was not kept keep them as a "text" content row of message_sources
-- instead (JSON, see store.Content).
ALTER TABLE message_sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'source';
ALTER TABLE message_sources ADD COLUMN chunks INTEGER NOT NULL DEFAULT 1;
INSERT INTO message_sources (message_id, kind, compression, data)
    SELECT m.id, 'text', 'json', convert_to(json_build_object('header', m.header, 'text', m.text_body, 'html', m.html_body)::text, 'UTF8')
    FROM messages m WHERE NOT EXISTS (SELECT 1 FROM message_sources s WHERE s.message_id = m.id);
ALTER TABLE messages DROP COLUMN header, DROP COLUMN text_body, DROP COLUMN html_body;
-- A message's search vector (about 1 KB, half that compressed) is kept
-- compressed in its row rather than in TOAST chunks, which took 1.4 KB a
-- message with their own index.
ALTER TABLE messages ALTER COLUMN search SET STORAGE MAIN;
-- Compressed sources do not compress again: do not let TOAST try.
ALTER TABLE message_sources ALTER COLUMN data SET STORAGE EXTERNAL;

-- Large sources and attachment bodies are written and read in chunks, so
-- that a 100 MB message is never one value in memory: chunk 0 is the data
-- column of message_sources or attachments, the rest are here.
ALTER TABLE attachments ADD COLUMN chunks INTEGER NOT NULL DEFAULT 1;
CREATE TABLE message_source_chunks (
    message_id  BIGINT  NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    data        BYTEA   NOT NULL,
    PRIMARY KEY (message_id, seq)
);
ALTER TABLE message_source_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE attachment_chunks (
    attachment_id  BIGINT  NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    data           BYTEA   NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);

-- Most work log lines belong to no rule and many to no message: index only
-- those that do (three lines are written per fetched message).
DROP INDEX log_rule;
CREATE INDEX log_rule ON log(rule_id, id) WHERE rule_id IS NOT NULL;
DROP INDEX log_message;
CREATE INDEX log_message ON log(message_id, id) WHERE message_id IS NOT NULL;

-- Threads look a parent up by Message-ID and mailbox: messages_msgid finds
-- the few messages with that ID, and the mailbox is checked on them; a
-- second index per message on (mailbox_id, message_id) is not worth its
-- space and its cost on every insert.
DROP INDEX messages_mailbox_msgid;

-- The duplicate check looks sources up by the first 16 hex digits of their
-- hash (store.hashPrefix) and compares the whole hash on the rows found.
DROP INDEX messages_hash;
CREATE INDEX messages_hash ON messages(mailbox_id, substr(raw_sha256, 1, 16));
