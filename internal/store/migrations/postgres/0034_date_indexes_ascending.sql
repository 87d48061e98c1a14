-- Nothing to do on PostgreSQL: the SQLite migration of the same number makes
-- SQLite's date indexes ascending, so that new mail is appended at their
-- right edge. Kept so that both dialects count migrations alike.
SELECT 1;
