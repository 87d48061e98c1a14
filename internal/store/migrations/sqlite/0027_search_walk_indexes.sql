-- Nothing to do on SQLite: the PostgreSQL migration of the same number adds
-- the partial date indexes its search walks with is:unread and
-- has:attachment (SQLite tests a condition on the rows of its full-text
-- matches, which its index gives without reading the table). Kept so that
-- both dialects count migrations alike.
SELECT 1;
