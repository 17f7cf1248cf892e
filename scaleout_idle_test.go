package sluice_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScaleOutWindowIdlePartition: the scaled-out windowed query of
// TestScaleOutWindowRepartition with 'watermark.idle_timeout' = '2s',
// over a topic one of whose partitions never gets a row. In one process
// that partition goes idle after 2 s and stops holding the watermark
// back; across the hop its upstream owner writes it as idle, so the
// windows the other partitions' watermark passed close downstream while
// those partitions are still producing (a keep-alive row per partition
// every 200 ms keeps them active, so only the silent partition's
// idleness can close them). Once all input stops every partition goes
// idle and the watermark moves on with processing time, as in one
// process, closing the last windows. Without idleness crossing the hop
// no window ever closes: the silent partition's watermark is never
// heard of downstream.
func TestScaleOutWindowIdlePartition(t *testing.T) {
	const parts = 4
	addr := kCluster(t, map[string]int32{"events": parts})
	res := newSWWindows()
	res.repeats = true
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	idle := ", 'watermark.idle_timeout' = '2s'"
	for i := range 3 {
		db, mem := kOpen(t, kConfig())
		t.Cleanup(func() { mem.AssertSize(t, 0) })
		kExec(t, db, fmt.Sprintf(swSource, addr, "gidle", idle))
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
	kWaitGroup(t, addr, "gidle", 6, 2*parts)

	// 1,200 rows over 20 categories, 50 ms apart, on partitions 0-2
	// only, in time order within each.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	orders := kOrders(0, 1200, 20, base, 50*time.Millisecond)
	recs := make([]*kgo.Record, len(orders))
	for i, o := range orders {
		recs[i] = &kgo.Record{Topic: "events", Partition: int32(i % 3), Value: kJSON(o)}
	}
	kProduce(t, addr, recs...)
	last := orders[len(orders)-1].TS
	stopKeep := make(chan struct{})
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		pcl := kClient(t, addr)
		defer pcl.Close()
		for {
			select {
			case <-stopKeep:
				return
			case <-time.After(200 * time.Millisecond):
			}
			var keep []*kgo.Record
			for p := range int32(3) {
				keep = append(keep, &kgo.Record{Topic: "events", Partition: p, Value: kJSON(kOrder{Category: "keep", TS: last})})
			}
			if err := pcl.ProduceSync(context.Background(), keep...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	// Partitions 0-2 are active: the watermark is theirs, the least of
	// their greatest event time − 1 s, once partition 3 is idle.
	top := [3]time.Time{}
	for i, o := range orders {
		top[i%3] = o.TS
	}
	wm := top[0]
	for _, ts := range top {
		if ts.Before(wm) {
			wm = ts
		}
	}
	early := swWant(orders, wm.Add(-time.Second))
	if len(early) == 0 {
		t.Fatal("test data closes no window")
	}
	swWaitIgnoring(t, res, early, "keep", "while partitions 0-2 produce and partition 3 is idle")
	close(stopKeep)
	<-kept
	// All input stopped: every partition idle, the watermark moves on
	// with processing time and the last windows close.
	swWaitIgnoring(t, res, swWant(orders, last.Add(time.Hour)), "keep", "after all input stopped")
}

// swWaitIgnoring is swWait over the windows whose key does not contain
// skip (the keep-alive rows' windows, whose counts depend on timing).
func swWaitIgnoring(t *testing.T, res *swWindows, want map[string]string, skip, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res.mu.Lock()
		missing, wrong := 0, ""
		for k, v := range want {
			got, ok := res.rows[k]
			switch {
			case !ok:
				missing++
			case got != v:
				wrong = fmt.Sprintf("window %s = %s, single process %s", k, got, v)
			}
		}
		for _, c := range res.changed {
			if !strings.Contains(c, skip) {
				wrong = "window emitted twice with different values: " + c
			}
		}
		for k, n := range res.times {
			if strings.Contains(k, skip) {
				continue
			}
			if n > 1 && res.rows[k] != want[k] {
				wrong = fmt.Sprintf("window %s emitted %d times", k, n)
			}
		}
		res.mu.Unlock()
		if wrong != "" {
			t.Fatalf("%s: %s", what, wrong)
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d windows not closed", what, missing, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
