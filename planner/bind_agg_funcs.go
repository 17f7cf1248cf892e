package planner

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// AggParams are the constant parts of an aggregate call besides its
// argument (exec.AggParams is the operators' copy): STRING_AGG's
// separator, a percentile's fraction, an ordered aggregate's ORDER BY
// directions (the keys are the agg_args fields after the value, or the
// value itself when the argument is not packed).
type AggParams struct {
	Sep      string     `json:"sep,omitempty"`
	Fraction float64    `json:"f,omitempty"`
	Order    []AggOrder `json:"o,omitempty"`
}

// AggOrder is the direction of one ORDER BY key of an ordered aggregate.
type AggOrder struct {
	Desc       bool `json:"d,omitempty"`
	NullsFirst bool `json:"n,omitempty"`
}

// String renders the parameters as EXPLAIN shows them after the
// argument (empty for none).
func (p AggParams) String() string {
	var parts []string
	if p.Sep != "" {
		parts = append(parts, "sep "+strconv.Quote(p.Sep))
	}
	if p.Fraction != 0 {
		parts = append(parts, "fraction "+strconv.FormatFloat(p.Fraction, 'g', -1, 64))
	}
	if len(p.Order) > 0 {
		var o []string
		for _, k := range p.Order {
			d := "ASC"
			if k.Desc {
				d = "DESC"
			}
			if k.NullsFirst {
				d += " NULLS FIRST"
			} else {
				d += " NULLS LAST"
			}
			o = append(o, d)
		}
		parts = append(parts, "order "+strings.Join(o, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

// encode is the parameters as the suffix of an aggregate placeholder's
// name ("$string_agg@{…}"), so they travel with the placeholder through
// every rewrite and tell calls apart wherever names are compared.
func (p AggParams) encode() string {
	if p.Sep == "" && p.Fraction == 0 && len(p.Order) == 0 {
		return ""
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("planner: aggregate parameters: %v", err))
	}
	return "@" + string(b)
}

// decodeAggParams splits a placeholder's function name from its
// parameters.
func decodeAggParams(f string) (string, AggParams) {
	name, enc, ok := strings.Cut(f, "@")
	var p AggParams
	if ok {
		if err := json.Unmarshal([]byte(enc), &p); err != nil {
			panic(fmt.Sprintf("planner: aggregate parameters %q: %v", enc, err))
		}
	}
	return name, p
}

// aggAliases maps the names of the aggregates built on the accumulator
// layer beyond the core five to their function in the capability table.
var aggAliases = map[string]string{
	"bit_and": "bit_and", "bit_or": "bit_or", "bit_xor": "bit_xor",
	"first": "first", "last": "last",
	// FIRST_VALUE/LAST_VALUE without OVER are Flink's aggregates: the
	// first/last non-NULL value (DuckDB has them only with OVER);
	// ANY_VALUE is DuckDB's: the first non-NULL value.
	"first_value": "first", "last_value": "last", "any_value": "first",
	"arg_min": "arg_min", "argmin": "arg_min", "min_by": "arg_min",
	"arg_max": "arg_max", "argmax": "arg_max", "max_by": "arg_max",
	"string_agg": "string_agg", "group_concat": "string_agg", "listagg": "string_agg",
	"median":          "median",
	"percentile_cont": "percentile_cont", "quantile_cont": "percentile_cont",
	"percentile_disc": "percentile_disc", "quantile_disc": "percentile_disc", "quantile": "percentile_disc",
	// Spark's and DuckDB's approximate percentiles are exact here (their
	// error is 0): the value PERCENTILE_DISC picks.
	"percentile_approx": "percentile_disc", "approx_quantile": "percentile_disc",
	"array_agg": "array_agg", "list": "array_agg",
	"approx_count_distinct": "approx_count_distinct",
}

// bindLayerAgg binds f, an aggAliases name, written as x at off (its
// arguments unbound; ORDER BY inside the call or WITHIN GROUP from the
// query's AggOrders, GROUP_CONCAT's own from x.Order).
func (b *binder) bindLayerAgg(f string, x *ast.AggregateFuncExpr, ctx exprCtx, off int) (Expr, error) {
	fn := aggAliases[f]
	name := strings.ToUpper(f)
	inner := exprCtx{sc: ctx.sc, noAgg: "aggregate function calls cannot be nested"}
	bind := func(e ast.ExprNode) (Expr, error) { return b.bindExpr(e, inner, offsetOf(e, off)) }
	var order []*ast.ByItem
	within := false
	if o := b.q.AggOrders[off]; o != nil {
		order, within = o.By, o.WithinGroup
	}
	if x.Order != nil {
		order = x.Order.Items
	}
	args := x.Args
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			if lo == hi {
				return b.errAt(off, "%s takes %d argument(s), got %d", name, lo, len(args))
			}
			return b.errAt(off, "%s takes %d to %d arguments, got %d", name, lo, hi, len(args))
		}
		return nil
	}
	if within && fn != "percentile_cont" && fn != "percentile_disc" && fn != "string_agg" {
		return nil, b.errAt(off, "%s takes no WITHIN GROUP clause", name)
	}
	if order != nil && fn != "string_agg" && fn != "array_agg" && !within {
		return nil, b.errAt(off, "%s takes no ORDER BY", name)
	}
	var p AggParams
	var arg Expr
	var err error
	switch fn {
	case "bit_and", "bit_or", "bit_xor":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if arg, err = bind(args[0]); err != nil {
			return nil, err
		}
		if isNull(arg.Type()) {
			arg = castTo(arg, TypeBigInt)
		}
		if !isInteger(arg.Type()) {
			return nil, b.errAt(off, "%s needs an integer, got %s", name, TypeName(arg.Type()))
		}
		if arg, err = b.aggFilter(off, arg, inner); err != nil {
			return nil, err
		}
	case "first", "last":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if arg, err = bind(args[0]); err != nil {
			return nil, err
		}
		if f == "any_value" || f == "first_value" || f == "last_value" {
			arg, err = b.aggArgsKeep(off, inner, []Expr{arg}, name, true)
		} else {
			arg, err = b.aggArgs(off, inner, []Expr{arg}, name)
		}
		if err != nil {
			return nil, err
		}
	case "arg_min", "arg_max":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		a, err := bind(args[0])
		if err != nil {
			return nil, err
		}
		v, err := bind(args[1])
		if err != nil {
			return nil, err
		}
		if aggClassOf(v.Type())&(classOrderable|classInterval) == 0 && !isNull(v.Type()) {
			return nil, b.errAt(offsetOf(args[1], off), "%s cannot compare values of %s", name, TypeName(v.Type()))
		}
		if arg, err = b.aggArgs(off, inner, []Expr{a, v}, name); err != nil {
			return nil, err
		}
	case "string_agg":
		return b.bindStringAgg(f, x, inner, off, order)
	case "array_agg":
		return b.bindArrayAgg(name, x, inner, off, order)
	case "approx_count_distinct":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if arg, err = bind(args[0]); err != nil {
			return nil, err
		}
		if isNull(arg.Type()) {
			arg = castTo(arg, TypeBigInt) // typed, so its NULLs are marked
		}
		if aggClassOf(arg.Type()) == 0 {
			return nil, b.errAt(off, "%s cannot take %s", name, TypeName(arg.Type()))
		}
		if arg, err = b.aggFilter(off, arg, inner); err != nil {
			return nil, err
		}
	case "median":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if arg, err = bind(args[0]); err != nil {
			return nil, err
		}
		if arg, err = b.quantileArg(arg, name, off, true); err != nil {
			return nil, err
		}
		if arg, err = b.aggFilter(off, arg, inner); err != nil {
			return nil, err
		}
	case "percentile_cont", "percentile_disc":
		var fracArg ast.ExprNode
		switch {
		case within:
			if err := nargs(1, 1); err != nil {
				return nil, err
			}
			if len(order) != 1 {
				return nil, b.errAt(off, "%s takes one ORDER BY key in WITHIN GROUP", name)
			}
			fracArg = args[0]
			if arg, err = bind(order[0].Expr); err != nil {
				return nil, err
			}
			if order[0].Desc {
				p.Order = []AggOrder{{Desc: true}}
			}
		case strings.HasPrefix(f, "percentile_") && f != "percentile_approx":
			return nil, b.errAt(off, "%s needs WITHIN GROUP (ORDER BY x); quantile_%s(x, fraction) is the other spelling", name, strings.TrimPrefix(fn, "percentile_"))
		default:
			if err := nargs(2, 2); err != nil {
				return nil, err
			}
			fracArg = args[1]
			if arg, err = bind(args[0]); err != nil {
				return nil, err
			}
		}
		if p.Fraction, err = b.fraction(fracArg, inner, off, name); err != nil {
			return nil, err
		}
		if arg, err = b.quantileArg(arg, name, off, fn == "percentile_disc"); err != nil {
			return nil, err
		}
		if arg, err = b.aggFilter(off, arg, inner); err != nil {
			return nil, err
		}
	default:
		return nil, b.errAt(off, "unsupported aggregate function %q", x.F)
	}
	return b.layerPlaceholder(fn, arg, x.Distinct, p, off)
}

// layerPlaceholder is the placeholder of fn over arg with parameters p.
func (b *binder) layerPlaceholder(fn string, arg Expr, distinct bool, p AggParams, off int) (Expr, error) {
	at := arg.Type()
	if c, ok := arg.(*Call); ok && c.Func == "agg_args" {
		if distinct && fn != "first" && fn != "last" && fn != "arg_min" && fn != "arg_max" && fn != "array_agg" {
			return nil, b.errAt(off, "%s(DISTINCT …) with ORDER BY keys other than its argument is not supported", strings.ToUpper(fn))
		}
		if fn != "array_agg" { // ARRAY_AGG keeps its distinct values itself
			distinct = false // FIRST, LAST, ARG_MIN and ARG_MAX: the same result
		}
	}
	if fn == "approx_count_distinct" {
		distinct = false // a sketch counts each value once anyway
	}
	t, err := AggResultType(fn, at)
	if err != nil {
		return nil, b.errAt(off, "%v", err)
	}
	name := aggPrefix + fn
	if distinct {
		name += "_distinct"
	}
	e := &Call{Func: name + p.encode(), Args: []Expr{arg}, Typ: t}
	b.pos[e] = off
	return e, nil
}

// aggArgs packs the arguments of an aggregate whose NULLs count or that
// takes several into one agg_args struct: agg_args(keep, a, b, …), keep
// the FILTER condition (TRUE without one); a row whose keep is not TRUE
// is NULL and counts nowhere.
func (b *binder) aggArgs(off int, ctx exprCtx, args []Expr, name string) (Expr, error) {
	return b.aggArgsKeep(off, ctx, args, name, false)
}

// aggArgsKeep is aggArgs; with skipNull a row whose first argument is
// NULL counts nowhere either (ANY_VALUE: FIRST over the non-NULL values).
func (b *binder) aggArgsKeep(off int, ctx exprCtx, args []Expr, name string, skipNull bool) (Expr, error) {
	var keep Expr = &Literal{Typ: TypeBoolean, Value: true}
	if cond, ok := b.q.AggFilters[off]; ok {
		c, err := b.aggFilterCond(off, cond, ctx)
		if err != nil {
			return nil, err
		}
		keep = c
	}
	if skipNull {
		nn := &Call{Func: "is_not_null", Args: []Expr{args[0]}, Typ: TypeBoolean}
		if l, ok := keep.(*Literal); ok && l.Value == true {
			keep = nn
		} else {
			keep = &Call{Func: "and", Args: []Expr{keep, nn}, Typ: TypeBoolean}
		}
	}
	fields := make([]arrow.Field, len(args))
	all := make([]Expr, 0, len(args)+1)
	all = append(all, keep)
	for i, a := range args {
		if isNull(a.Type()) {
			a = castTo(a, TypeBigInt)
		}
		fields[i] = arrow.Field{Name: fmt.Sprintf("f%d", i), Type: a.Type(), Nullable: true}
		all = append(all, a)
	}
	return &Call{Func: "agg_args", Args: all, Typ: arrow.StructOf(fields...)}, nil
}

// quantileArg checks the argument of a percentile (disc: any orderable
// value, intervals included, so MEDIAN of intervals is the lower middle
// one as in DuckDB; otherwise numbers and times, whose values
// interpolate).
func (b *binder) quantileArg(arg Expr, name string, off int, disc bool) (Expr, error) {
	t := arg.Type()
	if isNull(t) {
		return castTo(arg, TypeDouble), nil
	}
	if contType(t) != nil || (disc && aggClassOf(t)&(classOrderable|classInterval) != 0) {
		return arg, nil
	}
	return nil, b.errAt(off, "%s needs a number or a time, got %s", name, TypeName(t))
}

// fraction reads a percentile's fraction: a constant number in [0, 1].
func (b *binder) fraction(e ast.ExprNode, ctx exprCtx, off int, name string) (float64, error) {
	foff := offsetOf(e, off)
	v, err := b.bindExpr(e, ctx, foff)
	if err != nil {
		return 0, err
	}
	f, ok := constFloat(v)
	if !ok {
		return 0, b.errAt(foff, "the fraction of %s must be a constant number", name)
	}
	if f < 0 || f > 1 || math.IsNaN(f) {
		return 0, b.errAt(foff, "the fraction of %s must be between 0 and 1, got %v", name, f)
	}
	return f, nil
}

// bindStringAgg binds STRING_AGG(x [, sep] [ORDER BY …]), LISTAGG(x [,
// sep]) [WITHIN GROUP (ORDER BY …)] and GROUP_CONCAT(x [ORDER BY …]
// [SEPARATOR sep]); the separator defaults to ',' and must be a constant
// string; x is cast to VARCHAR.
func (b *binder) bindStringAgg(f string, x *ast.AggregateFuncExpr, ctx exprCtx, off int, order []*ast.ByItem) (Expr, error) {
	name := strings.ToUpper(f)
	args := x.Args
	sep := ","
	var sepArg ast.ExprNode
	switch {
	case f == "group_concat":
		// TiDB gives the separator as the last argument (',' unless
		// SEPARATOR says otherwise).
		if len(args) < 2 {
			return nil, b.errAt(off, "%s needs an argument", name)
		}
		sepArg, args = args[len(args)-1], args[:len(args)-1]
	case len(args) == 2:
		sepArg, args = args[1], args[:1]
	case len(args) != 1:
		return nil, b.errAt(off, "%s takes 1 or 2 arguments (value, separator), got %d", name, len(args))
	}
	if sepArg != nil {
		soff := offsetOf(sepArg, off)
		s, err := b.bindExpr(sepArg, ctx, soff)
		if err != nil {
			return nil, err
		}
		l, ok := constLiteral(s)
		if !ok {
			return nil, b.errAt(soff, "the separator of %s must be a constant string", name)
		}
		if l.Value == nil {
			return &Literal{Typ: TypeVarchar}, nil // DuckDB: a NULL separator makes the result NULL
		}
		str, isStr := l.Value.(string)
		if !isStr {
			return nil, b.errAt(soff, "the separator of %s must be a constant string", name)
		}
		sep = str
	}
	vals := make([]Expr, len(args))
	for i, a := range args {
		v, err := b.bindExpr(a, ctx, offsetOf(a, off))
		if err != nil {
			return nil, err
		}
		if !isString(v.Type()) {
			v = castTo(v, TypeVarchar)
		}
		vals[i] = v
	}
	val := vals[0]
	if len(vals) > 1 { // MySQL's GROUP_CONCAT(a, b): the values concatenated
		val = &Call{Func: "concat", Args: vals, Typ: TypeVarchar}
	}
	p := AggParams{Sep: sep}
	var keys []Expr
	for _, o := range order {
		k, err := b.bindExpr(o.Expr, ctx, offsetOf(o.Expr, off))
		if err != nil {
			return nil, err
		}
		if aggClassOf(k.Type())&classOrderable == 0 && !isNull(k.Type()) {
			return nil, b.errAt(offsetOf(o.Expr, off), "%s cannot order by %s", name, TypeName(k.Type()))
		}
		keys = append(keys, k)
		// MySQL's NULL order: NULLs first ascending, last descending.
		p.Order = append(p.Order, AggOrder{Desc: o.Desc, NullsFirst: !o.Desc})
	}
	var arg Expr
	var err error
	switch {
	case x.Distinct && len(keys) > 0:
		for _, k := range keys {
			if exprKey(k) != exprKey(val) && !(isString(val.Type()) && exprKey(castTo(k, TypeVarchar)) == exprKey(val)) {
				return nil, b.errAt(off, "in %s(DISTINCT …) the ORDER BY keys must be the argument", name)
			}
		}
		p.Order = p.Order[:1]
		if arg, err = b.aggFilter(off, val, ctx); err != nil {
			return nil, err
		}
	case len(keys) > 0:
		if arg, err = b.aggArgs(off, ctx, append([]Expr{val}, keys...), name); err != nil {
			return nil, err
		}
	default:
		if arg, err = b.aggFilter(off, val, ctx); err != nil {
			return nil, err
		}
	}
	return b.layerPlaceholder("string_agg", arg, x.Distinct, p, off)
}

// bindArrayAgg binds ARRAY_AGG(x [ORDER BY k…]) and LIST(x): a list of x's
// values, NULLs included, packed with the ORDER BY keys (MySQL's NULL
// order, as everywhere in sluice: NULLs first ascending). Under DISTINCT
// the only key allowed is x itself.
func (b *binder) bindArrayAgg(name string, x *ast.AggregateFuncExpr, ctx exprCtx, off int, order []*ast.ByItem) (Expr, error) {
	if len(x.Args) != 1 {
		return nil, b.errAt(off, "%s takes 1 argument, got %d", name, len(x.Args))
	}
	val, err := b.bindExpr(x.Args[0], ctx, offsetOf(x.Args[0], off))
	if err != nil {
		return nil, err
	}
	if aggClassOf(val.Type()) == 0 {
		return nil, b.errAt(offsetOf(x.Args[0], off), "%s cannot take %s", name, TypeName(val.Type()))
	}
	if x.Distinct && val.Type().ID() == arrow.INTERVAL_MONTH_DAY_NANO {
		return nil, b.errAt(off, "%s(DISTINCT …) cannot take an INTERVAL yet", name)
	}
	var p AggParams
	args := []Expr{val}
	for _, o := range order {
		k, err := b.bindExpr(o.Expr, ctx, offsetOf(o.Expr, off))
		if err != nil {
			return nil, err
		}
		if aggClassOf(k.Type())&classOrderable == 0 && !isNull(k.Type()) {
			return nil, b.errAt(offsetOf(o.Expr, off), "%s cannot order by %s", name, TypeName(k.Type()))
		}
		if x.Distinct && exprKey(k) != exprKey(val) {
			return nil, b.errAt(offsetOf(o.Expr, off), "in %s(DISTINCT …) the ORDER BY key must be the argument", name)
		}
		p.Order = append(p.Order, AggOrder{Desc: o.Desc, NullsFirst: !o.Desc})
		if !x.Distinct {
			args = append(args, k)
		}
	}
	if x.Distinct && len(p.Order) > 1 {
		p.Order = p.Order[:1]
	}
	arg, err := b.aggArgs(off, ctx, args, name)
	if err != nil {
		return nil, err
	}
	return b.layerPlaceholder("array_agg", arg, x.Distinct, p, off)
}

// constLiteral folds e and returns it when it is a constant.
func constLiteral(e Expr) (*Literal, bool) {
	f, _, err := foldExpr(e)
	if err != nil {
		return nil, false
	}
	l, ok := f.(*Literal)
	return l, ok
}

// constFloat is the value of a constant number.
func constFloat(e Expr) (float64, bool) {
	l, ok := constLiteral(e)
	if !ok {
		return 0, false
	}
	switch v := l.Value.(type) {
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case float64:
		return v, true
	case decimal128.Num:
		_, sc := decimalOf(l.Typ)
		return v.ToFloat64(sc), true
	}
	return 0, false
}
