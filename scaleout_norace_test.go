//go:build !race

package sluice_test

// raceEnabled: see scaleout_race_test.go.
const raceEnabled = false
