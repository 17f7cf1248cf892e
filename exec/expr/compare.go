package expr

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/sluicesql/sluice/internal/valcmp"
)

type ordered interface{ ~int32 | ~int64 | ~float64 }

// cmpOp is a comparison; ne/le/ge are computed as the inverse of eq/gt/lt
// so the hot loops exist only three times per type.
type cmpOp int

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

var cmpOps = map[string]cmpOp{"eq": opEq, "ne": opNe, "lt": opLt, "le": opLe, "gt": opGt, "ge": opGe}

// flip turns `c op a` into `a flip(op) c`.
func (op cmpOp) flip() cmpOp {
	switch op {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return op
}

// base returns the primitive op to compute and whether to invert it.
func (op cmpOp) base() (cmpOp, bool) {
	switch op {
	case opNe:
		return opEq, true
	case opLe:
		return opGt, true
	case opGe:
		return opLt, true
	}
	return op, false
}

func registerCompare() {
	for name, op := range cmpOps {
		name, op := name, op
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			ts, err := argTypes(args, 2, 2)
			if err != nil {
				return bound{}, err
			}
			if !arrow.TypeEqual(ts[0], ts[1]) && ts[0].ID() != ts[1].ID() {
				return bound{}, unsupported(name, ts...)
			}
			switch ts[0].ID() {
			case arrow.INT32, arrow.INT64, arrow.FLOAT64, arrow.TIMESTAMP, arrow.DATE32,
				arrow.DECIMAL128, arrow.STRING, arrow.BOOL, arrow.INTERVAL_MONTH_DAY_NANO:
			default:
				return bound{}, unsupported(name, ts...)
			}
			if ts[0].ID() == arrow.DECIMAL128 && decScale(ts[0]) != decScale(ts[1]) {
				return bound{}, unsupported(name, ts...)
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				return compare(ec, op, o[0], o[1])
			}, scalarAware: true}, nil
		}
	}
}

