-- The date indexes ascending on PostgreSQL too (0034 did SQLite's). New
-- mail mostly comes with the latest dates, which a descending index holds
-- at its left edge: PostgreSQL's B-tree splits its rightmost page unevenly
-- for appends (the left page kept full), every other page in halves, so
-- the left edge filled and split its pages in halves, leaving them half
-- full and the index nearly twice the size a rebuild gives it (and more
-- WAL a commit). Ascending, new mail is appended at the right edge
-- (TestDateIndexesStayCompact). PostgreSQL walks an index backwards as it
-- walks it forwards, so "newest first" still reads the index in order
-- without sorting (TestNewestFirstWalksBackwards).
DROP INDEX messages_date;
DROP INDEX messages_mailbox_date;
DROP INDEX messages_unread_date;
DROP INDEX messages_unread_mailbox_date;
DROP INDEX messages_attached_date;
DROP INDEX messages_attached_mailbox_date;
CREATE INDEX messages_date ON messages(date, id);
CREATE INDEX messages_mailbox_date ON messages(mailbox_id, date, id);
CREATE INDEX messages_unread_date ON messages(date, id) WHERE NOT is_read;
CREATE INDEX messages_unread_mailbox_date ON messages(mailbox_id, date, id) WHERE NOT is_read;
CREATE INDEX messages_attached_date ON messages(date, id) WHERE attachment_count > 0;
CREATE INDEX messages_attached_mailbox_date ON messages(mailbox_id, date, id) WHERE attachment_count > 0;
