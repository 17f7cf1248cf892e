package planner

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

func itoa(i int) string { return strconv.Itoa(i) }

// bindFunc binds a scalar function call.
func (b *binder) bindFunc(x *ast.FuncCallExpr, ctx exprCtx, off int) (Expr, error) {
	name := x.FnName.L
	switch name {
	case ast.DateLiteral, ast.TimestampLiteral:
		if len(x.Args) != 1 {
			return nil, b.errAt(off, "malformed literal")
		}
		v, ok := x.Args[0].(ast.ValueExpr)
		s, isStr := "", false
		if ok {
			s, isStr = v.GetValue().(string)
		}
		if !isStr {
			return nil, b.errAt(off, "malformed literal")
		}
		t := TypeTimestamp
		if name == ast.DateLiteral {
			t = TypeDate
		}
		cv, err := convertValue(s, TypeVarchar, t)
		if err != nil {
			return nil, b.errAt(off, "%v", err)
		}
		return &Literal{Typ: t, Value: cv}, nil
	case "date_add", "date_sub", "adddate", "subdate":
		return b.bindDateArith(x, ctx, off)
	case "extract", "timestampdiff", "timestampadd":
		return b.bindTimeUnitFunc(x, ctx, off)
	case "bool_and", "bool_or", "every", "any_value":
		// Aggregates the TiDB parser reads as plain calls.
		return b.bindAgg(&ast.AggregateFuncExpr{F: name, Args: x.Args}, ctx, off)
	}
	if aggAliases[name] != "" || b.q.AggNames[off] != "" || b.q.AggDistinct[off] {
		return b.bindAgg(&ast.AggregateFuncExpr{F: name, Args: x.Args}, ctx, off)
	}
	args := make([]Expr, len(x.Args))
	for i, a := range x.Args {
		if _, ok := a.(*ast.TrimDirectionExpr); ok {
			return nil, b.errAt(off, "TRIM with a direction or pattern is not supported; use trim, ltrim or rtrim")
		}
		e, err := b.bindExpr(a, ctx, off)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			if lo == hi {
				return b.errAt(off, "%s takes %d argument(s), got %d", name, lo, len(args))
			}
			return b.errAt(off, "%s takes %d to %d arguments, got %d", name, lo, hi, len(args))
		}
		return nil
	}
	call := func(f string, t arrow.DataType) (Expr, error) {
		return &Call{Func: f, Args: args, Typ: t}, nil
	}
	str := func(i int) error {
		e, err := b.stringArg(args[i], off, name)
		args[i] = e
		return err
	}
	bigint := func(i int) error {
		if !isNumeric(args[i].Type()) && !isNull(args[i].Type()) {
			return b.errAt(off, "%s needs a number as argument %d, got %s", name, i+1, TypeName(args[i].Type()))
		}
		args[i] = castTo(args[i], TypeBigInt)
		return nil
	}
	timeArg := func(i int) error {
		t := args[i].Type()
		switch {
		case isTemporal(t):
			return nil
		case isString(t) || isNull(t):
			e, err := b.coerceTo(args[i], TypeTimestamp, off)
			args[i] = e
			return err
		}
		return b.errAt(off, "%s needs a TIMESTAMP or DATE, got %s", name, TypeName(t))
	}
	switch name {
	case "upper", "ucase", "lower", "lcase":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if err := str(0); err != nil {
			return nil, err
		}
		f := "upper"
		if name == "lower" || name == "lcase" {
			f = "lower"
		}
		return call(f, TypeVarchar)
	case "unnest":
		return b.bindUnnestCall(args, ctx, off)
	case "list_value", "list_pack":
		if len(args) == 0 {
			return nil, b.errAt(off, "%s needs arguments", name)
		}
		us, t, err := b.unify(args, off, name)
		if err != nil {
			return nil, err
		}
		if isNull(t) {
			t = TypeVarchar
			for i := range us {
				us[i] = castTo(us[i], t)
			}
		}
		if isList(t) {
			return nil, b.errAt(off, "%s of lists (nested lists) is not supported", name)
		}
		return &Call{Func: "list_value", Args: us, Typ: arrow.ListOf(t)}, nil
	case "len", "array_length", "list_length":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if !isList(args[0].Type()) {
			return nil, b.errAt(off, "%s needs a list, got %s", name, TypeName(args[0].Type()))
		}
		return call("list_len", TypeBigInt)
	case "list_extract", "array_extract", "list_element":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		if !isList(args[0].Type()) {
			return nil, b.errAt(off, "%s needs a list, got %s", name, TypeName(args[0].Type()))
		}
		if err := bigint(1); err != nil {
			return nil, err
		}
		return call("list_extract", args[0].Type().(*arrow.ListType).Elem())
	case "list_slice", "array_slice":
		if err := nargs(2, 3); err != nil {
			return nil, err
		}
		if !isList(args[0].Type()) && !isString(args[0].Type()) {
			return nil, b.errAt(off, "%s needs a list or a string, got %s", name, TypeName(args[0].Type()))
		}
		for i := 1; i < len(args); i++ {
			if err := bigint(i); err != nil {
				return nil, err
			}
		}
		if isString(args[0].Type()) {
			return call("string_slice", TypeVarchar) // DuckDB slices strings alike
		}
		return call("list_slice", args[0].Type())
	case "list_contains", "array_contains", "list_has":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		if !isList(args[0].Type()) {
			return nil, b.errAt(off, "%s needs a list, got %s", name, TypeName(args[0].Type()))
		}
		et := args[0].Type().(*arrow.ListType).Elem()
		v, err := b.coerceTo(args[1], et, off)
		if err != nil {
			return nil, err
		}
		if _, ok := compareCommon(et, args[1].Type()); !ok && !isNull(args[1].Type()) {
			return nil, b.errAt(off, "%s: cannot look for %s in %s", name, TypeName(args[1].Type()), TypeName(args[0].Type()))
		}
		args[1] = v
		return call("list_contains", TypeBoolean)
	case "length", "char_length", "character_length":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if err := str(0); err != nil {
			return nil, err
		}
		return call("length", TypeBigInt)
	case "concat":
		if len(args) == 0 {
			return nil, b.errAt(off, "concat needs arguments")
		}
		for i, a := range args {
			if !canCast(a.Type(), TypeVarchar) {
				return nil, b.errAt(off, "concat cannot take %s", TypeName(a.Type()))
			}
			args[i] = castTo(a, TypeVarchar)
		}
		return call("concat", TypeVarchar)
	case "substring", "substr", "mid":
		if err := nargs(2, 3); err != nil {
			return nil, err
		}
		if err := str(0); err != nil {
			return nil, err
		}
		for i := 1; i < len(args); i++ {
			if err := bigint(i); err != nil {
				return nil, err
			}
		}
		return call("substring", TypeVarchar)
	case "trim", "ltrim", "rtrim":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if err := str(0); err != nil {
			return nil, err
		}
		return call(name, TypeVarchar)
	case "replace":
		if err := nargs(3, 3); err != nil {
			return nil, err
		}
		for i := range args {
			if err := str(i); err != nil {
				return nil, err
			}
		}
		return call("replace", TypeVarchar)
	case "abs", "floor", "ceil", "ceiling", "round":
		hi := 1
		if name == "round" {
			hi = 2
		}
		if err := nargs(1, hi); err != nil {
			return nil, err
		}
		t := args[0].Type()
		if isNull(t) {
			t = TypeDouble
			args[0] = castTo(args[0], t)
		}
		if !isNumeric(t) {
			return nil, b.errAt(off, "%s needs a number, got %s", name, TypeName(t))
		}
		if len(args) == 2 {
			if err := bigint(1); err != nil {
				return nil, err
			}
		}
		if name == "ceiling" {
			name = "ceil"
		}
		if isInteger(t) {
			args[0] = castTo(args[0], TypeBigInt)
			t = TypeBigInt
		}
		if name == "round" {
			var d Expr = &Literal{Typ: TypeBigInt, Value: int64(0)}
			if len(args) == 2 {
				d = args[1]
			}
			t = roundType(t, d)
		}
		return call(name, t)
	case "year", "month", "day", "dayofmonth", "hour", "minute", "second":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if err := timeArg(0); err != nil {
			return nil, err
		}
		if name == "dayofmonth" {
			name = "day"
		}
		return call(name, TypeBigInt)
	case "date":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if err := timeArg(0); err != nil {
			return nil, err
		}
		return call("date", TypeDate)
	case "date_trunc":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		l, ok := args[0].(*Literal)
		unit, isStr := "", false
		if ok {
			unit, isStr = l.Value.(string)
		}
		unit = strings.ToLower(strings.TrimSpace(unit))
		switch unit {
		case "second", "minute", "hour", "day", "week", "month", "quarter", "year":
		default:
			if !isStr {
				return nil, b.errAt(off, "date_trunc needs a unit string literal such as 'hour' as its first argument")
			}
			return nil, b.errAt(off, "date_trunc: unknown unit %q", unit)
		}
		args[0] = &Literal{Typ: TypeVarchar, Value: unit}
		if err := timeArg(1); err != nil {
			return nil, err
		}
		args[1] = castTo(args[1], TypeTimestamp)
		return call("date_trunc", TypeTimestamp)
	case "unix_timestamp":
		// Seconds since the epoch as a DOUBLE, so a fraction of a second
		// survives (MySQL gives a DECIMAL with the argument's fraction).
		if err := nargs(0, 1); err != nil {
			return nil, err
		}
		if len(args) == 0 {
			now, _, err := b.bindScalar("now", nil, off)
			if err != nil {
				return nil, err
			}
			args = []Expr{now}
		}
		if err := timeArg(0); err != nil {
			return nil, err
		}
		args[0] = castTo(args[0], TypeTimestamp)
		return call("unix_timestamp_frac", TypeDouble)
	case "from_unixtime":
		if err := nargs(1, 2); err != nil {
			return nil, err
		}
		t := args[0].Type()
		var ts Expr
		switch {
		case isInteger(t) || isNull(t):
			ts = &Call{Func: "from_unixtime", Args: []Expr{castTo(args[0], TypeBigInt)}, Typ: TypeTimestamp}
		case isNumeric(t) || isString(t):
			ts = &Call{Func: "from_unixtime_frac", Args: []Expr{castTo(args[0], TypeDouble)}, Typ: TypeTimestamp}
		default:
			return nil, b.errAt(off, "FROM_UNIXTIME needs a number, got %s", TypeName(t))
		}
		if len(args) == 1 {
			return ts, nil
		}
		if err := str(1); err != nil {
			return nil, err
		}
		return &Call{Func: "date_format", Args: []Expr{ts, args[1]}, Typ: TypeVarchar}, nil
	case "coalesce", "ifnull":
		if name == "ifnull" {
			if err := nargs(2, 2); err != nil {
				return nil, err
			}
		} else if len(args) == 0 {
			return nil, b.errAt(off, "coalesce needs arguments")
		}
		args, t, err := b.unify(args, off, name)
		if err != nil {
			return nil, err
		}
		return &Call{Func: "coalesce", Args: args, Typ: t}, nil
	case "if":
		if err := nargs(3, 3); err != nil {
			return nil, err
		}
		c, err := b.boolean(args[0], off, "IF")
		if err != nil {
			return nil, err
		}
		rest, t, err := b.unify(args[1:], off, "IF")
		if err != nil {
			return nil, err
		}
		return &Call{Func: "if", Args: []Expr{c, rest[0], rest[1]}, Typ: t}, nil
	case "nullif":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		args, t, err := b.unify(args, off, "NULLIF")
		if err != nil {
			return nil, err
		}
		if isList(t) {
			return nil, b.errAt(off, "NULLIF cannot compare %s values", TypeName(t))
		}
		return &Call{Func: "nullif", Args: args, Typ: t}, nil
	}
	if e, ok, err := b.bindScalar(name, args, off); ok {
		return e, err
	}
	return nil, b.errAt(off, "unknown function %q", x.FnName.O)
}

