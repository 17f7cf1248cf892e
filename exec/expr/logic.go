package expr

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func registerLogic() {
	registry["and"] = bindLogic("and")
	registry["or"] = bindLogic("or")
	registry["not"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 1, 1)
		if err != nil {
			return bound{}, err
		}
		if ts[0].ID() != arrow.BOOL {
			return bound{}, unsupported("not", ts...)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a := o[0].arr
			buf := newBitmap(ec.mem, ec.n)
			bitutil.InvertBitmap(a.Data().Buffers()[1].Bytes(), a.Data().Offset(), ec.n, buf.Bytes(), 0)
			v, nulls := combineValidity(ec.mem, ec.n, a)
			return makeArray(arrow.FixedWidthTypes.Boolean, ec.n, v, buf, nulls), nil
		}}, nil
	}
	registry["is_null"] = bindNullTest(true)
	registry["is_not_null"] = bindNullTest(false)
}

func bindNullTest(isNull bool) binder {
	return func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := argTypes(args, 1, 1); err != nil {
			return bound{}, err
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a := o[0].arr
			buf := newBitmap(ec.mem, ec.n)
			out := buf.Bytes()
			bits, off := validityBits(a)
			switch {
			case a.DataType().ID() == arrow.NULL:
				if isNull {
					setAllBits(out, ec.n)
				}
			case bits == nil:
				if !isNull {
					setAllBits(out, ec.n)
				}
			case isNull:
				bitutil.InvertBitmap(bits, off, ec.n, out, 0)
			default:
				bitutil.CopyBitmap(bits, off, ec.n, out, 0)
			}
			return makeArray(arrow.FixedWidthTypes.Boolean, ec.n, nil, buf, 0), nil
		}}, nil
	}
}

func bindLogic(op string) binder {
	return func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 2, 2)
		if err != nil {
			return bound{}, err
		}
		if ts[0].ID() != arrow.BOOL || ts[1].ID() != arrow.BOOL {
			return bound{}, unsupported(op, ts...)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			return logic3(ec.mem, op == "and", o[0].arr, o[1].arr, ec.n), nil
		}}, nil
	}
}

// aligned returns a's value and validity bitmaps at bit offset 0 (copying
// only when a is sliced at a non-byte boundary) plus a release func.
func aligned(mem memory.Allocator, a arrow.Array, n int) (vals, valid []byte, release func()) {
	d := a.Data()
	off := d.Offset()
	var bufs []*memory.Buffer
	get := func(b []byte) []byte {
		if off%8 == 0 {
			return b[off/8:]
		}
		cp := newBitmap(mem, n)
		bitutil.CopyBitmap(b, off, n, cp.Bytes(), 0)
		bufs = append(bufs, cp)
		return cp.Bytes()
	}
	vals = get(d.Buffers()[1].Bytes())
	if a.NullN() > 0 {
		valid = get(d.Buffers()[0].Bytes())
	}
	return vals, valid, func() {
		for _, b := range bufs {
			b.Release()
		}
	}
}

// logic3 is SQL three-valued AND/OR, byte-wise: FALSE AND NULL = FALSE,
// TRUE OR NULL = TRUE, otherwise NULL taints.
func logic3(mem memory.Allocator, and bool, a, b arrow.Array, n int) arrow.Array {
	av, aok, r1 := aligned(mem, a, n)
	defer r1()
	bv, bok, r2 := aligned(mem, b, n)
	defer r2()
	valBuf := newBitmap(mem, n)
	out := valBuf.Bytes()
	nb := len(out)
	if aok == nil && bok == nil {
		for i := 0; i < nb; i++ {
			if and {
				out[i] = av[i] & bv[i]
			} else {
				out[i] = av[i] | bv[i]
			}
		}
		return makeArray(arrow.FixedWidthTypes.Boolean, n, nil, valBuf, 0)
	}
	vBuf := newBitmap(mem, n)
	vout := vBuf.Bytes()
	for i := 0; i < nb; i++ {
		x, y := av[i], bv[i]
		xv, yv := byte(0xff), byte(0xff)
		if aok != nil {
			xv = aok[i]
		}
		if bok != nil {
			yv = bok[i]
		}
		if and {
			xf, yf := xv&^x, yv&^y // known FALSE
			vout[i] = (xv & yv) | xf | yf
			out[i] = x & y & xv & yv
		} else {
			xt, yt := xv&x, yv&y // known TRUE
			vout[i] = (xv & yv) | xt | yt
			out[i] = xt | yt
		}
	}
	if r := n % 8; r != 0 {
		vout[nb-1] &= byte(1)<<r - 1
		out[nb-1] &= byte(1)<<r - 1
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, vBuf, valBuf, countNulls(vBuf, n))
}
