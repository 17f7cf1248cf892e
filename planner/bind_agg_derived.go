package planner

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Derived aggregates are written in terms of the aggregates the operators
// compute (planner/aggcap.go), so they run, stream and retract wherever
// those do, with no accumulator of their own:
//
//	VAR_POP(x)      (Σx² − (Σx)²/n) / n
//	VAR_SAMP(x)     (Σx² − (Σx)²/n) / (n − 1)    NULL for n < 2; VARIANCE
//	STDDEV_POP(x)   SQRT(VAR_POP(x))             MySQL's STD
//	STDDEV_SAMP(x)  SQRT(VAR_SAMP(x))            STDDEV (see sampleSpelling)
//	BOOL_AND(x)     MIN(x) over a BOOLEAN (EVERY too)
//	BOOL_OR(x)      MAX(x) over a BOOLEAN
//
// Integer and DECIMAL arguments are summed exactly (as DECIMAL), so the
// result does not depend on row order; the last step, and DOUBLE
// arguments, run in DOUBLE, so a variance of values far larger than their
// spread loses digits (Welford's update would not; it cannot retract).
var derivedAggs = map[string]bool{
	"var_pop": true, "var_samp": true, "stddev_pop": true, "stddev_samp": true,
	"bool_and": true, "bool_or": true, "every": true,
}

// bindDerivedAgg builds f(arg) from placeholders of the core aggregates
// that agg makes: GROUP BY's (aggPlaceholder) or, inside OVER, window
// functions over the call's window, so that both compute the same
// formula.
func (b *binder) bindDerivedAgg(f string, arg Expr, distinct bool, off int, agg func(fn string, a Expr, t arrow.DataType) Expr) (Expr, error) {
	name := strings.ToUpper(f)
	at := arg.Type()
	switch f {
	case "bool_and", "bool_or", "every":
		if isNull(at) {
			arg, at = &Literal{Typ: TypeBoolean}, TypeBoolean
		}
		if at.ID() != arrow.BOOL {
			return nil, b.errAt(off, "%s needs a BOOLEAN, got %s", name, TypeName(at))
		}
		fn := "min"
		if f == "bool_or" {
			fn = "max"
		}
		if distinct {
			fn += "_distinct"
		}
		return agg(fn, arg, TypeBoolean), nil
	}
	if distinct {
		return nil, b.errAt(off, "%s(DISTINCT …) is not supported", name)
	}
	if isNull(at) || isString(at) {
		arg, at = castTo(arg, TypeDouble), TypeDouble
	}
	if !isNumeric(at) {
		return nil, b.errAt(off, "%s needs a number, got %s", name, TypeName(at))
	}
	dbl := func(fn string, args ...Expr) Expr { return &Call{Func: fn, Args: args, Typ: TypeDouble} }
	var n, s1, s2 Expr
	if at.ID() == arrow.FLOAT64 {
		n = castTo(agg("count", arg, TypeBigInt), TypeDouble)
		s1 = agg("sum", arg, TypeDouble)
		s2 = agg("sum", dbl("mul", arg, arg), TypeDouble)
	} else {
		// Integers and DECIMALs sum exactly, as DECIMAL: the sums, and so
		// the result, do not depend on the order rows are added in
		// (batch sizes, parallelism, streaming).
		xd := castTo(arg, &arrow.Decimal128Type{Precision: 19, Scale: 0})
		if isDecimal(at) {
			xd = arg
		}
		p, sc := decimalOf(xd.Type())
		sq := &Call{Func: "mul", Args: []Expr{xd, xd}, Typ: makeDecimal(2*(p-sc), 2*sc)}
		n = castTo(agg("count", xd, TypeBigInt), TypeDouble)
		s1 = castTo(agg("sum", xd, sumType(xd.Type())), TypeDouble)
		s2 = castTo(agg("sum", sq, sumType(sq.Typ)), TypeDouble)
	}
	zero := &Literal{Typ: TypeDouble, Value: 0.0}
	// m2 is Σ(x − mean)², clamped at 0 against rounding.
	m2 := &Call{Func: "greatest", Args: []Expr{dbl("sub", s2, dbl("mul", s1, dbl("div", s1, n))), zero}, Typ: TypeDouble}
	var v Expr
	if strings.HasSuffix(f, "_pop") {
		v = dbl("div", m2, n)
	} else {
		one := &Literal{Typ: TypeDouble, Value: 1.0}
		v = &Call{Func: "case", Args: []Expr{
			&Call{Func: "gt", Args: []Expr{n, one}, Typ: TypeBoolean},
			dbl("div", m2, dbl("sub", n, one)),
		}, Typ: TypeDouble}
	}
	if strings.HasPrefix(f, "stddev") {
		v = dbl("sqrt", v)
	}
	return v, nil
}

// aggPlaceholder makes the placeholder of GROUP BY aggregate fn(a) of
// type t written at off.
func (b *binder) aggPlaceholder(off int) func(fn string, a Expr, t arrow.DataType) Expr {
	return func(fn string, a Expr, t arrow.DataType) Expr {
		e := &Call{Func: aggPrefix + fn, Args: []Expr{a}, Typ: t}
		b.pos[e] = off
		return e
	}
}
