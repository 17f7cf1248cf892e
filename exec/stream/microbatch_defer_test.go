package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
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
				if !deferred.DeferEmit() {
					t.Fatal("DeferEmit refused")
				}
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

// TestGraphDeferEmit: a graph defers its aggregate when only stateless
// nodes follow it, and then emits at its Tick; with a stateful node
// after it that cannot defer (which would see the changes late against
// the watermarks) it defers nothing.
func TestGraphDeferEmit(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	agg := func() Node {
		g, err := NewGroupAggregate(mem, evSchema, []GroupKey{{Expr: col(evSchema, 1), Name: "k"}}, []AggSpec{{Func: AggCountStar, Name: "n"}})
		if err != nil {
			t.Fatal(err)
		}
		return OperatorNode(g)
	}
	first := agg()
	forward := TransformNode(func(_ context.Context, rec arrow.Record) (arrow.Record, error) {
		rec.Retain()
		return rec, nil
	}, first.Schema(), first.SinkMode())
	graph := func(nodes ...GraphNode) *Graph {
		g, err := NewGraph(mem, GraphSpec{Sources: []GraphSource{{Name: "a", Schema: evSchema}}, Nodes: nodes, Output: len(nodes) - 1, ReaderInputs: []int{0}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	g := graph(GraphNode{Name: "0:agg", Node: first, Inputs: []Port{FromSource(0)}}, GraphNode{Name: "1:forward", Node: forward, Inputs: []Port{FromNode(0)}})
	if !g.DeferEmit() {
		t.Fatal("aggregate -> projection: not deferred")
	}
	rec := evRecord(mem, []ev{{1, "a", 1}, {2, "b", 1}, {3, "a", 1}})
	defer rec.Release()
	for range 2 {
		out, err := g.Push(ctx, rec, UnionPartition(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			out.Release()
			t.Fatal("the deferred graph emitted before its Tick")
		}
	}
	out, err := g.Tick(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rowsOf(t, out), []string{"+I|a|4", "+I|b|2"}; !equalStrings(got, want) {
		t.Fatalf("Tick emitted %q, want %q", got, want)
	}
	out.Release()

	top, err := NewTopN(mem, first.Schema(), []SortKey{{Col: 2, Desc: true}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	g = graph(GraphNode{Name: "0:agg", Node: agg(), Inputs: []Port{FromSource(0)}}, GraphNode{Name: "1:top", Node: OperatorNode(top), Inputs: []Port{FromNode(0)}})
	if g.DeferEmit() {
		t.Fatal("aggregate -> top-N: the graph deferred, the top-N would fold the aggregate's changes late")
	}
}
