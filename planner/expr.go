package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/sluicesql/sluice/internal/interval"
	"github.com/sluicesql/sluice/sql"
)

// Expr is a bound, typed scalar expression. There are exactly three kinds
// (*ColumnRef, *Literal, *Call) so that the executor's compiler is a small
// switch; every function is a Call with a fixed name (see the package doc
// and Call).
type Expr interface {
	// Type is the Arrow type of the expression's values.
	Type() arrow.DataType
	// String is the canonical form shown in EXPLAIN, e.g. `value > 1`.
	String() string
}

// ColumnRef reads column Index of the input schema of the plan node that
// holds the expression (for a join residual: left columns then right).
type ColumnRef struct {
	Index int
	Name  string
	Typ   arrow.DataType
}

// Literal is a constant. Value is nil for NULL, else by type: int64 (Int64),
// int32 (Int32), float64, string, bool, decimal128.Num, arrow.Timestamp
// (µs), arrow.Date32 or arrow.MonthDayNanoInterval.
type Literal struct {
	Typ   arrow.DataType
	Value any
}

// Call applies the function Func to Args; Typ is the result type (for
// `cast`, the target type). Function names the executor implements:
//
//	arithmetic   add sub mul div intdiv mod neg (same-type args, except
//	             date_add/date_sub and add/sub of TIMESTAMP|DATE with INTERVAL)
//	comparison   eq ne lt le gt ge (same-type args)
//	logic        and or not; is_null is_not_null
//	patterns     like (value, pattern); in (value, list…)
//	conditional  case (when1, then1, …, [else]); coalesce; if; nullif
//	cast         cast (one arg; target = Typ)
//	strings      upper lower length concat substring trim ltrim rtrim replace
//	math         abs floor ceil round (1 or 2 args)
//	strings      lpad rpad repeat reverse left right locate (substr, str[,
//	             pos]) split_part substring_index initcap md5 sha1 sha2 uuid
//	regex        regexp_like regexp_replace regexp_extract regexp_substr
//	json         json_extract json_value json_length json_unquote json_valid
//	math         greatest least truncate sign power sqrt ln log log10 log2 exp
//	time         year month day hour minute second date date_trunc
//	             unix_timestamp from_unixtime date_add date_sub now
//	             extract (unit literal, time) timestampdiff/timestampadd
//	             (unit literal, …) datediff date_format strftime
//	             unix_timestamp_frac from_unixtime_frac (DOUBLE seconds)
type Call struct {
	Func string
	Args []Expr
	Typ  arrow.DataType
	// Pos is where the user wrote the call (zero for calls the planner
	// made up): runtime errors of its kernel (an overflow, a bad cast)
	// name it. Rewrites of the call keep it.
	Pos sql.Pos
}

// Type implements Expr.
func (c *ColumnRef) Type() arrow.DataType { return c.Typ }

// Type implements Expr.
func (l *Literal) Type() arrow.DataType { return l.Typ }

// Type implements Expr.
func (c *Call) Type() arrow.DataType { return c.Typ }

// String implements Expr.
func (c *ColumnRef) String() string { return c.Name }

// String implements Expr.
func (l *Literal) String() string { return formatValue(l.Typ, l.Value, true) }

