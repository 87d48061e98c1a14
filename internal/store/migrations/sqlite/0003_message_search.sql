-- Full-text index over messages: subject, addresses (from, reply-to, to, cc,
-- bcc) and body text. Contentless: the text lives in messages; the index row
-- has the message's id as its rowid. unicode61 folds case for every script
-- (Cyrillic included) and strips diacritics.
CREATE VIRTUAL TABLE messages_fts USING fts5(subject, addresses, body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');

-- Threads and duplicate checks look messages up by Message-ID per mailbox.
CREATE INDEX messages_mailbox_msgid ON messages(mailbox_id, message_id);
