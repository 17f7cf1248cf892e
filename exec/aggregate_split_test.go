package exec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// TestSplitFinalEqualsOne: a final aggregate split over 2, 3 and 4 parts
// gives exactly the rows of one final aggregate, in the same order, with
// FLOAT sums and averages equal to the last bit, over integer, string
// and two-column keys with NULL keys, keys that barely repeat and keys
// that repeat, at several batch sizes. Each of four parts holds groups
// (the split happened), and each part's groups' first rows increase.
func TestSplitFinalEqualsOne(t *testing.T) {
	const n = 3*DefaultBatchSize + 555
	aggs := []AggCall{
		{Func: "count_star", Name: "n"}, {Func: "count", Arg: col(2, i64), Name: "c"},
		{Func: "sum", Arg: col(2, i64), Name: "s"}, {Func: "min", Arg: col(2, i64), Name: "lo"},
		{Func: "max", Arg: col(1, str), Name: "hi"},
		{Func: "sum", Arg: col(3, f64), Name: "fx"}, {Func: "avg", Arg: col(3, f64), Name: "ax"},
	}
	keySets := map[string][]expr.Expr{
		"int":    {col(0, i64)},
		"string": {col(1, str)},
		"two":    {col(1, str), col(0, i64)},
	}
	for _, distinct := range []int{n, 40} {
		for kname, keys := range keySets {
			for _, bs := range []int{1000, n} {
				t.Run(fmt.Sprintf("distinct%d/%s/batch%d", distinct, kname, bs), func(t *testing.T) {
					mem := newMem(t)
					rec := adaptiveInput(mem, n, distinct)
					defer rec.Release()
					// The final's input: the partial rows of the morsels
					// of 2000 rows, in morsel order.
					var partials []arrow.Record
					defer func() { releaseAll(partials) }()
					for lo := int64(0); lo < n; lo += 2000 {
						m := rec.NewSlice(lo, min(lo+2000, n))
						part, err := NewHashAggregateMode(mem, newSliceOp(m, bs), AggPartial, keys, names(len(keys)), aggs)
						m.Release()
						if err != nil {
							t.Fatal(err)
						}
						recs, err := Collect(context.Background(), part)
						if err != nil {
							t.Fatal(err)
						}
						partials = append(partials, recs...)
					}
					fkeys := make([]expr.Expr, len(keys))
					for i, k := range keys {
						fkeys[i] = col(i, k.DataType())
					}
					final := func(workers int) *HashAggregate {
						in := joined(t, mem, partials)
						defer in.Release()
						fin, err := NewHashAggregateMode(mem, newSliceOp(in, bs), AggFinal, fkeys, names(len(keys)), aggs)
						if err != nil {
							t.Fatal(err)
						}
						fin.SetWorkers(workers)
						return fin
					}
					want := collect(t, final(1))
					for _, w := range []int{2, 3, 4} {
						sameRows(t, fmt.Sprintf("%d parts against one", w), collect(t, final(w)), want)
					}
					// The parts of a split over four.
					fin := final(4)
					defer fin.Close()
					if !fin.splits() {
						t.Fatal("a final aggregate with four workers does not split")
					}
					if err := fin.Open(context.Background()); err != nil {
						t.Fatal(err)
					}
					if err := fin.consumeSplit(context.Background()); err != nil {
						t.Fatal(err)
					}
					groups := 0
					for p, part := range fin.parts {
						if part.out == nil {
							t.Errorf("part %d of 4 holds no group", p)
							continue
						}
						groups += int(part.out.NumRows())
						var first []int64
						for _, f := range part.first {
							first = append(first, f...)
						}
						if len(first) != int(part.out.NumRows()) {
							t.Errorf("part %d: %d first rows for %d groups", p, len(first), part.out.NumRows())
						}
						for i := 1; i < len(first); i++ {
							if first[i] <= first[i-1] {
								t.Fatalf("part %d: group %d starts at row %d, after group %d's row %d", p, i, first[i], i-1, first[i-1])
							}
						}
					}
					if groups != len(want) {
						t.Errorf("the parts hold %d groups, want %d", groups, len(want))
					}
				})
			}
		}
	}
}