// compare evaluates a op b into a BOOLEAN array; NULL in, NULL out.
func compare(ec *evalCtx, op cmpOp, a, b operand) (arrow.Array, error) {
	n := ec.n
	if nullScalar(a, b) {
		return array.MakeArrayOfNull(ec.mem, arrow.FixedWidthTypes.Boolean, n), nil
	}
	if a.isScalar() {
		a, b = b, a
		op = op.flip()
	}
	bop, inv := op.base()
	buf := newBitmap(ec.mem, n)
	out := buf.Bytes()
	switch a.typ.ID() {
	case arrow.INT64, arrow.TIMESTAMP:
		cmpNative[int64](bop, a, b, out, n)
	case arrow.INT32, arrow.DATE32:
		cmpNative[int32](bop, a, b, out, n)
	case arrow.FLOAT64:
		cmpNative[float64](bop, a, b, out, n)
		fixNaN(bop, a, b, out, n)
	case arrow.DECIMAL128:
		x, y := sideOf[decimal128.Num](a), sideOf[decimal128.Num](b)
		packBits(out, n, func(i int) bool { return cmpResult(bop, x.at(i).Cmp(y.at(i))) })
	case arrow.INTERVAL_MONTH_DAY_NANO:
		x, y := sideOf[arrow.MonthDayNanoInterval](a), sideOf[arrow.MonthDayNanoInterval](b)
		packBits(out, n, func(i int) bool { return cmpResult(bop, CompareIntervals(x.at(i), y.at(i))) })
	case arrow.STRING:
		x := a.arr.(*array.String)
		if b.isScalar() {
			c := b.scalar.(string)
			packBits(out, n, func(i int) bool { return cmpResult(bop, strings.Compare(x.Value(i), c)) })
		} else {
			y := b.arr.(*array.String)
			packBits(out, n, func(i int) bool { return cmpResult(bop, strings.Compare(x.Value(i), y.Value(i))) })
		}
	case arrow.BOOL:
		x := a.arr.(*array.Boolean)
		var get func(i int) bool
		if b.isScalar() {
			c := b.scalar.(bool)
			get = func(int) bool { return c }
		} else {
			get = b.arr.(*array.Boolean).Value
		}
		packBits(out, n, func(i int) bool { return cmpResult(bop, cmpBool(x.Value(i), get(i))) })
	default:
		buf.Release()
		return nil, unsupported(ec.call.name, a.typ, b.typ)
	}
	if inv {
		invertBits(out, n)
	}
	v, nulls := combineValidity(ec.mem, n, arrs(a, b)...)
	return makeArray(arrow.FixedWidthTypes.Boolean, n, v, buf, nulls), nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func cmpResult(op cmpOp, c int) bool {
	switch op {
	case opEq:
		return c == 0
	case opLt:
		return c < 0
	case opGt:
		return c > 0
	}
	return false
}

// invertBits flips the first n bits of b, leaving the padding zero.
func invertBits(b []byte, n int) {
	full := n / 8
	for i := 0; i < full; i++ {
		b[i] = ^b[i]
	}
	if r := n % 8; r != 0 {
		b[full] = ^b[full] & (byte(1)<<r - 1)
	}
}

// packBits sets bit i of out to f(i) for i < n (out is zeroed).
func packBits(out []byte, n int, f func(i int) bool) {
	for i := 0; i < n; i++ {
		if f(i) {
			out[i>>3] |= 1 << (i & 7)
		}
	}
}

// cmpNative is the hot path: typed slices, eight results packed per byte
// store, the operator switched once outside the loop. b may be a scalar
// (a never is).
func cmpNative[T ordered](op cmpOp, a, b operand, out []byte, n int) {
	x := values[T](a.arr)[:n]
	if b.isScalar() {
		c := scalarAs[T](b.scalar)
		switch op {
		case opEq:
			eqConst(x, c, out)
		case opLt:
			ltConst(x, c, out)
		case opGt:
			gtConst(x, c, out)
		}
		return
	}
	y := values[T](b.arr)[:n]
	switch op {
	case opEq:
		eqPairs(x, y, out)
	case opLt:
		ltPairs(x, y, out)
	case opGt:
		ltPairs(y, x, out)
	}
}

// fixNaN rewrites the results of the rows where a NaN takes part, after
// the native kernel gave them IEEE's answer (every comparison false):
// sluice orders doubles as DuckDB, PostgreSQL and Spark do, NaN equal to
// NaN and greater than every number, so that a filter agrees with ORDER BY,
// the top-N cut-off and constant folding (valcmp.Compare). Columns without
// a NaN pay one read per row and no writes.
func fixNaN(op cmpOp, a, b operand, out []byte, n int) {
	x := values[float64](a.arr)[:n]
	set := func(i int, v bool) {
		if v {
			out[i>>3] |= 1 << (i & 7)
		} else {
			out[i>>3] &^= 1 << (i & 7)
		}
	}
	if b.isScalar() {
		c := scalarAs[float64](b.scalar)
		if c != c {
			for i, v := range x {
				set(i, cmpResult(op, valcmp.Floats(v, c)))
			}
			return
		}
		for i, v := range x {
			if v != v {
				set(i, cmpResult(op, 1))
			}
		}
		return
	}
	y := values[float64](b.arr)[:n]
	for i, v := range x {
		if w := y[i]; v != v || w != w {
			set(i, cmpResult(op, valcmp.Floats(v, w)))
		}
	}
}

// scalarAs converts a literal's Go value to the kernel's native type.
func scalarAs[T ordered](v any) T {
	switch x := v.(type) {
	case int64:
		return T(x)
	case int32:
		return T(x)
	case float64:
		return T(x)
	case arrow.Timestamp:
		return T(x)
	case arrow.Date32:
		return T(x)
	}
	var zero T
	return zero
}

// The loops below are spelled out per operator (no function values) so
// the compiler keeps them branch-free.

func eqConst[T ordered](x []T, c T, out []byte) {
	n := len(x)
	i := 0
	for ; i+8 <= n; i += 8 {
		v := x[i : i+8 : i+8]
		out[i>>3] = b2u(v[0] == c)<<0 |
			b2u(v[1] == c)<<1 |
			b2u(v[2] == c)<<2 |
			b2u(v[3] == c)<<3 |
			b2u(v[4] == c)<<4 |
			b2u(v[5] == c)<<5 |
			b2u(v[6] == c)<<6 |
			b2u(v[7] == c)<<7
	}
	for ; i < n; i++ {
		if x[i] == c {
			out[i>>3] |= 1 << (i & 7)
		}
	}
}

func ltConst[T ordered](x []T, c T, out []byte) {
	n := len(x)
	i := 0
	for ; i+8 <= n; i += 8 {
		v := x[i : i+8 : i+8]
		out[i>>3] = b2u(v[0] < c)<<0 |
			b2u(v[1] < c)<<1 |
			b2u(v[2] < c)<<2 |
			b2u(v[3] < c)<<3 |
			b2u(v[4] < c)<<4 |
			b2u(v[5] < c)<<5 |
			b2u(v[6] < c)<<6 |
			b2u(v[7] < c)<<7
	}
	for ; i < n; i++ {
		if x[i] < c {
			out[i>>3] |= 1 << (i & 7)
		}
	}
}

func gtConst[T ordered](x []T, c T, out []byte) {
	n := len(x)
	i := 0
	for ; i+8 <= n; i += 8 {
		v := x[i : i+8 : i+8]
		out[i>>3] = b2u(v[0] > c)<<0 |
			b2u(v[1] > c)<<1 |
			b2u(v[2] > c)<<2 |
			b2u(v[3] > c)<<3 |
			b2u(v[4] > c)<<4 |
			b2u(v[5] > c)<<5 |
			b2u(v[6] > c)<<6 |
			b2u(v[7] > c)<<7
	}
	for ; i < n; i++ {
		if x[i] > c {
			out[i>>3] |= 1 << (i & 7)
		}
	}
}

func eqPairs[T ordered](x, y []T, out []byte) {
	n := len(x)
	y = y[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		v := x[i : i+8 : i+8]
		w := y[i : i+8 : i+8]
		out[i>>3] = b2u(v[0] == w[0])<<0 |
			b2u(v[1] == w[1])<<1 |
			b2u(v[2] == w[2])<<2 |
			b2u(v[3] == w[3])<<3 |
			b2u(v[4] == w[4])<<4 |
			b2u(v[5] == w[5])<<5 |
			b2u(v[6] == w[6])<<6 |
			b2u(v[7] == w[7])<<7
	}
	for ; i < n; i++ {
		if x[i] == y[i] {
			out[i>>3] |= 1 << (i & 7)
		}
	}
}

func ltPairs[T ordered](x, y []T, out []byte) {
	n := len(x)
	y = y[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		v := x[i : i+8 : i+8]
		w := y[i : i+8 : i+8]
		out[i>>3] = b2u(v[0] < w[0])<<0 |
			b2u(v[1] < w[1])<<1 |
			b2u(v[2] < w[2])<<2 |
			b2u(v[3] < w[3])<<3 |
			b2u(v[4] < w[4])<<4 |
			b2u(v[5] < w[5])<<5 |
			b2u(v[6] < w[6])<<6 |
			b2u(v[7] < w[7])<<7
	}
	for ; i < n; i++ {
		if x[i] < y[i] {
			out[i>>3] |= 1 << (i & 7)
		}
	}
}

var _ = bitutil.BitIsSet
