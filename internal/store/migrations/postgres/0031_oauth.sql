-- OAuth2 for IMAP user mailboxes (issue 15 item 3).
-- A mail service's OAuth2 client: the mailboxes connected through it sign
-- in with a bearer token (SASL XOAUTH2 or OAUTHBEARER) instead of a
-- password. The client secret is sealed like mailbox passwords.
ALTER TABLE services ADD COLUMN oauth_client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN oauth_secret_enc BYTEA;
ALTER TABLE services ADD COLUMN oauth_auth_url TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN oauth_token_url TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN oauth_scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN oauth_mechanism TEXT NOT NULL DEFAULT '';
-- A mailbox signed in with OAuth2: its SASL mechanism, its token (access,
-- refresh, expiry as sealed JSON) and the token's version, which every
-- refresh compares and increments, so that two processes refreshing at
-- once never store an older token over a newer one.
ALTER TABLE mailboxes ADD COLUMN oauth_mechanism TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN oauth_token_enc BYTEA;
ALTER TABLE mailboxes ADD COLUMN oauth_token_version BIGINT NOT NULL DEFAULT 0;
-- An authorisation under way: the hash of its state parameter, bound to
-- the web session that started it (gone with the session), used once and
-- expiring; the PKCE verifier sealed.
CREATE TABLE oauth_states (
    state_hash    TEXT    PRIMARY KEY,
    session_id    TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service_id    BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    mailbox_id    BIGINT REFERENCES mailboxes(id) ON DELETE CASCADE,
    login         TEXT    NOT NULL DEFAULT '',
    verifier_enc  BYTEA NOT NULL,
    redirect_url  TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states(expires_at);
