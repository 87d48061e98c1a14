package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// The per-message lookups of an insert use their indexes on SQLite even
// before the planner has statistics (a fresh database): a wrong choice
// would scan a whole mailbox for every message stored.
func TestInsertLookupsUseTheirIndexes(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plans := map[string]string{
		`SELECT thread_id FROM messages WHERE message_id = 'x' AND +mailbox_id = 1 ORDER BY id LIMIT 1`:                                 "messages_msgid",
		`SELECT raw_sha256, MIN(id) FROM messages WHERE mailbox_id = 1 AND substr(raw_sha256, 1, 16) IN ('a', 'b') GROUP BY raw_sha256`: "messages_hash",
	}
	for query, index := range plans {
		rows, err := st.DB().QueryContext(ctx, `EXPLAIN QUERY PLAN `+query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "; "), index) {
			t.Errorf("%s\nplan %q does not use %s", query, plan, index)
		}
	}
}
