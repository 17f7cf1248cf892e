package exec

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// batchSizes are the batch sizes every operator test runs at: results must
// not depend on batch boundaries.
var batchSizes = []int{1, 3, 1024}

// sliceOp is a test input that replays a record in batches of n rows.
type sliceOp struct {
	rec            arrow.Record
	n              int64
	pos            int64
	opened, closed int
	pulled         int // batches returned
}

func newSliceOp(rec arrow.Record, n int) *sliceOp {
	rec.Retain()
	return &sliceOp{rec: rec, n: int64(n)}
}

func (s *sliceOp) Schema() *arrow.Schema { return s.rec.Schema() }

func (s *sliceOp) Open(context.Context) error { s.opened++; return nil }

func (s *sliceOp) Next(context.Context) (arrow.Record, error) {
	if s.closed > 0 {
		return nil, fmt.Errorf("next after close")
	}
	if s.pos >= s.rec.NumRows() {
		return nil, io.EOF
	}
	end := min(s.pos+s.n, s.rec.NumRows())
	out := s.rec.NewSlice(s.pos, end)
	s.pos = end
	s.pulled++
	return out, nil
}

func (s *sliceOp) Close() error {
	if s.closed == 0 {
		s.rec.Release()
	}
	s.closed++
	return nil
}

// fromJSON builds a record of schema from a JSON array of rows.
func fromJSON(t testing.TB, mem memory.Allocator, schema *arrow.Schema, js string) arrow.Record {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(js))
	if err != nil {
		t.Fatalf("record from json: %v", err)
	}
	return rec
}

// input returns a sliceOp over JSON rows at batch size n; the record is
// released when the operator closes.
func input(t testing.TB, mem memory.Allocator, schema *arrow.Schema, js string, n int) *sliceOp {
	rec := fromJSON(t, mem, schema, js)
	defer rec.Release()
	return newSliceOp(rec, n)
}

// rows renders every row of recs as "v1|v2|…" with NULL for nulls.
func rows(recs []arrow.Record) []string {
	var out []string
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			vals := make([]string, r.NumCols())
			for c, col := range r.Columns() {
				if col.IsNull(i) {
					vals[c] = "NULL"
				} else {
					vals[c] = col.ValueStr(i)
				}
			}
			out = append(out, strings.Join(vals, "|"))
		}
	}
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// collect runs op to the end and returns its rows, failing the test on
// error; records are released.
func collect(t testing.TB, op Operator) []string {
	t.Helper()
	recs, err := Collect(context.Background(), op)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	defer releaseAll(recs)
	for _, r := range recs {
		if r.NumRows() == 0 {
			t.Errorf("operator returned an empty batch")
		}
		if !r.Schema().Equal(op.Schema()) {
			t.Errorf("record schema %s differs from operator schema %s", r.Schema(), op.Schema())
		}
	}
	return rows(recs)
}

func eq(t testing.TB, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func col(i int, typ arrow.DataType) expr.Expr { return expr.Column(i, typ, fmt.Sprintf("c%d", i)) }

// cmpExpr is a test-only predicate: column op constant over Int64.
type cmpExpr struct {
	col int
	op  string
	v   int64
}

func (c cmpExpr) Eval(_ context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error) {
	a := rec.Column(c.col).(*array.Int64)
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		x := a.Value(i)
		switch c.op {
		case ">":
			b.Append(x > c.v)
		case "<":
			b.Append(x < c.v)
		default:
			b.Append(x == c.v)
		}
	}
	return b.NewArray(), nil
}
func (c cmpExpr) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (c cmpExpr) String() string           { return fmt.Sprintf("c%d %s %d", c.col, c.op, c.v) }

// colCmpExpr is a test-only predicate comparing two Int64 columns.
type colCmpExpr struct {
	a, b int
	op   string
}

func (c colCmpExpr) Eval(_ context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error) {
	x := rec.Column(c.a).(*array.Int64)
	y := rec.Column(c.b).(*array.Int64)
	bld := array.NewBooleanBuilder(mem)
	defer bld.Release()
	for i := 0; i < x.Len(); i++ {
		if x.IsNull(i) || y.IsNull(i) {
			bld.AppendNull()
			continue
		}
		if c.op == "<" {
			bld.Append(x.Value(i) < y.Value(i))
		} else {
			bld.Append(x.Value(i) > y.Value(i))
		}
	}
	return bld.NewArray(), nil
}
func (c colCmpExpr) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (c colCmpExpr) String() string           { return fmt.Sprintf("c%d %s c%d", c.a, c.op, c.b) }

func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func schemaOf(fields ...arrow.Field) *arrow.Schema { return arrow.NewSchema(fields, nil) }

func f(name string, typ arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: typ, Nullable: true}
}

var (
	i64  = arrow.PrimitiveTypes.Int64
	f64  = arrow.PrimitiveTypes.Float64
	str  = arrow.BinaryTypes.String
	tsUS = &arrow.TimestampType{Unit: arrow.Microsecond}
)
