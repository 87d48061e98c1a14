-- The Bayesian filter's learned counts (issue 14). 0001 made spam_words and
-- spam_totals before the filter existed, and nothing wrote them. spam_words
-- is made again: its counts cannot go below zero (an untraining that takes
-- away more than was learned stops at zero), and its word compares as bytes
-- (SQLite: a WITHOUT ROWID table, one b-tree keyed by the word; PostgreSQL:
-- the "C" collation, whatever the server's locale). Every process on one
-- database shares the counts; a training changes them with INSERT ... ON
-- CONFLICT DO UPDATE SET count = count + delta, so that two processes
-- training at once lose nothing. How each message was trained ('', 'spam'
-- or 'ham') is messages.spam_trained (0001), so that re-marking a message
-- moves its counts once.
DROP TABLE spam_words;
CREATE TABLE spam_words (
    word        TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
    spam_count  BIGINT  NOT NULL DEFAULT 0 CHECK (spam_count >= 0),
    ham_count   BIGINT  NOT NULL DEFAULT 0 CHECK (ham_count >= 0)
);
UPDATE spam_totals SET spam_messages = 0, ham_messages = 0;
