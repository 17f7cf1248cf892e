package expr

import (
	"fmt"
	"math"
	"math/bits"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

type integer interface{ ~int32 | ~int64 }

func registerArith() {
	for _, name := range []string{"add", "sub", "mul", "div", "intdiv", "mod"} {
		registry[name] = bindArith(name)
	}
	registry["neg"] = bindNeg
}

func bindArith(op string) binder {
	return func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 2, 2)
		if err != nil {
			return bound{}, err
		}
		a, b := ts[0].ID(), ts[1].ID()
		if isTemporal(a) && b == arrow.INTERVAL_MONTH_DAY_NANO && (op == "add" || op == "sub") {
			sign := int64(1)
			if op == "sub" {
				sign = -1
			}
			return bound{k: dateAddKernel(sign, 0, 1), scalarAware: true}, nil
		}
		if a == arrow.INTERVAL_MONTH_DAY_NANO && isTemporal(b) && op == "add" {
			return bound{k: dateAddKernel(1, 1, 0), scalarAware: true}, nil
		}
		if a == arrow.INTERVAL_MONTH_DAY_NANO || b == arrow.INTERVAL_MONTH_DAY_NANO {
			return bindIntervalArith(op, ts)
		}
		if a != b {
			return bound{}, unsupported(op, ts...)
		}
		switch a {
		case arrow.INT32:
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				return intArith[int32](ec, op, o[0], o[1], "INT")
			}, scalarAware: true}, nil
		case arrow.INT64:
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				return intArith[int64](ec, op, o[0], o[1], "BIGINT")
			}, scalarAware: true}, nil
		case arrow.FLOAT64:
			if op == "intdiv" {
				return bound{k: floatIntDiv, scalarAware: true}, nil
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				return floatArith(ec, op, o[0], o[1])
			}, scalarAware: true}, nil
		case arrow.DECIMAL128:
			if ret.ID() != arrow.DECIMAL128 && op != "intdiv" {
				return bound{}, fmt.Errorf("decimal %s must return DECIMAL, not %s", op, sqlTypeName(ret))
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				return decimalArith(ec, op, o[0], o[1])
			}, scalarAware: true}, nil
		}
		return bound{}, unsupported(op, ts...)
	}
}

func isTemporal(id arrow.Type) bool { return id == arrow.TIMESTAMP || id == arrow.DATE32 }

// side is a typed view of one operand: a slice for arrays, a constant for
// scalars.
type side[T fixed] struct {
	arr bool
	s   []T
	c   T
}

func sideOf[T fixed](o operand) side[T] {
	if o.arr != nil {
		return side[T]{arr: true, s: values[T](o.arr)}
	}
	return side[T]{c: o.scalar.(T)}
}

func (s side[T]) at(i int) T {
	if s.arr {
		return s.s[i]
	}
	return s.c
}

// nullScalar reports whether any operand is a NULL constant, which makes
// most functions NULL for every row.
func nullScalar(ops ...operand) bool {
	for _, o := range ops {
		if o.arr == nil && o.scalar == nil {
			return true
		}
	}
	return false
}

func arrs(ops ...operand) []arrow.Array {
	out := make([]arrow.Array, 0, len(ops))
	for _, o := range ops {
		if o.arr != nil {
			out = append(out, o.arr)
		}
	}
	return out
}

