package spam

import (
	"context"
	"path/filepath"
	"testing"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

// The classifier reads the same counts from the store as from memory.
func TestStoreCounts(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "pochta.db") },
		"postgres": func(t *testing.T) string { return testpeer.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			memory := trained(t)
			stored := Store{St: st}
			for i := 0; i < 10; i++ {
				if err := Train(ctx, stored, []string{"cheap", "pills", "winner", "the"}, Spam); err != nil {
					t.Fatal(err)
				}
				if err := Train(ctx, stored, []string{"meeting", "agenda", "the", "report"}, Ham); err != nil {
					t.Fatal(err)
				}
			}
			tokens := []string{"cheap", "pills", "agenda", "the", "unknown"}
			want, err := NewClassifier(Params{}, memory).Classify(ctx, tokens)
			if err != nil {
				t.Fatal(err)
			}
			got, err := NewClassifier(Params{}, stored).Classify(ctx, tokens)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() || got.Probability != want.Probability {
				t.Errorf("from the store %v %q, from memory %v %q", got.Probability, got, want.Probability, want)
			}
			if err := Untrain(ctx, stored, []string{"cheap"}, Spam); err != nil {
				t.Fatal(err)
			}
			if c, _ := stored.Words(ctx, []string{"cheap"}); c["cheap"] != (Count{Spam: 9}) {
				t.Errorf("after untraining: %v", c)
			}
		})
	}
}
