-- The mailbox list sorts by these columns and pages by (column, id).
CREATE INDEX mailboxes_name ON mailboxes(name, id);
CREATE INDEX mailboxes_server ON mailboxes(server, id);
CREATE INDEX mailboxes_updated ON mailboxes(updated_at, id);
