-- Pochta schema, SQLite dialect. Times are Unix microseconds (UTC) in BIGINT
-- columns so that both dialects compare and index them the same way.

CREATE TABLE sites (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    domain      TEXT    NOT NULL DEFAULT '',
    charset     TEXT    NOT NULL DEFAULT 'UTF-8',
    language    TEXT    NOT NULL DEFAULT 'en',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id        INTEGER NOT NULL REFERENCES sites(id),
    login          TEXT    NOT NULL,
    -- login_key is the login lower-cased by Go (Unicode-aware, unlike SQL
    -- LOWER in SQLite or the C locale), so logins are unique ignoring case;
    -- search_text likewise serves the user list's search box.
    login_key      TEXT    NOT NULL UNIQUE,
    search_text    TEXT    NOT NULL DEFAULT '',
    email          TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL DEFAULT '',
    password_hash  TEXT    NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    role           TEXT    NOT NULL CHECK (role IN ('admin', 'auditor', 'user')),
    language       TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    last_login_at  BIGINT
);

CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL DEFAULT '',
    token_hash    TEXT    NOT NULL UNIQUE,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT,
    expires_at    BIGINT
);

CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE settings (
    name        TEXT   PRIMARY KEY,
    value       TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE services (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id          INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    name             TEXT    NOT NULL,
    type             TEXT    NOT NULL DEFAULT 'imap',
    server           TEXT    NOT NULL DEFAULT '',
    port             INTEGER NOT NULL DEFAULT 993,
    security         TEXT    NOT NULL DEFAULT '',
    web_url          TEXT    NOT NULL DEFAULT '',
    sort             INTEGER NOT NULL DEFAULT 100,
    smtp_server      TEXT    NOT NULL DEFAULT '',
    smtp_port        INTEGER NOT NULL DEFAULT 0,
    smtp_same_login  BOOLEAN NOT NULL DEFAULT TRUE,
    icon             TEXT    NOT NULL DEFAULT '',
    logo             BLOB,
    logo_type        TEXT    NOT NULL DEFAULT '',
    is_other         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX services_site ON services(site_id, sort);

CREATE TABLE mailboxes (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id              INTEGER NOT NULL REFERENCES sites(id),
    type                 TEXT    NOT NULL CHECK (type IN ('pop3', 'smtp', 'imap')),
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    name                 TEXT    NOT NULL,
    description          TEXT    NOT NULL DEFAULT '',
    server               TEXT    NOT NULL DEFAULT '',
    port                 INTEGER NOT NULL DEFAULT 0,
    security             TEXT    NOT NULL DEFAULT 'none',
    verify_cert          BOOLEAN NOT NULL DEFAULT TRUE,
    login                TEXT    NOT NULL DEFAULT '',
    password_enc         BLOB,
    apop                 BOOLEAN NOT NULL DEFAULT FALSE,
    delete_from_server   BOOLEAN NOT NULL DEFAULT FALSE,
    check_interval       INTEGER NOT NULL DEFAULT 0,
    domains              TEXT    NOT NULL DEFAULT '',
    relay                BOOLEAN NOT NULL DEFAULT FALSE,
    relay_auth_only      BOOLEAN NOT NULL DEFAULT FALSE,
    max_messages         INTEGER NOT NULL DEFAULT 0,
    max_message_size_kb  INTEGER NOT NULL DEFAULT 0,
    keep_days            INTEGER NOT NULL DEFAULT 0,
    charset              TEXT    NOT NULL DEFAULT '',
    service_id           INTEGER REFERENCES services(id) ON DELETE SET NULL,
    owner_id             INTEGER REFERENCES users(id) ON DELETE SET NULL,
    web_url              TEXT    NOT NULL DEFAULT '',
    folders              TEXT    NOT NULL DEFAULT '',
    sync_range           TEXT    NOT NULL DEFAULT '',
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    last_check_at        BIGINT,
    last_error           TEXT    NOT NULL DEFAULT '',
    failure_streak       INTEGER NOT NULL DEFAULT 0,
    next_check_at        BIGINT
);
CREATE INDEX mailboxes_type ON mailboxes(type, id);
CREATE INDEX mailboxes_owner ON mailboxes(owner_id);
CREATE INDEX mailboxes_service ON mailboxes(service_id);

CREATE TABLE rules (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id       INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    name             TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    sort             INTEGER NOT NULL DEFAULT 500,
    on_receive       BOOLEAN NOT NULL DEFAULT TRUE,
    on_manual        BOOLEAN NOT NULL DEFAULT TRUE,
    template         TEXT    NOT NULL DEFAULT 'manual',
    spam_op          TEXT    NOT NULL DEFAULT '',
    spam_value       INTEGER NOT NULL DEFAULT 0,
    size_op          TEXT    NOT NULL DEFAULT '',
    size_value       BIGINT  NOT NULL DEFAULT 0,
    size_unit        TEXT    NOT NULL DEFAULT 'b',
    action_read      TEXT    NOT NULL DEFAULT 'unchanged',
    action_spam      TEXT    NOT NULL DEFAULT 'unchanged',
    action_delete    BOOLEAN NOT NULL DEFAULT FALSE,
    action_stop      BOOLEAN NOT NULL DEFAULT FALSE,
    forward_to       TEXT    NOT NULL DEFAULT '',
    webhook_url      TEXT    NOT NULL DEFAULT '',
    webhook_secret   BLOB,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX rules_mailbox ON rules(mailbox_id, sort, id);

CREATE TABLE rule_conditions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id      INTEGER NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    field        TEXT    NOT NULL,
    header_name  TEXT    NOT NULL DEFAULT '',
    op           TEXT    NOT NULL,
    value_list   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX rule_conditions_rule ON rule_conditions(rule_id, position);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id       INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    message_id       TEXT    NOT NULL DEFAULT '',
    in_reply_to      TEXT    NOT NULL DEFAULT '',
    refs             TEXT    NOT NULL DEFAULT '',
    thread_id        BIGINT,
    subject          TEXT    NOT NULL DEFAULT '',
    from_addr        TEXT    NOT NULL DEFAULT '',
    reply_to         TEXT    NOT NULL DEFAULT '',
    to_addr          TEXT    NOT NULL DEFAULT '',
    cc               TEXT    NOT NULL DEFAULT '',
    bcc              TEXT    NOT NULL DEFAULT '',
    date             BIGINT  NOT NULL,
    received_at      BIGINT  NOT NULL,
    size             BIGINT  NOT NULL DEFAULT 0,
    priority         INTEGER NOT NULL DEFAULT 3,
    header           TEXT    NOT NULL DEFAULT '',
    text_body        TEXT    NOT NULL DEFAULT '',
    html_body        TEXT    NOT NULL DEFAULT '',
    raw_sha256       TEXT    NOT NULL DEFAULT '',
    is_read          BOOLEAN NOT NULL DEFAULT FALSE,
    spam             TEXT    NOT NULL DEFAULT 'unknown',
    spam_rating      INTEGER,
    spam_words       TEXT    NOT NULL DEFAULT '',
    spam_trained     TEXT    NOT NULL DEFAULT '',
    parse_errors     TEXT    NOT NULL DEFAULT '',
    attachment_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_mailbox_date ON messages(mailbox_id, date DESC, id DESC);
CREATE INDEX messages_date ON messages(date DESC, id DESC);
CREATE INDEX messages_hash ON messages(mailbox_id, raw_sha256);
CREATE INDEX messages_msgid ON messages(message_id);

CREATE TABLE message_sources (
    message_id   INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    compression  TEXT    NOT NULL DEFAULT '',
    data         BLOB    NOT NULL
);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    filename      TEXT    NOT NULL DEFAULT '',
    content_type  TEXT    NOT NULL DEFAULT '',
    size          BIGINT  NOT NULL DEFAULT 0,
    content_id    TEXT    NOT NULL DEFAULT '',
    data          BLOB,
    dropped       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX attachments_message ON attachments(message_id);

-- Server-side identities of fetched messages: POP3 UIDLs (folder '') and
-- IMAP UIDs per folder, so a message is fetched once.
CREATE TABLE mailbox_uids (
    mailbox_id   INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder       TEXT    NOT NULL DEFAULT '',
    uid          TEXT    NOT NULL,
    message_id   INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (mailbox_id, folder, uid)
);

CREATE TABLE imap_folders (
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    uidvalidity     BIGINT  NOT NULL DEFAULT 0,
    last_uid        BIGINT  NOT NULL DEFAULT 0,
    highest_modseq  BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (mailbox_id, name)
);

CREATE TABLE spam_words (
    word        TEXT    PRIMARY KEY,
    spam_count  INTEGER NOT NULL DEFAULT 0,
    ham_count   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE spam_totals (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    spam_messages  INTEGER NOT NULL DEFAULT 0,
    ham_messages   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO spam_totals (id, spam_messages, ham_messages) VALUES (1, 0, 0);

CREATE TABLE log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        BIGINT  NOT NULL,
    level       TEXT    NOT NULL,
    type        TEXT    NOT NULL DEFAULT '',
    text        TEXT    NOT NULL,
    mailbox_id  INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    rule_id     INTEGER REFERENCES rules(id) ON DELETE SET NULL,
    message_id  INTEGER REFERENCES messages(id) ON DELETE SET NULL
);
CREATE INDEX log_time ON log(time);
CREATE INDEX log_mailbox ON log(mailbox_id, id);
CREATE INDEX log_rule ON log(rule_id, id);
CREATE INDEX log_message ON log(message_id, id);

CREATE TABLE outbound_queue (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id       INTEGER REFERENCES mailboxes(id) ON DELETE SET NULL,
    rule_id          INTEGER REFERENCES rules(id) ON DELETE SET NULL,
    mail_from        TEXT    NOT NULL DEFAULT '',
    rcpt_to          TEXT    NOT NULL,
    data             BLOB    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'queued',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_error       TEXT    NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL
);
CREATE INDEX outbound_queue_due ON outbound_queue(status, next_attempt_at);

-- Leases give one holder at a time to a named piece of work (for example a
-- mailbox fetch) across every Pochta process that shares the database.
CREATE TABLE leases (
    name        TEXT   PRIMARY KEY,
    holder      TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL
);
