-- The search vector's weights become: subject A, sender (from, reply-to) B,
-- recipients (to, cc, bcc) C, body D, so that the list's "from" and "to"
-- filters each search their own addresses. New rows get a vector built in Go
-- (see store.tsvectorLiteral); rows stored before this migration are
-- rebuilt here with PostgreSQL's own parser, which under the C locale does
-- not split Cyrillic words as Go does: re-import such mail to search it fully.
UPDATE messages SET search =
    setweight(to_tsvector('simple', subject), 'A') ||
    setweight(to_tsvector('simple', from_addr || ' ' || reply_to), 'B') ||
    setweight(to_tsvector('simple', to_addr || ' ' || cc || ' ' || bcc), 'C') ||
    setweight(to_tsvector('simple', left(text_body, 262144)), 'D');
