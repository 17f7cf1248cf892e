package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

func TestHashAggregate(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	sch := schemaOf(f("k", str), f("v", i64), f("x", f64), f("ts", tsUS), f("d", dec), f("n", arrow.PrimitiveTypes.Int32))
	data := `[
		{"k":"a","v":1,"x":1.5,"ts":"2024-01-01T00:00:01Z","d":"1.25","n":7},
		{"k":"b","v":2,"x":null,"ts":"2024-01-01T00:00:03Z","d":"2.00","n":1},
		{"k":"a","v":null,"x":2.5,"ts":null,"d":null,"n":null},
		{"k":null,"v":5,"x":0.5,"ts":"2024-01-01T00:00:00Z","d":"0.01","n":3},
		{"k":"a","v":3,"x":null,"ts":"2024-01-01T00:00:02Z","d":"-1.00","n":9},
		{"k":null,"v":null,"x":null,"ts":null,"d":null,"n":null},
		{"k":"b","v":2,"x":4,"ts":"2024-01-01T00:00:04Z","d":"3.00","n":2}
	]`
	k := col(0, str)
	v := col(1, i64)
	x := col(2, f64)
	ts := col(3, tsUS)
	d := col(4, dec)
	n32 := col(5, arrow.PrimitiveTypes.Int32)
	tests := []struct {
		name string
		keys []expr.Expr
		aggs []AggCall
		want []string
	}{
		{"sum count avg by string", []expr.Expr{k}, []AggCall{
			{Func: "sum", Arg: v, Name: "s"}, {Func: "count", Arg: v, Name: "c"}, {Func: "count_star", Name: "cs"}, {Func: "avg", Arg: v, Name: "a"},
		}, []string{"a|4|2|3|2", "b|4|2|2|2", "NULL|5|1|2|5"}},
		{"float sum and min max", []expr.Expr{k}, []AggCall{
			{Func: "sum", Arg: x, Name: "s"}, {Func: "min", Arg: x, Name: "mn"}, {Func: "max", Arg: x, Name: "mx"},
		}, []string{"a|4|1.5|2.5", "b|4|4|4", "NULL|0.5|0.5|0.5"}},
		{"timestamp and string min max", []expr.Expr{k}, []AggCall{
			{Func: "min", Arg: ts, Name: "mn"}, {Func: "max", Arg: ts, Name: "mx"}, {Func: "max", Arg: k, Name: "mk"},
		}, []string{"a|2024-01-01 00:00:01Z|2024-01-01 00:00:02Z|a", "b|2024-01-01 00:00:03Z|2024-01-01 00:00:04Z|b", "NULL|2024-01-01 00:00:00Z|2024-01-01 00:00:00Z|NULL"}},
		{"decimal sum", []expr.Expr{k}, []AggCall{{Func: "sum", Arg: d, Name: "s"}, {Func: "avg", Arg: d, Name: "a"}, {Func: "min", Arg: d, Name: "m"}},
			[]string{"a|0.25|0.125|-1", "b|5|2.5|2", "NULL|0.01|0.01|0.01"}},
		{"int32 sum widens", []expr.Expr{k}, []AggCall{{Func: "sum", Arg: n32, Name: "s"}, {Func: "max", Arg: n32, Name: "m"}},
			[]string{"a|16|9", "b|3|2", "NULL|3|3"}},
		{"count distinct", []expr.Expr{k}, []AggCall{{Func: "count", Arg: v, Distinct: true, Name: "cd"}, {Func: "sum", Arg: v, Distinct: true, Name: "sd"}},
			[]string{"a|2|4", "b|1|2", "NULL|1|5"}},
		{"int key", []expr.Expr{v}, []AggCall{{Func: "count_star", Name: "c"}}, []string{"1|1", "2|2", "NULL|2", "5|1", "3|1"}},
		{"two keys", []expr.Expr{k, v}, []AggCall{{Func: "count_star", Name: "c"}},
			[]string{"a|1|1", "b|2|2", "a|NULL|1", "NULL|5|1", "a|3|1", "NULL|NULL|1"}},
		{"no keys", nil, []AggCall{{Func: "sum", Arg: v, Name: "s"}, {Func: "count_star", Name: "c"}, {Func: "count", Arg: k, Distinct: true, Name: "dk"}, {Func: "min", Arg: k, Name: "mk"}},
			[]string{"13|7|2|a"}},
	}
	for _, tc := range tests {
		for _, bs := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch%d", tc.name, bs), func(t *testing.T) {
				mem := newMem(t)
				names := make([]string, len(tc.keys))
				for i := range names {
					names[i] = fmt.Sprintf("k%d", i)
				}
				op, err := NewHashAggregate(mem, input(t, mem, sch, data, bs), tc.keys, names, tc.aggs)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, collect(t, op), tc.want)
			})
		}
	}
}

