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

// dictSource serves string keys and int64 values in batches; when its
// reader is asked to keep column 0 dictionary-encoded, it returns each
// batch's keys as a dictionary over dicts[b] (indices into it, -1 = NULL),
// else as plain strings — the way the Parquet reader behaves.
type dictSource struct {
	dicts   [][]string
	idx     [][]int
	vals    [][]int64
	asked   *bool // set when a reader was asked to keep dictionaries
	batches int
}

var dictSrcSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func (s *dictSource) Schema() *arrow.Schema { return dictSrcSchema }
func (s *dictSource) Bounded() bool         { return true }
func (s *dictSource) Open(_ context.Context, mem memory.Allocator, spec ScanSpec) (SourceReader, error) {
	return &dictSourceReader{src: s, mem: mem}, nil
}

type dictSourceReader struct {
	src  *dictSource
	mem  memory.Allocator
	dict bool
	b    int
}

func (r *dictSourceReader) KeepDictionaries(cols []int) {
	r.dict = len(cols) == 1 && cols[0] == 0
	*r.src.asked = true
}

func (r *dictSourceReader) Next(context.Context) (Batch, error) {
	if r.b >= len(r.src.idx) {
		return Batch{}, io.EOF
	}
	b := r.b
	r.b++
	dict, idx := r.src.dicts[b], r.src.idx[b]
	var keys arrow.Array
	if r.dict {
		db := array.NewStringBuilder(r.mem)
		db.AppendValues(dict, nil)
		values := db.NewArray()
		db.Release()
		ib := array.NewInt32Builder(r.mem)
		for _, k := range idx {
			if k < 0 {
				ib.AppendNull()
			} else {
				ib.Append(int32(k))
			}
		}
		indices := ib.NewArray()
		ib.Release()
		keys = array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, indices, values)
		values.Release()
		indices.Release()
	} else {
		sb := array.NewStringBuilder(r.mem)
		for _, k := range idx {
			if k < 0 {
				sb.AppendNull()
			} else {
				sb.Append(dict[k])
			}
		}
		keys = sb.NewArray()
		sb.Release()
	}
	vb := array.NewInt64Builder(r.mem)
	vb.AppendValues(r.src.vals[b], nil)
	vals := vb.NewArray()
	vb.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: keys.DataType(), Nullable: true}, dictSrcSchema.Field(1)}, nil)
	rec := array.NewRecord(schema, []arrow.Array{keys, vals}, int64(len(idx)))
	keys.Release()
	vals.Release()
	return Batch{Record: rec}, nil
}

func (r *dictSourceReader) Offsets() Offsets        { return Offsets{} }
func (r *dictSourceReader) Partitions() []int32     { return []int32{0} }
func (r *dictSourceReader) Close() error            { return nil }
func (s *dictSource) withAsked(p *bool) *dictSource { s.asked = p; return s }

// plainSumsByKey is the reference result: sums and counts per key in
// first-appearance order, computed directly from the source's data.
func (s *dictSource) reference() []string {
	type acc struct{ sum, n int64 }
	var order []string
	m := map[string]*acc{}
	for b, idx := range s.idx {
		for i, k := range idx {
			key := "NULL"
			if k >= 0 {
				key = s.dicts[b][k]
			}
			a, ok := m[key]
			if !ok {
				a = &acc{}
				m[key] = a
				order = append(order, key)
			}
			a.sum += s.vals[b][i]
			a.n++
		}
	}
	out := make([]string, len(order))
	for i, k := range order {
		out[i] = fmt.Sprintf("%s|%d|%d", k, m[k].sum, m[k].n)
	}
	return out
}

func TestHashAggregateDictionaryScan(t *testing.T) {
	two := []string{"b", "a"}
	for _, tc := range []struct {
		name      string
		src       *dictSource
		args      []AggCall
		wantAsked bool
	}{
		{"one dictionary", &dictSource{
			dicts: [][]string{{"x", "y", "z"}, {"x", "y", "z"}},
			idx:   [][]int{{2, 0, 2, 1}, {1, 1, 0}},
			vals:  [][]int64{{1, 2, 3, 4}, {5, 6, 7}},
		}, nil, true},
		{"dictionary changes, shared values", &dictSource{
			dicts: [][]string{{"x", "y"}, {"q", "y", "x"}, two, two},
			idx:   [][]int{{1, 1}, {2, 0, 1}, {0, 1}, {1}},
			vals:  [][]int64{{1, 2}, {3, 4, 5}, {6, 7}, {8}},
		}, nil, true},
		{"nulls fall back to decoding", &dictSource{
			dicts: [][]string{{"x", "y"}, {"x", "y"}},
			idx:   [][]int{{0, -1, 1}, {-1, 0}},
			vals:  [][]int64{{1, 2, 3}, {4, 5}},
		}, nil, true},
		{"argument reads the key: no dictionaries", &dictSource{
			dicts: [][]string{{"x", "y"}},
			idx:   [][]int{{0, 1, 0}},
			vals:  [][]int64{{1, 2, 3}},
		}, []AggCall{{Func: "count", Arg: col(0, str), Name: "n"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMem(t)
			asked := false
			src := tc.src.withAsked(&asked)
			scan, err := NewScan(mem, src, ScanSpec{})
			if err != nil {
				t.Fatal(err)
			}
			aggs := tc.args
			if aggs == nil {
				aggs = []AggCall{{Func: "sum", Arg: col(1, i64), Name: "s"}, {Func: "count_star", Name: "n"}}
			}
			op, err := NewHashAggregate(mem, scan, []expr.Expr{col(0, str)}, []string{"k"}, aggs)
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, op)
			if asked != tc.wantAsked {
				t.Errorf("dictionaries asked: %v, want %v", asked, tc.wantAsked)
			}
			if tc.args == nil {
				eq(t, got, src.reference())
			} else if len(got) != 2 {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestColumnRef(t *testing.T) {
	sch := schemaOf(f("a", i64), f("b", str))
	for _, tc := range []struct {
		e    expr.Expr
		col  int
		isOK bool
	}{
		{col(0, i64), 0, true},
		{col(1, str), 1, true},
		{cmpExpr{col: 0, op: ">", v: 1}, 0, false},
		{expr.Column(5, i64, "x"), 0, false},
	} {
		c, ok := columnRef(tc.e, sch)
		if ok != tc.isOK || (ok && c != tc.col) {
			t.Errorf("columnRef(%s) = %d,%v; want %d,%v", tc.e, c, ok, tc.col, tc.isOK)
		}
	}
}