// intArith computes add/sub/mul/intdiv/mod/div on int32 or int64 with
// MySQL semantics: overflow is an error, division by zero is NULL.
func intArith[T integer](ec *evalCtx, op string, x, y operand, tname string) (arrow.Array, error) {
	n := ec.n
	if nullScalar(x, y) {
		return array.MakeArrayOfNull(ec.mem, ec.ret, n), nil
	}
	if op == "div" {
		return nil, unsupported("div", x.typ, y.typ)
	}
	a, b := sideOf[T](x), sideOf[T](y)
	buf, out := newFixed[T](ec.mem, n)
	var ovf T
	switch op {
	case "add":
		switch {
		case a.arr && b.arr:
			as, bs := a.s[:n], b.s[:n]
			for i := range out {
				r := as[i] + bs[i]
				out[i] = r
				ovf |= (r ^ as[i]) & (r ^ bs[i])
			}
		case a.arr:
			as, c := a.s[:n], b.c
			for i := range out {
				r := as[i] + c
				out[i] = r
				ovf |= (r ^ as[i]) & (r ^ c)
			}
		default:
			bs, c := b.s[:n], a.c
			for i := range out {
				r := c + bs[i]
				out[i] = r
				ovf |= (r ^ c) & (r ^ bs[i])
			}
		}
	case "sub":
		switch {
		case a.arr && b.arr:
			as, bs := a.s[:n], b.s[:n]
			for i := range out {
				r := as[i] - bs[i]
				out[i] = r
				ovf |= (as[i] ^ bs[i]) & (as[i] ^ r)
			}
		case a.arr:
			as, c := a.s[:n], b.c
			for i := range out {
				r := as[i] - c
				out[i] = r
				ovf |= (as[i] ^ c) & (as[i] ^ r)
			}
		default:
			bs, c := b.s[:n], a.c
			for i := range out {
				r := c - bs[i]
				out[i] = r
				ovf |= (c ^ bs[i]) & (c ^ r)
			}
		}
	case "mul":
		for i := range out {
			r, o := mulOvf(a.at(i), b.at(i))
			out[i] = r
			if o {
				ovf = -1
			}
		}
	case "intdiv", "mod":
		return intDivMod(ec, op, a, b, x, y, buf, out, tname)
	default:
		buf.Release()
		return nil, fmt.Errorf("%s: %w", op, ErrUnknownFunction)
	}
	validity, nulls := combineValidity(ec.mem, n, arrs(x, y)...)
	if ovf < 0 {
		// Some row overflowed, possibly only under a NULL slot whose value
		// is garbage: re-check valid rows only.
		var vb []byte
		if validity != nil {
			vb = validity.Bytes()
		}
		for i := 0; i < n; i++ {
			if vb != nil && !bitutil.BitIsSet(vb, i) {
				continue
			}
			if overflows(op, a.at(i), b.at(i)) {
				buf.Release()
				if validity != nil {
					validity.Release()
				}
				return nil, outOfRange(ec, tname)
			}
		}
	}
	return makeArray(ec.ret, n, validity, buf, nulls), nil
}

func overflows[T integer](op string, a, b T) bool {
	switch op {
	case "add":
		r := a + b
		return (r^a)&(r^b) < 0
	case "sub":
		r := a - b
		return (a^b)&(a^r) < 0
	case "mul":
		_, o := mulOvf(a, b)
		return o
	}
	return false
}

func mulOvf[T integer](a, b T) (T, bool) {
	if unsafe.Sizeof(a) == 4 {
		r := int64(a) * int64(b)
		return T(r), r < math.MinInt32 || r > math.MaxInt32
	}
	x, y := int64(a), int64(b)
	hi, lo := bits.Mul64(uint64(x), uint64(y))
	shi := int64(hi)
	if x < 0 {
		shi -= y
	}
	if y < 0 {
		shi -= x
	}
	r := int64(lo)
	return T(r), shi != r>>63
}

func intDivMod[T integer](ec *evalCtx, op string, a, b side[T], x, y operand, buf *memory.Buffer, out []T, tname string) (arrow.Array, error) {
	n := ec.n
	validity := ownedValidity(ec.mem, n, arrs(x, y)...)
	vb := validity.Bytes()
	minv := T(1) << (unsafe.Sizeof(out[0])*8 - 1) // most negative value
	for i := range out {
		p, q := a.at(i), b.at(i)
		if q == 0 {
			bitutil.ClearBit(vb, i)
			continue
		}
		if op == "intdiv" {
			if q == -1 && p == minv && bitutil.BitIsSet(vb, i) {
				buf.Release()
				validity.Release()
				return nil, outOfRange(ec, tname)
			}
			out[i] = p / q
		} else {
			out[i] = p % q
		}
	}
	return makeArray(ec.ret, n, validity, buf, countNulls(validity, n)), nil
}

