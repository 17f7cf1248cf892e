//go:build race

package main

// raceEnabled: the test binary has the race detector, so the sluice
// binary under test is built with it too (reusing what go test compiled).
const raceEnabled = true
