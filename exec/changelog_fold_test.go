package exec

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestFoldChangelog: inserts, updates and deletes across records fold to
// the rows left, in the order of their last insertion; a duplicate row
// keeps its multiplicity; a retraction of a row never inserted is ignored
// (rows are told apart by typed values, NULL apart from every string).
func TestFoldChangelog(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	out := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	in := arrow.NewSchema(append([]arrow.Field{{Name: OpColumn, Type: arrow.PrimitiveTypes.Int8}}, out.Fields()...), nil)
	mk := func(rows ...any) arrow.Record {
		b := array.NewRecordBuilder(mem, in)
		defer b.Release()
		for i := 0; i < len(rows); i += 3 {
			b.Field(0).(*array.Int8Builder).Append(int8(rows[i].(Op)))
			if rows[i+1] == nil {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(rows[i+1].(string))
			}
			b.Field(2).(*array.Int64Builder).Append(int64(rows[i+2].(int)))
		}
		return b.NewRecord()
	}
	recs := []arrow.Record{
		mk(OpInsert, "a", 1, OpInsert, "b", 2, OpInsert, "b", 2, OpDelete, "zz", 9),
		mk(OpUpdateBefore, "a", 1, OpUpdateAfter, "a", 5, OpInsert, nil, 3),
		// A string that is not NULL never retracts the NULL row.
		mk(OpDelete, "b", 2, OpInsert, "c", 4, OpUpdateBefore, "c", 4, OpDelete, "\x01", 3),
	}
	defer releaseAll(recs) // recsOp retains what it hands out
	f := NewFoldChangelog(mem, &recsOp{recs: recs}, out)
	defer f.Close()
	if err := f.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	folded, err := Collect(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range folded {
		for i := range int(r.NumRows()) {
			got = append(got, r.Column(0).ValueStr(i)+"="+r.Column(1).ValueStr(i))
		}
		r.Release()
	}
	if g := strings.Join(got, " "); g != "b=2 a=5 (null)=3" {
		t.Errorf("folded to %s, want b=2 a=5 (null)=3", g)
	}
}