// bindDateArith binds `ts ± INTERVAL 'n' UNIT` and DATE_ADD/DATE_SUB.
func (b *binder) bindDateArith(x *ast.FuncCallExpr, ctx exprCtx, off int) (Expr, error) {
	if len(x.Args) != 3 {
		return nil, b.errAt(off, "%s needs (time, INTERVAL n unit)", x.FnName.O)
	}
	ts, err := b.bindExpr(x.Args[0], ctx, off)
	if err != nil {
		return nil, err
	}
	unit, ok := x.Args[2].(*ast.TimeUnitExpr)
	if !ok {
		return nil, b.errAt(off, "%s needs an INTERVAL", x.FnName.O)
	}
	val, ok := x.Args[1].(ast.ValueExpr)
	if !ok {
		return nil, b.errAt(offsetOf(x.Args[1], off), "an INTERVAL amount must be a constant")
	}
	text := fmt.Sprint(val.GetValue())
	if s, ok := val.GetValue().(interface{ String() string }); ok {
		text = s.String()
	}
	iv, err := intervalValue(text, unit.Unit.String())
	if err != nil {
		return nil, b.errAt(offsetOf(x.Args[1], off), "%v", err)
	}
	t := ts.Type()
	if isInterval(t) { // INTERVAL '1' HOUR + INTERVAL '30' MINUTE reaches here as DATE_ADD
		f := "add"
		if n := x.FnName.L; n == "date_sub" || n == "subdate" {
			f = "sub"
		}
		return &Call{Func: f, Args: []Expr{ts, &Literal{Typ: TypeInterval, Value: iv}}, Typ: TypeInterval}, nil
	}
	switch {
	case isTemporal(t):
	case isString(t) || isNull(t):
		if ts, err = b.coerceTo(ts, TypeTimestamp, off); err != nil {
			return nil, err
		}
		t = TypeTimestamp
	default:
		return nil, b.errAt(off, "cannot add an INTERVAL to %s", TypeName(t))
	}
	if t.ID() == arrow.DATE32 && iv.Nanoseconds != 0 {
		ts = castTo(ts, TypeTimestamp)
		t = TypeTimestamp
	}
	f := "date_add"
	if n := x.FnName.L; n == "date_sub" || n == "subdate" {
		f = "date_sub"
	}
	return &Call{Func: f, Args: []Expr{ts, &Literal{Typ: TypeInterval, Value: iv}}, Typ: t}, nil
}

