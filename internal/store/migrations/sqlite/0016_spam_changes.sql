-- A counter of the spam filter's trainings (issue 14): every change of the
-- learned counts adds one in the transaction that makes it, so that a
-- process keeping word counts in memory (the rating on receipt reads
-- hundreds of words a message) knows from one row when they are stale,
-- whichever process trained.
ALTER TABLE spam_totals ADD COLUMN changes BIGINT NOT NULL DEFAULT 0;
