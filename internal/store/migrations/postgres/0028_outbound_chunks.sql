-- A large message of the outbound queue is written as a stream (from the
-- SMTP DATA's spool file), in compressed chunks, so that a relayed 60 MB
-- message never sits whole in memory: chunk 0 is outbound_messages.data,
-- the others are here; chunks counts them all (1: the usual small message).
ALTER TABLE outbound_messages ADD COLUMN chunks INTEGER NOT NULL DEFAULT 1;
CREATE TABLE outbound_chunks (
    message_id  BIGINT  NOT NULL REFERENCES outbound_messages(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    data        BYTEA   NOT NULL,
    PRIMARY KEY (message_id, seq)
);
ALTER TABLE outbound_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
