-- A work log line Pochta writes itself (not a server's reply) also keeps
-- its pieces: catalog keys with their arguments, as JSON, so that the web
-- admin says it in each reader's language. text keeps it in English for the
-- API, the command line and lines written before.
ALTER TABLE log ADD COLUMN parts TEXT NOT NULL DEFAULT '';
