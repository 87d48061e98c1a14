-- Nothing to do on PostgreSQL: the SQLite migration of the same number adds
-- the partial date indexes PostgreSQL has had since its migration 0027.
-- Kept so that both dialects count migrations alike.
SELECT 1;