// floatArith computes DOUBLE arithmetic; division or modulo by zero is NULL
// as in MySQL.
func floatArith(ec *evalCtx, op string, x, y operand) (arrow.Array, error) {
	n := ec.n
	if nullScalar(x, y) {
		return array.MakeArrayOfNull(ec.mem, ec.ret, n), nil
	}
	a, b := sideOf[float64](x), sideOf[float64](y)
	buf, out := newFixed[float64](ec.mem, n)
	switch op {
	case "add":
		switch {
		case a.arr && b.arr:
			as, bs := a.s[:n], b.s[:n]
			for i := range out {
				out[i] = as[i] + bs[i]
			}
		default:
			for i := range out {
				out[i] = a.at(i) + b.at(i)
			}
		}
	case "sub":
		for i := range out {
			out[i] = a.at(i) - b.at(i)
		}
	case "mul":
		for i := range out {
			out[i] = a.at(i) * b.at(i)
		}
	case "div", "mod":
		validity := ownedValidity(ec.mem, n, arrs(x, y)...)
		vb := validity.Bytes()
		for i := range out {
			q := b.at(i)
			if q == 0 {
				bitutil.ClearBit(vb, i)
				continue
			}
			if op == "div" {
				out[i] = a.at(i) / q
			} else {
				out[i] = math.Mod(a.at(i), q)
			}
		}
		return makeArray(ec.ret, n, validity, buf, countNulls(validity, n)), nil
	default:
		buf.Release()
		return nil, fmt.Errorf("%s on DOUBLE: %w", op, ErrUnsupportedType)
	}
	validity, nulls := combineValidity(ec.mem, n, arrs(x, y)...)
	return makeArray(ec.ret, n, validity, buf, nulls), nil
}

// floatIntDiv is DOUBLE DIV DOUBLE: the truncated quotient as BIGINT.
func floatIntDiv(ec *evalCtx, o []operand) (arrow.Array, error) {
	n := ec.n
	if nullScalar(o...) {
		return array.MakeArrayOfNull(ec.mem, ec.ret, n), nil
	}
	if ec.ret.ID() != arrow.INT64 {
		return nil, fmt.Errorf("DOUBLE DIV must return BIGINT: %w", ErrUnsupportedType)
	}
	a, b := sideOf[float64](o[0]), sideOf[float64](o[1])
	buf, out := newFixed[int64](ec.mem, n)
	validity := ownedValidity(ec.mem, n, arrs(o...)...)
	vb := validity.Bytes()
	for i := range out {
		q := b.at(i)
		if q == 0 {
			bitutil.ClearBit(vb, i)
			continue
		}
		r := math.Trunc(a.at(i) / q)
		if bitutil.BitIsSet(vb, i) && (r >= 9.223372036854775807e18 || r < -9.223372036854775808e18 || math.IsNaN(r)) {
			buf.Release()
			validity.Release()
			return nil, outOfRange(ec, "BIGINT")
		}
		out[i] = int64(r)
	}
	return makeArray(ec.ret, n, validity, buf, countNulls(validity, n)), nil
}

func bindNeg(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 1, 1)
	if err != nil {
		return bound{}, err
	}
	switch ts[0].ID() {
	case arrow.INT32:
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) { return intNeg[int32](ec, o[0], "INT") }}, nil
	case arrow.INT64:
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) { return intNeg[int64](ec, o[0], "BIGINT") }}, nil
	case arrow.FLOAT64:
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			in := values[float64](o[0].arr)
			buf, out := newFixed[float64](ec.mem, ec.n)
			for i := range out {
				out[i] = -in[i]
			}
			v, nulls := combineValidity(ec.mem, ec.n, o[0].arr)
			return makeArray(ec.ret, ec.n, v, buf, nulls), nil
		}}, nil
	case arrow.DECIMAL128:
		return bound{k: decimalNeg}, nil
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return bindIntervalArith("neg", ts)
	}
	return bound{}, unsupported("neg", ts...)
}

func intNeg[T integer](ec *evalCtx, x operand, tname string) (arrow.Array, error) {
	in := values[T](x.arr)
	buf, out := newFixed[T](ec.mem, ec.n)
	var ovf T
	for i := range out {
		r := -in[i]
		out[i] = r
		ovf |= r & in[i] // both negative only for the minimum value
	}
	v, nulls := combineValidity(ec.mem, ec.n, x.arr)
	if ovf < 0 {
		bits, off := validityBits(x.arr)
		for i := range out {
			if in[i] < 0 && out[i] < 0 && isValid(bits, off, i) {
				buf.Release()
				if v != nil {
					v.Release()
				}
				return nil, outOfRange(ec, tname)
			}
		}
	}
	return makeArray(ec.ret, ec.n, v, buf, nulls), nil
}
