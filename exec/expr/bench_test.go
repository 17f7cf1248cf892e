package expr

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/bufpool"
)

const benchRows = 8192

// benchAllocator is a checked allocator over a recycling pool: fresh Go
// heap memory per batch costs page faults and GC work that would swamp the
// kernels, and a long-running engine reuses its buffers anyway.
func benchAllocator(b *testing.B) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(bufpool.New())
	b.Cleanup(func() { mem.AssertSize(b, 0) })
	return mem
}

func benchRecord(b *testing.B, mem memory.Allocator) arrow.Record {
	ib := array.NewInt64Builder(mem)
	jb := array.NewInt64Builder(mem)
	sb := array.NewStringBuilder(mem)
	fb := array.NewFloat64Builder(mem)
	for i := 0; i < benchRows; i++ {
		ib.Append(int64(i*7919) % 1000)
		fb.Append(float64(i*7919%1000) / 4)
		if i%10 == 0 {
			jb.AppendNull()
		} else {
			jb.Append(int64(i))
		}
		sb.Append("category-" + string(rune('a'+i%26)))
	}
	a, c, s, f := ib.NewArray(), jb.NewArray(), sb.NewArray(), fb.NewArray()
	fb.Release()
	ib.Release()
	jb.Release()
	sb.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: i64}, {Name: "b", Type: i64, Nullable: true}, {Name: "s", Type: str}, {Name: "f", Type: arrow.PrimitiveTypes.Float64}}, nil)
	rec := array.NewRecord(schema, []arrow.Array{a, c, s, f}, benchRows)
	f.Release()
	a.Release()
	c.Release()
	s.Release()
	return rec
}

func benchExpr(b *testing.B, e Expr) {
	mem := benchAllocator(b)
	rec := benchRecord(b, mem)
	defer rec.Release()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := e.Eval(ctx, mem, rec)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
}

func mustCall(b *testing.B, name string, ret arrow.DataType, args ...Expr) Expr {
	e, err := Call(name, args, ret)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkCompareInt64Const(b *testing.B) {
	benchExpr(b, mustCall(b, "gt", boo, Column(0, i64, "a"), Literal(i64, int64(500))))
}

func BenchmarkCompareInt64Columns(b *testing.B) {
	benchExpr(b, mustCall(b, "lt", boo, Column(0, i64, "a"), Column(1, i64, "b")))
}

// BenchmarkCompareFloat64Const is BenchmarkCompareInt64Const over doubles:
// the difference is what fixNaN's pass over a column without NaN costs.
func BenchmarkCompareFloat64Const(b *testing.B) {
	benchExpr(b, mustCall(b, "gt", boo, Column(3, arrow.PrimitiveTypes.Float64, "f"), Literal(arrow.PrimitiveTypes.Float64, float64(125))))
}

func BenchmarkAddInt64(b *testing.B) {
	benchExpr(b, mustCall(b, "add", i64, Column(0, i64, "a"), Column(1, i64, "b")))
}

func BenchmarkAddInt64Const(b *testing.B) {
	benchExpr(b, mustCall(b, "add", i64, Column(0, i64, "a"), Literal(i64, int64(1))))
}

func BenchmarkLikePrefix(b *testing.B) {
	benchExpr(b, mustCall(b, "like", boo, Column(2, str, "s"), Literal(str, "category-a%")))
}

func BenchmarkInInt64(b *testing.B) {
	benchExpr(b, mustCall(b, "in", boo, Column(0, i64, "a"), Literal(i64, int64(1)), Literal(i64, int64(7)), Literal(i64, int64(500))))
}

func BenchmarkFilter(b *testing.B) {
	mem := benchAllocator(b)
	rec := benchRecord(b, mem)
	defer rec.Release()
	ctx := context.Background()
	pred := mustCall(b, "gt", boo, Column(0, i64, "a"), Literal(i64, int64(500)))
	mask, err := pred.Eval(ctx, mem, rec)
	if err != nil {
		b.Fatal(err)
	}
	defer mask.Release()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := Filter(ctx, mem, rec, mask)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
}
