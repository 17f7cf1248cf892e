package sluice_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScaleOutWindowMoveSilentPartitions: windows close correctly after
// the partitions move, when the source partitions that hold the
// watermark up produce no row after the move. Partitions 1-3 run 5
// minutes ahead of partition 0 and then fall silent; two of the three
// DBs stop, so the last one takes over repartition partitions and at
// least one of partitions 1-3 (their new upstream owner has read none
// of their rows, so it has no watermark of theirs to write). The
// repartition partitions' carried watermark state, saved with their
// window state, comes back with it: the windows that partition 0's
// rows close after the move close on the new owner, with the
// single-process values. Without it the new owner waits for a mark of
// every source partition and those windows never close.
func TestScaleOutWindowMoveSilentPartitions(t *testing.T) {
	const parts = 4
	addr := kCluster(t, map[string]int32{"events": parts})
	res := newSWWindows()
	res.repeats = true
	stops := make([]func(), 0, 3)
	defer func() {
		for _, s := range stops {
			if s != nil {
				s()
			}
		}
	}()
	for i := range 3 {
		db, mem := kOpen(t, kConfig())
		t.Cleanup(func() { mem.AssertSize(t, 0) })
		kExec(t, db, fmt.Sprintf(swSource, addr, "gmove", ""))
		rows, cancel, done := swRun(t, db, fmt.Sprint("db", i), res)
		stops = append(stops, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("member: %v", err)
			}
			rows.Close()
			db.Close()
		})
	}
	kWaitGroup(t, addr, "gmove", 6, 2*parts)

	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []kOrder
	var recs []*kgo.Record
	add := func(p int32, o kOrder) {
		all = append(all, o)
		recs = append(recs, &kgo.Record{Topic: "events", Partition: p, Value: kJSON(o)})
	}
	// Partition 0: 0-15 s; partitions 1-3: from 5 minutes on.
	for _, o := range kOrders(0, 300, 20, base, 50*time.Millisecond) {
		add(0, o)
	}
	for p := int32(1); p < parts; p++ {
		for _, o := range kOrders(int(p)*1000, 100, 20, base.Add(5*time.Minute), 50*time.Millisecond) {
			add(p, o)
		}
	}
	kProduce(t, addr, recs...)
	wm := base.Add(299*50*time.Millisecond - time.Second)
	swWait(t, res, swWant(all, wm), "three DBs")

	// Two DBs leave; the third holds every partition.
	stops[1]()
	stops[1] = nil
	stops[2]()
	stops[2] = nil
	kWaitGroup(t, addr, "gmove", 2, 2*parts)
	recs = nil
	for _, o := range kOrders(300, 2100, 20, base, 50*time.Millisecond) {
		add(0, o)
	}
	kProduce(t, addr, recs...)
	wm = base.Add(2399*50*time.Millisecond - time.Second)
	swWait(t, res, swWant(all, wm), "after the partitions moved (partitions 1-3 silent)")
}
