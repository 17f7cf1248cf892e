package stream

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
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

// dictKV is kv rows whose key column is dictionary-encoded over dict
// (keys index into it; -1 is a NULL key), and the same rows plain.
func dictKV(t *testing.T, mem memory.Allocator, dict arrow.Array, keys []int, vals []int64) (dictRec, plainRec arrow.Record) {
	t.Helper()
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	kb := array.NewStringBuilder(mem)
	defer kb.Release()
	vb := array.NewInt64Builder(mem)
	defer vb.Release()
	words := dict.(*array.String)
	for i, k := range keys {
		if k < 0 {
			ib.AppendNull()
			kb.AppendNull()
		} else {
			ib.Append(int32(k))
			kb.Append(words.Value(k))
		}
		vb.Append(vals[i])
	}
	idx, ks, vs := ib.NewArray(), kb.NewArray(), vb.NewArray()
	defer idx.Release()
	defer ks.Release()
	defer vs.Release()
	da := array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, idx, dict)
	defer da.Release()
	dsch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: da.DataType(), Nullable: true}, kvSchema.Field(1)}, nil)
	return array.NewRecord(dsch, []arrow.Array{da, vs}, int64(len(keys))), array.NewRecord(kvSchema, []arrow.Array{ks, vs}, int64(len(keys)))
}

// TestLocalAggregateKeepsGroupsAcrossBatches: the group table outlives a
// batch (a dictionary's entries are looked up once, while batches share
// it), yet each batch's partial rows are its own groups only, in
// first-appearance order, the same whether its key arrives
// dictionary-encoded or plain; past localMaxGroups keys the table starts
// afresh. Either way the merged changelog is GroupAggregate's.
func TestLocalAggregateKeepsGroupsAcrossBatches(t *testing.T) {
	mem := checkedMem(t)
	rng := rand.New(rand.NewSource(9))
	db := array.NewStringBuilder(mem)
	for i := range 9 {
		db.Append(fmt.Sprintf("w%d", i))
	}
	dictA := db.NewArray()
	for i := range 5 {
		db.Append(fmt.Sprintf("w%d", 8-i)) // another dictionary, other indices
	}
	dictB := db.NewArray()
	db.Release()
	defer dictA.Release()
	defer dictB.Release()
	var dicts, plains []arrow.Record
	for b := range 10 {
		dict, n := dictA, 9
		if b >= 6 {
			dict, n = dictB, 5
		}
		keys, vals := make([]int, 13), make([]int64, 13)
		for r := range keys {
			keys[r] = rng.Intn(n)
			if b == 4 && r == 2 {
				keys[r] = -1
			}
			vals[r] = int64(rng.Intn(100))
		}
		d, p := dictKV(t, mem, dict, keys, vals)
		dicts, plains = append(dicts, d), append(plains, p)
	}
	defer releaseAll(dicts)
	defer releaseAll(plains)
	one, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}, localAggSpecs())
	if err != nil {
		t.Fatal(err)
	}
	want := pushNode(t, OperatorNode(one), plains)
	one.Close()

	ld, node := twoPhase(t, mem, 3)
	defer node.Close()
	defer ld.Close()
	lp, _ := twoPhase(t, mem, 1)
	defer lp.Close()
	dparts := partials(t, ld, dicts)
	defer releaseAll(dparts)
	pparts := partials(t, lp, plains)
	defer releaseAll(pparts)
	for i := range dparts {
		if d, p := rowsOf(t, dparts[i]), rowsOf(t, pparts[i]); !slices.Equal(d, p) {
			t.Fatalf("batch %d: partial rows of the dictionary-encoded key:\n%s\nof the plain key:\n%s", i, strings.Join(d, "\n"), strings.Join(p, "\n"))
		}
		if g := distinctKeys(t, plains[i]); int(pparts[i].NumRows()) != g {
			t.Fatalf("batch %d: %d partial rows for %d groups", i, pparts[i].NumRows(), g)
		}
	}
	if got := pushNode(t, node, dparts); !slices.Equal(got, want) {
		t.Fatalf("two-phase changelog differs:\n%s\nvs one aggregate:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Many keys: the table passes localMaxGroups and starts afresh.
	var sb strings.Builder
	sb.WriteString("[")
	n := localMaxGroups + 5000
	for i := range n {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"k": "k%d", "v": %d}`, i%(n-7), i%13)
	}
	sb.WriteString("]")
	rec, _, err := array.RecordFromJSON(mem, kvSchema, strings.NewReader(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	batches := cut(rec, 8192)
	defer releaseAll(batches)
	one, err = NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}, localAggSpecs())
	if err != nil {
		t.Fatal(err)
	}
	want = pushNode(t, OperatorNode(one), batches)
	one.Close()
	lm, merge := twoPhase(t, mem, 2)
	defer merge.Close()
	defer lm.Close()
	parts := partials(t, lm, batches)
	defer releaseAll(parts)
	if lm.table.NumGroups() > localMaxGroups+8192 {
		t.Fatalf("the group table kept %d keys", lm.table.NumGroups())
	}
	if got := pushNode(t, merge, parts); !slices.Equal(got, want) {
		t.Fatalf("two-phase changelog over many keys differs from one aggregate's (%d vs %d rows)", len(got), len(want))
	}
}
