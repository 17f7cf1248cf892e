package exec

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// dedupInput is n rows (k BIGINT, v BIGINT, x DOUBLE): k in 3 groups
// and NULL; v mostly distinct (every 7th repeats an earlier value,
// every 97th is NULL, 0 appears) when spread, else one of 50 values; x
// a float that follows v, so a SUM(DISTINCT x) depends on the order in
// which first occurrences arrive.
func dedupInput(mem memory.Allocator, n int, spread bool) arrow.Record {
	kb := array.NewInt64Builder(mem)
	vb := array.NewInt64Builder(mem)
	xb := array.NewFloat64Builder(mem)
	defer kb.Release()
	defer vb.Release()
	defer xb.Release()
	for i := 0; i < n; i++ {
		if i%11 == 5 {
			kb.AppendNull()
		} else {
			kb.Append(int64(i % 3))
		}
		v := int64((uint64(i) * 0x9E3779B97F4A7C15) >> 40)
		switch {
		case !spread:
			v = int64(i*7) % 50
		case i%7 == 3:
			v = int64((uint64(i/2) * 0x9E3779B97F4A7C15) >> 40)
		case i%1000 == 1:
			v = 0
		}
		if i%97 == 13 {
			vb.AppendNull()
			xb.AppendNull()
			continue
		}
		vb.Append(v)
		xb.Append(float64(v)/3 + 1e9)
	}
	sch := schemaOf(f("k", i64), f("v", i64), f("x", f64))
	cols := []arrow.Array{kb.NewArray(), vb.NewArray(), xb.NewArray()}
	defer releaseArrays(cols)
	return array.NewRecord(sch, cols, int64(n))
}

// TestDedupPassThrough: a pre-dedup under COUNT/SUM(DISTINCT) gives
// exactly the result of grouping everything, SUM(DISTINCT) over floats
// included, at every batch size; over mostly distinct keys it passes
// rows through (its output repeats keys), over repeating keys it keeps
// grouping. Without SetDedup's first-occurrence order the float sums
// would differ in their last bits.
func TestDedupPassThrough(t *testing.T) {
	const n = 3 * probeRows
	for _, spread := range []bool{true, false} {
		for _, bs := range []int{1000, 4096, n} {
			for _, keyed := range []bool{true, false} {
				t.Run(fmt.Sprintf("spread=%v/batch%d/keyed=%v", spread, bs, keyed), func(t *testing.T) {
					mem := newMem(t)
					rec := dedupInput(mem, n, spread)
					defer rec.Release()
					k, v, x := col(0, i64), col(1, i64), col(2, f64)
					var keys []expr.Expr
					if keyed {
						keys = []expr.Expr{k}
					}
					run := func(dedup bool, arg expr.Expr) ([]string, int) {
						pre, err := NewHashAggregate(mem, newSliceOp(rec, bs), append(append([]expr.Expr(nil), keys...), arg), names(len(keys)+1), nil)
						if err != nil {
							t.Fatal(err)
						}
						if dedup {
							pre.SetDedup()
						}
						cnt := &countOp{Operator: pre}
						var fkeys []expr.Expr
						if keyed {
							fkeys = []expr.Expr{col(0, i64)}
						}
						a := col(len(keys), arg.DataType())
						fin, err := NewHashAggregate(mem, cnt, fkeys, names(len(fkeys)), []AggCall{
							{Func: "count", Arg: a, Distinct: true, Name: "c"}, {Func: "sum", Arg: a, Distinct: true, Name: "s"}})
						if err != nil {
							t.Fatal(err)
						}
						return collect(t, fin), cnt.rows
					}
					for _, arg := range []expr.Expr{v, x} {
						want, groups := run(false, arg)
						got, passed := run(true, arg)
						eq(t, got, want)
						if spread && bs < n && passed <= groups {
							t.Errorf("%s: pre-dedup output %d rows for %d groups: it never passed rows through", arg, passed, groups)
						}
						if !spread && passed != groups {
							t.Errorf("%s: pre-dedup output %d rows for %d groups over repeating keys", arg, passed, groups)
						}
					}
				})
			}
		}
	}
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("k%d", i)
	}
	return out
}

// countOp counts the rows its operator returns.
type countOp struct {
	Operator
	rows int
}

func (c *countOp) Next(ctx context.Context) (arrow.Record, error) {
	rec, err := c.Operator.Next(ctx)
	if err == nil {
		c.rows += int(rec.NumRows())
	}
	return rec, err
}

