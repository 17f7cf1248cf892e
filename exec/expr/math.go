package expr

import (
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Math functions compute in the argument's own type and then cast to the
// result type the planner chose (e.g. FLOOR(DOUBLE) → BIGINT), so each
// kernel exists once per argument type.

func registerMath() {
	for _, name := range []string{"abs", "floor", "ceil"} {
		name := name
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			ts, err := argTypes(args, 1, 1)
			if err != nil {
				return bound{}, err
			}
			switch ts[0].ID() {
			case arrow.INT32, arrow.INT64, arrow.FLOAT64, arrow.DECIMAL128:
			default:
				return bound{}, unsupported(name, ts...)
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				r, err := mathUnary(ec, name, o[0].arr)
				if err != nil {
					return nil, err
				}
				defer r.Release()
				return castArray(ec, r, ec.ret)
			}}, nil
		}
	}
	registry["round"] = bindRound
}

func mathUnary(ec *evalCtx, name string, a arrow.Array) (arrow.Array, error) {
	sub := &evalCtx{ctx: ec.ctx, mem: ec.mem, n: ec.n, ret: a.DataType(), call: ec.call}
	switch a.DataType().ID() {
	case arrow.INT32:
		if name == "abs" {
			return intAbs[int32](sub, a, "INT")
		}
	case arrow.INT64:
		if name == "abs" {
			return intAbs[int64](sub, a, "BIGINT")
		}
	case arrow.FLOAT64:
		in := values[float64](a)
		f := math.Abs
		switch name {
		case "floor":
			f = math.Floor
		case "ceil":
			f = math.Ceil
		}
		return mapFixed(sub, a, func(i int) float64 { return f(in[i]) }), nil
	case arrow.DECIMAL128:
		in := values[decimal128.Num](a)
		s := decScale(a.DataType())
		if name == "abs" {
			return mapFixed(sub, a, func(i int) decimal128.Num { return in[i].Abs() }), nil
		}
		sub.ret = &arrow.Decimal128Type{Precision: decPrec(a.DataType()), Scale: 0}
		up := name == "ceil"
		return mapFixed(sub, a, func(i int) decimal128.Num { return decFloorCeil(in[i], s, up) }), nil
	}
	a.Retain() // floor/ceil of an integer is itself
	return a, nil
}

// decFloorCeil rounds v (at scale s) to an integer toward -inf or +inf.
func decFloorCeil(v decimal128.Num, s int32, up bool) decimal128.Num {
	if s <= 0 {
		r, _ := rescaleDec(v, s, 0)
		return r
	}
	r, _ := rescaleDec(v, s, 0)
	back, _ := rescaleDec(r, 0, s)
	switch c := back.Cmp(v); {
	case !up && c > 0:
		r = r.Sub(decimal128.FromI64(1))
	case up && c < 0:
		r = r.Add(decimal128.FromI64(1))
	}
	return r
}

func intAbs[T integer](ec *evalCtx, a arrow.Array, tname string) (arrow.Array, error) {
	in := values[T](a)
	minv := T(1) << (sizeOf[T]()*8 - 1)
	bits, off := validityBits(a)
	for i, v := range in {
		if v == minv && isValid(bits, off, i) {
			return nil, outOfRange(ec, tname)
		}
	}
	return mapFixed(ec, a, func(i int) T {
		if in[i] < 0 {
			return -in[i]
		}
		return in[i]
	}), nil
}

func sizeOf[T integer]() uintptr {
	var x T
	switch any(x).(type) {
	case int32:
		return 4
	}
	return 8
}

func bindRound(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 1, 2)
	if err != nil {
		return bound{}, err
	}
	switch ts[0].ID() {
	case arrow.INT32, arrow.INT64, arrow.FLOAT64, arrow.DECIMAL128:
	default:
		return bound{}, unsupported("round", ts...)
	}
	if len(ts) == 2 && ts[1].ID() != arrow.INT64 && ts[1].ID() != arrow.INT32 {
		return bound{}, unsupported("round", ts...)
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		a := o[0].arr
		digits := func(int) int64 { return 0 }
		ins := []arrow.Array{a}
		if len(o) == 2 {
			ins = append(ins, o[1].arr)
			if o[1].arr.DataType().ID() == arrow.INT32 {
				d := values[int32](o[1].arr)
				digits = func(i int) int64 { return int64(d[i]) }
			} else {
				d := values[int64](o[1].arr)
				digits = func(i int) int64 { return d[i] }
			}
		}
		sub := &evalCtx{ctx: ec.ctx, mem: ec.mem, n: ec.n, ret: a.DataType(), call: ec.call}
		var r arrow.Array
		switch a.DataType().ID() {
		case arrow.FLOAT64:
			in := values[float64](a)
			r = mapFixed(sub, a, func(i int) float64 { return roundFloat(in[i], digits(i)) })
		case arrow.INT64, arrow.INT32:
			in64 := numReader(a)
			sub.ret = arrow.PrimitiveTypes.Int64
			r = mapFixed(sub, a, func(i int) int64 { return roundInt(in64(i).i, digits(i)) })
		case arrow.DECIMAL128:
			in := values[decimal128.Num](a)
			s := decScale(a.DataType())
			target := s
			if ec.ret.ID() == arrow.DECIMAL128 {
				target = decScale(ec.ret)
			}
			sub.ret = &arrow.Decimal128Type{Precision: decPrec(a.DataType()), Scale: target}
			r = mapFixed(sub, a, func(i int) decimal128.Num {
				d := int32(clamp(digits(i), -38, 38))
				if d >= s {
					v, _ := rescaleDec(in[i], s, target)
					return v
				}
				v, _ := rescaleDec(in[i], s, d)
				v, _ = rescaleDec(v, d, target)
				return v
			})
		}
		if len(ins) == 2 && ins[1].NullN() > 0 {
			v, nulls := combineValidity(ec.mem, ec.n, ins...)
			d := r.Data()
			nd := array.NewData(d.DataType(), d.Len(), append([]*memory.Buffer{v}, d.Buffers()[1:]...), nil, nulls, 0)
			r.Release()
			v.Release()
			r = array.MakeFromData(nd)
			nd.Release()
		}
		defer r.Release()
		return castArray(ec, r, ec.ret)
	}}, nil
}

func clamp(x, lo, hi int64) int64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// roundFloat rounds half away from zero at d decimal places.
func roundFloat(x float64, d int64) float64 {
	if d == 0 {
		return math.Round(x)
	}
	p := math.Pow(10, float64(clamp(d, -308, 308)))
	r := math.Round(x*p) / p
	if math.IsInf(x*p, 0) {
		return x
	}
	return r
}

// roundInt rounds an integer at d (<0) decimal places: ROUND(1250, -2) = 1300.
func roundInt(x, d int64) int64 {
	if d >= 0 {
		return x
	}
	if d < -18 {
		return 0
	}
	p := int64(1)
	for i := int64(0); i < -d; i++ {
		p *= 10
	}
	q, r := x/p, x%p
	if r < 0 {
		r = -r
	}
	if 2*r >= p {
		if x < 0 {
			q--
		} else {
			q++
		}
	}
	return q * p
}