// bindAgg binds an aggregate call into a placeholder Call named "$sum",
// "$count_star", "$count_distinct", … that the aggregation rewrite turns
// into a column of the Aggregate node.
func (b *binder) bindAgg(x *ast.AggregateFuncExpr, ctx exprCtx, off int) (Expr, error) {
	if spec := b.q.AggOvers[off]; spec != nil { // MEDIAN(x) OVER (…): a window function
		f := x.F
		if n, ok := b.q.AggNames[off]; ok {
			f = n
		}
		return b.bindWindowFunc(&ast.WindowFuncExpr{Name: f, Args: x.Args, Distinct: x.Distinct || b.q.AggDistinct[off], Spec: *spec}, ctx, off)
	}
	if ctx.noAgg != "" {
		return nil, b.errAt(off, "%s", ctx.noAgg)
	}
	f := strings.ToLower(x.F)
	if n, ok := b.q.AggNames[off]; ok {
		f = n // FIRST, LAST: a placeholder name for the TiDB parser
	}
	if b.q.AggDistinct[off] {
		x.Distinct = true // a DISTINCT the TiDB parser does not read
	}
	f = b.sampleSpelling(f, off)
	switch {
	case f == "sum", f == "count", f == "avg", f == "min", f == "max", derivedAggs[f]:
	case aggAliases[f] != "":
		return b.bindLayerAgg(f, x, ctx, off)
	default:
		return nil, b.errAt(off, "unsupported aggregate function %q", x.F)
	}
	if x.Order != nil {
		return nil, b.errAt(off, "ORDER BY inside an aggregate is not supported")
	}
	if len(x.Args) != 1 {
		return nil, b.errAt(off, "%s takes one argument", f)
	}
	inner := exprCtx{sc: ctx.sc, noAgg: "aggregate function calls cannot be nested"}
	arg, err := b.bindExpr(x.Args[0], inner, off)
	if err != nil {
		return nil, err
	}
	if arg, err = b.aggFilter(off, arg, inner); err != nil {
		return nil, err
	}
	if derivedAggs[f] {
		return b.bindDerivedAgg(f, arg, x.Distinct, off, b.aggPlaceholder(off))
	}
	arg, t, star, err := b.aggType(f, arg, x.Distinct, off)
	if err != nil {
		return nil, err
	}
	if star {
		e := &Call{Func: aggPrefix + "count_star", Typ: t}
		b.pos[e] = off
		return e, nil
	}
	fn := aggPrefix + f
	if x.Distinct {
		fn += "_distinct"
	}
	e := &Call{Func: fn, Args: []Expr{arg}, Typ: t}
	b.pos[e] = off
	return e, nil
}

