//go:build race

package imapsync_test

// raceDetector: the test binary runs under the race detector.
const raceDetector = true