// formatValue renders a literal; quote wraps strings and times in SQL
// literal syntax.
func formatValue(t arrow.DataType, v any, quote bool) string {
	if v == nil {
		return "NULL"
	}
	q := func(s string) string {
		if !quote {
			return s
		}
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return q(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case decimal128.Num:
		_, s := decimalOf(t)
		return x.ToString(s)
	case arrow.Timestamp:
		s := x.ToTime(arrow.Microsecond).UTC().Format("2006-01-02 15:04:05.999999")
		if quote {
			return "TIMESTAMP " + q(s)
		}
		return s
	case arrow.Date32:
		s := x.ToTime().UTC().Format("2006-01-02")
		if quote {
			return "DATE " + q(s)
		}
		return s
	case arrow.MonthDayNanoInterval:
		if quote {
			return formatInterval(x)
		}
		return string(interval.Append(nil, x)) // CAST(… AS VARCHAR), as DuckDB prints it
	}
	return fmt.Sprint(v)
}

// formatInterval is iv as SQL literal text (EXPLAIN, frame bounds).
func formatInterval(iv arrow.MonthDayNanoInterval) string { return interval.SQL(iv) }

// infix operators with their EXPLAIN spelling and precedence (higher binds
// tighter).
var infix = map[string]struct {
	op   string
	prec int
}{
	"or": {"OR", 1}, "and": {"AND", 2},
	"eq": {"=", 4}, "ne": {"<>", 4}, "lt": {"<", 4}, "le": {"<=", 4}, "gt": {">", 4}, "ge": {">=", 4},
	"like": {"LIKE", 4},
	"add":  {"+", 5}, "sub": {"-", 5}, "date_add": {"+", 5}, "date_sub": {"-", 5},
	// The kernels time arithmetic binds to (timeArith) read as the
	// operator the user wrote: ts - window_start, not ts_diff(…).
	"ts_diff": {"-", 5}, "date_add_days": {"+", 5}, "date_sub_days": {"-", 5},
	"mul": {"*", 6}, "div": {"/", 6}, "intdiv": {"DIV", 6}, "mod": {"%", 6},
}

func precOf(e Expr) int {
	c, ok := e.(*Call)
	if !ok {
		return 10
	}
	if in, ok := infix[c.Func]; ok && len(c.Args) == 2 {
		return in.prec
	}
	switch c.Func {
	case "not":
		return 3
	case "is_null", "is_not_null", "in":
		return 4
	case "neg":
		return 7
	}
	return 10
}

func paren(e Expr, min int) string {
	if precOf(e) < min {
		return "(" + e.String() + ")"
	}
	return e.String()
}

// String implements Expr.
func (c *Call) String() string {
	if in, ok := infix[c.Func]; ok && len(c.Args) == 2 {
		rmin := in.prec + 1
		if r, ok := c.Args[1].(*Call); ok && r.Func == c.Func && (c.Func == "and" || c.Func == "or") {
			rmin = in.prec // associative: a OR (b OR c) reads a OR b OR c
		}
		return paren(c.Args[0], in.prec) + " " + in.op + " " + paren(c.Args[1], rmin)
	}
	args := func(from int) string {
		s := make([]string, 0, len(c.Args))
		for _, a := range c.Args[from:] {
			s = append(s, a.String())
		}
		return strings.Join(s, ", ")
	}
	switch c.Func {
	case "not":
		if len(c.Args) == 1 {
			return "NOT " + paren(c.Args[0], 3)
		}
	case "neg":
		if len(c.Args) == 1 {
			return "-" + paren(c.Args[0], 7)
		}
	case "is_null", "is_not_null":
		if len(c.Args) == 1 {
			op := " IS NULL"
			if c.Func == "is_not_null" {
				op = " IS NOT NULL"
			}
			return paren(c.Args[0], 5) + op
		}
	case "in":
		if len(c.Args) >= 1 {
			return paren(c.Args[0], 5) + " IN (" + args(1) + ")"
		}
	case "cast":
		if len(c.Args) == 1 {
			return "CAST(" + c.Args[0].String() + " AS " + TypeName(c.Typ) + ")"
		}
	case "case":
		var b strings.Builder
		b.WriteString("CASE")
		i := 0
		for ; i+1 < len(c.Args); i += 2 {
			b.WriteString(" WHEN " + c.Args[i].String() + " THEN " + c.Args[i+1].String())
		}
		if i < len(c.Args) {
			b.WriteString(" ELSE " + c.Args[i].String())
		}
		b.WriteString(" END")
		return b.String()
	}
	return c.Func + "(" + args(0) + ")"
}

// AggCall is one aggregate computed by an Aggregate node. Func is a
// function of the capability table (aggcap.go): sum, count, count_star,
// avg, min, max, string_agg, median, …; Arg is nil for count_star and is
// bound to the aggregate's input schema (several arguments come packed in
// one agg_args struct, see aggArgs).
type AggCall struct {
	Func     string
	Arg      Expr
	Distinct bool
	Typ      arrow.DataType
	// Params are the call's constant parts (separator, fraction, order);
	// zero for most functions.
	Params AggParams
	// Pos is where the user wrote the call (zero for calls the planner
	// made up): an overflow of its state names it.
	Pos sql.Pos
	// SQL is the call as the user wrote it (`ANY_VALUE(s)`, which binds
	// as first(s FILTER s IS NOT NULL)), for messages; empty for calls
	// the planner made up.
	SQL string
}

// userName is how messages name the call: as written when known.
func (a AggCall) userName() string {
	if a.SQL != "" {
		return a.SQL
	}
	return a.String()
}

// String is the canonical form used in EXPLAIN and as the default column
// name, e.g. `sum(value)`, `count(*)`, `count(DISTINCT id)`.
func (a AggCall) String() string {
	if a.Func == "count_star" {
		return "count(*)"
	}
	d := ""
	if a.Distinct {
		d = "DISTINCT "
	}
	arg := a.Arg.String()
	if c, ok := a.Arg.(*Call); ok && c.Func == "agg_args" {
		// The packed arguments, as written (the FILTER condition first
		// shows only when there is one).
		parts := make([]string, 0, len(c.Args))
		for _, x := range c.Args[1:] {
			parts = append(parts, x.String())
		}
		arg = strings.Join(parts, ", ")
		if l, ok := c.Args[0].(*Literal); !ok || l.Value != true {
			arg += " FILTER " + c.Args[0].String()
		}
	}
	return a.Func + "(" + d + arg + a.Params.String() + ")"
}

// SortKey orders by Expr; NullsFirst follows MySQL (NULLs first ascending,
// last descending) unless the query says otherwise.
type SortKey struct {
	Expr       Expr
	Desc       bool
	NullsFirst bool
}

// String renders the key for EXPLAIN.
func (k SortKey) String() string {
	s := k.Expr.String()
	if k.Desc {
		s += " DESC"
	}
	return s
}

// ScanFilter is a pushdown hint `Column Op Value` for a source (Parquet
// row-group statistics and the like). Column indexes the source's full
// schema; Op is eq ne lt le gt ge is_null is_not_null; Value is nil for the
// null tests. The Filter above the scan still applies the full predicate.
type ScanFilter struct {
	Column int
	Op     string
	Value  any
}

// walkExpr calls f on e and its descendants, pre-order.
func walkExpr(e Expr, f func(Expr)) {
	if e == nil {
		return
	}
	f(e)
	if c, ok := e.(*Call); ok {
		for _, a := range c.Args {
			walkExpr(a, f)
		}
	}
}

// mapExpr rebuilds e bottom-up, replacing each node by f(node).
func mapExpr(e Expr, f func(Expr) (Expr, error)) (Expr, error) {
	if e == nil {
		return nil, nil
	}
	if c, ok := e.(*Call); ok {
		args := make([]Expr, len(c.Args))
		for i, a := range c.Args {
			na, err := mapExpr(a, f)
			if err != nil {
				return nil, err
			}
			args[i] = na
		}
		e = &Call{Func: c.Func, Args: args, Typ: c.Typ, Pos: c.Pos}
	}
	return f(e)
}

// remapColumns rewrites column indices through m (old → new).
func remapColumns(e Expr, m []int) Expr {
	out, _ := mapExpr(e, func(x Expr) (Expr, error) {
		if c, ok := x.(*ColumnRef); ok {
			return &ColumnRef{Index: m[c.Index], Name: c.Name, Typ: c.Typ}, nil
		}
		return x, nil
	})
	return out
}

// shiftColumns adds delta to every column index.
func shiftColumns(e Expr, delta int) Expr {
	out, _ := mapExpr(e, func(x Expr) (Expr, error) {
		if c, ok := x.(*ColumnRef); ok {
			return &ColumnRef{Index: c.Index + delta, Name: c.Name, Typ: c.Typ}, nil
		}
		return x, nil
	})
	return out
}

// substitute replaces column i by exprs[i] (inlining a projection).
func substitute(e Expr, exprs []Expr) Expr {
	out, _ := mapExpr(e, func(x Expr) (Expr, error) {
		if c, ok := x.(*ColumnRef); ok {
			return exprs[c.Index], nil
		}
		return x, nil
	})
	return out
}

// columnsOf adds the column indices e reads to set.
func columnsOf(e Expr, set map[int]bool) {
	walkExpr(e, func(x Expr) {
		if c, ok := x.(*ColumnRef); ok {
			set[c.Index] = true
		}
	})
}

// conjuncts splits nested ANDs.
func conjuncts(e Expr) []Expr {
	if c, ok := e.(*Call); ok && c.Func == "and" && len(c.Args) == 2 {
		return append(conjuncts(c.Args[0]), conjuncts(c.Args[1])...)
	}
	if e == nil {
		return nil
	}
	return []Expr{e}
}

// andAll joins predicates with AND; nil for none.
func andAll(es []Expr) Expr {
	if len(es) == 0 {
		return nil
	}
	return balanced("and", es)
}

// balanced joins es (at least one) with the associative boolean f ("and"
// or "or") as a balanced tree, left-deep up to three terms: a long chain
// then nests only log2(len) deep, so no recursion over it can exhaust
// the stack. Call.String prints it as the flat chain it stands for.
func balanced(f string, es []Expr) Expr {
	if len(es) == 1 {
		return es[0]
	}
	mid := (len(es) + 1) / 2
	return &Call{Func: f, Args: []Expr{balanced(f, es[:mid]), balanced(f, es[mid:])}, Typ: TypeBoolean}
}

// castTo wraps e in a cast unless it already has type t; literals are
// converted directly when possible.
func castTo(e Expr, t arrow.DataType) Expr {
	if arrow.TypeEqual(e.Type(), t) {
		return e
	}
	if l, ok := e.(*Literal); ok {
		if v, err := convertValue(l.Value, l.Typ, t); err == nil {
			return &Literal{Typ: t, Value: v}
		}
	}
	return &Call{Func: "cast", Args: []Expr{e}, Typ: t}
}

// exprKey is a structural identity for matching expressions (GROUP BY keys
// against select items, duplicate aggregates): unlike String it tells
// apart equally named columns of different tables.
func exprKey(e Expr) string {
	switch x := e.(type) {
	case *ColumnRef:
		return "#" + strconv.Itoa(x.Index)
	case *Literal:
		return x.String() + ":" + TypeName(x.Typ)
	case *Call:
		parts := make([]string, len(x.Args))
		for i, a := range x.Args {
			parts[i] = exprKey(a)
		}
		return x.Func + ":" + TypeName(x.Typ) + "(" + strings.Join(parts, ",") + ")"
	}
	return "?"
}
