-- Nothing to do on SQLite: its date indexes are ascending since 0034; the
-- PostgreSQL migration of the same number makes that dialect's so. Kept so
-- that both dialects count migrations alike.
SELECT 1;