// TestDistinctOneGroupThenMany: the batch DISTINCT state keeps a single
// group's values in its own set (0 included), restarts it on Reset, and
// moves them into the pairs table when a second group appears, counting
// exactly what a map does.
func TestDistinctOneGroupThenMany(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	st, err := NewAggState(mem, "count", arrow.PrimitiveTypes.Int64, true, AggOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]map[int64]bool{}
	feed := func(ngroups int, gids []uint32, vals []int64) {
		t.Helper()
		st.Grow(ngroups)
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for i, v := range vals {
			if v < 0 {
				b.AppendNull()
				continue
			}
			b.Append(v)
			if want[gids[i]] == nil {
				want[gids[i]] = map[int64]bool{}
			}
			want[gids[i]][v] = true
		}
		arr := b.NewArray()
		defer arr.Release()
		if err := st.Update(gids, arr, nil); err != nil {
			t.Fatal(err)
		}
	}
	check := func(ngroups int) {
		t.Helper()
		res, err := st.Result(mem, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Release()
		for g := 0; g < ngroups; g++ {
			if got, w := cellText(res, g), fmt.Sprint(len(want[uint32(g)])); got != w {
				t.Errorf("group %d: COUNT(DISTINCT) = %s, want %s", g, got, w)
			}
		}
	}
	var gids []uint32
	var vals []int64
	for i := 0; i < 5000; i++ {
		gids = append(gids, 0)
		vals = append(vals, int64(i*i)%3001-1) // -1 is NULL; 0 and repeats
	}
	feed(1, gids, vals)
	check(1)
	st.Reset(0)
	want[0] = nil
	feed(1, gids[:100], vals[:100])
	check(1)
	for i := range gids {
		gids[i] = uint32(i % 3)
	}
	feed(3, gids, vals)
	check(3)
	feed(3, gids, vals)
	check(3)
}

// TestDistinctStringsOneGroupThenMany: batch COUNT(DISTINCT s) keeps a
// single group's strings in a string set (short ones packed, long ones in
// its arena; "" a value, NULL not), restarts it on Reset, and moves them
// into the table of every group when a second group appears, counting
// exactly what a map does, for VARCHAR, large VARCHAR and BINARY.
func TestDistinctStringsOneGroupThenMany(t *testing.T) {
	for _, typ := range []arrow.DataType{arrow.BinaryTypes.String, arrow.BinaryTypes.LargeString, arrow.BinaryTypes.Binary} {
		t.Run(typ.String(), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			st, err := NewAggState(mem, "count", typ, true, AggOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[uint32]map[string]bool{}
			feed := func(ngroups int, gids []uint32, vals []*string) {
				t.Helper()
				st.Grow(ngroups)
				b := array.NewBuilder(mem, typ)
				defer b.Release()
				for i, v := range vals {
					if v == nil {
						b.AppendNull()
						continue
					}
					switch bb := b.(type) {
					case *array.StringBuilder:
						bb.Append(*v)
					case *array.LargeStringBuilder:
						bb.Append(*v)
					case *array.BinaryBuilder:
						bb.Append([]byte(*v))
					}
					if want[gids[i]] == nil {
						want[gids[i]] = map[string]bool{}
					}
					want[gids[i]][*v] = true
				}
				arr := b.NewArray()
				defer arr.Release()
				if err := st.Update(gids, arr, nil); err != nil {
					t.Fatal(err)
				}
			}
			check := func(ngroups int) {
				t.Helper()
				res, err := st.Result(mem, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				for g := 0; g < ngroups; g++ {
					if got, w := cellText(res, g), fmt.Sprint(len(want[uint32(g)])); got != w {
						t.Errorf("group %d: COUNT(DISTINCT) = %s, want %s", g, got, w)
					}
				}
			}
			var gids []uint32
			var vals []*string
			for i := 0; i < 5000; i++ {
				gids = append(gids, 0)
				var v *string
				switch k := (i * i) % 3001; {
				case k == 7:
				case k%5 == 0:
					s := fmt.Sprintf("a value longer than sixteen bytes %d", k)
					v = &s
				case k%7 == 0:
					s := ""
					v = &s
				default:
					s := fmt.Sprint(k)
					v = &s
				}
				vals = append(vals, v)
			}
			feed(1, gids, vals)
			check(1)
			st.Reset(0)
			want[0] = nil
			feed(1, gids[:100], vals[:100])
			check(1)
			for i := range gids {
				gids[i] = uint32(i % 3)
			}
			feed(3, gids, vals)
			check(3)
			feed(3, gids, vals)
			check(3)
		})
	}
}
