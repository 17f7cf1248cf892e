package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// TestGroupAggregateDeferEmit: under DeferEmit the batches of an
// interval emit nothing, and the Tick that ends it emits exactly what
// one batch of all the interval's rows would have (one change per group
// touched, from its row at the last Tick), over inserts and
// retractions, for several batch and interval sizes.
func TestGroupAggregateDeferEmit(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	var js []string
	live := map[string][]int{}
	for len(js) < 300 {
		k := string(rune('a' + rng.IntN(6)))
		if vs := live[k]; len(vs) > 0 && rng.IntN(3) == 0 {
			js = append(js, fmt.Sprintf(`{"op":3,"k":%q,"v":%d}`, k, vs[0]))
			live[k] = vs[1:]
			continue
		}
		v := rng.IntN(50)
		live[k] = append(live[k], v)
		js = append(js, fmt.Sprintf(`{"op":0,"k":%q,"v":%d}`, k, v))
	}
	newAgg := func(t *testing.T) *GroupAggregate {
		g, err := NewGroupAggregate(checkedMem(t), clSchema, []GroupKey{{Expr: col(clSchema, 1), Name: "k"}}, []AggSpec{
			{Func: AggSum, Arg: col(clSchema, 2), Name: "s"},
			{Func: AggCountStar, Name: "n"},
			{Func: AggMax, Arg: col(clSchema, 2), Name: "hi"},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	for _, batch := range []int{1, 3, 7} {
		for _, perInterval := range []int{1, 4, 40} {
			t.Run(fmt.Sprintf("batch=%d/interval=%d", batch, perInterval), func(t *testing.T) {
				mem := checkedMem(t)
				rec := fromJSON(t, mem, clSchema, "["+strings.Join(js, ",")+"]")
				defer rec.Release()
				deferred, whole := newAgg(t), newAgg(t)
				deferred.DeferEmit()
				size := int64(batch * perInterval)
				for from := int64(0); from < rec.NumRows(); from += size {
					interval := rec.NewSlice(from, min(from+size, rec.NumRows()))
					batches := cut(interval, batch)
					for _, b := range batches {
						out, err := deferred.Push(ctx, b, 0)
						if err != nil {
							t.Fatal(err)
						}
						if out != nil {
							out.Release()
							t.Fatal("a deferred aggregate emitted before its Tick")
						}
					}
					releaseAll(batches)
					got, err := deferred.Tick(ctx, time.Time{})
					if err != nil {
						t.Fatal(err)
					}
					want, err := whole.Push(ctx, interval, 0)
					if err != nil {
						t.Fatal(err)
					}
					interval.Release()
					g, w := rowsOf(t, got), rowsOf(t, want)
					for _, r := range []arrow.Record{got, want} {
						if r != nil {
							r.Release()
						}
					}
					if !equalStrings(g, w) {
						t.Fatalf("rows %d..: Tick emitted %q, one batch of the interval %q", from, g, w)
					}
					if deferred.Stats().Groups != whole.Stats().Groups {
						t.Fatalf("rows %d..: %d groups held, want %d", from, deferred.Stats().Groups, whole.Stats().Groups)
					}
				}
				if out, err := deferred.Tick(ctx, time.Time{}); out != nil || err != nil {
					t.Fatalf("a Tick with nothing folded since the last emitted %v, %v", out, err)
				}
			})
		}
	}
}

// TestParallelDeferEmit: key-partitioned instances that defer (the
// planner's DeferEmit at parallelism 2) emit nothing until their Tick,
// and then what one deferred instance emits, folded.
func TestParallelDeferEmit(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	build := func(int) (Node, error) {
		g, err := NewGroupAggregate(mem, evSchema, []GroupKey{{Expr: col(evSchema, 1), Name: "k"}}, []AggSpec{{Func: AggCountStar, Name: "n"}})
		if err != nil {
			return nil, err
		}
		g.DeferEmit()
		return OperatorNode(g), nil
	}
	one, err := build(0)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	par, err := NewParallel(mem, []Expr{col(evSchema, 1)}, 2, build)
	if err != nil {
		t.Fatal(err)
	}
	defer par.Close()
	rec := evRecord(mem, []ev{{1, "a", 1}, {2, "b", 1}, {3, "a", 1}, {4, "c", 1}, {5, "d", 1}})
	defer rec.Release()
	var want, got []string
	for round := range 2 {
		for range 2 {
			for _, n := range []Node{one, par} {
				out, err := n.Push(ctx, 0, exec.Batch{Record: rec})
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					out.Release()
					t.Fatalf("round %d: a deferred node emitted before its Tick", round)
				}
			}
		}
		for i, n := range []Node{one, par} {
			out, err := n.Tick(ctx, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				want = append(want, rowsOf(t, out)...)
			} else {
				got = append(got, rowsOf(t, out)...)
			}
			if out != nil {
				out.Release()
			}
		}
	}
	if w := []string{"+I|a|8", "+I|b|4", "+I|c|4", "+I|d|4"}; !slices.Equal(foldRows(t, want), foldRows(t, w)) {
		t.Fatalf("one instance folds to %v, want %v", foldRows(t, want), w)
	}
	if !slices.Equal(foldRows(t, got), foldRows(t, want)) {
		t.Fatalf("two instances fold to %v, one to %v", foldRows(t, got), foldRows(t, want))
	}
	if len(got) != len(want) {
		t.Errorf("two instances emitted %d changes, one %d: each key changes once per Tick", len(got), len(want))
	}
}
