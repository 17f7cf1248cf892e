package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
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

// TestRunMicroBatchBarrier: a barrier in a micro-batch run (a consumer
// group's revoke) folds the queued arrivals, emits at once what waited
// for the next trigger, commits it, and only then runs After and
// answers; the next trigger has nothing left to emit. Without it the
// output of the revoked partitions waited for a trigger after they had
// moved, and their next owner emitted it again.
func TestRunMicroBatchBarrier(t *testing.T) {
	mem := checkedMem(t)
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(epoch)
	r := newScriptReader()
	c := newCollector()
	var mu sync.Mutex
	var events []string
	note := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	emit := c.emit(t)
	bar := make(chan Barrier)
	triggers := make(chan TriggerInfo, 16)
	p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Clock: clock, Barrier: bar,
		Emit: func(ctx context.Context, rec arrow.Record) error { note("emit"); return emit(ctx, rec) },
		Commit: func(_ context.Context, upTo exec.Offsets) error {
			note(fmt.Sprintf("commit %v", upTo["p0"]))
			return nil
		},
		OnTrigger: func(i TriggerInfo) { triggers <- i }}
	done := make(chan error, 1)
	go func() { done <- p.RunMicroBatch(context.Background(), 5*time.Second, false) }()
	r.start()
	rec := fromJSON(t, mem, kvSchema, `[{"k":"a","v":1},{"k":"b","v":2}]`)
	r.push(rec, 0)
	rec.Release()
	answered := make(chan error, 1)
	select {
	case bar <- Barrier{Done: answered, After: func() { note("after") }}:
	case <-time.After(10 * time.Second):
		t.Fatal("the micro-batch run took no barrier")
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if got := <-c.recs; !equalStrings(got, []string{"+I|a|1", "+I|b|2"}) {
		t.Fatalf("barrier emitted %q", got)
	}
	mu.Lock()
	got := strings.Join(events, ", ")
	mu.Unlock()
	if !strings.HasPrefix(got, "emit, commit 2") || !strings.HasSuffix(got, "after") {
		t.Errorf("barrier ran %q: want the output emitted, then committed with its offsets, then After", got)
	}
	if info := <-triggers; info.Batches != 1 || info.Emitted != 2 {
		t.Errorf("the barrier's trigger: %+v, want 1 batch, 2 rows emitted", info)
	}
	// The next trigger finds nothing left.
	clock.BlockUntil(1)
	clock.Advance(5 * time.Second)
	if info := <-triggers; info.Emitted != 0 {
		t.Errorf("trigger after the barrier emitted %d rows again", info.Emitted)
	}
	r.end()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunMicroBatchDiscardRollsBack: a discarding barrier (partitions
// lost) and a refused commit (stream.Rewound) in a micro-batch run of
// an updating result take the update tracker back to the last commit.
// A change waiting for the trigger is not emitted after the discard
// (its input is read again: it was emitted twice); a change emitted in
// the discarded transaction is no longer taken as emitted, so the same
// value, produced again from the input read again, is emitted again
// (it was lost: it compared equal to the discarded emission).
func TestRunMicroBatchDiscardRollsBack(t *testing.T) {
	mem := checkedMem(t)
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(epoch)
	r := newScriptReader()
	c := newCollector()
	bar := make(chan Barrier)
	triggers := make(chan TriggerInfo, 16)
	var refuse atomic.Bool
	p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Clock: clock, Barrier: bar, Emit: c.emit(t),
		Commit: func(_ context.Context, upTo exec.Offsets) error {
			if refuse.Swap(false) {
				return &Rewound{Epoch: 0, Err: errors.New("refused")}
			}
			return nil
		},
		OnTrigger: func(i TriggerInfo) { triggers <- i }}
	done := make(chan error, 1)
	go func() { done <- p.RunMicroBatch(context.Background(), 5*time.Second, false) }()
	r.start()
	push := func(js string) {
		rec := fromJSON(t, mem, kvSchema, js)
		r.push(rec, 0)
		rec.Release()
	}
	trigger := func() TriggerInfo {
		clock.BlockUntil(1)
		clock.Advance(5 * time.Second)
		return <-triggers
	}
	wantEmitted := func(what string, want ...string) {
		t.Helper()
		info := trigger()
		var got []string
		if info.Emitted > 0 {
			got = <-c.recs
		}
		if !equalStrings(got, want) {
			t.Fatalf("%s: emitted %q, want %q", what, got, want)
		}
	}
	push(`[{"k":"a","v":1},{"k":"b","v":2}]`)
	wantEmitted("first trigger", "+I|a|1", "+I|b|2") // committed

	// A change waits for the trigger; the partitions are lost.
	push(`[{"k":"a","v":10}]`)
	time.Sleep(100 * time.Millisecond) // let it fold into the operator and the tracker
	answered := make(chan error, 1)
	select {
	case bar <- Barrier{Discard: true, Done: answered}:
	case <-time.After(10 * time.Second):
		t.Fatal("the micro-batch run took no barrier")
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	wantEmitted("trigger after the loss") // nothing: a=11 was discarded

	// The operator (not reset here, as the engine's restore would) now
	// gives b=5; its commit is refused: the emission is discarded.
	refuse.Store(true)
	push(`[{"k":"b","v":3}]`)
	wantEmitted("trigger whose commit is refused", "+U|b|5")
	// Read again, b's input gives b=5 again (here -3 then +3 on the
	// operator the test does not reset): it must be emitted, the refused
	// transaction's +U being gone.
	push(`[{"k":"b","v":-3}]`)
	push(`[{"k":"b","v":3}]`)
	wantEmitted("trigger after the refused commit", "+U|b|5")
	r.end()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
