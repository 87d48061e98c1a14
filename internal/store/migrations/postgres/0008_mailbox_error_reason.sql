-- What went wrong at a mailbox's last check, as a reason the front ends
-- put in plain words in the reader's language (fetch.FailureReason:
-- "refused", "login", "certificate"...); last_error keeps the error's own
-- text for the detail. Old errors have no reason: they show as they are.
ALTER TABLE mailboxes ADD COLUMN last_error_reason TEXT NOT NULL DEFAULT '';
