-- The full-text index gets the sender (from, reply-to) and the recipients
-- (to, cc, bcc) as columns of their own, so that the list's "from" and "to"
-- filters each search their own addresses. The index is contentless, so it
-- is made anew from the messages.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(subject, sender, recipients, body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 16);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('hashsize', 8388608);
INSERT INTO messages_fts (rowid, subject, sender, recipients, body)
    SELECT id, subject, from_addr || ' ' || reply_to, to_addr || ' ' || cc || ' ' || bcc, substr(text_body, 1, 262144) FROM messages;
