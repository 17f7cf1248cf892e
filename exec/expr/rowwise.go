package expr

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// Row-wise kernels: the functions whose per-row work (formatting,
// searching, hashing, parsing JSON) dwarfs the loop around it are written
// once as a function of row i over typed accessors, and these helpers
// build the result column with SQL's NULL rule: NULL wherever an input is
// NULL (f is not called there) or f says so.

// strAt reads row i of a STRING array.
func strAt(a arrow.Array) func(i int) string {
	s := a.(*array.String)
	return s.Value
}

// intAt reads row i of an INT32 or INT64 array as int64.
func intAt(a arrow.Array) func(i int) int64 {
	if a.DataType().ID() == arrow.INT32 {
		v := values[int32](a)
		return func(i int) int64 { return int64(v[i]) }
	}
	v := values[int64](a)
	return func(i int) int64 { return v[i] }
}

// floatAt reads row i of a FLOAT64 array.
func floatAt(a arrow.Array) func(i int) float64 {
	v := values[float64](a)
	return func(i int) float64 { return v[i] }
}

// rowStrings builds a STRING result from f.
func rowStrings(ec *evalCtx, ins []arrow.Array, f func(i int) (string, bool, error)) (arrow.Array, error) {
	b := array.NewStringBuilder(ec.mem)
	defer b.Release()
	b.Reserve(ec.n)
	v, _ := combineValidity(ec.mem, ec.n, ins...)
	var vb []byte
	if v != nil {
		vb = v.Bytes()
		defer v.Release()
	}
	for i := 0; i < ec.n; i++ {
		if !isValid(vb, 0, i) {
			b.AppendNull()
			continue
		}
		s, ok, err := f(i)
		if err != nil {
			return nil, err
		}
		if !ok {
			b.AppendNull()
			continue
		}
		b.Append(s)
	}
	return b.NewArray(), nil
}

// rowFixed builds a fixed-width result of the call's type from f.
func rowFixed[T fixed](ec *evalCtx, ins []arrow.Array, f func(i int) (T, bool, error)) (arrow.Array, error) {
	buf, out := newFixed[T](ec.mem, ec.n)
	v := ownedValidity(ec.mem, ec.n, ins...)
	vb := v.Bytes()
	for i := range out {
		if !bitutil.BitIsSet(vb, i) {
			continue
		}
		x, ok, err := f(i)
		if err != nil {
			buf.Release()
			v.Release()
			return nil, err
		}
		if !ok {
			bitutil.ClearBit(vb, i)
			continue
		}
		out[i] = x
	}
	return makeArray(ec.ret, ec.n, v, buf, countNulls(v, ec.n)), nil
}

// rowBools builds a BOOLEAN result from f.
func rowBools(ec *evalCtx, ins []arrow.Array, f func(i int) (bool, bool, error)) (arrow.Array, error) {
	vals := newBitmap(ec.mem, ec.n)
	v := ownedValidity(ec.mem, ec.n, ins...)
	vb, out := v.Bytes(), vals.Bytes()
	for i := 0; i < ec.n; i++ {
		if !bitutil.BitIsSet(vb, i) {
			continue
		}
		x, ok, err := f(i)
		if err != nil {
			vals.Release()
			v.Release()
			return nil, err
		}
		if !ok {
			bitutil.ClearBit(vb, i)
			continue
		}
		if x {
			bitutil.SetBit(out, i)
		}
	}
	return makeArray(ec.ret, ec.n, v, vals, countNulls(v, ec.n)), nil
}

// arrayKernel is the kernel that materialises every operand to an array
// of the batch's rows, calls f over them and releases them.
func arrayKernel(f func(ec *evalCtx, a []arrow.Array) (arrow.Array, error)) kernel {
	return func(ec *evalCtx, o []operand) (arrow.Array, error) {
		a, release, err := materializeAll(ec, o)
		if err != nil {
			return nil, err
		}
		defer release()
		return f(ec, a)
	}
}

// materializeAll turns every operand into an array of the batch's rows;
// the caller releases them (release does).
func materializeAll(ec *evalCtx, o []operand) ([]arrow.Array, func(), error) {
	arrs := make([]arrow.Array, len(o))
	release := func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}
	for i := range o {
		a, err := materialize(ec, o[i])
		if err != nil {
			release()
			return nil, nil, err
		}
		arrs[i] = a
	}
	return arrs, release, nil
}

// checkArgs checks the argument count is within [lo, hi] (hi < 0:
// unbounded) and that argument i has a type ok[i] accepts (the last of
// ok for the rest).
func checkArgs(name string, args []Expr, lo, hi int, ok ...func(arrow.Type) bool) ([]arrow.DataType, error) {
	ts, err := argTypes(args, lo, hi)
	if err != nil {
		return nil, err
	}
	for i, t := range ts {
		k := min(i, len(ok)-1)
		if k >= 0 && !ok[k](t.ID()) {
			return nil, unsupported(name, ts...)
		}
	}
	return ts, nil
}

func isStr(t arrow.Type) bool { return t == arrow.STRING }
func isInt(t arrow.Type) bool { return t == arrow.INT32 || t == arrow.INT64 }
func isF64(t arrow.Type) bool { return t == arrow.FLOAT64 }

// dataError builds an error about a value row i met, naming the call.
func dataError(ec *evalCtx, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf("%s: %s", ec.call, fmt.Sprintf(format, args...)), kind: ErrInvalidArgument}
}
