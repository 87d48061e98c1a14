-- The date indexes ascending on SQLite (sessions' group commits, issue 13).
-- Declared descending, they held the newest mail at their left edge, and
-- new mail, which mostly comes with the latest dates, went there: SQLite's
-- b-tree takes appends at its right edge with few page writes, and at the
-- left edge a full leaf's split rewrote it and its neighbours, each index
-- writing 2.5 pages a commit of five messages where one will do, and
-- keeping its pages half full (TestWALPagesPerCommit: 43.4 pages a
-- commit, 38.4 after). SQLite walks an index backwards as fast as
-- forwards, so "newest first" still reads the index in order without
-- sorting (TestDateOrderWalksItsIndex). The names stay: the search walk
-- names them (INDEXED BY). PostgreSQL's are left as they are.
DROP INDEX messages_date;
DROP INDEX messages_mailbox_date;
DROP INDEX messages_unread_date;
DROP INDEX messages_unread_mailbox_date;
DROP INDEX messages_attached_date;
DROP INDEX messages_attached_mailbox_date;
CREATE INDEX messages_date ON messages(date, id);
CREATE INDEX messages_mailbox_date ON messages(mailbox_id, date, id);
CREATE INDEX messages_unread_date ON messages(date, id) WHERE is_read = FALSE;
CREATE INDEX messages_unread_mailbox_date ON messages(mailbox_id, date, id) WHERE is_read = FALSE;
CREATE INDEX messages_attached_date ON messages(date, id) WHERE attachment_count > 0;
CREATE INDEX messages_attached_mailbox_date ON messages(mailbox_id, date, id) WHERE attachment_count > 0;
