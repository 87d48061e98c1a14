package fetch

import (
	"testing"

	"pochta.dev/pochta/internal/pop3"
	"pochta.dev/pochta/internal/worklog"
)

// The client's "(6 lines)" after a message is Pochta's own words, said in
// each reader's language; a server's reply stays as the server said it.
func TestTraceLinesTranslated(t *testing.T) {
	log := &traceLog{mailbox: 1}
	log.trace(pop3.TraceRecv, ". (6 lines)")
	log.trace(pop3.TraceError, ". (x lines)")
	if len(log.pending) != 2 {
		t.Fatalf("%d rows", len(log.pending))
	}
	if got := worklog.Text("ru", log.pending[0]); got != ". (строк: 6)" {
		t.Errorf("in Russian: %q", got)
	}
	if got := worklog.Text("en", log.pending[0]); got != ". (6 lines)" {
		t.Errorf("in English: %q", got)
	}
	if got := worklog.Text("ru", log.pending[1]); got != ". (x lines)" {
		t.Errorf("not a count: %q", got)
	}
}