// aggType checks aggregate f over the bound argument arg and returns the
// argument to aggregate (NULL made a typed NULL), the result type, and
// star when the call is COUNT(constant), that is COUNT(*). GROUP BY
// aggregates and window aggregates share it, so both type alike.
func (b *binder) aggType(f string, arg Expr, distinct bool, off int) (Expr, arrow.DataType, bool, error) {
	at := arg.Type()
	var t arrow.DataType
	switch f {
	case "count":
		t = TypeBigInt
		if l, ok := arg.(*Literal); ok && l.Value != nil && !distinct {
			return nil, t, true, nil
		}
		if isNull(at) {
			// An untyped NULL column has no validity bitmap, so the
			// kernels would see every row as valid: give it a type
			// whose NULLs are marked (COUNT(NULL) is 0, as in SQL).
			arg, at = castTo(arg, TypeBigInt), TypeBigInt
		}
	case "sum", "avg":
		if isNull(at) {
			arg, at = castTo(arg, TypeBigInt), TypeBigInt
		}
		if !isNumeric(at) && !isInterval(at) {
			return nil, nil, false, b.errAt(off, "%s needs a number or an INTERVAL, got %s", strings.ToUpper(f), TypeName(at))
		}
		t = sumType(at)
		if f == "avg" && !isInterval(at) {
			t = TypeDouble
		}
	case "min", "max":
		t = at
	}
	return arg, t, false, nil
}

