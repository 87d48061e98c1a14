-- Search with a frequent word and is:unread or has:attachment on SQLite
-- (issue 16), as PostgreSQL's migration 0027: the walk of the date order
-- meets only the rows of the condition, so that it stops after about as
-- many index entries as the word alone needs, where sorting the word's
-- matches looked each of them up in the table (10,000 row reads for a word
-- in 1% of 1,000,000 messages). The conditions are written as the search
-- writes them (searchquery.go), which SQLite needs to know a partial index
-- serves a statement. Small when few messages are unread or carry files.
CREATE INDEX messages_unread_date ON messages(date DESC, id DESC) WHERE is_read = FALSE;
CREATE INDEX messages_unread_mailbox_date ON messages(mailbox_id, date DESC, id DESC) WHERE is_read = FALSE;
CREATE INDEX messages_attached_date ON messages(date DESC, id DESC) WHERE attachment_count > 0;
CREATE INDEX messages_attached_mailbox_date ON messages(mailbox_id, date DESC, id DESC) WHERE attachment_count > 0;
