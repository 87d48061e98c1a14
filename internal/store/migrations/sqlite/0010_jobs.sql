-- Follow-up work on a received message (its rules, its spam rating, a
-- webhook...), written in the transaction that stores the message, so that
-- a crash never leaves a stored message without the work it was due; a job
-- runner (a later issue) takes the pending ones by (state, run_at) under a
-- lease. The payload is JSON chosen by the job's kind. A job outlives its
-- message (message_id becomes NULL) but not its mailbox.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    mailbox_id    INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    message_id    INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    payload       BLOB,
    state         TEXT    NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_at        BIGINT  NOT NULL,
    lease_holder  TEXT    NOT NULL DEFAULT '',
    lease_until   BIGINT,
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, run_at);
-- Deleting messages sets their jobs' message_id to NULL: without this index
-- each deleted message would read the whole table. Most jobs of a long-lived
-- database belong to no message any more, so only those that do are kept.
CREATE INDEX jobs_message ON jobs(message_id) WHERE message_id IS NOT NULL;
