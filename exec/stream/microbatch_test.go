package stream

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// peakAllocator records the most bytes its allocator ever held at once.
type peakAllocator struct {
	*memory.CheckedAllocator
	mu   sync.Mutex
	peak int
}

func (a *peakAllocator) note() {
	a.mu.Lock()
	a.peak = max(a.peak, a.CurrentAlloc())
	a.mu.Unlock()
}

func (a *peakAllocator) Allocate(n int) []byte {
	b := a.CheckedAllocator.Allocate(n)
	a.note()
	return b
}

func (a *peakAllocator) Reallocate(n int, b []byte) []byte {
	b = a.CheckedAllocator.Reallocate(n, b)
	a.note()
	return b
}

// TestRunMicroBatchFoldsOnArrival: between two triggers the driver folds
// each arriving batch into the aggregate at once, so the memory it holds
// is bounded by the groups, not by the input of the interval; the trigger
// still emits the interval's updates.
func TestRunMicroBatchFoldsOnArrival(t *testing.T) {
	mem := &peakAllocator{CheckedAllocator: checkedMem(t)}
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(epoch)
	r := newScriptReader()
	c := newCollector()
	triggers := make(chan TriggerInfo, 4)
	p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Emit: c.emit(t), Clock: clock,
		OnTrigger: func(i TriggerInfo) { triggers <- i }}
	done := make(chan error, 1)
	go func() { done <- p.RunMicroBatch(context.Background(), 5*time.Second, false) }()
	r.start()
	var rows []string
	for i := range 64 {
		rows = append(rows, fmt.Sprintf(`{"k":"%c","v":1}`, 'a'+i%3))
	}
	js := "[" + strings.Join(rows, ",") + "]"
	before := mem.CurrentAlloc()
	one := fromJSON(t, mem, kvSchema, js)
	batchBytes := mem.CurrentAlloc() - before
	one.Release()
	const batches = 200
	for range batches {
		rec := fromJSON(t, mem, kvSchema, js)
		r.push(rec, 0)
		rec.Release()
	}
	clock.BlockUntil(1)
	clock.Advance(5 * time.Second)
	info := <-triggers
	if info.Batches != batches || info.Rows != batches*64 {
		t.Fatalf("trigger saw %d batches, %d rows; want %d, %d", info.Batches, info.Rows, batches, batches*64)
	}
	want := []string{"+I|a|4400", "+I|b|4200", "+I|c|4200"}
	if got := <-c.recs; !equalStrings(got, want) {
		t.Fatalf("trigger emitted %q, want %q", got, want)
	}
	// Holding the interval's input would be batches × batchBytes.
	if limit := 20 * batchBytes; mem.peak > limit {
		t.Errorf("peak %d bytes over one interval of %d batches of %d bytes: input held until the trigger (limit %d)", mem.peak, batches, batchBytes, limit)
	}
	r.end()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
