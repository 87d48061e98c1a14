-- A work log line Pochta writes itself (not a server's reply) is kept as
-- its pieces: catalog keys with their arguments, as JSON, so that the web
-- admin and the API say it in each reader's language; its text column is
-- then empty (the service says it in English where a text is wanted).
-- Lines written before, and servers' replies, keep their text.
ALTER TABLE log ADD COLUMN parts TEXT NOT NULL DEFAULT '';