// joined is recs as one record.
func joined(t *testing.T, mem memory.Allocator, recs []arrow.Record) arrow.Record {
	t.Helper()
	rec, err := concatRecords(mem, recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// splitStates is partial rows (k BIGINT, s BIGINT: the state of sum(v))
// for keys 0..n-1, each with sum s(k).
func splitStates(mem *memory.CheckedAllocator, n int, s func(k int) int64) arrow.Record {
	kb := array.NewInt64Builder(mem)
	sb := array.NewInt64Builder(mem)
	defer kb.Release()
	defer sb.Release()
	for k := 0; k < n; k++ {
		kb.Append(int64(k))
		sb.Append(s(k))
	}
	cols := []arrow.Array{kb.NewArray(), sb.NewArray()}
	defer releaseArrays(cols)
	return array.NewRecord(schemaOf(f("k", i64), f("s", i64)), cols, int64(n))
}

// cancelOp cancels its context once it has returned after batches.
type cancelOp struct {
	Operator
	after  int
	cancel context.CancelFunc
}

func (c *cancelOp) Next(ctx context.Context) (arrow.Record, error) {
	if c.after--; c.after < 0 {
		c.cancel()
	}
	return c.Operator.Next(ctx)
}

// TestSplitFinalErrors: a split final's failures are one aggregate's: an
// overflow in one part fails the query naming the call and its position
// as one aggregate does, a memory budget too small names the operator
// (and holds nothing once the aggregate closes), and a cancelled query
// stops; nothing is left allocated.
func TestSplitFinalErrors(t *testing.T) {
	const n = 5000
	sum := []AggCall{{Func: "sum", Arg: col(1, i64), Name: "s", SQL: "sum(v)", Pos: expr.Pos{Line: 1, Col: 8}}}
	// Each key twice, key 1234's sums overflowing when added.
	states := func(mem *memory.CheckedAllocator) arrow.Record {
		one := splitStates(mem, n, func(k int) int64 {
			if k == 1234 {
				return math.MaxInt64/2 + 1
			}
			return 1
		})
		defer one.Release()
		return joined(t, mem, []arrow.Record{one, one})
	}
	final := func(t *testing.T, mem *memory.CheckedAllocator, in Operator, workers int) *HashAggregate {
		fin, err := NewHashAggregateMode(mem, in, AggFinal, []expr.Expr{col(0, i64)}, names(1), sum)
		if err != nil {
			t.Fatal(err)
		}
		fin.SetWorkers(workers)
		return fin
	}
	consume := func(op Operator, ctx context.Context) error {
		recs, err := Collect(ctx, op)
		releaseAll(recs)
		return err
	}
	t.Run("overflow", func(t *testing.T) {
		mem := newMem(t)
		rec := states(mem)
		defer rec.Release()
		one := consume(final(t, mem, newSliceOp(rec, 1000), 1), context.Background())
		four := consume(final(t, mem, newSliceOp(rec, 1000), 4), context.Background())
		if one == nil || four == nil {
			t.Fatalf("an overflowing sum did not fail: one part %v, four parts %v", one, four)
		}
		if !strings.Contains(four.Error(), "sum(v)") || four.Error() != one.Error() {
			t.Errorf("four parts fail with %q, one with %q", four, one)
		}
	})
	t.Run("budget", func(t *testing.T) {
		mem := newMem(t)
		rec := states(mem)
		defer rec.Release()
		b := NewBudget(16 << 10)
		fin := final(t, mem, newSliceOp(rec, 1000), 4)
		fin.SetBudget(b.Account("HashAggregate: keys=[k]"))
		err := consume(fin, context.Background())
		var ml *MemoryLimitError
		if !errors.As(err, &ml) || ml.Operator != "HashAggregate: keys=[k]" {
			t.Errorf("over the budget: %v, want the memory limit error naming the operator", err)
		}
		if b.Used() != 0 {
			t.Errorf("the closed aggregate still holds %d bytes of the budget", b.Used())
		}
	})
	t.Run("cancel", func(t *testing.T) {
		mem := newMem(t)
		rec := states(mem)
		defer rec.Release()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		in := &cancelOp{Operator: newSliceOp(rec, 500), after: 3, cancel: cancel}
		if err := consume(final(t, mem, in, 4), ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v, want context.Canceled", err)
		}
	})
}

// TestSplitCompleteEqualsOne: a complete aggregate split over parts (by
// its keys, or without keys by the argument of COUNT(DISTINCT x)) gives
// exactly one aggregate's rows in its order: DISTINCT calls, STRING_AGG
// and FLOAT sums included, NULL keys and values, at several batch
// sizes. Keys or arguments that are not plain columns, and keyless
// calls other than COUNT(DISTINCT x) of one x, do not split.
func TestSplitCompleteEqualsOne(t *testing.T) {
	const n = 3*DefaultBatchSize + 555
	keyed := []AggCall{
		{Func: "count_star", Name: "n"}, {Func: "count", Arg: col(2, i64), Distinct: true, Name: "cd"},
		{Func: "sum", Arg: col(3, f64), Name: "fx"}, {Func: "sum", Arg: col(3, f64), Distinct: true, Name: "dfx"},
		{Func: "string_agg", Arg: col(1, str), Params: AggParams{Sep: ","}, Name: "sa"},
	}
	counts := []AggCall{{Func: "count", Arg: col(1, str), Distinct: true, Name: "a"}, {Func: "count", Arg: col(1, str), Distinct: true, Name: "b"}}
	cases := []struct {
		name string
		keys []expr.Expr
		aggs []AggCall
	}{
		{"int key", []expr.Expr{col(0, i64)}, keyed},
		{"two keys", []expr.Expr{col(1, str), col(0, i64)}, keyed},
		{"count distinct", nil, counts},
		{"count distinct int", nil, []AggCall{{Func: "count", Arg: col(0, i64), Distinct: true, Name: "c"}}},
	}
	for _, distinct := range []int{n, 40} {
		for _, tc := range cases {
			for _, bs := range []int{1000, n} {
				t.Run(fmt.Sprintf("distinct%d/%s/batch%d", distinct, tc.name, bs), func(t *testing.T) {
					mem := newMem(t)
					rec := adaptiveInput(mem, n, distinct)
					defer rec.Release()
					agg := func(workers int) *HashAggregate {
						h, err := NewHashAggregate(mem, newSliceOp(rec, bs), tc.keys, names(len(tc.keys)), tc.aggs)
						if err != nil {
							t.Fatal(err)
						}
						h.SetWorkers(workers)
						return h
					}
					if h := agg(4); !h.splits() {
						t.Error("does not split over four workers")
						h.Close()
					} else {
						h.Close()
					}
					want := collect(t, agg(1))
					for _, w := range []int{2, 4} {
						sameRows(t, fmt.Sprintf("%d parts against one", w), collect(t, agg(w)), want)
					}
				})
			}
		}
	}
	t.Run("refused", func(t *testing.T) {
		mem := newMem(t)
		rec := adaptiveInput(mem, 10, 10)
		defer rec.Release()
		plus, err := expr.Call("add", []expr.Expr{col(0, i64), col(2, i64)}, i64)
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]struct {
			keys []expr.Expr
			aggs []AggCall
		}{
			"expression key": {[]expr.Expr{plus}, []AggCall{{Func: "count_star", Name: "n"}}},
			"expression arg": {[]expr.Expr{col(0, i64)}, []AggCall{{Func: "sum", Arg: plus, Name: "s"}}},
			"keyless sum":    {nil, []AggCall{{Func: "sum", Arg: col(0, i64), Distinct: true, Name: "s"}}},
			"two arguments":  {nil, []AggCall{{Func: "count", Arg: col(0, i64), Distinct: true, Name: "a"}, {Func: "count", Arg: col(2, i64), Distinct: true, Name: "b"}}},
		} {
			h, err := NewHashAggregate(mem, newSliceOp(rec, 4), c.keys, names(len(c.keys)), c.aggs)
			if err != nil {
				t.Fatal(err)
			}
			h.SetWorkers(4)
			if h.splits() {
				t.Errorf("%s: splits", name)
			}
			h.Close()
		}
	})
}
