package exec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// adaptiveInput is n rows (k BIGINT, s VARCHAR, v BIGINT, x DOUBLE): k
// drawn from distinct keys (NULL every 101st row), s a string of k, short
// or longer than 16 bytes, v with NULLs, x an order-sensitive float.
func adaptiveInput(mem memory.Allocator, n, distinct int) arrow.Record {
	kb := array.NewInt64Builder(mem)
	sb := array.NewStringBuilder(mem)
	vb := array.NewInt64Builder(mem)
	xb := array.NewFloat64Builder(mem)
	defer kb.Release()
	defer sb.Release()
	defer vb.Release()
	defer xb.Release()
	for i := 0; i < n; i++ {
		k := int64(mix64(uint64(i)) % uint64(distinct))
		if i%101 == 7 {
			kb.AppendNull()
			sb.AppendNull()
		} else {
			kb.Append(k)
			if k%3 == 0 {
				sb.Append(fmt.Sprintf("a longer key string %d", k))
			} else {
				sb.Append(fmt.Sprintf("k%d", k))
			}
		}
		if i%13 == 5 {
			vb.AppendNull()
		} else {
			vb.Append(int64(mix64(uint64(i)+77)%1000) - 500)
		}
		xb.Append(1e9 + float64(i%977)/3)
	}
	sch := schemaOf(f("k", i64), f("s", str), f("v", i64), f("x", f64))
	cols := []arrow.Array{kb.NewArray(), sb.NewArray(), vb.NewArray(), xb.NewArray()}
	defer releaseArrays(cols)
	return array.NewRecord(sch, cols, int64(n))
}

// sameRows reports the first difference between two results.
func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: row %d is %q, want %q", what, i, got[i], want[i])
			return
		}
	}
}

// TestAdaptivePartialEqualsComplete: a partial phase over keys that
// barely repeat passes its input on after the probe (its output holds
// far more rows than there are groups), and partial → final gives
// exactly the one-phase result, group order included, for integer, BIGINT,
// string (short and long) and two-column keys with NULL keys and values;
// FLOAT sums, added in another order than one phase, are the same at
// every batch size. Over keys that repeat it keeps grouping; over keys
// all but unique (distinct 1<<40) it emits one partial row per input row
// after the probe (raw), with the one-phase result again, FLOAT sums
// included.
func TestAdaptivePartialEqualsComplete(t *testing.T) {
	const n = probeRows + 3*passChunkRows + 777
	ints := []AggCall{
		{Func: "count_star", Name: "n"}, {Func: "count", Arg: col(2, i64), Name: "c"},
		{Func: "sum", Arg: col(2, i64), Name: "s"}, {Func: "min", Arg: col(2, i64), Name: "lo"},
		{Func: "max", Arg: col(1, str), Name: "hi"},
	}
	floats := []AggCall{{Func: "sum", Arg: col(3, f64), Name: "fx"}, {Func: "avg", Arg: col(3, f64), Name: "ax"}}
	keySets := map[string][]expr.Expr{
		"int":    {col(0, i64)},
		"string": {col(1, str)},
		"two":    {col(1, str), col(0, i64)},
	}
	for _, distinct := range []int{n, 50, 1 << 40} {
		for kname, keys := range keySets {
			var floatWant []string
			for _, bs := range []int{1000, 4096, n} {
				t.Run(fmt.Sprintf("distinct%d/%s/batch%d", distinct, kname, bs), func(t *testing.T) {
					mem := newMem(t)
					rec := adaptiveInput(mem, n, distinct)
					defer rec.Release()
					twoPhase := func(aggs []AggCall) ([]string, int, bool) {
						part, err := NewHashAggregateMode(mem, newSliceOp(rec, bs), AggPartial, keys, names(len(keys)), aggs)
						if err != nil {
							t.Fatal(err)
						}
						cnt := &countOp{Operator: part}
						fkeys := make([]expr.Expr, len(keys))
						for i, k := range keys {
							fkeys[i] = col(i, k.DataType())
						}
						fin, err := NewHashAggregateMode(mem, cnt, AggFinal, fkeys, names(len(keys)), aggs)
						if err != nil {
							t.Fatal(err)
						}
						return collect(t, fin), cnt.rows, part.raw
					}
					complete, err := NewHashAggregate(mem, newSliceOp(rec, bs), keys, names(len(keys)), ints)
					if err != nil {
						t.Fatal(err)
					}
					want := collect(t, complete)
					got, partialRows, raw := twoPhase(ints)
					sameRows(t, "partial → final", got, want)
					if raw != (distinct == 1<<40) {
						t.Errorf("raw pass-through %v for %d distinct keys", raw, distinct)
					}
					switch {
					case distinct == 1<<40 && partialRows < n-probeRows:
						t.Errorf("raw partial emitted %d rows for %d input rows", partialRows, n)
					case distinct > 50 && partialRows <= len(want):
						// Full grouping emits each group once.
						t.Errorf("partial phase emitted %d rows for %d groups: it never passed rows on", partialRows, len(want))
					case distinct == 50 && partialRows != len(want):
						t.Errorf("partial phase emitted %d rows for %d groups over repeating keys", partialRows, len(want))
					}
					fl, _, _ := twoPhase(floats)
					if distinct == 1<<40 {
						// One partial row per input row: the final adds
						// the floats in one phase's order.
						c, err := NewHashAggregate(mem, newSliceOp(rec, bs), keys, names(len(keys)), floats)
						if err != nil {
							t.Fatal(err)
						}
						sameRows(t, "float sums against one phase", fl, collect(t, c))
					}
					if floatWant == nil {
						floatWant = fl
					} else {
						sameRows(t, "float sums against batch size 1000", fl, floatWant)
					}
				})
			}
		}
	}
}

// TestAdaptivePartialShortMorsel: a partial phase whose input ends before
// the probe groups everything (one row per group).
func TestAdaptivePartialShortMorsel(t *testing.T) {
	mem := newMem(t)
	rec := adaptiveInput(mem, probeRows-1, probeRows)
	defer rec.Release()
	part, err := NewHashAggregateMode(mem, newSliceOp(rec, 1000), AggPartial, []expr.Expr{col(0, i64)}, names(1), []AggCall{{Func: "count_star", Name: "n"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range collect(t, part) {
		k, _, _ := strings.Cut(r, "|")
		if seen[k] {
			t.Fatalf("key %s in two partial rows", k)
		}
		seen[k] = true
	}
}
