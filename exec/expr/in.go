package expr

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// IN: x IN (l1, l2, ...) is TRUE on a match, else NULL if x is NULL or any
// list element is NULL, else FALSE. A constant list becomes a hash set
// built once at bind time; otherwise the call folds as x = l1 OR x = l2 …,
// which has exactly these semantics under three-valued logic.

func registerIn() { registry["in"] = bindIn }

func bindIn(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 2, -1)
	if err != nil {
		return bound{}, err
	}
	eqs := make([]bound, len(args)-1)
	for i := 1; i < len(args); i++ {
		b, err := registry["eq"]([]Expr{args[0], args[i]}, arrow.FixedWidthTypes.Boolean)
		if err != nil {
			return bound{}, unsupported("in", ts...)
		}
		eqs[i-1] = b
	}
	allConst := true
	var consts []any
	for _, a := range args[1:] {
		v, ok := literalValue(a)
		if !ok {
			allConst = false
			break
		}
		consts = append(consts, v)
	}
	if allConst {
		if k := constInKernel(ts[0], consts); k != nil {
			return bound{k: k}, nil
		}
	}
	return bound{scalarAware: true, k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		var acc arrow.Array
		for i := 1; i < len(o); i++ {
			eq, err := eqs[i-1].k(ec, []operand{o[0], o[i]})
			if err != nil {
				if acc != nil {
					acc.Release()
				}
				return nil, err
			}
			if acc == nil {
				acc = eq
				continue
			}
			next := logic3(ec.mem, false, acc, eq, ec.n)
			acc.Release()
			eq.Release()
			acc = next
		}
		return acc, nil
	}}, nil
}

// constInKernel returns a hash-set kernel for a constant list, or nil for
// types it does not cover (the generic fold handles those).
func constInKernel(t arrow.DataType, consts []any) kernel {
	hasNull := false
	var vals []any
	for _, c := range consts {
		if c == nil {
			hasNull = true
		} else {
			vals = append(vals, c)
		}
	}
	switch t.ID() {
	case arrow.INT64, arrow.TIMESTAMP:
		set := map[int64]struct{}{}
		var list []int64
		for _, v := range vals {
			set[scalarAs[int64](v)] = struct{}{}
			list = append(list, scalarAs[int64](v))
		}
		if len(list) <= 8 {
			// A short list beats hashing: a few compares per row.
			return func(ec *evalCtx, o []operand) (arrow.Array, error) {
				xs := values[int64](o[0].arr)
				return inResult(ec.mem, o[0].arr, hasNull, func(i int) bool {
					x := xs[i]
					for _, v := range list {
						if v == x {
							return true
						}
					}
					return false
				}), nil
			}
		}
		return func(ec *evalCtx, o []operand) (arrow.Array, error) {
			xs := values[int64](o[0].arr)
			return inResult(ec.mem, o[0].arr, hasNull, func(i int) bool { _, ok := set[xs[i]]; return ok }), nil
		}
	case arrow.INT32, arrow.DATE32:
		set := map[int32]struct{}{}
		for _, v := range vals {
			set[scalarAs[int32](v)] = struct{}{}
		}
		return func(ec *evalCtx, o []operand) (arrow.Array, error) {
			xs := values[int32](o[0].arr)
			return inResult(ec.mem, o[0].arr, hasNull, func(i int) bool { _, ok := set[xs[i]]; return ok }), nil
		}
	case arrow.FLOAT64:
		// NaN equals NaN (valcmp.Floats, as "=" does), but a Go map
		// never finds a NaN key: a NaN in the list is a flag instead.
		set := map[float64]struct{}{}
		nan := false
		for _, v := range vals {
			if f := v.(float64); f != f {
				nan = true
			} else {
				set[f] = struct{}{}
			}
		}
		return func(ec *evalCtx, o []operand) (arrow.Array, error) {
			xs := values[float64](o[0].arr)
			return inResult(ec.mem, o[0].arr, hasNull, func(i int) bool {
				x := xs[i]
				if x != x {
					return nan
				}
				_, ok := set[x]
				return ok
			}), nil
		}
	case arrow.DECIMAL128:
		set := map[decimal128.Num]struct{}{}
		for _, v := range vals {
			set[v.(decimal128.Num)] = struct{}{}
		}
		return func(ec *evalCtx, o []operand) (arrow.Array, error) {
			xs := values[decimal128.Num](o[0].arr)
			return inResult(ec.mem, o[0].arr, hasNull, func(i int) bool { _, ok := set[xs[i]]; return ok }), nil
		}
	case arrow.STRING:
		set := map[string]struct{}{}
		for _, v := range vals {
			set[v.(string)] = struct{}{}
		}
		return func(ec *evalCtx, o []operand) (arrow.Array, error) {
			s := o[0].arr.(*array.String)
			return inResult(ec.mem, s, hasNull, func(i int) bool { _, ok := set[s.Value(i)]; return ok }), nil
		}
	}
	return nil
}

// inResult builds the IN result: TRUE where hit, NULL where x is NULL or
// (no hit and the list held a NULL), FALSE otherwise.
func inResult(mem memory.Allocator, x arrow.Array, listNull bool, hit func(i int) bool) arrow.Array {
	n := x.Len()
	buf := newBitmap(mem, n)
	out := buf.Bytes()
	packBits(out, n, hit)
	v := ownedValidity(mem, n, x)
	if listNull {
		vb := v.Bytes()
		for i := range vb {
			vb[i] &= out[i] // only hits are known
		}
	}
	// Keep value bits only where valid.
	vb := v.Bytes()
	for i := range out {
		out[i] &= vb[i]
	}
	nulls := countNulls(v, n)
	if nulls == 0 {
		v.Release()
		v = nil
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, v, buf, nulls)
}

var _ = bitutil.BitIsSet
