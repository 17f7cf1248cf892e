package planner

import (
	"errors"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/sluicesql/sluice/sql"
)

// binder turns TiDB AST nodes into bound plans and expressions.
type binder struct {
	q   *sql.Query
	cat Catalog
	// insertDefault gives the value of a DEFAULT cell of an INSERT's
	// VALUES in column j (nil outside an INSERT into a known schema).
	insertDefault func(j int) (Expr, error)
	// temporalRight is set while binding the right side of a temporal
	// join, the one place FOR SYSTEM_TIME AS OF may stand.
	temporalRight bool
	// pos remembers where (offsets into the query's text) bound column
	// references and aggregate placeholders came from, for errors raised
	// after binding; offsets become positions only for an error.
	pos map[Expr]int
	// depth counts the binder's nested calls (expressions, queries, FROM
	// items) so a statement nested beyond sql.MaxDepth fails with an
	// error rather than exhausting the stack.
	depth int
	// now is NOW() of a batch query, set on first use (queryStart).
	now arrow.Timestamp
	// ctes are the common table expressions in scope, innermost last
	// (see bind_cte.go).
	ctes []cte
	// winCalls hold what window placeholders "#w<i>" do not carry (see
	// bind_analytic.go).
	winCalls []*winCall
	// views are the views being expanded, outermost first (bind_view.go).
	views []string
	// subscripting holds the operands of subscripts being bound, which
	// bind as themselves there (bindSubscript).
	subscripting map[ast.ExprNode]bool
	// subscriptsBound are the offsets of the subscripts bound (a
	// subscript nothing bound is an error: checkSubscripts).
	subscriptsBound map[int]bool
	// sessionParts are the SESSION windows with Flink's PARTITION BY
	// bound in the FROM of the SELECT being bound (checkSessionParts).
	sessionParts []*sql.WindowTVF
}

// checkSubscripts fails on a subscript no expression took, written
// where no expression stands (after a table's alias, say).
func (b *binder) checkSubscripts() error {
	var first *sql.Subscript
	for off, s := range b.q.Subscripts {
		if !b.subscriptsBound[off] && (first == nil || s.Pos.Offset < first.Pos.Offset) {
			first = s
		}
	}
	if first != nil {
		return sql.Errorf(sql.BindError, first.Pos, "a subscript [ ] must follow a list expression")
	}
	return nil
}

// exprCtx is what an expression may refer to.
type exprCtx struct {
	sc *scope
	// noAgg, when set, is the error for an aggregate call here (e.g.
	// "aggregate functions are not allowed in WHERE").
	noAgg string
	// aliases are select-list aliases HAVING and ORDER BY may name when
	// no input column has that name (MySQL's rule).
	aliases map[string]Expr
	// sq collects the joins of subqueries in the expression; nil where
	// subqueries are not allowed (see bind_subquery.go).
	sq *subqueries
	// truth is set where only whether the expression is TRUE matters (a
	// WHERE conjunct), so NULL and FALSE may be told apart lazily.
	truth bool
	// win, when set, allows window functions (the select list and ORDER
	// BY) and holds the query's named windows.
	win *winScope
	// unnest allows UNNEST(l) (the select list: bindUnnestCall).
	unnest bool
}

// aggPrefix marks aggregate placeholders: Call{Func: "$sum"…} stands for an
// aggregate until the aggregation rewrite replaces it by a column.
const aggPrefix = "$"

// errAt builds a BindError at off, an offset into the query's text.
func (b *binder) errAt(off int, format string, args ...any) *sql.Error {
	return sql.Errorf(sql.BindError, posOf(b.q, off), format, args...)
}

// enter counts one level of nesting at off; every successful enter is
// paired with a leave.
func (b *binder) enter(off int) error {
	if b.depth >= sql.MaxDepth {
		return b.errAt(off, "statement nested too deeply (more than %d levels)", sql.MaxDepth)
	}
	b.depth++
	return nil
}

// leave undoes enter.
func (b *binder) leave() { b.depth-- }

// offsetOf is the node's text offset, or fallback when TiDB recorded none.
func offsetOf(n ast.ExprNode, fallback int) int {
	if o := n.OriginTextPosition(); o > 0 {
		return o
	}
	return fallback
}

