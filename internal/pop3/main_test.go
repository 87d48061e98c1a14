package pop3

import (
	"os"
	"strings"
	"sync"
	"testing"

	"pochta.dev/pochta/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll()
	os.Exit(code)
}

// traceLog records Options.Trace calls; safe for concurrent use.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) trace(direction, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, direction+" "+line)
}

func (l *traceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// contains reports whether a traced line equals want.
func (l *traceLog) contains(want string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if line == want {
			return true
		}
	}
	return false
}
