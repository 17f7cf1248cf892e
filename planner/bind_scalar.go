package planner

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// The scalar functions of this file bind to the executor's kernels of the
// same name (exec/expr). Arguments are coerced MySQL-style: a string
// function takes numbers and times as their text, a DOUBLE function any
// number. Where dialects differ, MySQL's meaning wins for the functions
// MySQL has (see the README's dialect notes).

// timeUnits maps the unit words of TIMESTAMPDIFF, TIMESTAMPADD, EXTRACT
// and date_part (any case, SQL_TSI_ prefix allowed) to the kernels' units.
var timeUnits = map[string]string{
	"microsecond": "microsecond", "millisecond": "millisecond", "second": "second", "minute": "minute",
	"hour": "hour", "day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year",
}

// extractUnits are EXTRACT's units beyond timeUnits' (millisecond aside).
var extractOnly = map[string]bool{
	"epoch": true, "dow": true, "isodow": true, "doy": true, "dayofweek": true, "dayofyear": true, "isoyear": true,
	"isoweek": true,
}

// normUnit reads a unit word; ok is false for an unknown one.
func normUnit(u string) (string, bool) {
	u = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(u)), "sql_tsi_")
	if v, ok := timeUnits[u]; ok {
		return v, true
	}
	return u, extractOnly[u]
}

// unitOf reads the unit argument of TIMESTAMPDIFF/TIMESTAMPADD.
func (b *binder) unitOf(n ast.ExprNode, fn string, off int) (string, error) {
	var u string
	switch x := n.(type) {
	case *ast.TimeUnitExpr:
		u = x.Unit.String()
	case ast.ValueExpr:
		s, ok := x.GetValue().(string)
		if !ok {
			return "", b.errAt(off, "%s needs a unit such as SECOND or DAY as its first argument", fn)
		}
		u = s
	default:
		return "", b.errAt(off, "%s needs a unit such as SECOND or DAY as its first argument", fn)
	}
	v, ok := normUnit(u)
	if !ok || extractOnly[v] {
		return "", b.errAt(off, "%s: unsupported unit %s (want MICROSECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR)", fn, strings.ToUpper(u))
	}
	return v, nil
}

// timeOf coerces e to a TIMESTAMP or DATE (strings are parsed).
func (b *binder) timeOf(e Expr, fn string, off int) (Expr, error) {
	t := e.Type()
	switch {
	case isTemporal(t):
		return e, nil
	case isString(t) || isNull(t):
		return b.coerceTo(e, TypeTimestamp, off)
	}
	return nil, b.errAt(off, "%s needs a TIMESTAMP or DATE, got %s", fn, TypeName(t))
}

