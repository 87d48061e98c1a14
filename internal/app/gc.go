package app

import (
	"os"
	"runtime/debug"
)

// ReceivingGC is the garbage collector's target (GOGC) of a serving
// process: a collection when the heap has grown by three times what it
// held live after the last one, not once. Receiving mail makes much
// short-lived garbage (each message's parse, compression and search
// terms), and at Go's default of 100 the collector took about a tenth of
// the SMTP server's CPU. At 300, measured against 100 in interleaved runs
// (docs/benchmarks.md "The collector's target"): 3-13% less CPU a message
// over SMTP, 4-7% over POP3, for about 75 MB more at the peak of a
// 20,000-message fetch; a 50 MB message and an idle server take what they
// took.
const ReceivingGC = 300

// TuneGC sets ReceivingGC for this process unless GOGC in the environment
// says otherwise (GOGC=100 gives Go's default back).
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(ReceivingGC)
	}
}
