package stream

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// localAggSpecs are the aggregates the two-phase tests run: every core
// function whose merge is exact.
func localAggSpecs() []AggSpec {
	v := col(kvSchema, 1)
	return []AggSpec{
		{Func: AggSum, Arg: v, Name: "s"},
		{Func: AggCount, Arg: v, Name: "c"},
		{Func: AggCountStar, Name: "n"},
		{Func: AggAvg, Arg: v, Name: "a"},
		{Func: AggMin, Arg: v, Name: "lo"},
		{Func: AggMax, Arg: v, Name: "hi"},
	}
}

// twoPhase is a LocalAggregate and the node that merges its partial
// rows: the Final aggregate, or n of them behind a Parallel.
func twoPhase(t *testing.T, mem memory.Allocator, n int) (*LocalAggregate, Node) {
	t.Helper()
	local, err := NewLocalAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}, localAggSpecs())
	if err != nil {
		t.Fatal(err)
	}
	build := func(int) (Node, error) {
		g, err := local.Final()
		return OperatorNode(g), err
	}
	if n == 1 {
		node, err := build(0)
		if err != nil {
			t.Fatal(err)
		}
		return local, node
	}
	p, err := NewParallel(mem, local.PartitionKeys(), n, build)
	if err != nil {
		t.Fatal(err)
	}
	return local, p
}

// partials is each batch's partial rows.
func partials(t *testing.T, local *LocalAggregate, batches []arrow.Record) []arrow.Record {
	t.Helper()
	out := make([]arrow.Record, len(batches))
	for i, b := range batches {
		p, err := local.Apply(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// TestLocalAggregateEqualsGroupAggregate pre-aggregates each batch and
// merges the partial rows in 1 and 3 instances: the changelog is the one
// GroupAggregate emits over the batches, row for row, at every batch size.
func TestLocalAggregateEqualsGroupAggregate(t *testing.T) {
	mem := checkedMem(t)
	rec := randomKV(t, mem, 600, 5)
	defer rec.Release()
	for _, bs := range batchSizes {
		batches := cut(rec, bs)
		one, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}, localAggSpecs())
		if err != nil {
			t.Fatal(err)
		}
		want := pushNode(t, OperatorNode(one), batches)
		one.Close()
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("batch=%d/instances=%d", bs, n), func(t *testing.T) {
				local, node := twoPhase(t, mem, n)
				defer node.Close()
				parts := partials(t, local, batches)
				defer releaseAll(parts)
				for i, p := range parts {
					if g := distinctKeys(t, batches[i]); int(p.NumRows()) != g {
						t.Fatalf("batch %d: %d partial rows for %d groups", i, p.NumRows(), g)
					}
				}
				got := pushNode(t, node, parts)
				if !slices.Equal(got, want) {
					t.Fatalf("two-phase changelog differs:\n%s\nvs one aggregate:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if st := node.Stats(); st.Groups != 40 {
					t.Errorf("stats %+v, want 40 groups", st)
				}
			})
		}
		releaseAll(batches)
	}
}

// distinctKeys counts the distinct k values (NULL included) of a kv batch.
func distinctKeys(t *testing.T, rec arrow.Record) int {
	seen := map[string]bool{}
	for _, r := range rowsOf(t, rec) {
		seen[strings.Split(r, "|")[0]] = true
	}
	return len(seen)
}

// TestLocalAggregateCheckpoint checkpoints the merging instances half way
// and restores them: the rest of the partial rows continue the changelog
// an uninterrupted run emits.
func TestLocalAggregateCheckpoint(t *testing.T) {
	mem := checkedMem(t)
	rec := randomKV(t, mem, 300, 6)
	defer rec.Release()
	batches := cut(rec, 11)
	defer releaseAll(batches)
	half := len(batches) / 2

	local, whole := twoPhase(t, mem, 3)
	parts := partials(t, local, batches)
	defer releaseAll(parts)
	want := pushNode(t, whole, parts)
	whole.Close()

	_, first := twoPhase(t, mem, 3)
	got := pushOnly(t, first, parts[:half])
	snap, err := first.(PartedSnapshotter).SnapshotParts()
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	_, second := twoPhase(t, mem, 3)
	defer second.Close()
	if err := second.(PartedSnapshotter).RestoreParts(snap); err != nil {
		t.Fatal(err)
	}
	got = append(got, pushNode(t, second, parts[half:])...)
	if !slices.Equal(got, want) {
		t.Fatalf("restored run:\n%s\nuninterrupted:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLocalAggregateRefusesChangelog: retractions cannot be folded per
// batch apart from the groups they retract.
func TestLocalAggregateRefusesChangelog(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}, {Name: "k", Type: arrow.BinaryTypes.String}}, nil)
	_, err := NewLocalAggregate(memory.NewGoAllocator(), s, []GroupKey{{Expr: col(s, 1), Name: "k"}}, []AggSpec{{Func: AggCountStar, Name: "n"}})
	if err == nil || !strings.Contains(err.Error(), "changelog") {
		t.Fatalf("a changelog input was accepted: %v", err)
	}
}
