package exec

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

var tenRows = `[{"v":0},{"v":1},{"v":2},{"v":3},{"v":4},{"v":5},{"v":6},{"v":7},{"v":8},{"v":9}]`

func TestFilterProject(t *testing.T) {
	sch := schemaOf(f("k", str), f("v", i64))
	data := `[{"k":"a","v":1},{"k":"b","v":null},{"k":"c","v":5},{"k":null,"v":7},{"k":"e","v":0}]`
	for _, bs := range batchSizes {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			mem := newMem(t)
			filt := NewFilter(mem, input(t, mem, sch, data, bs), cmpExpr{1, ">", 1})
			proj, err := NewProject(mem, filt, []expr.Expr{col(1, i64), col(0, str)}, []string{"value", "key"})
			if err != nil {
				t.Fatal(err)
			}
			if proj.Schema().Field(0).Name != "value" || proj.Schema().Field(1).Name != "key" {
				t.Errorf("schema %s", proj.Schema())
			}
			eq(t, collect(t, proj), []string{"5|c", "7|NULL"})

			none := NewFilter(mem, input(t, mem, sch, data, bs), cmpExpr{1, ">", 100})
			eq(t, collect(t, none), nil)
			all := NewFilter(mem, input(t, mem, sch, data, bs), cmpExpr{1, "<", 100})
			eq(t, collect(t, all), []string{"a|1", "c|5", "NULL|7", "e|0"})
		})
	}
}

func TestLimit(t *testing.T) {
	sch := schemaOf(f("v", i64))
	tests := []struct {
		limit, offset int64
		want          []string
	}{
		{3, 2, []string{"2", "3", "4"}},
		{-1, 8, []string{"8", "9"}},
		{0, 0, nil},
		{100, 0, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
		{2, 20, nil},
	}
	for _, tc := range tests {
		for _, bs := range batchSizes {
			t.Run(fmt.Sprintf("%d,%d/batch%d", tc.limit, tc.offset, bs), func(t *testing.T) {
				mem := newMem(t)
				eq(t, collect(t, NewLimit(mem, input(t, mem, sch, tenRows, bs), tc.limit, tc.offset)), tc.want)
			})
		}
	}
	t.Run("stops pulling", func(t *testing.T) {
		mem := newMem(t)
		in := input(t, mem, sch, tenRows, 1)
		eq(t, collect(t, NewLimit(mem, in, 3, 0)), []string{"0", "1", "2"})
		if in.pulled != 3 {
			t.Errorf("pulled %d batches, want 3", in.pulled)
		}
	})
	t.Run("early close", func(t *testing.T) {
		mem := newMem(t)
		in := input(t, mem, sch, tenRows, 2)
		l := NewLimit(mem, in, 5, 0)
		ctx := context.Background()
		if err := l.Open(ctx); err != nil {
			t.Fatal(err)
		}
		rec, err := l.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		l.Close()
		l.Close()
		if in.closed != 1 {
			t.Errorf("input closed %d times", in.closed)
		}
	})
}

func TestUnionAll(t *testing.T) {
	a := schemaOf(arrow.Field{Name: "v", Type: i64})
	b := schemaOf(f("w", i64))
	for _, bs := range batchSizes {
		t.Run(fmt.Sprint(bs), func(t *testing.T) {
			mem := newMem(t)
			u, err := NewUnionAll(mem, input(t, mem, a, `[{"v":1},{"v":2}]`, bs), input(t, mem, b, `[]`, bs), input(t, mem, b, `[{"w":null},{"w":3}]`, bs))
			if err != nil {
				t.Fatal(err)
			}
			if !u.Schema().Field(0).Nullable || u.Schema().Field(0).Name != "v" {
				t.Errorf("schema %s", u.Schema())
			}
			eq(t, collect(t, u), []string{"1", "2", "NULL", "3"})
		})
	}
	mem := newMem(t)
	x, y := input(t, mem, a, `[]`, 1), input(t, mem, schemaOf(f("s", str)), `[]`, 1)
	defer x.Close()
	defer y.Close()
	if _, err := NewUnionAll(mem, x, y); err == nil {
		t.Error("mismatched union accepted")
	}
}

func TestValues(t *testing.T) {
	mem := newMem(t)
	sch := schemaOf(f("n", i64), f("s", str))
	v, err := NewValues(mem, sch, [][]expr.Expr{
		{expr.Literal(i64, int64(1)), expr.Literal(str, "x")},
		{expr.Literal(i64, nil), expr.Literal(str, "y")},
	})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, collect(t, v), []string{"1|x", "NULL|y"})
	if _, err := NewValues(mem, sch, [][]expr.Expr{{expr.Literal(str, "x"), expr.Literal(str, "x")}}); err == nil {
		t.Error("type mismatch accepted")
	}
}

// testSource is a Source over fixed records, including an empty one.
type testSource struct {
	schema *arrow.Schema
	recs   []arrow.Record
}

func (s *testSource) Schema() *arrow.Schema { return s.schema }
func (s *testSource) Bounded() bool         { return true }
func (s *testSource) Open(ctx context.Context, mem memory.Allocator, spec ScanSpec) (SourceReader, error) {
	return &testReader{src: s, spec: spec}, nil
}

type testReader struct {
	src    *testSource
	spec   ScanSpec
	i      int
	closed bool
}

func (r *testReader) Next(ctx context.Context) (Batch, error) {
	if r.i >= len(r.src.recs) {
		return Batch{}, io.EOF
	}
	rec := r.src.recs[r.i]
	r.i++
	cols := make([]arrow.Array, len(r.spec.Columns))
	fields := make([]arrow.Field, len(cols))
	for i, c := range r.spec.Columns {
		cols[i] = rec.Column(c)
		fields[i] = rec.Schema().Field(c)
	}
	return Batch{Record: arrowNewRecord(fields, cols, rec.NumRows())}, nil
}
func (r *testReader) Offsets() Offsets    { return Offsets{"rows": int64(r.i)} }
func (r *testReader) Partitions() []int32 { return []int32{0} }
func (r *testReader) Close() error        { r.closed = true; return nil }

func TestScan(t *testing.T) {
	mem := newMem(t)
	sch := schemaOf(f("k", str), f("v", i64))
	r1 := fromJSON(t, mem, sch, `[{"k":"a","v":1}]`)
	r2 := fromJSON(t, mem, sch, `[]`)
	r3 := fromJSON(t, mem, sch, `[{"k":"b","v":2},{"k":"c","v":3}]`)
	defer releaseAll([]arrow.Record{r1, r2, r3})
	src := &testSource{schema: sch, recs: []arrow.Record{r1, r2, r3}}
	progress := &ScanProgress{}
	s, err := NewScan(mem, src, ScanSpec{Columns: []int{1}, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if s.Schema().NumFields() != 1 || s.Schema().Field(0).Name != "v" {
		t.Errorf("schema %s", s.Schema())
	}
	eq(t, collect(t, s), []string{"1", "2", "3"})
	if got := progress.Snapshot().Rows; got != 3 {
		t.Errorf("scan progress counted %d rows, want 3", got)
	}
	if _, err := NewScan(mem, src, ScanSpec{Columns: []int{5}}); err == nil {
		t.Error("bad column accepted")
	}
}

func arrowNewRecord(fields []arrow.Field, cols []arrow.Array, n int64) arrow.Record {
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, n)
}
