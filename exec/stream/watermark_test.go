package stream

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// MaxEventTime is the latest non-NULL value of a range of rows, whether
// the column is read from its values (TIMESTAMP, BIGINT) or through a
// reader (INT), with or without NULLs; a range of only NULLs has none.
func TestMaxEventTime(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	vals := []int64{5, -3, 9, 2, 7, 1}
	valid := []bool{true, true, false, true, true, false}
	build := func(typ string, nulls bool) arrow.Array {
		v := valid
		if !nulls {
			v = nil
		}
		switch typ {
		case "timestamp":
			b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond})
			defer b.Release()
			ts := make([]arrow.Timestamp, len(vals))
			for i, x := range vals {
				ts[i] = arrow.Timestamp(x)
			}
			b.AppendValues(ts, v)
			return b.NewArray()
		case "int32":
			b := array.NewInt32Builder(mem)
			defer b.Release()
			for i, x := range vals {
				if v != nil && !v[i] {
					b.AppendNull()
				} else {
					b.Append(int32(x))
				}
			}
			return b.NewArray()
		}
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.AppendValues(vals, v)
		return b.NewArray()
	}
	for _, typ := range []string{"timestamp", "int64", "int32"} {
		for _, nulls := range []bool{false, true} {
			col := build(typ, nulls)
			for lo := 0; lo <= len(vals); lo++ {
				for hi := lo; hi <= len(vals); hi++ {
					var want int64
					wantOK := false
					for i := lo; i < hi; i++ {
						if nulls && !valid[i] {
							continue
						}
						if !wantOK || vals[i] > want {
							want, wantOK = vals[i], true
						}
					}
					got, ok, err := MaxEventTime(col, lo, hi)
					if err != nil || ok != wantOK || got != want {
						t.Errorf("%s nulls=%v [%d,%d): got %d %v %v, want %d %v", typ, nulls, lo, hi, got, ok, err, want, wantOK)
					}
				}
			}
			col.Release()
		}
	}
}
