-- Rules (issue 14). A rule's text conditions move out of the
-- rule_conditions table, which nothing ever wrote, into a JSON text column
-- of the rule ([{"field", "header", "op", "values"}], the API's shape): a
-- rule is read and written whole (the engine compiles all of it, the list
-- describes all of it) and never searched by a condition, so one row keeps
-- an update one statement without deleting and re-inserting children, and
-- the active rules of a mailbox one indexed query. TEXT, not jsonb, so
-- that both dialects have the same column and neither looks inside it. The
-- spam, size and action columns of 0001 stay: they are one of each per
-- rule, as in the API.
DROP TABLE rule_conditions;
ALTER TABLE rules ADD COLUMN conditions TEXT NOT NULL DEFAULT '[]';
-- The name lower-cased by Go, for the name filter and sorting by name:
-- SQLite's LOWER folds ASCII only, so Cyrillic names would not match.
ALTER TABLE rules ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE rules SET name_key = LOWER(name);
-- The run order of the rules of every mailbox (mailbox_id NULL).
CREATE INDEX rules_order ON rules(sort, id);
