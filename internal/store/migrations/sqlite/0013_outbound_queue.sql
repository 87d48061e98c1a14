-- The outbound queue (issue 13 part 5): messages relayed by the internal
-- SMTP server, forwarded by the rules, and the bounces and delay notices
-- Pochta writes about them, until each recipient is delivered or given up.
-- A message is written whole (its zstd-compressed bytes, as stored sources
-- are) before Enqueue returns, so that the 250 given for it is honest. A
-- process claims a due message by taking its lease (lease_holder,
-- lease_until): on PostgreSQL with FOR UPDATE SKIP LOCKED so that processes
-- sharing the database never take one message twice; a lease that expires
-- (its process died mid-delivery) is taken over.
-- kind: 'mail' (bounced when it fails), 'bounce' or 'delay' (a notice:
-- sent from the null sender, never bounced itself).
-- state: 'queued' while some recipient is, then 'sent' or 'failed'.
-- for_user: relayed for a user (not the admin's own mail): direct delivery
-- keeps to the networks a user may reach (netguard).
CREATE TABLE outbound_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL DEFAULT 'mail',
    sender          TEXT    NOT NULL,
    data            BLOB    NOT NULL,
    size            BIGINT  NOT NULL,
    subject         TEXT    NOT NULL DEFAULT '',
    for_user        BOOLEAN NOT NULL DEFAULT FALSE,
    state           TEXT    NOT NULL DEFAULT 'queued',
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_attempt_at BIGINT,
    last_reply      TEXT    NOT NULL DEFAULT '',
    delay_notified  BOOLEAN NOT NULL DEFAULT FALSE,
    lease_holder    TEXT    NOT NULL DEFAULT '',
    lease_until     BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
-- The runner's question: queued messages due now, soonest first.
CREATE INDEX outbound_due ON outbound_messages(next_attempt_at) WHERE state = 'queued';
-- The admin's list, newest first, filtered by state.
CREATE INDEX outbound_state ON outbound_messages(state, id);

-- One row per recipient of a queued message: its own state, so that a
-- message half delivered sends only to the rest next time.
-- state: 'queued', 'sent' or 'failed'.
CREATE TABLE outbound_recipients (
    message_id  INTEGER NOT NULL REFERENCES outbound_messages(id) ON DELETE CASCADE,
    position    BIGINT  NOT NULL,
    address     TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'queued',
    last_reply  TEXT    NOT NULL DEFAULT '',
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (message_id, position)
);
