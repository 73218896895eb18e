//go:build !race

package ship

const raceDetector = false
