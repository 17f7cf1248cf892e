package stream

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// dictOf returns rec with its string column c dictionary-encoded over
// the dictionary values (which must hold every string of the column).
func dictOf(t *testing.T, mem memory.Allocator, rec arrow.Record, c int, values []string) arrow.Record {
	t.Helper()
	col := rec.Column(c).(*array.String)
	vb := array.NewStringBuilder(mem)
	defer vb.Release()
	vb.AppendValues(values, nil)
	dict := vb.NewArray()
	defer dict.Release()
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	for i := range col.Len() {
		if col.IsNull(i) {
			ib.AppendNull()
			continue
		}
		at := -1
		for e, v := range values {
			if v == col.Value(i) {
				at = e
			}
		}
		if at < 0 {
			t.Fatalf("%q is not in the dictionary", col.Value(i))
		}
		ib.Append(int32(at))
	}
	idx := ib.NewArray()
	defer idx.Release()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	da := array.NewDictionaryArray(dt, idx, dict)
	defer da.Release()
	cols := append([]arrow.Array(nil), rec.Columns()...)
	cols[c] = da
	fields := rec.Schema().Fields()
	fields[c].Type = dt
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}

// TestLookupJoinDictionaryKey: a lookup join whose stream key arrives
// dictionary-encoded (as a Parquet scan returns it when DictionaryKey
// asks) emits exactly the records of the plain key, strings decoded:
// inner and left joins, append-only and changelog streams, a residual
// that reads the key, NULL keys, keys missing from the table, batches
// sharing one dictionary and batches with another.
func TestLookupJoinDictionaryKey(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(5))
	tableSch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "b", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var tab []string
	for i := range 6 {
		tab = append(tab, fmt.Sprintf(`{"k": "key%d", "b": %d}`, i%4, i))
	}
	table := fromJSON(t, mem, tableSch, "["+strings.Join(tab, ",")+"]")
	defer table.Release()
	values := [][]string{{"key0", "key1", "key2", "key3", "key4", "key5"}, {"key5", "key3", "key1", "key0", "key2", "key4"}}
	for _, kind := range []JoinKind{InnerJoin, LeftJoin} {
		for _, changelog := range []bool{false, true} {
			name := fmt.Sprintf("kind%d/changelog=%v", kind, changelog)
			st := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
			first := 0
			if changelog {
				st, first = withOpSchema(st), 1
			}
			// stream.k <> 'key1' AND stream.a < table.b: reads the key.
			ne, err := expr.Call("ne", []expr.Expr{expr.Column(0, arrow.BinaryTypes.String, "k"), expr.Literal(arrow.BinaryTypes.String, "key1")}, arrow.FixedWidthTypes.Boolean)
			if err != nil {
				t.Fatal(err)
			}
			lt, err := expr.Call("lt", []expr.Expr{expr.Column(1, arrow.PrimitiveTypes.Int64, "a"), expr.Column(3, arrow.PrimitiveTypes.Int64, "b")}, arrow.FixedWidthTypes.Boolean)
			if err != nil {
				t.Fatal(err)
			}
			res, err := expr.Call("and", []expr.Expr{ne, lt}, arrow.FixedWidthTypes.Boolean)
			if err != nil {
				t.Fatal(err)
			}
			spec := JoinSpec{Kind: kind, Timing: LookupJoin, TableSide: 1, LeftKeys: []Expr{col(st, first)}, RightKeys: []Expr{col(tableSch, 0)}, Residual: res}
			var joins [2]*Join // dictionary, plain
			for v := range joins {
				j, err := NewJoin(mem, st, tableSch, spec)
				if err != nil {
					t.Fatal(err)
				}
				defer j.Close()
				if err := j.LoadTable(ctx, table); err != nil {
					t.Fatal(err)
				}
				joins[v] = j
			}
			if c, ok := joins[0].DictionaryKey(st); !ok || c != first {
				t.Fatalf("%s: DictionaryKey = %d, %v; want column %d", name, c, ok, first)
			}
			for batch := range 4 {
				var js []string
				for range 30 {
					k := fmt.Sprintf("%q", fmt.Sprint("key", rng.Intn(6)))
					if rng.Intn(6) == 0 {
						k = "null"
					}
					obj := fmt.Sprintf(`"k": %s, "a": %d`, k, rng.Intn(5))
					if changelog {
						obj = fmt.Sprintf(`"op": %d, `, []exec.Op{exec.OpInsert, exec.OpDelete}[rng.Intn(2)]) + obj
					}
					js = append(js, "{"+obj+"}")
				}
				plain := fromJSON(t, mem, st, "["+strings.Join(js, ",")+"]")
				dict := dictOf(t, mem, plain, first, values[batch/2])
				got, err := joins[0].PushSide(ctx, 0, dict, UnionPartition(0, 0))
				if err != nil {
					t.Fatal(err)
				}
				want, err := joins[1].PushSide(ctx, 0, plain, UnionPartition(0, 0))
				if err != nil {
					t.Fatal(err)
				}
				plain.Release()
				dict.Release()
				switch {
				case want == nil:
					t.Fatalf("%s batch %d: the plain join emitted nothing: the comparison proves nothing", name, batch)
				case got == nil || !array.RecordEqual(got, want):
					t.Fatalf("%s batch %d:\n got %v\nwant %v", name, batch, got, want)
				}
				got.Release()
				want.Release()
			}
		}
	}
	intKey := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}, nil)
	j, err := NewJoin(mem, intKey, intKey, JoinSpec{Kind: InnerJoin, Timing: LookupJoin, TableSide: 1, LeftKeys: []Expr{col(intKey, 0)}, RightKeys: []Expr{col(intKey, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, ok := j.DictionaryKey(intKey); ok {
		t.Fatal("an integer key cannot arrive dictionary-encoded")
	}
	r, err := NewJoin(mem, tableSch, tableSch, JoinSpec{Kind: InnerJoin, LeftKeys: []Expr{col(tableSch, 0)}, RightKeys: []Expr{col(tableSch, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.DictionaryKey(tableSch); ok {
		t.Fatal("only a lookup join takes its key dictionary-encoded")
	}
}
