package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// oneRecord is an exec.Operator yielding one record (the caller keeps
// it), then io.EOF: the input of a batch kernel.
type oneRecord struct {
	rec  arrow.Record
	done bool
}

func (r *oneRecord) Schema() *arrow.Schema      { return r.rec.Schema() }
func (r *oneRecord) Open(context.Context) error { return nil }
func (r *oneRecord) Close() error               { return nil }
func (r *oneRecord) Next(context.Context) (arrow.Record, error) {
	if r.done {
		return nil, io.EOF
	}
	r.done = true
	r.rec.Retain()
	return r.rec, nil
}

// analyticKernel is the batch window-function operator (exec.Analytic)
// over records of schema in, partitioned by the columns part and ordered
// by column order, as the engine compiles an OVER aggregate's kernel: so
// the partitions come out in the real kernel's order.
func analyticKernel(t *testing.T, mem memory.Allocator, in *arrow.Schema, part []int, order int, funcs []exec.AnalyticFunc) (func(context.Context, arrow.Record) ([]arrow.Record, error), *arrow.Schema) {
	t.Helper()
	build := func(rec arrow.Record) (*exec.Analytic, error) {
		var pe []expr.Expr
		for _, c := range part {
			pe = append(pe, col(in, c))
		}
		return exec.NewAnalytic(mem, rec2op(in, rec), pe, []exec.SortKey{{Expr: col(in, order)}}, funcs)
	}
	a, err := build(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := a.Schema()
	return func(ctx context.Context, rec arrow.Record) ([]arrow.Record, error) {
		a, err := build(rec)
		if err != nil {
			return nil, err
		}
		return exec.Collect(ctx, a)
	}, out
}

// rec2op is rec as an operator of schema in (nil: none yet, for the
// schema only).
func rec2op(in *arrow.Schema, rec arrow.Record) exec.Operator {
	if rec == nil {
		return NewFeed(in)
	}
	return &oneRecord{rec: rec}
}

var (
	i64      = arrow.PrimitiveTypes.Int64
	rowsBack = func(n int64) exec.Frame {
		return exec.Frame{Rows: true, Start: exec.FrameBound{Kind: exec.Preceding, Offset: n}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	}
	rangeBack = func(n int64) exec.Frame {
		return exec.Frame{Start: exec.FrameBound{Kind: exec.Preceding, Offset: n}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	}
	unboundedBack = exec.Frame{Start: exec.FrameBound{Kind: exec.UnboundedPreceding}, End: exec.FrameBound{Kind: exec.CurrentRow}}
)

// overCase is one streaming OVER aggregate over evSchema (ts, k, v).
type overCase struct {
	name string
	part []int
}

var parallelOverCases = []overCase{
	{"by-k", []int{1}},
	{"by-k-v", []int{1, 2}},
	{"by-v", []int{2}},
}

// spec is the case's OVER aggregate: SUM(v) over the 2 rows before,
// COUNT(*) over the 500 ms before, MIN(v) over the 3 rows before and a
// running SUM(v) over every earlier row (carried), late rows routed.
func (c overCase) spec(t *testing.T, mem memory.Allocator, late LatePolicy, onLate func(LateRow) error) OverSpec {
	v := []expr.Expr{col(evSchema, 2)}
	kernel, out := analyticKernel(t, mem, evSchema, c.part, 0, []exec.AnalyticFunc{
		{Func: "sum", Args: v, Type: i64, Frame: rowsBack(2), Name: "s2"},
		{Func: "count_star", Type: i64, Frame: rangeBack(500), Name: "c500"},
		{Func: "min", Args: v, Type: i64, Frame: rowsBack(3), Name: "lo3"},
		{Func: "sum", Args: v, Type: i64, Frame: unboundedBack, Name: "run"},
	})
	return OverSpec{TimeCol: 0, Partition: c.part, Rows: 3, Range: 500, Kernel: kernel, Out: out,
		Carry: []OverCarry{{Col: 6, Func: "sum", Arg: 2}}, Delay: 2 * time.Second, Late: late, OnLate: onLate}
}

// node is the case's OVER aggregate as one operator (n = 1) or as n
// ParallelOver instances.
func (c overCase) node(t *testing.T, mem memory.Allocator, n int, late LatePolicy, onLate func(LateRow) error) Node {
	t.Helper()
	build := func(int) (*OverAggregate, error) {
		return NewOverAggregate(mem, evSchema, c.spec(t, mem, late, onLate))
	}
	if n == 1 {
		o, err := build(0)
		if err != nil {
			t.Fatal(err)
		}
		return OperatorNode(o)
	}
	var keys []Expr
	for _, p := range c.part {
		keys = append(keys, col(evSchema, p))
	}
	p, err := NewParallelOver(mem, keys, n, build)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// firstDiff is where got first differs from want, for a message.
func firstDiff(got, want []string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("at row %d (%d vs %d rows):\n%v\nvs\n%v", i, len(got), len(want), head(got[i:]), head(want[i:]))
}

// TestParallelOverEqualsOneInstance runs OVER aggregates (ROWS, RANGE and
// carried UNBOUNDED PRECEDING frames, the real batch kernel, partitioned
// by a string, by two columns and by an integer with many ties on event
// time) as one operator and as 2 and 4 instances at several batch sizes
// (the largest folds on the instances' own goroutines): the output is the
// same row for row, the same rows are late, routed in the same order with
// the same watermark, and the watermark and late count are one
// operator's.
func TestParallelOverEqualsOneInstance(t *testing.T) {
	mem := checkedMem(t)
	rec := randomEvents(mem, parallelInlineRows+250, 1)
	defer rec.Release()
	for _, c := range parallelOverCases {
		for _, bs := range []int{1, 7, 300, parallelInlineRows + 1} {
			batches := cut(rec, bs)
			var oneLate lateLog
			one := c.node(t, mem, 1, LateRoute, oneLate.add)
			want := pushNode(t, one, batches)
			oneWM := one.Watermark()
			oneLateN := one.(*opNode).op.(*OverAggregate).Late()
			one.Close()
			if len(oneLate.rows) == 0 || len(want) < 1000 {
				t.Fatalf("%s: %d late rows and %d output rows: the test needs both", c.name, len(oneLate.rows), len(want))
			}
			for _, n := range []int{2, 4} {
				t.Run(fmt.Sprintf("%s/batch=%d/instances=%d", c.name, bs, n), func(t *testing.T) {
					var late lateLog
					p := c.node(t, mem, n, LateRoute, late.add)
					defer p.Close()
					got := pushNode(t, p, batches)
					if !slices.Equal(got, want) {
						t.Errorf("output differs from one operator's %s", firstDiff(got, want))
					}
					if !slices.Equal(late.rows, oneLate.rows) {
						t.Errorf("late rows differ:\n%v\nvs one operator's\n%v", head(late.rows), head(oneLate.rows))
					}
					po := p.(*ParallelOver)
					if l := po.EventTimer().Late(); l != oneLateN {
						t.Errorf("late count %d, one operator %d", l, oneLateN)
					}
					if wm := p.Watermark(); wm != oneWM {
						t.Errorf("watermark %v, one operator %v", wm, oneWM)
					}
					for i, o := range po.overs {
						if o.late == 0 {
							t.Errorf("instance %d judged no row late: the keys were not spread", i)
						}
					}
				})
			}
			releaseAll(batches)
		}
	}
}

// TestParallelOverTiesOrderByPartition: rows of many keys at one event
// time come out ordered by key (the batch kernel's order), whichever
// instance holds them, so an operator consuming them row by row sees
// them as one operator emits them.
func TestParallelOverTiesOrderByPartition(t *testing.T) {
	mem := checkedMem(t)
	var js []string
	for i := range 200 {
		js = append(js, fmt.Sprintf(`{"ts":%d,"k":"k%02d","v":%d}`, (i/50)*1000, (i*7)%50, i))
	}
	rec := fromJSON(t, mem, evSchema, "["+strings.Join(js, ",")+"]")
	defer rec.Release()
	c := overCase{"by-k", []int{1}}
	one := c.node(t, mem, 1, LateDrop, nil)
	want := pushNode(t, one, []arrow.Record{rec})
	one.Close()
	if !slices.IsSortedFunc(want, func(a, b string) int { return strings.Compare(a[:9], b[:9]) }) || len(want) != 200 {
		t.Fatalf("one operator: %d rows, not by time then key:\n%v", len(want), head(want))
	}
	p := c.node(t, mem, 3, LateDrop, nil)
	defer p.Close()
	if got := pushNode(t, p, []arrow.Record{rec}); !slices.Equal(got, want) {
		t.Errorf("3 instances %s", firstDiff(got, want))
	}
}

// TestParallelOverLateError fails on the row one operator fails on, the
// first late one in batch order, whichever instance holds its key.
func TestParallelOverLateError(t *testing.T) {
	mem := checkedMem(t)
	rec := randomEvents(mem, 500, 3)
	defer rec.Release()
	c := parallelOverCases[0]
	run := func(n int) error {
		node := c.node(t, mem, n, LateError, nil)
		defer node.Close()
		out, err := node.Push(context.Background(), 0, exec.Batch{Record: rec})
		if out != nil {
			out.Release()
		}
		return err
	}
	var want *LateRowError
	if err := run(1); !errors.As(err, &want) {
		t.Fatalf("one operator: %v, want a late row", err)
	}
	for _, n := range []int{2, 3, 4} {
		var got *LateRowError
		if err := run(n); !errors.As(err, &got) || got.Error() != want.Error() {
			t.Errorf("%d instances: %v, want %v", n, err, want)
		}
	}
}

// TestParallelOverCheckpoint checkpoints 3 instances part way (a part per
// instance, full then as deltas), restores them into fresh ones and
// checks the rest is row for row what an uninterrupted run gives; parts
// of 3 instances are refused by 2.
func TestParallelOverCheckpoint(t *testing.T) {
	mem := checkedMem(t)
	rec := randomEvents(mem, 3000, 4)
	defer rec.Release()
	batches := cut(rec, 50)
	defer releaseAll(batches)
	for _, c := range parallelOverCases {
		t.Run(c.name, func(t *testing.T) {
			checkPartedRestart(t, func(n int) Node { return c.node(t, mem, n, LateDrop, nil) }, batches)
		})
	}
}

// checkPartedRestart runs batches through node(3) whole, and again
// checkpointed part way (snapshotMidway) with the rest in a fresh
// node(3) restored from the parts: the outputs must be equal row for
// row, and node(2) must refuse the parts naming the parallelism. It
// returns the parts.
func checkPartedRestart(t *testing.T, node func(n int) Node, batches []arrow.Record) []OperatorState {
	t.Helper()
	half := len(batches) / 2
	whole := node(3)
	want := pushNode(t, whole, batches)
	whole.Close()
	parts, got := snapshotMidway(t, node(3), batches[:half])
	narrower := node(2)
	err := narrower.(PartedSnapshotter).RestoreParts(parts)
	narrower.Close()
	if err == nil || !strings.Contains(err.Error(), "parallelism") {
		t.Fatalf("2 instances restoring parts of 3: %v, want a refusal naming the parallelism", err)
	}
	second := node(3)
	defer second.Close()
	if err := second.(PartedSnapshotter).RestoreParts(parts); err != nil {
		t.Fatal(err)
	}
	got = append(got, pushNode(t, second, batches[half:])...)
	if !slices.Equal(got, want) {
		t.Fatalf("restored run differs %s", firstDiff(got, want))
	}
	return parts
}

// snapshotMidway pushes batches into n (a parted node), taking full
// parts after the first half and deltas at the end; it closes n and
// returns the parts with their deltas and the output.
func snapshotMidway(t *testing.T, n Node, batches []arrow.Record) ([]OperatorState, []string) {
	t.Helper()
	defer n.Close()
	ps := n.(DeltaPartedSnapshotter)
	got := pushOnly(t, n, batches[:len(batches)/2])
	base, err := ps.SnapshotParts()
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, pushOnly(t, n, batches[len(batches)/2:])...)
	deltas, err := ps.SnapshotPartsDelta(func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != len(deltas) || len(base) < 2 {
		t.Fatalf("%d parts and %d deltas, want one per instance", len(base), len(deltas))
	}
	parts := slices.Clone(base)
	for i := range parts {
		if !deltas[i].Delta || deltas[i].Name != parts[i].Name {
			t.Fatalf("delta %d: %s, want a delta of part %s", i, deltas[i].Name, parts[i].Name)
		}
		parts[i].Deltas = [][]byte{deltas[i].Data}
	}
	return parts, got
}

// clOverNode is an OVER aggregate over kvwLog (a changelog of k, v, w)
// partitioned by k and ordered by v: a running SUM(w), ROW_NUMBER and
// LAG(w), as one operator (n = 1) or as n ParallelOverChangelog
// instances.
func clOverNode(t *testing.T, mem memory.Allocator, n int) Node {
	t.Helper()
	vals := DropOp(kvwLog)
	w := []expr.Expr{col(vals, 2)}
	kernel, out := analyticKernel(t, mem, vals, []int{0}, 1, []exec.AnalyticFunc{
		{Func: "sum", Args: w, Type: i64, Frame: unboundedBack, Name: "run"},
		{Func: "row_number", Type: i64, Name: "rn"},
		{Func: "lag", Args: w, N: 1, Type: i64, Name: "prev"},
	})
	build := func(int) (*OverChangelog, error) { return NewOverChangelog(mem, kvwLog, []int{0}, kernel, out) }
	if n == 1 {
		o, err := build(0)
		if err != nil {
			t.Fatal(err)
		}
		return OperatorNode(o)
	}
	p, err := NewParallelOverChangelog(mem, []Expr{col(kvwLog, 1)}, n, build)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParallelOverChangelogEqualsOneInstance runs an OVER aggregate over
// a changelog with retractions (rows deleted, some never inserted) as
// one operator and as 2 and 4 instances at several batch sizes: the
// changes are the same row for row, and every instance holds keys.
func TestParallelOverChangelogEqualsOneInstance(t *testing.T) {
	mem := checkedMem(t)
	rec := randomKVW(t, mem, parallelInlineRows+250, 1, true)
	defer rec.Release()
	for _, bs := range []int{1, 7, 300, parallelInlineRows + 1} {
		batches := cut(rec, bs)
		one := clOverNode(t, mem, 1)
		want := pushNode(t, one, batches)
		one.Close()
		if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "-U") }) {
			t.Fatalf("batch %d: no retraction in %d changes: the test needs them", bs, len(want))
		}
		for _, n := range []int{2, 4} {
			t.Run(fmt.Sprintf("batch=%d/instances=%d", bs, n), func(t *testing.T) {
				p := clOverNode(t, mem, n)
				defer p.Close()
				if got := pushNode(t, p, batches); !slices.Equal(got, want) {
					t.Errorf("output differs from one operator's %s", firstDiff(got, want))
				}
				for i, o := range p.(*ParallelOverChangelog).overs {
					if o.Stats().Groups == 0 {
						t.Errorf("instance %d holds no rows: the keys were not spread", i)
					}
				}
			})
		}
		releaseAll(batches)
	}
}

// TestParallelOverChangelogCheckpoint: 3 instances checkpointed part way
// (full parts, then deltas) and restored into fresh ones continue row
// for row as an uninterrupted run; 2 instances refuse the parts.
func TestParallelOverChangelogCheckpoint(t *testing.T) {
	mem := checkedMem(t)
	rec := randomKVW(t, mem, 3000, 4, true)
	defer rec.Release()
	batches := cut(rec, 50)
	defer releaseAll(batches)
	checkPartedRestart(t, func(n int) Node { return clOverNode(t, mem, n) }, batches)
}