// bindExpr binds n; off is the position to blame when n has none. A
// call it makes remembers where it was written (Call.Pos), for runtime
// errors.
func (b *binder) bindExpr(n ast.ExprNode, ctx exprCtx, off int) (Expr, error) {
	e, err := b.bindExprAt(n, ctx, offsetOf(n, off))
	if c, ok := e.(*Call); ok && c.Pos.Line == 0 {
		c.Pos = posOf(b.q, offsetOf(n, off))
	}
	return e, err
}

// bindExprAt is bindExpr of n at offset off.
func (b *binder) bindExprAt(n ast.ExprNode, ctx exprCtx, off int) (Expr, error) {
	if err := b.enter(off); err != nil {
		return nil, err
	}
	defer b.leave()
	if s := b.q.Subscripts[off]; s != nil && subscriptable(n) && !b.subscripting[n] {
		return b.bindSubscript(n, s, ctx, off)
	}
	truth := ctx.truth
	ctx.truth = false
	switch x := n.(type) {
	case *ast.ParenthesesExpr:
		if b.q.ListLits[off] { // [x]
			return b.bindListLiteral([]ast.ExprNode{x.Expr}, ctx, off)
		}
		if lit, ok := b.q.Intervals[off]; ok { // INTERVAL '90' MINUTE standing alone
			iv, err := intervalValue(lit.Value, lit.Unit)
			if err != nil {
				return nil, b.errAt(off, "%v", err)
			}
			return &Literal{Typ: TypeInterval, Value: iv}, nil
		}
		ctx.truth = truth
		return b.bindExpr(x.Expr, ctx, off)
	case *ast.RowExpr:
		if b.q.ListLits[off] { // [a, b, …]
			return b.bindListLiteral(x.Values, ctx, off)
		}
		return nil, b.errAt(off, "a row (a, b, …) is not a value here")
	case *ast.ColumnNameExpr:
		i, err := ctx.sc.resolve(x.Name.Table.O, x.Name.Name.O, posOf(b.q, off))
		if err != nil {
			if a, ok := ctx.aliases[strings.ToLower(x.Name.Name.O)]; ok && x.Name.Table.O == "" {
				return a, nil
			}
			return nil, err
		}
		c := ctx.sc.cols[i]
		ref := &ColumnRef{Index: i, Name: c.name, Typ: c.typ}
		b.pos[ref] = off
		return ref, nil
	case ast.ValueExpr:
		return b.bindValue(x, off)
	case *ast.BinaryOperationExpr:
		if x.Op == opcode.LogicAnd || x.Op == opcode.LogicOr {
			ctx.truth = truth && x.Op == opcode.LogicAnd
			return b.bindLogic(x, ctx, off)
		}
		l, err := b.bindExpr(x.L, ctx, off)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(x.R, ctx, offsetOf(x.R, off))
		if err != nil {
			return nil, err
		}
		return b.binary(x.Op, l, r, off, offsetOf(x.R, off))
	case *ast.UnaryOperationExpr:
		v, err := b.bindExpr(x.V, ctx, off)
		if err != nil {
			return nil, err
		}
		switch x.Op {
		case opcode.Plus:
			if !isNumeric(v.Type()) && !isInterval(v.Type()) {
				return nil, b.errAt(off, "cannot apply unary + to %s", TypeName(v.Type()))
			}
			return v, nil
		case opcode.Minus:
			if isNull(v.Type()) {
				return v, nil
			}
			if !isNumeric(v.Type()) && !isInterval(v.Type()) {
				return nil, b.errAt(off, "cannot negate %s", TypeName(v.Type()))
			}
			return &Call{Func: "neg", Args: []Expr{v}, Typ: v.Type()}, nil
		case opcode.Not, opcode.Not2:
			v, err := b.boolean(v, off, "NOT")
			if err != nil {
				return nil, err
			}
			return &Call{Func: "not", Args: []Expr{v}, Typ: TypeBoolean}, nil
		}
		return nil, b.errAt(off, "unsupported operator %s", x.Op)
	case *ast.IsNullExpr:
		v, err := b.bindExpr(x.Expr, ctx, off)
		if err != nil {
			return nil, err
		}
		f := "is_null"
		if x.Not {
			f = "is_not_null"
		}
		return &Call{Func: f, Args: []Expr{v}, Typ: TypeBoolean}, nil
	case *ast.IsTruthExpr:
		v, err := b.bindExpr(x.Expr, ctx, off)
		if err != nil {
			return nil, err
		}
		v, err = b.boolean(v, off, "IS TRUE")
		if err != nil {
			return nil, err
		}
		if x.True == 0 {
			v = &Call{Func: "not", Args: []Expr{v}, Typ: TypeBoolean}
		}
		var e Expr = &Call{Func: "coalesce", Args: []Expr{v, &Literal{Typ: TypeBoolean, Value: false}}, Typ: TypeBoolean}
		if x.Not {
			e = &Call{Func: "not", Args: []Expr{e}, Typ: TypeBoolean}
		}
		return e, nil
	case *ast.PatternInExpr:
		if x.Sel != nil {
			ctx.truth = truth
			return b.bindSubquery(x, ctx, off)
		}
		args := make([]Expr, 0, len(x.List)+1)
		v, err := b.bindExpr(x.Expr, ctx, off)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
		for _, it := range x.List {
			a, err := b.bindExpr(it, ctx, off)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
		}
		args, t, err := b.unify(args, off, "IN")
		if err != nil {
			return nil, err
		}
		if isList(t) {
			return nil, b.errAt(off, "IN cannot compare %s values", TypeName(t))
		}
		var e Expr = &Call{Func: "in", Args: args, Typ: TypeBoolean}
		if x.Not {
			e = &Call{Func: "not", Args: []Expr{e}, Typ: TypeBoolean}
		}
		return e, nil
	case *ast.PatternLikeOrIlikeExpr:
		v, err := b.bindExpr(x.Expr, ctx, off)
		if err != nil {
			return nil, err
		}
		p, err := b.bindExpr(x.Pattern, ctx, off)
		if err != nil {
			return nil, err
		}
		if v, err = b.stringArg(v, off, "LIKE"); err != nil {
			return nil, err
		}
		if p, err = b.stringArg(p, off, "LIKE"); err != nil {
			return nil, err
		}
		if !x.IsLike {
			v = &Call{Func: "lower", Args: []Expr{v}, Typ: TypeVarchar}
			p = &Call{Func: "lower", Args: []Expr{p}, Typ: TypeVarchar}
		}
		var e Expr = &Call{Func: "like", Args: []Expr{v, p}, Typ: TypeBoolean}
		if x.Not {
			e = &Call{Func: "not", Args: []Expr{e}, Typ: TypeBoolean}
		}
		return e, nil
	case *ast.PatternRegexpExpr:
		v, err := b.bindExpr(x.Expr, ctx, off)
		if err != nil {
			return nil, err
		}
		p, err := b.bindExpr(x.Pattern, ctx, off)
		if err != nil {
			return nil, err
		}
		e, _, err := b.bindRegex("regexp_like", []Expr{v, p}, off)
		if err != nil {
			return nil, err
		}
		if x.Not {
			e = &Call{Func: "not", Args: []Expr{e}, Typ: TypeBoolean}
		}
		return e, nil
	case *ast.BetweenExpr:
		var args []Expr
		for _, a := range []ast.ExprNode{x.Expr, x.Left, x.Right} {
			e, err := b.bindExpr(a, ctx, off)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		args, t, err := b.unify(args, off, "BETWEEN")
		if err != nil {
			return nil, err
		}
		if isList(t) {
			return nil, b.errAt(off, "BETWEEN cannot compare %s values", TypeName(t))
		}
		var e Expr = &Call{Func: "and", Typ: TypeBoolean, Args: []Expr{
			&Call{Func: "ge", Args: []Expr{args[0], args[1]}, Typ: TypeBoolean},
			&Call{Func: "le", Args: []Expr{args[0], args[2]}, Typ: TypeBoolean},
		}}
		if x.Not {
			e = &Call{Func: "not", Args: []Expr{e}, Typ: TypeBoolean}
		}
		return e, nil
	case *ast.CaseExpr:
		return b.bindCase(x, ctx, off)
	case *ast.FuncCastExpr:
		v, err := b.bindExpr(x.Expr, ctx, off)
		if err != nil {
			return nil, err
		}
		t, err := b.castTarget(off)
		if err != nil {
			return nil, b.errAt(off, "%v", err)
		}
		if !canCast(v.Type(), t) {
			return nil, b.errAt(off, "cannot cast %s to %s", TypeName(v.Type()), TypeName(t))
		}
		if l, ok := v.(*Literal); ok && !isList(t) { // a list is cast by the executor
			cv, err := convertValue(l.Value, l.Typ, t)
			if err != nil {
				return nil, b.errAt(off, "%v", err)
			}
			return &Literal{Typ: t, Value: cv}, nil
		}
		if arrow.TypeEqual(v.Type(), t) {
			return v, nil
		}
		return &Call{Func: "cast", Args: []Expr{v}, Typ: t}, nil
	case *ast.FuncCallExpr:
		return b.bindFunc(x, ctx, off)
	case *ast.AggregateFuncExpr:
		return b.bindAgg(x, ctx, off)
	case *ast.WindowFuncExpr:
		return b.bindWindowFunc(x, ctx, off)
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr:
		return b.bindSubquery(x, ctx, off)
	case *ast.PositionExpr:
		return nil, b.errAt(off, "a column position is not allowed here")
	}
	return nil, b.errAt(off, "unsupported expression %s", exprText(n))
}

// exprText is n as written, shortened, for messages about it.
func exprText(n ast.Node) string {
	t := strings.Join(strings.Fields(n.Text()), " ")
	if t == "" {
		return "here"
	}
	if r := []rune(t); len(r) > 40 {
		t = string(r[:40]) + "…"
	}
	return strconv.Quote(t)
}

// logicNames are the bound functions of AND and OR.
var logicNames = map[opcode.Op]string{opcode.LogicAnd: "and", opcode.LogicOr: "or"}

// bindLogic binds a chain `a OR b OR c …` (or AND). TiDB parses it as a
// left-deep tree as deep as the chain is long; the chain is walked
// iteratively and bound as a balanced tree (AND and OR are associative,
// NULLs included), so a 50,000-term OR costs linear time and every later
// recursion over it (folding, EXPLAIN, the kernels) stays shallow.
func (b *binder) bindLogic(x *ast.BinaryOperationExpr, ctx exprCtx, off int) (Expr, error) {
	var terms []ast.ExprNode // right operands from the top, then the leftmost
	var n ast.ExprNode = x
	for {
		be, ok := n.(*ast.BinaryOperationExpr)
		if !ok || be.Op != x.Op {
			break
		}
		terms = append(terms, be.R)
		n = be.L
	}
	terms = append(terms, n)
	name := logicNames[x.Op]
	bound := make([]Expr, len(terms))
	for i := range terms {
		t := terms[len(terms)-1-i]
		toff := offsetOf(t, off)
		e, err := b.bindExpr(t, ctx, toff)
		if err != nil {
			return nil, err
		}
		if bound[i], err = b.boolean(e, toff, strings.ToUpper(name)); err != nil {
			return nil, err
		}
	}
	return balanced(name, bound), nil
}

// bindValue converts a TiDB literal.
func (b *binder) bindValue(x ast.ValueExpr, off int) (Expr, error) {
	v := x.GetValue()
	switch val := v.(type) {
	case nil:
		return &Literal{Typ: TypeNull}, nil
	case int64:
		if bv, ok := b.boolWord(off); ok {
			return &Literal{Typ: TypeBoolean, Value: bv}, nil
		}
		return &Literal{Typ: TypeBigInt, Value: val}, nil
	case uint64:
		if val > 1<<63-1 {
			return nil, b.errAt(off, "integer literal %d is out of range for BIGINT", val)
		}
		return &Literal{Typ: TypeBigInt, Value: int64(val)}, nil
	case float64:
		return &Literal{Typ: TypeDouble, Value: val}, nil
	case float32:
		return &Literal{Typ: TypeDouble, Value: float64(val)}, nil
	case string:
		return &Literal{Typ: TypeVarchar, Value: val}, nil
	case []byte:
		return &Literal{Typ: TypeVarchar, Value: string(val)}, nil
	case interface{ String() string }:
		// A decimal literal such as 1.50 (test_driver.MyDecimal).
		s := val.String()
		intDigits, scale := int32(0), int32(0)
		digits := strings.TrimLeft(s, "-")
		if i := strings.IndexByte(digits, '.'); i >= 0 {
			intDigits, scale = int32(i), int32(len(digits)-i-1)
		} else {
			intDigits = int32(len(digits))
		}
		t := makeDecimal(max(intDigits, 1), scale)
		n, err := decimal128.FromString(s, t.(*arrow.Decimal128Type).Precision, scale)
		if err != nil {
			return nil, b.errAt(off, "invalid decimal literal %s: %v", s, err)
		}
		return &Literal{Typ: t, Value: n}, nil
	}
	return nil, b.errAt(off, "unsupported literal %v", v)
}

// boolWord reports whether the text at off spells TRUE or FALSE (TiDB turns
// both into integers).
func (b *binder) boolWord(off int) (bool, bool) {
	text := b.q.SQL()
	if off <= 0 || off >= len(text) {
		return false, false
	}
	for _, w := range []string{"true", "false"} {
		if findWord(text[off:min(len(text), off+len(w)+1)], w, 0) == 0 {
			return w == "true", true
		}
	}
	return false, false
}

// boolean makes e usable as a condition: NULL becomes a BOOLEAN NULL,
// numbers are compared with zero (MySQL's WHERE 1).
func (b *binder) boolean(e Expr, off int, what string) (Expr, error) {
	t := e.Type()
	switch {
	case t.ID() == arrow.BOOL:
		return e, nil
	case isNull(t):
		return &Literal{Typ: TypeBoolean}, nil
	case isNumeric(t):
		return &Call{Func: "ne", Args: []Expr{e, castTo(&Literal{Typ: TypeBigInt, Value: int64(0)}, t)}, Typ: TypeBoolean}, nil
	}
	return nil, b.errAt(off, "%s needs a BOOLEAN, got %s", what, TypeName(t))
}

func (b *binder) stringArg(e Expr, off int, what string) (Expr, error) {
	if isString(e.Type()) {
		return e, nil
	}
	if isNull(e.Type()) {
		return &Literal{Typ: TypeVarchar}, nil
	}
	return nil, b.errAt(off, "%s needs a VARCHAR, got %s", what, TypeName(e.Type()))
}

// coerceTo converts e to t for comparison-like contexts: string literals
// compared with times are parsed now so a bad literal is reported at its
// position.
func (b *binder) coerceTo(e Expr, t arrow.DataType, off int) (Expr, error) {
	if arrow.TypeEqual(e.Type(), t) {
		return e, nil
	}
	if l, ok := e.(*Literal); ok {
		v, err := convertValue(l.Value, l.Typ, t)
		if err != nil {
			return nil, b.errAt(off, "%v", err)
		}
		return &Literal{Typ: t, Value: v}, nil
	}
	return &Call{Func: "cast", Args: []Expr{e}, Typ: t}, nil
}

// unify converts all args to one common type (IN lists, BETWEEN, CASE
// results, COALESCE).
func (b *binder) unify(args []Expr, off int, what string) ([]Expr, arrow.DataType, error) {
	t := TypeNull
	for _, a := range args {
		if l, ok := a.(*Literal); ok && l.Value != nil {
			continue // literals adapt to the others' type below
		}
		nt, ok := unifyCommon(t, a.Type())
		if !ok {
			return nil, nil, b.errAt(off, "%s: cannot mix %s and %s", what, TypeName(t), TypeName(a.Type()))
		}
		t = nt
	}
	for _, a := range args {
		nt, ok := unifyCommon(t, narrowFor(a, t))
		if !ok {
			return nil, nil, b.errAt(off, "%s: cannot mix %s and %s", what, TypeName(t), TypeName(a.Type()))
		}
		t = nt
	}
	out := make([]Expr, len(args))
	for i, a := range args {
		c, err := b.coerceTo(a, t, off)
		if err != nil {
			return nil, nil, err
		}
		out[i] = c
	}
	return out, t, nil
}

// unifyCommon is compareCommon's type for two values put in one column
// (VALUES rows, CASE results, COALESCE), and for two lists the list of
// their elements' common type, as DuckDB: [1] beside [2.5] is
// DECIMAL(2,1)[]. Lists are not compared (compare refuses them).
func unifyCommon(a, b arrow.DataType) (arrow.DataType, bool) {
	if isList(a) && isList(b) && !arrow.TypeEqual(a, b) {
		t, ok := compareCommon(a.(*arrow.ListType).Elem(), b.(*arrow.ListType).Elem())
		if !ok {
			return nil, false
		}
		return arrow.ListOf(t), true
	}
	return compareCommon(a, b)
}

var cmpFuncs = map[opcode.Op]string{
	opcode.EQ: "eq", opcode.NE: "ne", opcode.LT: "lt", opcode.LE: "le", opcode.GT: "gt", opcode.GE: "ge",
}

var arithFuncs = map[opcode.Op]string{
	opcode.Plus: "add", opcode.Minus: "sub", opcode.Mul: "mul", opcode.Div: "div", opcode.IntDiv: "intdiv", opcode.Mod: "mod",
}

// binary types a binary operator, inserting casts.
func (b *binder) binary(op opcode.Op, l, r Expr, off, roff int) (Expr, error) {
	if f, ok := cmpFuncs[op]; ok {
		return b.compareAt(f, l, r, off, roff)
	}
	if f, ok := arithFuncs[op]; ok {
		return b.arith(f, arithSymbols[f], l, r, off)
	}
	return nil, b.errAt(off, "unsupported operator %s", op)
}

// timeArith types arithmetic on times as DuckDB does: TIMESTAMP −
// TIMESTAMP is an INTERVAL (a DATE on either side taken as its
// midnight), DATE − DATE a BIGINT count of days, DATE ± integer a DATE
// that many days on, a time ± an INTERVAL value the time moved by it.
func timeArith(f string, l, r Expr) (Expr, bool) {
	lt, rt := l.Type(), r.Type()
	isTime := func(t arrow.DataType) bool { return t.ID() == arrow.TIMESTAMP || t.ID() == arrow.DATE32 }
	isIv := func(t arrow.DataType) bool { return t.ID() == arrow.INTERVAL_MONTH_DAY_NANO }
	switch {
	case f == "sub" && isTime(lt) && isTime(rt):
		if lt.ID() == arrow.DATE32 && rt.ID() == arrow.DATE32 {
			return &Call{Func: "datediff", Args: []Expr{l, r}, Typ: TypeBigInt}, true
		}
		return &Call{Func: "ts_diff", Args: []Expr{castTo(l, TypeTimestamp), castTo(r, TypeTimestamp)}, Typ: TypeInterval}, true
	case (f == "add" || f == "sub") && lt.ID() == arrow.DATE32 && isInteger(rt):
		fn := "date_add_days"
		if f == "sub" {
			fn = "date_sub_days"
		}
		return &Call{Func: fn, Args: []Expr{l, castTo(r, TypeBigInt)}, Typ: TypeDate}, true
	case f == "add" && isInteger(lt) && rt.ID() == arrow.DATE32:
		return &Call{Func: "date_add_days", Args: []Expr{r, castTo(l, TypeBigInt)}, Typ: TypeDate}, true
	case (f == "add" || f == "sub") && isTime(lt) && isIv(rt):
		return &Call{Func: f, Args: []Expr{l, r}, Typ: lt}, true
	case f == "add" && isIv(lt) && isTime(rt):
		return &Call{Func: f, Args: []Expr{l, r}, Typ: rt}, true
	}
	return nil, false
}

// intervalArith types arithmetic on INTERVAL values as DuckDB does:
// interval ± interval, interval × number, number × interval and
// interval ÷ number are intervals (an integer factor taken as BIGINT,
// any other number as DOUBLE).
func (b *binder) intervalArith(f, sym string, l, r Expr, off int) (Expr, error) {
	lt, rt := l.Type(), r.Type()
	num := func(e Expr) Expr {
		if isInteger(e.Type()) {
			return castTo(e, TypeBigInt)
		}
		return castTo(e, TypeDouble)
	}
	switch {
	case isNull(lt) || isNull(rt):
		return &Literal{Typ: TypeInterval}, nil
	case (f == "add" || f == "sub") && isInterval(lt) && isInterval(rt):
		return &Call{Func: f, Args: []Expr{l, r}, Typ: TypeInterval}, nil
	case (f == "mul" || f == "div") && isInterval(lt) && isNumeric(rt):
		return &Call{Func: f, Args: []Expr{l, num(r)}, Typ: TypeInterval}, nil
	case f == "mul" && isNumeric(lt) && isInterval(rt):
		return &Call{Func: f, Args: []Expr{num(l), r}, Typ: TypeInterval}, nil
	}
	return nil, b.errAt(off, "cannot apply %s to %s and %s", sym, TypeName(lt), TypeName(rt))
}

var arithSymbols = map[string]string{"add": "+", "sub": "-", "mul": "*", "div": "/", "intdiv": "DIV", "mod": "%"}

func (b *binder) compare(f string, l, r Expr, off int) (Expr, error) {
	return b.compareAt(f, l, r, off, off)
}

// compareAt types a comparison; off and roff locate the left and right
// operands for conversion errors.
func (b *binder) compareAt(f string, l, r Expr, off, roff int) (Expr, error) {
	lt, rt := l.Type(), r.Type()
	// TiDB reads TRUE/FALSE as 1/0: compare them with booleans as booleans.
	if lt.ID() == arrow.BOOL && isInteger(rt) {
		if lit, ok := r.(*Literal); ok {
			if v, ok := lit.Value.(int64); ok {
				r, rt = &Literal{Typ: TypeBoolean, Value: v != 0}, TypeBoolean
			}
		}
	} else if rt.ID() == arrow.BOOL && isInteger(lt) {
		if lit, ok := l.(*Literal); ok {
			if v, ok := lit.Value.(int64); ok {
				l, lt = &Literal{Typ: TypeBoolean, Value: v != 0}, TypeBoolean
			}
		}
	}
	t, ok := compareCommon(narrowFor(l, rt), narrowFor(r, lt))
	if !ok || isList(t) {
		return nil, b.errAt(off, "cannot compare %s with %s", TypeName(lt), TypeName(rt))
	}
	l, err := b.coerceTo(l, t, off)
	if err != nil {
		return nil, err
	}
	r, err = b.coerceTo(r, t, roff)
	if err != nil {
		return nil, err
	}
	return &Call{Func: f, Args: []Expr{l, r}, Typ: TypeBoolean}, nil
}

// arith types + - * / DIV %.
func (b *binder) arith(f, sym string, l, r Expr, off int) (Expr, error) {
	lt, rt := l.Type(), r.Type()
	if isNull(lt) && isNull(rt) {
		return &Literal{Typ: TypeNull}, nil
	}
	if e, ok := timeArith(f, l, r); ok {
		return e, nil
	}
	if isInterval(lt) || isInterval(rt) {
		return b.intervalArith(f, sym, l, r, off)
	}
	if isNull(lt) {
		lt = rt
	}
	if isNull(rt) {
		rt = lt
	}
	if !isNumeric(lt) || !isNumeric(rt) {
		return nil, b.errAt(off, "cannot apply %s to %s and %s", sym, TypeName(lt), TypeName(rt))
	}
	lt, rt = narrowFor(l, rt), narrowFor(r, lt)
	var argT, resT arrow.DataType
	switch f {
	case "div":
		argT, resT = TypeDouble, TypeDouble
	case "intdiv":
		argT, resT = TypeBigInt, TypeBigInt
		if !isInteger(lt) || !isInteger(rt) {
			argT = TypeDouble
		}
	default:
		argT = numericCommon(lt, rt)
		resT = argT
		if isDecimal(argT) {
			p, s := decimalOf(argT)
			switch f {
			case "add", "sub":
				resT = makeDecimal(p-s+1, s)
			case "mul":
				resT = makeDecimal(2*(p-s), 2*s)
			}
		} else if isInteger(argT) && f != "mod" {
			resT = TypeBigInt
			argT = TypeBigInt
		}
	}
	return &Call{Func: f, Args: []Expr{castTo(l, argT), castTo(r, argT)}, Typ: resT}, nil
}

func (b *binder) bindCase(x *ast.CaseExpr, ctx exprCtx, off int) (Expr, error) {
	var value Expr
	if x.Value != nil {
		v, err := b.bindExpr(x.Value, ctx, off)
		if err != nil {
			return nil, err
		}
		value = v
	}
	var conds, results []Expr
	for _, w := range x.WhenClauses {
		c, err := b.bindExpr(w.Expr, ctx, off)
		if err != nil {
			return nil, err
		}
		if value != nil {
			c, err = b.compare("eq", value, c, off)
		} else {
			c, err = b.boolean(c, off, "CASE WHEN")
		}
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(w.Result, ctx, off)
		if err != nil {
			return nil, err
		}
		conds, results = append(conds, c), append(results, r)
	}
	if x.ElseClause != nil {
		e, err := b.bindExpr(x.ElseClause, ctx, off)
		if err != nil {
			return nil, err
		}
		results = append(results, e)
	}
	results, t, err := b.unify(results, off, "CASE")
	if err != nil {
		return nil, err
	}
	args := make([]Expr, 0, len(conds)*2+1)
	for i := range conds {
		args = append(args, conds[i], results[i])
	}
	if x.ElseClause != nil {
		args = append(args, results[len(results)-1])
	}
	return &Call{Func: "case", Args: args, Typ: t}, nil
}

// castTarget is the target type of the CAST or CONVERT at off: sql/ read
// it with CREATE SOURCE's table of type names (Query.CastTypes).
func (b *binder) castTarget(off int) (arrow.DataType, error) {
	name, ok := b.q.CastTypes[off]
	if !ok {
		return nil, errors.New("CAST without a recorded target type")
	}
	return ParseType(name)
}

// bindListLiteral binds DuckDB's `[a, b, …]` as list_value(a, b, …).
func (b *binder) bindListLiteral(elems []ast.ExprNode, ctx exprCtx, off int) (Expr, error) {
	return b.bindFunc(&ast.FuncCallExpr{FnName: ast.NewCIStr("list_value"), Args: elems}, ctx, off)
}

// subscriptable reports whether n is an expression a subscript l[i] can
// follow in the text (a name, a call, a parenthesised expression, a list
// literal): the one node of those starting at the operand's offset.
func subscriptable(n ast.ExprNode) bool {
	switch n.(type) {
	case *ast.ColumnNameExpr, *ast.FuncCallExpr, *ast.AggregateFuncExpr, *ast.ParenthesesExpr,
		*ast.RowExpr, *ast.FuncCastExpr, *ast.SubqueryExpr, ast.ValueExpr:
		return true
	}
	return false
}

// bindSubscript binds n[i] as list_extract(n, i) and n[a:b] as
// list_slice(n, a, b) (a omitted: 1; b omitted: to the end), as DuckDB
// does, and a string's s[i] as its i-th character (substring(s, i, 1));
// errors point at the [.
func (b *binder) bindSubscript(n ast.ExprNode, s *sql.Subscript, ctx exprCtx, off int) (Expr, error) {
	if b.subscripting == nil {
		b.subscripting, b.subscriptsBound = map[ast.ExprNode]bool{}, map[int]bool{}
	}
	b.subscriptsBound[off] = true
	b.subscripting[n] = true
	defer delete(b.subscripting, n)
	l, err := b.bindExprAt(n, ctx, off)
	if err != nil {
		return nil, err
	}
	for ; s != nil && err == nil; s = s.Then { // l[1:2][1]
		l, err = b.subscriptOf(l, s, ctx, off)
	}
	return l, err
}

// subscriptOf is subscript s applied to the bound expression l.
func (b *binder) subscriptOf(l Expr, s *sql.Subscript, ctx exprCtx, off int) (Expr, error) {
	at := s.Pos
	str := isString(l.Type()) // 'abc'[2]: a character, 'abc'[1:2] characters, as DuckDB
	if !isList(l.Type()) && !str {
		return nil, sql.Errorf(sql.BindError, at, "a subscript [ ] needs a list or a string, got %s", TypeName(l.Type()))
	}
	bound := func(e ast.ExprNode, dflt int64) (Expr, error) {
		if e == nil {
			return &Literal{Typ: TypeBigInt, Value: dflt}, nil
		}
		v, err := b.bindExpr(e, ctx, off)
		if err != nil {
			return nil, err
		}
		if !isInteger(v.Type()) && !isNull(v.Type()) {
			return nil, sql.Errorf(sql.BindError, at, "a list index must be an integer, got %s", TypeName(v.Type()))
		}
		return castTo(v, TypeBigInt), nil
	}
	if !s.Slice {
		i, err := bound(s.Index, 0)
		if err != nil {
			return nil, err
		}
		if str {
			one := &Literal{Typ: TypeBigInt, Value: int64(1)}
			return &Call{Func: "substring", Args: []Expr{l, i, one}, Typ: TypeVarchar, Pos: at}, nil
		}
		return &Call{Func: "list_extract", Args: []Expr{l, i}, Typ: l.Type().(*arrow.ListType).Elem(), Pos: at}, nil
	}
	args := []Expr{l}
	lo, err := bound(s.Begin, 1)
	if err != nil {
		return nil, err
	}
	args = append(args, lo)
	if s.End != nil {
		hi, err := bound(s.End, 0)
		if err != nil {
			return nil, err
		}
		args = append(args, hi)
	}
	if str {
		return &Call{Func: "string_slice", Args: args, Typ: TypeVarchar, Pos: at}, nil
	}
	return &Call{Func: "list_slice", Args: args, Typ: l.Type(), Pos: at}, nil
}
