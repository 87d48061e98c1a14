-- The IMAP sync of user mailboxes (issue 15). imap_folders (0001) is a
-- folder's cursor: UIDVALIDITY, the last UID fetched and HIGHESTMODSEQ; it
-- gains the folder's special-use role and the start of the date range its
-- messages were fetched from (micros; 0: everything), so
-- that a wider range later back-fills what is missing.
ALTER TABLE imap_folders ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE imap_folders ADD COLUMN synced_since BIGINT NOT NULL DEFAULT 0;
-- mailbox_uids rows of IMAP folders carry the \Seen flag last agreed with
-- the server (a three-way merge: the server's flag, the message's read
-- flag and this tell which side changed), and whether the message was
-- deleted in Pochta (to be moved to the server's Trash when the owner asks
-- for "delete on the server too").
ALTER TABLE mailbox_uids ADD COLUMN seen BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE mailbox_uids ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE;
-- A message's server UIDs (the expunge pass, a deletion's flags, and the
-- ON DELETE SET NULL of every message deletion, which scanned the table).
CREATE INDEX mailbox_uids_message ON mailbox_uids(message_id);
-- The content hashes of messages deleted in Pochta from IMAP mailboxes:
-- never imported again, whatever folder or UID the server shows them under
-- (a move to Trash, a UIDVALIDITY change).
CREATE TABLE imap_tombstones (
    mailbox_id  BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    raw_sha256  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (mailbox_id, raw_sha256)
);