// bindTimeUnitFunc binds EXTRACT, TIMESTAMPDIFF and TIMESTAMPADD, whose
// first argument is a unit word rather than an expression.
func (b *binder) bindTimeUnitFunc(x *ast.FuncCallExpr, ctx exprCtx, off int) (Expr, error) {
	name := x.FnName.L
	bindRest := func(from int) ([]Expr, error) {
		var out []Expr
		for _, a := range x.Args[from:] {
			e, err := b.bindExpr(a, ctx, off)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	switch name {
	case "extract":
		if len(x.Args) != 2 {
			return nil, b.errAt(off, "EXTRACT needs (unit FROM time)")
		}
		unit, recorded := b.q.ExtractUnits[off]
		if !recorded {
			tu, ok := x.Args[0].(*ast.TimeUnitExpr)
			if !ok {
				return nil, b.errAt(off, "EXTRACT needs (unit FROM time)")
			}
			unit = tu.Unit.String()
		}
		args, err := bindRest(1)
		if err != nil {
			return nil, err
		}
		return b.extract(unit, args[0], off)
	case "timestampdiff":
		if len(x.Args) != 3 {
			return nil, b.errAt(off, "TIMESTAMPDIFF needs (unit, start, end)")
		}
		unit, err := b.unitOf(x.Args[0], "TIMESTAMPDIFF", off)
		if err != nil {
			return nil, err
		}
		args, err := bindRest(1)
		if err != nil {
			return nil, err
		}
		for i := range args {
			if args[i], err = b.timeOf(args[i], "TIMESTAMPDIFF", off); err != nil {
				return nil, err
			}
			args[i] = castTo(args[i], TypeTimestamp)
		}
		return &Call{Func: "timestampdiff", Args: append([]Expr{&Literal{Typ: TypeVarchar, Value: unit}}, args...), Typ: TypeBigInt}, nil
	case "timestampadd":
		if len(x.Args) != 3 {
			return nil, b.errAt(off, "TIMESTAMPADD needs (unit, count, time)")
		}
		unit, err := b.unitOf(x.Args[0], "TIMESTAMPADD", off)
		if err != nil {
			return nil, err
		}
		args, err := bindRest(1)
		if err != nil {
			return nil, err
		}
		if !isInteger(args[0].Type()) && !isNull(args[0].Type()) {
			return nil, b.errAt(off, "TIMESTAMPADD needs a whole number of units, got %s", TypeName(args[0].Type()))
		}
		args[0] = castTo(args[0], TypeBigInt)
		if args[1], err = b.timeOf(args[1], "TIMESTAMPADD", off); err != nil {
			return nil, err
		}
		t := args[1].Type()
		if t.ID() == arrow.DATE32 && timeUnitMicros(unit) {
			t = TypeTimestamp // MySQL: a DATE plus hours is a DATETIME
			args[1] = castTo(args[1], t)
		}
		return &Call{Func: "timestampadd", Args: append([]Expr{&Literal{Typ: TypeVarchar, Value: unit}}, args...), Typ: t}, nil
	}
	return nil, b.errAt(off, "unknown function %q", x.FnName.O)
}

// timeUnitMicros reports whether unit is shorter than a day.
func timeUnitMicros(unit string) bool {
	switch unit {
	case "microsecond", "millisecond", "second", "minute", "hour":
		return true
	}
	return false
}

// extract binds EXTRACT(unit FROM e) and date_part('unit', e).
func (b *binder) extract(unit string, e Expr, off int) (Expr, error) {
	u, ok := normUnit(unit)
	if !ok || u == "millisecond" {
		return nil, b.errAt(off, "EXTRACT: unsupported unit %s (want YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MICROSECOND, EPOCH, DOW, ISODOW, DOY or ISOYEAR)", strings.ToUpper(unit))
	}
	e, err := b.timeOf(e, "EXTRACT", off)
	if err != nil {
		return nil, err
	}
	t := TypeBigInt
	if u == "epoch" {
		t = TypeDouble
	}
	return &Call{Func: "extract", Args: []Expr{&Literal{Typ: TypeVarchar, Value: u}, e}, Typ: t}, nil
}

// queryStart is NOW() of a batch query: one instant for the whole query,
// taken when it is bound (MySQL's and DuckDB's rule).
func (b *binder) queryStart() arrow.Timestamp {
	if b.now == 0 {
		b.now = arrow.Timestamp(time.Now().UnixMicro())
	}
	return b.now
}

// bindScalar binds the functions of this file; ok is false for a name it
// does not know.
func (b *binder) bindScalar(name string, args []Expr, off int) (e Expr, ok bool, err error) {
	fail := func(format string, a ...any) (Expr, bool, error) { return nil, true, b.errAt(off, format, a...) }
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			if lo == hi {
				return b.errAt(off, "%s takes %d argument(s), got %d", strings.ToUpper(name), lo, len(args))
			}
			return b.errAt(off, "%s takes %d to %d arguments, got %d", strings.ToUpper(name), lo, hi, len(args))
		}
		return nil
	}
	// str makes argument i a VARCHAR: numbers and times as their text.
	str := func(i int) error {
		t := args[i].Type()
		switch {
		case isString(t):
		case isNull(t):
			args[i] = &Literal{Typ: TypeVarchar}
		case isNumeric(t) || isTemporal(t) || t.ID() == arrow.BOOL:
			args[i] = castTo(args[i], TypeVarchar)
		default:
			return b.errAt(off, "%s needs a VARCHAR as argument %d, got %s", strings.ToUpper(name), i+1, TypeName(t))
		}
		return nil
	}
	integer := func(i int) error {
		t := args[i].Type()
		switch {
		case isInteger(t) || isNull(t):
			args[i] = castTo(args[i], TypeBigInt)
		case isNumeric(t) || isString(t):
			args[i] = castTo(args[i], TypeBigInt) // MySQL rounds; so does the cast
		default:
			return b.errAt(off, "%s needs a number as argument %d, got %s", strings.ToUpper(name), i+1, TypeName(t))
		}
		return nil
	}
	double := func(i int) error {
		t := args[i].Type()
		if !isNumeric(t) && !isNull(t) && !isString(t) {
			return b.errAt(off, "%s needs a number, got %s", strings.ToUpper(name), TypeName(t))
		}
		args[i] = castTo(args[i], TypeDouble)
		return nil
	}
	each := func(f func(int) error, from int) error {
		for i := from; i < len(args); i++ {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	call := func(f string, t arrow.DataType) (Expr, bool, error) {
		return &Call{Func: f, Args: args, Typ: t}, true, nil
	}
	// checked runs the argument checks in order, stopping at the first error.
	checked := func(errs ...func() error) error {
		for _, f := range errs {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	arity := func(lo, hi int) func() error { return func() error { return nargs(lo, hi) } }
	strs := func(from int) func() error { return func() error { return each(str, from) } }
	one := func(f func(int) error, i int) func() error {
		return func() error {
			if i < len(args) {
				return f(i)
			}
			return nil
		}
	}

	switch name {
	case "lpad", "rpad":
		if err := checked(arity(3, 3), one(str, 0), one(integer, 1), one(str, 2)); err != nil {
			return nil, true, err
		}
		return call(name, TypeVarchar)
	case "repeat", "left", "right":
		if err := checked(arity(2, 2), one(str, 0), one(integer, 1)); err != nil {
			return nil, true, err
		}
		return call(name, TypeVarchar)
	case "reverse", "initcap", "md5", "sha1", "sha":
		if err := checked(arity(1, 1), strs(0)); err != nil {
			return nil, true, err
		}
		if name == "sha" {
			name = "sha1"
		}
		return call(name, TypeVarchar)
	case "sha2":
		if err := checked(arity(2, 2), one(str, 0), one(integer, 1)); err != nil {
			return nil, true, err
		}
		return call(name, TypeVarchar)
	case "locate", "instr", "position", "strpos":
		hi := 3
		if name != "locate" {
			hi = 2
		}
		if err := checked(arity(2, hi), one(str, 0), one(str, 1), one(integer, 2)); err != nil {
			return nil, true, err
		}
		if name == "instr" || name == "strpos" { // instr(str, substr)
			args[0], args[1] = args[1], args[0]
		}
		return call("locate", TypeBigInt)
	case "split_part", "substring_index":
		if err := checked(arity(3, 3), one(str, 0), one(str, 1), one(integer, 2)); err != nil {
			return nil, true, err
		}
		return call(name, TypeVarchar)
	case "regexp_like", "regexp_matches", "regexp_replace", "regexp_extract", "regexp_substr":
		return b.bindRegex(name, args, off)
	case "json_extract", "json_value", "json_length", "json_unquote", "json_valid":
		lo, hi := 2, 2
		switch name {
		case "json_extract":
			hi = 1 << 20
		case "json_length":
			lo = 1
		case "json_unquote", "json_valid":
			lo, hi = 1, 1
		}
		if err := checked(arity(lo, hi), strs(0)); err != nil {
			return nil, true, err
		}
		for _, p := range args[1:] {
			if l, ok := p.(*Literal); ok && l.Value != nil {
				if _, err := parseJSONPathCheck(l.Value.(string)); err != nil {
					return fail("%s: %v", strings.ToUpper(name), err)
				}
			}
		}
		t := TypeVarchar
		switch name {
		case "json_length":
			t = TypeBigInt
		case "json_valid":
			t = TypeBoolean
		}
		return call(name, t)
	case "greatest", "least":
		if len(args) == 0 {
			return fail("%s needs arguments", strings.ToUpper(name))
		}
		uni, t, err := b.unify(args, off, strings.ToUpper(name))
		if err != nil {
			return nil, true, err
		}
		if isNull(t) {
			return &Literal{Typ: TypeNull}, true, nil
		}
		if t.ID() == arrow.BOOL || t.ID() == arrow.INTERVAL_MONTH_DAY_NANO || isList(t) {
			return fail("%s cannot compare %s values", strings.ToUpper(name), TypeName(t))
		}
		return &Call{Func: name, Args: uni, Typ: t}, true, nil
	case "sqrt", "ln", "log10", "log2", "exp":
		if err := checked(arity(1, 1), one(double, 0)); err != nil {
			return nil, true, err
		}
		return call(name, TypeDouble)
	case "log":
		if err := checked(arity(1, 2), one(double, 0), one(double, 1)); err != nil {
			return nil, true, err
		}
		if len(args) == 1 { // MySQL: LOG(x) is the natural logarithm
			return call("ln", TypeDouble)
		}
		return call("log", TypeDouble)
	case "power", "pow":
		if err := checked(arity(2, 2), one(double, 0), one(double, 1)); err != nil {
			return nil, true, err
		}
		return call("power", TypeDouble)
	case "sign":
		if err := nargs(1, 1); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		if isNull(t) || isString(t) {
			args[0], t = castTo(args[0], TypeDouble), TypeDouble
		}
		if !isNumeric(t) {
			return fail("SIGN needs a number, got %s", TypeName(t))
		}
		return call("sign", TypeBigInt)
	case "truncate", "trunc":
		if len(args) == 1 {
			args = append(args, &Literal{Typ: TypeBigInt, Value: int64(0)})
		}
		if err := checked(arity(2, 2), one(integer, 1)); err != nil {
			return nil, true, err
		}
		t := args[0].Type()
		if isNull(t) || isString(t) {
			args[0], t = castTo(args[0], TypeDouble), TypeDouble
		}
		if !isNumeric(t) {
			return fail("TRUNCATE needs a number, got %s", TypeName(t))
		}
		if isInteger(t) {
			args[0], t = castTo(args[0], TypeBigInt), TypeBigInt
		}
		return call("truncate", roundType(t, args[1]))
	case "datediff":
		if len(args) == 3 {
			return fail("DATEDIFF takes 2 arguments (end, start) as in MySQL; for a unit use TIMESTAMPDIFF(unit, start, end)")
		}
		if err := nargs(2, 2); err != nil {
			return nil, true, err
		}
		for i := range args {
			a, err := b.timeOf(args[i], "DATEDIFF", off)
			if err != nil {
				return nil, true, err
			}
			args[i] = a
		}
		return call("datediff", TypeBigInt)
	case "date_format", "strftime", "time_format":
		if err := nargs(2, 2); err != nil {
			return nil, true, err
		}
		if name == "strftime" && isString(args[0].Type()) && !isString(args[1].Type()) {
			args[0], args[1] = args[1], args[0] // SQLite's order: strftime(format, time)
		}
		a, err := b.timeOf(args[0], strings.ToUpper(name), off)
		if err != nil {
			return nil, true, err
		}
		args[0] = a
		if err := str(1); err != nil {
			return nil, true, err
		}
		f := "date_format"
		if name == "strftime" {
			f = "strftime"
		}
		return call(f, TypeVarchar)
	case "date_part", "datepart":
		if err := nargs(2, 2); err != nil {
			return nil, true, err
		}
		l, isLit := args[0].(*Literal)
		u, isStr := "", false
		if isLit {
			u, isStr = l.Value.(string)
		}
		if !isStr {
			return fail("DATE_PART needs a unit string literal such as 'year' as its first argument")
		}
		e, err := b.extract(u, args[1], off)
		return e, true, err
	case "quarter", "dayofweek", "dayofyear", "week", "weekofyear", "epoch":
		if err := nargs(1, 1); err != nil {
			return nil, true, err
		}
		u := name
		if u == "weekofyear" {
			u = "isoweek"
		}
		e, err := b.extract(u, args[0], off)
		return e, true, err
	case "now", "current_timestamp", "localtimestamp", "localtime", "sysdate", "current_date", "curdate":
		if len(args) > 1 || (len(args) == 1 && !isInteger(args[0].Type())) {
			return fail("%s takes no arguments (or a fractional-second precision)", strings.ToUpper(name))
		}
		var now Expr
		if b.q.Emit != nil {
			// Streaming: the processing time at which each batch is
			// evaluated (Flink's and Spark's rule for a continuous query).
			now = &Call{Func: "now", Typ: TypeTimestamp}
		} else {
			now = &Literal{Typ: TypeTimestamp, Value: b.queryStart()}
		}
		if name == "current_date" || name == "curdate" {
			return castTo(now, TypeDate), true, nil
		}
		return now, true, nil
	case "uuid", "gen_random_uuid":
		if err := nargs(0, 0); err != nil {
			return nil, true, err
		}
		return &Call{Func: "uuid", Typ: TypeVarchar}, true, nil
	}
	return nil, false, nil
}

// roundType is the result type of ROUND and TRUNCATE of a t: a DECIMAL
// keeps digits to the left and as many decimals as a literal d asks for
// (ROUND(2.456, 1) is 2.5), one more integer digit for ROUND's carry.
func roundType(t arrow.DataType, d Expr) arrow.DataType {
	if !isDecimal(t) {
		return t
	}
	p, s := decimalOf(t)
	l, ok := d.(*Literal)
	dv, isInt := int64(0), false
	if ok {
		dv, isInt = l.Value.(int64)
	}
	if !isInt {
		return t
	}
	scale := int32(max(0, min(dv, int64(s))))
	return makeDecimal(p-s+1, scale)
}

// bindRegex binds the REGEXP family; a literal pattern is checked now so
// a bad one is an error at its position.
func (b *binder) bindRegex(name string, args []Expr, off int) (Expr, bool, error) {
	lo, hi := 2, 3
	switch name {
	case "regexp_replace":
		lo, hi = 3, 4
	case "regexp_substr":
		hi = 5
	}
	if len(args) < lo || len(args) > hi {
		return nil, true, b.errAt(off, "%s takes %d to %d arguments, got %d", strings.ToUpper(name), lo, hi, len(args))
	}
	intArg := func(i int) bool {
		return (name == "regexp_extract" && i == 2) || (name == "regexp_substr" && (i == 2 || i == 3))
	}
	for i := range args {
		t := args[i].Type()
		if intArg(i) {
			if !isInteger(t) && !isNull(t) {
				return nil, true, b.errAt(off, "%s needs a whole number as argument %d, got %s", strings.ToUpper(name), i+1, TypeName(t))
			}
			args[i] = castTo(args[i], TypeBigInt)
			continue
		}
		switch {
		case isString(t):
		case isNull(t):
			args[i] = &Literal{Typ: TypeVarchar}
		case isNumeric(t) || isTemporal(t):
			args[i] = castTo(args[i], TypeVarchar)
		default:
			return nil, true, b.errAt(off, "%s needs a VARCHAR as argument %d, got %s", strings.ToUpper(name), i+1, TypeName(t))
		}
	}
	flags := 2
	switch name {
	case "regexp_replace":
		flags = 3
	case "regexp_substr":
		flags = 4
	case "regexp_extract":
		flags = -1
	}
	if p, ok := args[1].(*Literal); ok && p.Value != nil {
		f := ""
		if flags >= 0 && flags < len(args) {
			fl, ok := args[flags].(*Literal)
			if !ok {
				f = "-"
			} else if fl.Value != nil {
				f = fl.Value.(string)
			}
		}
		if f != "-" {
			if err := checkRegex(p.Value.(string), f); err != nil {
				return nil, true, b.errAt(off, "%s: %v", strings.ToUpper(name), err)
			}
		}
	}
	t := TypeVarchar
	if name == "regexp_like" || name == "regexp_matches" {
		name, t = "regexp_like", TypeBoolean
	}
	return &Call{Func: name, Args: args, Typ: t}, true, nil
}

// checkRegex compiles pattern as the kernel will (RE2 with MySQL's
// match_type letters) to report a bad pattern while binding.
func checkRegex(pattern, flags string) error {
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i':
			prefix += "i"
		case 'm':
			prefix += "m"
		case 'n', 's':
			prefix += "s"
		case 'c', 'g', 'u':
		default:
			return fmt.Errorf("unknown regular expression flag %c (want i, c, m or n)", f)
		}
	}
	if prefix != "" {
		pattern = "(?" + prefix + ")" + pattern
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return fmt.Errorf("invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return nil
}

// parseJSONPathCheck checks a literal MySQL JSON path's syntax: $ then
// .key, ."key", .*, [n] or [*] steps.
func parseJSONPathCheck(p string) (bool, error) {
	s := strings.TrimSpace(p)
	if !strings.HasPrefix(s, "$") {
		return false, fmt.Errorf("invalid JSON path %q: it must start with $", p)
	}
	for i := 1; i < len(s); {
		switch s[i] {
		case '.':
			i++
			switch {
			case i < len(s) && s[i] == '*':
				i++
			case i < len(s) && s[i] == '"':
				j := strings.IndexByte(s[i+1:], '"')
				if j < 0 {
					return false, fmt.Errorf("invalid JSON path %q: unterminated quoted key", p)
				}
				i += j + 2
			default:
				j := i
				for j < len(s) && s[j] != '.' && s[j] != '[' {
					j++
				}
				if j == i {
					return false, fmt.Errorf("invalid JSON path %q: empty key at character %d", p, i+1)
				}
				i = j
			}
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return false, fmt.Errorf("invalid JSON path %q: missing ]", p)
			}
			in := strings.TrimSpace(s[i+1 : i+j])
			if in != "*" && strings.Trim(in, "0123456789") != "" || in == "" {
				return false, fmt.Errorf("invalid JSON path %q: bad array index %q", p, in)
			}
			i += j + 1
		case ' ':
			i++
		default:
			return false, fmt.Errorf("invalid JSON path %q at character %d", p, i+1)
		}
	}
	return true, nil
}