// aggFromPlaceholder turns a placeholder back into an AggCall.
func aggFromPlaceholder(c *Call) AggCall {
	f, params := decodeAggParams(strings.TrimPrefix(c.Func, aggPrefix))
	_, named := aggTable[f] // approx_count_distinct is a name of its own
	distinct := !named && strings.HasSuffix(f, "_distinct")
	f = strings.TrimSuffix(f, "_distinct")
	if named {
		f = strings.TrimPrefix(c.Func, aggPrefix)
		f, _ = decodeAggParams(f)
	}
	a := AggCall{Func: f, Distinct: distinct, Typ: c.Typ, Params: params, Pos: c.Pos}
	if len(c.Args) == 1 {
		a.Arg = c.Args[0]
	}
	return a
}

func isAggPlaceholder(e Expr) bool {
	c, ok := e.(*Call)
	return ok && strings.HasPrefix(c.Func, aggPrefix)
}

func hasAgg(e Expr) bool {
	found := false
	walkExpr(e, func(x Expr) { found = found || isAggPlaceholder(x) })
	return found
}

// aggFilter applies the FILTER (WHERE cond) of the aggregate at off, if it
// has one, to its argument: agg(x) FILTER (WHERE c) is agg(CASE WHEN c
// THEN x END), and COUNT(*) FILTER (WHERE c) counts CASE WHEN c THEN 1 END.
// Every aggregate here skips NULL arguments, so the rows the filter drops
// count nowhere, in batch and streaming alike (retractions included).
func (b *binder) aggFilter(off int, arg Expr, ctx exprCtx) (Expr, error) {
	cond, ok := b.q.AggFilters[off]
	if !ok {
		return arg, nil
	}
	c, err := b.aggFilterCond(off, cond, ctx)
	if err != nil {
		return nil, err
	}
	return &Call{Func: "case", Args: []Expr{c, arg}, Typ: arg.Type()}, nil
}

// aggFilterCond binds the FILTER condition cond of the aggregate at off.
func (b *binder) aggFilterCond(off int, cond ast.ExprNode, ctx exprCtx) (Expr, error) {
	coff := offsetOf(cond, off)
	c, err := b.bindExpr(cond, exprCtx{sc: ctx.sc, noAgg: "aggregate functions are not allowed in FILTER"}, coff)
	if err != nil {
		return nil, err
	}
	return b.boolean(c, coff, "FILTER")
}

// sampleSpelling is f, the aggregate the TiDB parser read at off, except
// that STDDEV and VARIANCE, which it reads as MySQL's population
// STDDEV_POP and VAR_POP, are the sample ones as in DuckDB, PostgreSQL
// and the SQL standard's users expect (STDDEV(1, 2, 4) = 1.5275); STD,
// a MySQL-only name, stays the population one.
func (b *binder) sampleSpelling(f string, off int) string {
	if f != "stddev_pop" && f != "var_pop" {
		return f
	}
	text := b.q.SQL()
	if off < 0 || off >= len(text) {
		return f
	}
	end := off
	for end < len(text) && (text[end] == '_' || unicode.IsLetter(rune(text[end]))) {
		end++
	}
	switch strings.ToLower(text[off:end]) {
	case "stddev":
		return "stddev_samp"
	case "variance":
		return "var_samp"
	}
	return f
}