func TestHashAggregateEmptyInput(t *testing.T) {
	sch := schemaOf(f("k", str), f("v", i64))
	for _, tc := range []struct {
		name string
		keys []expr.Expr
		want []string
	}{
		{"no keys gives one row", nil, []string{"NULL|0|NULL|NULL"}},
		{"keys give no rows", []expr.Expr{col(0, str)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMem(t)
			names := make([]string, len(tc.keys))
			op, err := NewHashAggregate(mem, input(t, mem, sch, `[]`, 3), tc.keys, names, []AggCall{
				{Func: "sum", Arg: col(1, i64), Name: "s"}, {Func: "count", Arg: col(1, i64), Name: "c"},
				{Func: "avg", Arg: col(1, i64), Name: "a"}, {Func: "max", Arg: col(0, str), Name: "m"},
			})
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, op)
			if len(tc.keys) > 0 {
				eq(t, got, tc.want)
				return
			}
			// Without keys the row has no key columns: s, c, a, m.
			eq(t, got, []string{"NULL|0|NULL|NULL"})
		})
	}
}

func TestHashAggregateOverflow(t *testing.T) {
	mem := newMem(t)
	sch := schemaOf(f("v", i64))
	op, err := NewHashAggregate(mem, input(t, mem, sch, `[{"v":5000000000000000000},{"v":5000000000000000000}]`, 1), nil, nil, []AggCall{{Func: "sum", Arg: col(0, i64), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := Collect(context.Background(), op)
	releaseAll(recs)
	if !errors.Is(err, ErrOverflow) {
		t.Fatalf("want overflow, got %v", err)
	}
}

func TestHashAggregateBadCalls(t *testing.T) {
	mem := newMem(t)
	sch := schemaOf(f("k", str))
	for _, call := range []AggCall{
		{Func: "no_such_aggregate", Arg: col(0, str)},
		{Func: "percentile_cont", Arg: col(0, str)},
		{Func: "bit_and", Arg: col(0, str)},
		{Func: "sum", Arg: col(0, str)},
		{Func: "sum", Arg: col(0, str), Type: i64},
		{Func: "count", Arg: col(0, str), Type: f64},
	} {
		in := input(t, mem, sch, `[]`, 1)
		if _, err := NewHashAggregate(mem, in, nil, nil, []AggCall{call}); err == nil {
			t.Errorf("%+v: want error", call)
		}
		in.Close()
	}
}

func TestHashAggregateDictionaryKey(t *testing.T) {
	for _, bs := range batchSizes {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			mem := newMem(t)
			dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: str}
			bld := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
			defer bld.Release()
			for _, s := range []string{"x", "y", "", "x", "z", "", "y"} {
				if s == "" {
					bld.AppendNull()
				} else {
					bld.AppendString(s)
				}
			}
			keys := bld.NewArray()
			defer keys.Release()
			vb := array.NewInt64Builder(mem)
			defer vb.Release()
			vb.AppendValues([]int64{1, 2, 3, 4, 5, 6, 7}, nil)
			vals := vb.NewArray()
			defer vals.Release()
			sch := schemaOf(f("k", dt), f("v", i64))
			rec := array.NewRecord(sch, []arrow.Array{keys, vals}, 7)
			defer rec.Release()
			op, err := NewHashAggregate(mem, newSliceOp(rec, bs), []expr.Expr{col(0, dt)}, []string{"k"},
				[]AggCall{{Func: "sum", Arg: col(1, i64), Name: "s"}, {Func: "max", Arg: col(0, dt), Name: "m"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := op.Schema().Field(0).Type; !arrow.TypeEqual(got, str) {
				t.Errorf("key type %s, want decoded string", got)
			}
			eq(t, collect(t, op), []string{"x|5|x", "y|9|y", "NULL|9|NULL", "z|5|z"})
		})
	}
}

// benchAggInput builds rows int64 values with keys drawn from ngroups
// distinct values, in batches of DefaultBatchSize.
func benchAggInput(mem memory.Allocator, rows, ngroups int, stringKey bool) []arrow.Record {
	var recs []arrow.Record
	var kt arrow.DataType = i64
	if stringKey {
		kt = str
	}
	sch := schemaOf(f("category", kt), f("value", i64))
	seed := uint64(42)
	for done := 0; done < rows; done += DefaultBatchSize {
		n := min(DefaultBatchSize, rows-done)
		kb := array.NewBuilder(mem, kt)
		vb := array.NewInt64Builder(mem)
		for i := 0; i < n; i++ {
			seed = seed*6364136223846793005 + 1442695040888963407
			g := int((seed >> 33) % uint64(ngroups))
			if stringKey {
				kb.(*array.StringBuilder).Append(fmt.Sprintf("category_%03d", g))
			} else {
				kb.(*array.Int64Builder).Append(int64(g) * 7919)
			}
			vb.Append(int64(seed>>40) % 1000)
		}
		k, v := kb.NewArray(), vb.NewArray()
		recs = append(recs, array.NewRecord(sch, []arrow.Array{k, v}, int64(n)))
		k.Release()
		v.Release()
		kb.Release()
		vb.Release()
	}
	return recs
}

// recsOp replays prebuilt records (retaining them) for benchmarks.
type recsOp struct {
	recs []arrow.Record
	i    int
}

func (r *recsOp) Schema() *arrow.Schema      { return r.recs[0].Schema() }
func (r *recsOp) Open(context.Context) error { return nil }
func (r *recsOp) Close() error               { return nil }
func (r *recsOp) Next(context.Context) (arrow.Record, error) {
	if r.i >= len(r.recs) {
		return nil, io.EOF
	}
	rec := r.recs[r.i]
	r.i++
	rec.Retain()
	return rec, nil
}

func benchAgg(b *testing.B, stringKey bool) {
	const rows = 1 << 20
	mem := memory.NewGoAllocator()
	recs := benchAggInput(mem, rows, 100, stringKey)
	defer releaseAll(recs)
	kt := recs[0].Schema().Field(0).Type
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op, err := NewHashAggregate(mem, &recsOp{recs: recs}, []expr.Expr{col(0, kt)}, []string{"category"},
			[]AggCall{{Func: "sum", Arg: col(1, i64), Name: "total"}})
		if err != nil {
			b.Fatal(err)
		}
		n, err := Drain(context.Background(), op)
		if err != nil || n != 100 {
			b.Fatalf("groups %d err %v", n, err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkHashAggregateStringKey is SUM(value) GROUP BY category with 100
// string categories over 1M rows in 8192-row batches.
func BenchmarkHashAggregateStringKey(b *testing.B) { benchAgg(b, true) }

// BenchmarkHashAggregateInt64Key is the same with BIGINT keys.
func BenchmarkHashAggregateInt64Key(b *testing.B) { benchAgg(b, false) }

// benchManyKeys runs call over 4M BIGINT rows with 1M distinct keys, grouped
// by the key (grouped) or not.
func benchManyKeys(b *testing.B, grouped bool, call AggCall) {
	benchManyKeysOf(b, grouped, false, call)
}

// benchManyKeysOf is benchManyKeys over BIGINT or VARCHAR keys.
func benchManyKeysOf(b *testing.B, grouped, stringKey bool, call AggCall) {
	const rows, keys = 1 << 22, 1 << 20
	mem := memory.NewGoAllocator()
	recs := benchAggInput(mem, rows, keys, stringKey)
	defer releaseAll(recs)
	kt := recs[0].Schema().Field(0).Type
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := 0; i < b.N; i++ {
		var ks []expr.Expr
		var names []string
		if grouped {
			ks, names = []expr.Expr{col(0, kt)}, []string{"k"}
		}
		op, err := NewHashAggregate(mem, &recsOp{recs: recs}, ks, names, []AggCall{call})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Drain(context.Background(), op); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's CPU time (user + system): on a shared
// machine CPU time per op compares runs, wall time does not.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHashAggregateManyKeys is COUNT(*) GROUP BY k over 1M distinct
// BIGINT keys (4M rows): the group table's growth at 1M keys.
func BenchmarkHashAggregateManyKeys(b *testing.B) {
	benchManyKeys(b, true, AggCall{Func: "count_star", Name: "n"})
}

// BenchmarkCountDistinctManyKeys is COUNT(DISTINCT k) over 1M distinct
// BIGINT values (4M rows).
func BenchmarkCountDistinctManyKeys(b *testing.B) {
	benchManyKeys(b, false, AggCall{Func: "count", Distinct: true, Arg: col(0, i64), Name: "d"})
}

// BenchmarkCountDistinctManyStrings is COUNT(DISTINCT k) over 1M distinct
// VARCHAR values of up to 16 bytes (4M rows).
func BenchmarkCountDistinctManyStrings(b *testing.B) {
	benchManyKeysOf(b, false, true, AggCall{Func: "count", Distinct: true, Arg: col(0, str), Name: "d"})
}
