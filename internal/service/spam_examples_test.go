package service_test

import (
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
)

// A message of an mbox over MaxRuleTestSource is left out and counted, not
// read whole and not the end of the file's other messages; one such
// message uploaded alone is refused.
func TestSpamExamplesSkipsOversize(t *testing.T) {
	small := "From a@example.com Mon Dec  7 10:00:00 2026\nSubject: cheap pills\n\nbuy now\n\n"
	huge := "From b@example.com Mon Dec  7 10:00:00 2026\nSubject: big\n\n" +
		strings.Repeat("x", service.MaxRuleTestSource+10) + "\n\n"
	examples, skipped, err := service.SpamExamples("spam", strings.NewReader(small+huge+small), true)
	if err != nil || len(examples) != 2 || skipped != 1 {
		t.Fatalf("%d examples, %d skipped, %v; want 2, 1, nil", len(examples), skipped, err)
	}
	if _, _, err := service.SpamExamples("spam", strings.NewReader(huge), false); err == nil {
		t.Error("one message over the bound was taken")
	}
}
