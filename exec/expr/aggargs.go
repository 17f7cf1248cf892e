package expr

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// agg_args(keep, a, b, …) packs the arguments of one aggregate call into
// a struct array with fields a, b, … (dictionaries decoded): the one
// argument of aggregates that take several (ARG_MIN(arg, val), STRING_AGG
// with ORDER BY keys) or that count NULL values (FIRST). A row is NULL
// where keep is not TRUE, the rows a FILTER (WHERE …) clause drops; the
// aggregates skip those rows (exec/agg_first.go).
func registerAggArgs() { registry["agg_args"] = bindAggArgs }

func bindAggArgs(args []Expr, ret arrow.DataType) (bound, error) {
	st, ok := ret.(*arrow.StructType)
	if !ok || len(args) != st.NumFields()+1 {
		return bound{}, fmt.Errorf("agg_args: %d arguments for %s", len(args), ret)
	}
	if t := args[0].DataType().ID(); t != arrow.BOOL && t != arrow.NULL {
		return bound{}, fmt.Errorf("agg_args: keep is %s, want BOOLEAN", sqlTypeName(args[0].DataType()))
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		fields := make([]arrow.ArrayData, 0, len(o)-1)
		for k, op := range o[1:] {
			a := op.arr
			if d, ok := a.(*array.Dictionary); ok {
				idx := make([]int32, d.Len())
				for i := range idx {
					idx[i] = -1
					if d.IsValid(i) {
						idx[i] = int32(d.GetValueIndex(i))
					}
				}
				dec, err := TakeArray(ec.mem, d.Dictionary(), idx)
				if err != nil {
					return nil, err
				}
				defer dec.Release()
				a = dec
			}
			if want := st.Field(k).Type; !arrow.TypeEqual(a.DataType(), want) {
				return nil, fmt.Errorf("agg_args: argument %d is %s, want %s", k+1, a.DataType(), want)
			}
			fields = append(fields, a.Data())
		}
		// The struct's validity: keep is TRUE.
		bm := memory.NewResizableBuffer(ec.mem)
		defer bm.Release()
		bm.Resize(int(bitutil.BytesForBits(int64(ec.n))))
		bits := bm.Bytes()
		clear(bits)
		nulls := ec.n
		if keep, ok := o[0].arr.(*array.Boolean); ok {
			for i := 0; i < ec.n; i++ {
				if keep.IsValid(i) && keep.Value(i) {
					bitutil.SetBit(bits, i)
					nulls--
				}
			}
		}
		data := array.NewData(ret, ec.n, []*memory.Buffer{bm}, fields, nulls, 0)
		defer data.Release()
		return array.MakeFromData(data), nil
	}}, nil
}
