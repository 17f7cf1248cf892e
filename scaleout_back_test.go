package sluice_test

import (
	"testing"
	"time"
)

// TestScaleOutPartitionsComeBack: repartition partitions that a DB
// gives up in a cooperative revoke and gets back before its pipeline
// sees another batch are aggregated again when their rows come. A
// second DB joins while no input flows (the first DB's downstream part
// revokes half of the repartition partitions, its pipeline hears of no
// batch meanwhile) and leaves again, so the first DB holds the same
// partitions as before the join. The rows produced after that must all
// count. The revoke used to forget the partitions as held while the
// pipeline, whose list of partitions had not changed, never told the
// operator of them again: every later batch of them was dropped as one
// of a partition no longer held, and its offsets committed all the same
// (the crash harness saw windows closed with a third of their rows).
func TestScaleOutPartitionsComeBack(t *testing.T) {
	const parts = 4
	addr := kCluster(t, map[string]int32{"orders": parts})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res := &soResult{rows: map[string][2]int64{}, by: map[*soMember]int{}}

	first := soStart(t, addr, res)
	defer first.stop(t)
	kWaitGroup(t, addr, "g1", 2, 2*parts)
	before := kOrders(0, 800, 40, base, time.Millisecond)
	kProduce(t, addr, soSpread("orders", parts, 0, before)...)
	soWait(t, res, soWant(before), "one DB")

	// A second DB joins and leaves while nothing is produced: its
	// share of the partitions goes back to the first.
	second := soStart(t, addr, res)
	kWaitGroup(t, addr, "g1", 4, 2*parts)
	second.stop(t)
	kWaitGroup(t, addr, "g1", 2, 2*parts)

	after := kOrders(800, 800, 40, base, time.Millisecond)
	kProduce(t, addr, soSpread("orders", parts, 800, after)...)
	soWait(t, res, soWant(append(before, after...)), "after the partitions came back")
}
