package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

func TestRunContinuousEmitsChangesAsBatchesArrive(t *testing.T) {
	mem := checkedMem(t)
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	r := newScriptReader()
	c := newCollector()
	var committed exec.Offsets
	p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Emit: c.emit(t), Clock: NewManualClock(epoch),
		Commit: func(_ context.Context, o exec.Offsets) error { committed = o; return nil }}
	done := make(chan error, 1)
	go func() { done <- p.RunContinuous(context.Background()) }()
	r.start()
	steps := []struct {
		in   string
		want []string
	}{
		{`[{"k":"a","v":1}]`, []string{"+I|a|1"}},
		{`[{"k":"a","v":2},{"k":"b","v":5}]`, []string{"-U|a|1", "+U|a|3", "+I|b|5"}},
	}
	for i, s := range steps {
		rec := fromJSON(t, mem, kvSchema, s.in)
		r.push(rec, 0)
		rec.Release()
		if got := <-c.recs; !equalStrings(got, s.want) {
			t.Fatalf("step %d: got %q want %q", i, got, s.want)
		}
	}
	r.end()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if committed["p0"] != 3 {
		t.Fatalf("committed offsets %v, want p0=3", committed)
	}
	if !r.closed {
		t.Fatal("reader not closed")
	}
}

func TestRunContinuousStatelessFilterProjectKeepsOp(t *testing.T) {
	mem := checkedMem(t)
	// WHERE v > 1, SELECT op, v, k over a changelog input.
	feed := NewFeed(clSchema)
	pred, err := expr.Call("gt", []expr.Expr{expr.Column(2, arrow.PrimitiveTypes.Int64, "v"), expr.Literal(arrow.PrimitiveTypes.Int64, int64(1))}, arrow.FixedWidthTypes.Boolean)
	if err != nil {
		t.Skipf("expr.Call gt unavailable: %v", err)
	}
	proj, err := exec.NewProject(mem, exec.NewFilter(mem, feed, pred),
		[]expr.Expr{expr.Column(0, arrow.PrimitiveTypes.Int8, "op"), expr.Column(2, arrow.PrimitiveTypes.Int64, "v"), expr.Column(1, arrow.BinaryTypes.String, "k")},
		[]string{"op", "v", "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer proj.Close()
	r := newScriptReader()
	c := newCollector()
	p := &Pipeline{Mem: mem, Reader: r, Schema: proj.Schema(), Transforms: []Transform{OperatorTransform(mem, feed, proj)},
		Emit: c.emit(t), Clock: NewManualClock(epoch)}
	done := make(chan error, 1)
	go func() { done <- p.RunContinuous(context.Background()) }()
	r.start()
	rec := fromJSON(t, mem, clSchema, `[{"op":0,"k":"a","v":1},{"op":1,"k":"b","v":2},{"op":2,"k":"b","v":3}]`)
	r.push(rec, 0)
	rec.Release()
	want := []string{"-U|2|b", "+U|3|b"}
	if got := <-c.recs; !equalStrings(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	r.end()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunContinuousEmitFinalWithIdleTick(t *testing.T) {
	mem := checkedMem(t)
	clock := NewManualClock(epoch)
	w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second},
		WindowOptions{IdleTimeout: time.Second, Clock: clock})
	r := newScriptReader()
	c := newCollector()
	p := &Pipeline{Mem: mem, Reader: r, Schema: evSchema, Op: w, Emit: c.emit(t), Clock: clock, TickEvery: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.RunContinuous(ctx) }()
	r.start()
	rec := evRecord(mem, []ev{{sec(1), "a", 1}, {sec(9), "a", 2}})
	r.push(rec, 0)
	rec.Release()
	// The input goes idle; processing time then pushes the watermark
	// (9s) past 10s after one more second.
	for i := 0; i < 3; i++ {
		clock.BlockUntil(1)
		clock.Advance(time.Second)
	}
	if got := <-c.recs; !equalStrings(got, []string{"0|10000|a|2|3"}) {
		t.Fatalf("got %q", got)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
}

func TestRunMicroBatchUpdateAndFull(t *testing.T) {
	inputs := []string{
		`[{"k":"a","v":1},{"k":"b","v":2}]`,
		`[{"k":"a","v":3}]`,
		``, // a trigger with no new input
		`[{"k":"c","v":1},{"k":"b","v":0}]`,
	}
	tests := []struct {
		name string
		full bool
		want [][]string
	}{
		{"update", false, [][]string{{"+I|a|1", "+I|b|2"}, {"+U|a|4"}, nil, {"+I|c|1"}}},
		{"full", true, [][]string{{"a|1", "b|2"}, {"a|4", "b|2"}, nil, {"a|4", "b|2", "c|1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
				[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
			if err != nil {
				t.Fatal(err)
			}
			clock := NewManualClock(epoch)
			r := newScriptReader()
			c := newCollector()
			triggers := make(chan TriggerInfo, 16)
			p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Emit: c.emit(t), Clock: clock,
				OnTrigger: func(i TriggerInfo) { triggers <- i }}
			done := make(chan error, 1)
			go func() { done <- p.RunMicroBatch(context.Background(), 5*time.Second, tc.full) }()
			r.start()
			for i, in := range inputs {
				if in != "" {
					rec := fromJSON(t, mem, kvSchema, in)
					r.push(rec, 0)
					rec.Release()
				}
				clock.BlockUntil(1)
				clock.Advance(5 * time.Second)
				info := <-triggers
				var got []string
				if info.Emitted > 0 {
					got = <-c.recs
				}
				if !equalStrings(got, tc.want[i]) {
					t.Fatalf("trigger %d: got %q want %q", i, got, tc.want[i])
				}
			}
			r.end()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRunMicroBatchSlowTriggerAndAppendWindows(t *testing.T) {
	mem := checkedMem(t)
	clock := NewManualClock(epoch)
	w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Clock: clock})
	r := newScriptReader()
	c := newCollector()
	triggers := make(chan TriggerInfo, 16)
	slow := true
	// A sink that takes 7s of processing time on the first trigger (the
	// input itself is folded as it arrives, before the trigger).
	emit := c.emit(t)
	burn := func(ctx context.Context, rec arrow.Record) error {
		if slow {
			clock.Advance(7 * time.Second)
			slow = false
		}
		return emit(ctx, rec)
	}
	p := &Pipeline{Mem: mem, Reader: r, Schema: evSchema, Op: w, Emit: burn,
		Clock: clock, OnTrigger: func(i TriggerInfo) { triggers <- i }}
	done := make(chan error, 1)
	go func() { done <- p.RunMicroBatch(context.Background(), 5*time.Second, false) }()
	r.start()
	rec := evRecord(mem, []ev{{sec(1), "a", 1}, {sec(12), "a", 2}})
	r.push(rec, 0)
	rec.Release()
	clock.BlockUntil(1)
	clock.Advance(5 * time.Second)
	info := <-triggers
	if !info.Slow || info.Took != 7*time.Second {
		t.Fatalf("trigger info %+v, want slow 7s", info)
	}
	if got := <-c.recs; !equalStrings(got, []string{"0|10000|a|1|1"}) {
		t.Fatalf("append trigger emitted %q", got)
	}
	// The next trigger starts at once, without waiting for the clock.
	if info := <-triggers; info.Batches != 0 || info.Emitted != 0 {
		t.Fatalf("immediate trigger %+v", info)
	}
	r.end()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := <-c.recs; !equalStrings(got, []string{"10000|20000|a|1|2"}) {
		t.Fatalf("end of input emitted %q", got)
	}
}

// TestRunContinuousCommitOutlivesCancel: a run cancelled while it commits
// (here: during a barrier's commit) finishes that commit and then stops
// cleanly with the clean stop's commit; a commit cut short by the cancel
// used to end the run with its error and no clean-stop commit, leaving
// the output since the last commit uncovered.
func TestRunContinuousCommitOutlivesCancel(t *testing.T) {
	mem := checkedMem(t)
	r := newScriptReader()
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var commits []error
	bar := make(chan Barrier)
	p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Emit: c.emit(t), Clock: NewManualClock(epoch), Barrier: bar,
		Commit: func(cctx context.Context, _ exec.Offsets) error {
			cancel() // the stop arrives while the commit runs
			commits = append(commits, cctx.Err())
			return cctx.Err()
		}}
	done := make(chan error, 1)
	go func() { done <- p.RunContinuous(ctx) }()
	r.start()
	rec := fromJSON(t, mem, kvSchema, `[{"k":"a","v":1}]`)
	r.push(rec, 0)
	rec.Release()
	<-c.recs
	barDone := make(chan error, 1)
	bar <- Barrier{Done: barDone}
	if err := <-barDone; err != nil {
		t.Errorf("barrier's commit: %v, want it finished despite the cancel", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run ended with %v, want a clean stop", err)
	}
	if len(commits) != 2 || commits[0] != nil || commits[1] != nil {
		t.Errorf("commits saw %v, want two (the barrier's, the clean stop's), neither cancelled", commits)
	}
}
