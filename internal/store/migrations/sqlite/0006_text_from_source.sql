-- A message's header, text and HTML are no longer stored beside its source:
-- they are read from the source when the message is shown (it was 2.7 KB of
-- a 3.4 KB message's 8 KB on disk). Messages whose source was not kept keep
-- them as a "text" content row of message_sources instead (JSON, see
-- store.Content).
ALTER TABLE message_sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'source';
ALTER TABLE message_sources ADD COLUMN chunks INTEGER NOT NULL DEFAULT 1;
INSERT INTO message_sources (message_id, kind, compression, data)
    SELECT m.id, 'text', 'json', CAST(json_object('header', m.header, 'text', m.text_body, 'html', m.html_body) AS BLOB)
    FROM messages m WHERE NOT EXISTS (SELECT 1 FROM message_sources s WHERE s.message_id = m.id);
ALTER TABLE messages DROP COLUMN header;
ALTER TABLE messages DROP COLUMN text_body;
ALTER TABLE messages DROP COLUMN html_body;

-- Large sources and attachment bodies are written and read in chunks, so
-- that a 100 MB message is never one value in memory: chunk 0 is the data
-- column of message_sources or attachments, the rest are here.
ALTER TABLE attachments ADD COLUMN chunks INTEGER NOT NULL DEFAULT 1;
CREATE TABLE message_source_chunks (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    PRIMARY KEY (message_id, seq)
);
CREATE TABLE attachment_chunks (
    attachment_id  INTEGER NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    data           BLOB    NOT NULL,
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
