-- PostgreSQL's search vector gains lexemes of the sender and the recipients
-- (its migration 0032); SQLite's full-text table has had columns of its own
-- for them since migration 0005, so there is nothing to do here.
SELECT 1;
