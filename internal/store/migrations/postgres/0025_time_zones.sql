-- The time zone a site's readers live in and, when a user chose one, the
-- user's own: IANA names ("Europe/Moscow"). Empty means the site's (for a
-- user) or the server's (for a site): the web admin shows times in it.
ALTER TABLE sites ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
