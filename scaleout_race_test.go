//go:build race

package sluice_test

// raceEnabled: the race detector slows the DBs of a scaled-out test
// (several in one process); see TestScaleOutJoinRepartition.
const raceEnabled = true
