-- Nothing to do on PostgreSQL: the SQLite migration of the same number tunes
-- FTS5 merging. Kept so that both dialects count migrations alike.
SELECT 1;
