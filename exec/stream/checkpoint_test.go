package stream

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// TestCheckpointResume stops a windowed query after a checkpoint, restarts
// it from the checkpoint and checks the output equals one uninterrupted run.
func TestCheckpointResume(t *testing.T) {
	mem := checkedMem(t)
	evs := []ev{{sec(1), "a", 1}, {sec(4), "b", 2}, {sec(12), "a", 3}, {sec(15), "a", 4}, {sec(23), "b", 5}, {sec(31), "a", 6}}
	spec := WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}
	rec := evRecord(mem, evs)
	defer rec.Release()
	whole := newWinAgg(t, mem, spec, WindowOptions{Delay: time.Second})
	batches := cut(rec, 1)
	defer releaseAll(batches)
	want := pushAll(t, whole, batches, true)
	whole.Close()

	dir := t.TempDir()
	ck := NewCheckpointer(dir, 1, 0)
	run := func(from int, stopAfter int) []string {
		op := newWinAgg(t, mem, spec, WindowOptions{Delay: time.Second})
		offs, err := ck.Restore(op)
		if err != nil {
			t.Fatal(err)
		}
		if int(offs["p0"]) != from {
			t.Fatalf("resume offset %v, want %d", offs, from)
		}
		r := newScriptReader()
		c := newCollector()
		commits := make(chan int64, 64)
		r.rows[0] = int64(from) // the scripted reader resumes at the offset
		p := &Pipeline{Mem: mem, Reader: r, Schema: evSchema, Op: op, Emit: c.emit(t), Clock: NewManualClock(epoch),
			Checkpoint: ck, Commit: func(_ context.Context, o exec.Offsets) error { commits <- o["p0"]; return nil }}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.RunContinuous(ctx) }()
		r.start()
		for i := from; i < stopAfter; i++ {
			r.push(batches[i], 0)
		}
		if stopAfter == len(batches) {
			r.end()
		} else {
			// Wait for the last batch's checkpoint, then "crash".
			for o := range commits {
				if o == int64(stopAfter) {
					break
				}
			}
			cancel()
		}
		<-done
		cancel()
		return c.all()
	}
	got := append(run(0, 4), run(4, len(batches))...)
	if !equalStrings(got, want) {
		t.Fatalf("resumed output %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, manifestName(ck.NextSeq()-1))); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	if len(matches) != 0 {
		t.Fatalf("temp files left: %v", matches)
	}
}

func TestGroupAggregateSnapshotRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	mk := func() *GroupAggregate {
		g, err := NewGroupAggregate(mem, clSchema, []GroupKey{{Expr: col(clSchema, 1), Name: "k"}},
			[]AggSpec{{Func: AggMin, Arg: col(clSchema, 2), Name: "lo"}, {Func: AggCountDistinct, Arg: col(clSchema, 2), Name: "d"}})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a := mk()
	defer a.Close()
	first := fromJSON(t, mem, clSchema, `[{"op":0,"k":"a","v":5},{"op":0,"k":"a","v":3}]`)
	defer first.Release()
	pushAll(t, a, []arrow.Record{first}, false)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := mk()
	defer b.Close()
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	next := fromJSON(t, mem, clSchema, `[{"op":3,"k":"a","v":3}]`)
	defer next.Release()
	want := []string{"-U|a|3|2", "+U|a|5|1"}
	if got := pushAll(t, b, []arrow.Record{next}, false); !equalStrings(got, want) {
		t.Fatalf("after restore: %q want %q", got, want)
	}
}
