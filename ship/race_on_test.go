//go:build race

package ship

// raceDetector: the race detector changes what the runtime allocates, so
// tests that count allocated bytes do not run under it.
const raceDetector = true
