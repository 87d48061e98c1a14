-- Full-text index over messages: subject (weight A), addresses (B: from,
-- reply-to, to, cc, bcc) and body text (C), so that a search can ask for one
-- field by weight. The 'simple' configuration lower-cases every script
-- (Cyrillic included) without stemming for one language.
ALTER TABLE messages ADD COLUMN search tsvector;
CREATE INDEX messages_search ON messages USING gin(search);

-- Threads and duplicate checks look messages up by Message-ID per mailbox.
CREATE INDEX messages_mailbox_msgid ON messages(mailbox_id, message_id);
