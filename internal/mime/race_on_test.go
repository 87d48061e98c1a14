//go:build race

package mime

// raceEnabled: the race detector slows byte loops tenfold, so the large
// tests use smaller messages under it.
const raceEnabled = true
