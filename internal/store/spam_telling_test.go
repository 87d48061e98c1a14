package store_test

import (
	"context"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// The spam page's most telling words: leaning by share of each class,
// words seen too rarely left out, and a class's list holds only words that
// lean to it (not "the", as common in both, nor spam's words when ham has
// fewer than the limit), on both backends.
func TestSpamTellingWords(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		words := map[string]store.SpamCount{"viagra": {Spam: 9}, "casino": {Spam: 6, Ham: 1}, "meeting": {Ham: 8}, "отчёт": {Ham: 5},
			"the": {Spam: 10, Ham: 20}, "rare": {Spam: 1}}
		totals := store.SpamCount{Spam: 10, Ham: 20}
		if err := st.ApplySpamDelta(ctx, words, totals); err != nil {
			t.Fatal(err)
		}
		spam, err := st.SpamTellingWords(ctx, totals, true, 2, 2)
		if err != nil || len(spam) != 2 || spam[0].Word != "viagra" || spam[1].Word != "casino" || spam[0].Spam != 9 {
			t.Errorf("spam words: %+v, %v", spam, err)
		}
		ham, err := st.SpamTellingWords(ctx, totals, false, 2, 3)
		if err != nil || len(ham) != 2 || ham[0].Word != "meeting" || ham[1].Word != "отчёт" {
			t.Errorf("ham words: %+v, %v", ham, err)
		}
		if all, _ := st.SpamTellingWords(ctx, totals, true, 1, 100); len(all) != 3 || all[2].Word != "rare" {
			t.Errorf("with rare words: %+v", all)
		}
	})
}
