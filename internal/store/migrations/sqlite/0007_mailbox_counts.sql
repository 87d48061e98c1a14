-- A mailbox's message and unread counts are kept on its row, updated in the
-- transactions that add, delete or mark its messages: counting them for
-- every list (the mailbox list, the message list's mailbox filter) read all
-- of a mailbox's rows, a noticeable wait at a million messages.
ALTER TABLE mailboxes ADD COLUMN messages_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN messages_unread BIGINT NOT NULL DEFAULT 0;
UPDATE mailboxes SET
    messages_total = (SELECT COUNT(*) FROM messages WHERE mailbox_id = mailboxes.id),
    messages_unread = (SELECT COUNT(*) FROM messages WHERE mailbox_id = mailboxes.id AND is_read = FALSE);
