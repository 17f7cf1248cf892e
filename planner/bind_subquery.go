package planner

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
)

// Subqueries in expressions are decorrelated while binding: each becomes
// a LEFT join of the SELECT block it appears in with a plan that has at
// most one row per correlation key (a DISTINCT, or an aggregate grouped by
// the keys), and the expression reads the joined columns. No row of the
// block is lost or repeated, so the same rewrite serves WHERE, the select
// list and ORDER BY; and since the result is a plain join plus aggregates
// it runs wherever those run (streaming too, once joins stream).
//
//	x IN (SELECT y …)       LEFT JOIN (SELECT DISTINCT y, TRUE) ON x = y, and
//	                        for SQL's NULLs LEFT JOIN (SELECT COUNT(*), COUNT(y))
//	EXISTS (SELECT …)       LEFT JOIN (SELECT COUNT(*) FROM (… LIMIT 1))
//	(SELECT v …)            LEFT JOIN (SELECT COUNT(*) n, MIN(v) …) with n ≤ 1 checked
//
// A correlated subquery (its WHERE compares its own columns with the outer
// query's by equality) gets the compared expressions as grouping keys and
// the equalities as the join condition.

// subqueries collects the joins the subqueries of one SELECT block need,
// until the block applies them under the clause that used them.
type subqueries struct {
	pending []sqJoin
	// first is the offset of the first subquery attached, for errors.
	first int
}

// sqJoin is one pending LEFT join: right, on cond (over the block's
// columns then right's; nil joins the single row right has).
type sqJoin struct {
	right Plan
	cond  Expr
}

// apply joins the pending subqueries to p, the block's plan so far.
func (sq *subqueries) apply(p Plan) Plan {
	if sq == nil {
		return p
	}
	for _, j := range sq.pending {
		p = &Join{Left: p, Right: j.right, Type: LeftJoin, Cond: j.cond}
	}
	sq.pending = nil
	return p
}

// attach makes right a pending join of the block and returns the scope
// index of its first column. Its columns join the scope hidden, under
// names no query spells, so `*` and name resolution never see them.
func (b *binder) attach(ctx exprCtx, off int, right Plan, cond func(base int) Expr) int {
	base := len(ctx.sc.cols)
	for _, f := range right.Schema().Fields {
		name := f.Name
		if !strings.HasPrefix(name, "$") {
			name = "$" + name
		}
		ctx.sc.cols = append(ctx.sc.cols, scopeCol{name: name, typ: f.Type, hidden: true})
	}
	var c Expr
	if cond != nil {
		c = cond(base)
	}
	if len(ctx.sq.pending) == 0 {
		ctx.sq.first = off
	}
	ctx.sq.pending = append(ctx.sq.pending, sqJoin{right: right, cond: c})
	return base
}

// col is a reference to scope column i.
func (b *binder) col(ctx exprCtx, i int) *ColumnRef {
	c := ctx.sc.cols[i]
	return &ColumnRef{Index: i, Name: c.name, Typ: c.typ}
}

// subqueryStart finds where a subquery's text begins (TiDB keeps no
// offset for it): the first `(SELECT`, `(WITH`, `(VALUES` or `((` at or
// after off.
var subqueryStart = regexp.MustCompile(`(?i)\(\s*(select|with|values|table|\()\b?`)

// subqueryText is the subquery's text as written (shortened) and its offset.
func (b *binder) subqueryText(off int) (string, int) {
	text := b.q.SQL()
	if off < 0 || off > len(text) {
		off = 0
	}
	loc := subqueryStart.FindStringIndex(text[off:])
	if loc == nil {
		return "(subquery)", off
	}
	start := off + loc[0]
	depth, end := 0, len(text)
	var quote byte
	for i := start; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
		if depth == 0 {
			end = i + 1
			break
		}
	}
	s := text[start:end]
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…)"
	}
	return s, start
}

// bindSubquery binds a subquery expression: scalar, [NOT] EXISTS, [NOT] IN,
// and `= ANY` / `<> ALL` (IN and NOT IN).
func (b *binder) bindSubquery(n ast.ExprNode, ctx exprCtx, off int) (Expr, error) {
	if ctx.sq == nil {
		return nil, b.errAt(off, "a subquery is not supported here (only in WHERE, the select list and ORDER BY)")
	}
	switch x := n.(type) {
	case *ast.SubqueryExpr:
		return b.scalarSubquery(x.Query, ctx, off)
	case *ast.ExistsSubqueryExpr:
		sub, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, b.errAt(off, "EXISTS needs a subquery")
		}
		return b.existsSubquery(sub.Query, x.Not, ctx, off)
	case *ast.PatternInExpr:
		sub, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, b.errAt(off, "IN needs a subquery or a list")
		}
		return b.inSubquery(x.Expr, sub.Query, x.Not, ctx, off)
	case *ast.CompareSubqueryExpr:
		sub, ok := x.R.(*ast.SubqueryExpr)
		switch {
		case ok && x.Op == opcode.EQ && !x.All:
			return b.inSubquery(x.L, sub.Query, false, ctx, off)
		case ok && x.Op == opcode.NE && x.All:
			return b.inSubquery(x.L, sub.Query, true, ctx, off)
		}
		return nil, b.errAt(off, "comparisons with ANY, SOME or ALL are only supported as = ANY (IN) and <> ALL (NOT IN)")
	}
	return nil, b.errAt(off, "unsupported subquery %s", exprText(n))
}

// correlation is a correlated subquery's keys: the subquery rewritten to
// select its side of each correlating equality first, and the outer
// query's side of each, bound over the outer scope.
type correlation struct {
	sel   *ast.SelectStmt
	keys  []*ast.SelectField
	outer []Expr
}

// columnRefs collects the column names an expression mentions, not
// descending into nested subqueries (they resolve in their own scope).
type columnRefs struct{ cols []*ast.ColumnNameExpr }

func (c *columnRefs) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case *ast.ColumnNameExpr:
		c.cols = append(c.cols, x)
	}
	return n, false
}

func (c *columnRefs) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// andSplit splits nested ANDs (and parentheses around them).
func andSplit(n ast.ExprNode) []ast.ExprNode {
	switch x := n.(type) {
	case *ast.BinaryOperationExpr:
		if x.Op == opcode.LogicAnd {
			return append(andSplit(x.L), andSplit(x.R)...)
		}
	case *ast.ParenthesesExpr:
		if be, ok := x.Expr.(*ast.BinaryOperationExpr); ok && be.Op == opcode.LogicAnd {
			return andSplit(be)
		}
	}
	return []ast.ExprNode{n}
}

// andJoin is the AND of the terms, nil for none.
func andJoin(terms []ast.ExprNode) ast.ExprNode {
	var out ast.ExprNode
	for _, t := range terms {
		if out == nil {
			out = t
			continue
		}
		out = &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: out, R: t}
	}
	return out
}

// correlate finds how q refers to the outer scope. It returns nil when q
// is not correlated (bind it alone), and an error when it is correlated
// other than by equalities in its WHERE.
func (b *binder) correlate(q ast.ResultSetNode, ctx exprCtx, off int) (*correlation, error) {
	sel, ok := q.(*ast.SelectStmt)
	if !ok || sel.From == nil || sel.Where == nil || ctx.sc == nil || len(ctx.sc.cols) == 0 {
		return nil, nil
	}
	restore, err := b.withCTEs(sel.With)
	if err != nil {
		return nil, err
	}
	_, isc, err := b.bindFrom(sel.From.TableRefs)
	restore()
	if err != nil {
		return nil, nil // binding the subquery reports it
	}
	// side tells whether the columns of n are all the subquery's (1), all
	// the outer query's (2), mixed (3) or none (0).
	side := func(n ast.Node) (int, *ast.ColumnNameExpr) {
		var refs columnRefs
		n.Accept(&refs)
		s := 0
		var outerCol *ast.ColumnNameExpr
		for _, c := range refs.cols {
			if _, err := isc.resolve(c.Name.Table.O, c.Name.Name.O, posOf(b.q, 0)); err == nil {
				s |= 1
				continue
			}
			if _, err := ctx.sc.resolve(c.Name.Table.O, c.Name.Name.O, posOf(b.q, 0)); err == nil {
				s |= 2
				if outerCol == nil {
					outerCol = c
				}
				continue
			}
			s |= 1 // unknown: the subquery's binding reports it
		}
		return s, outerCol
	}
	corr := &correlation{}
	var rest []ast.ExprNode
	for _, t := range andSplit(sel.Where) {
		s, oc := side(t)
		if s&2 == 0 {
			rest = append(rest, t)
			continue
		}
		toff := offsetOf(t, offsetOf(oc, off))
		eq, isEq := t.(*ast.BinaryOperationExpr)
		if isEq && eq.Op == opcode.EQ {
			ls, _ := side(eq.L)
			rs, _ := side(eq.R)
			inner, outer := eq.L, eq.R
			if ls == 2 && rs == 1 {
				inner, outer, ls, rs = eq.R, eq.L, rs, ls
			}
			if ls == 1 && rs == 2 {
				o, err := b.bindExpr(outer, exprCtx{sc: ctx.sc, noAgg: "aggregate functions are not allowed in a subquery's correlation"}, toff)
				if err != nil {
					return nil, err
				}
				corr.outer = append(corr.outer, o)
				corr.keys = append(corr.keys, &ast.SelectField{Expr: inner, AsName: ast.NewCIStr(fmt.Sprintf("$key%d", len(corr.keys))), Offset: toff})
				continue
			}
		}
		return nil, b.errAt(toff, "a correlated subquery may only compare its columns with the outer query's by equality (inner = outer) in its WHERE, joined by AND: %s", exprText(t))
	}
	if len(corr.keys) == 0 {
		return nil, nil
	}
	for _, f := range sel.Fields.Fields {
		if f.Expr == nil {
			continue
		}
		if s, oc := side(f.Expr); s&2 != 0 {
			return nil, b.errAt(offsetOf(oc, f.Offset), "a correlated subquery may refer to the outer query's columns only in its WHERE (column %q)", oc.Name.Name.O)
		}
	}
	switch {
	case sel.GroupBy != nil:
		return nil, b.errAt(b.wordOff("group"), "a correlated subquery with GROUP BY is not supported")
	case sel.Having != nil:
		return nil, b.errAt(b.wordOff("having"), "a correlated subquery with HAVING is not supported")
	case sel.Limit != nil:
		return nil, b.errAt(b.wordOff("limit"), "a correlated subquery with LIMIT is not supported")
	}
	c := *sel
	c.Where = andJoin(rest)
	c.OrderBy = nil
	corr.sel = &c
	return corr, nil
}

// withFields returns the correlated subquery selecting its keys, then fs.
func (c *correlation) withFields(fs []*ast.SelectField) *ast.SelectStmt {
	s := *c.sel
	s.Fields = &ast.FieldList{Fields: append(append([]*ast.SelectField(nil), c.keys...), fs...)}
	return &s
}

// keyCond is the join condition outer key i = the right side's column
// base+i, for each key.
func (b *binder) keyCond(ctx exprCtx, c *correlation, base int, off int) (Expr, error) {
	if c == nil {
		return nil, nil
	}
	var conds []Expr
	for i, o := range c.outer {
		e, err := b.compare("eq", o, b.col(ctx, base+i), off)
		if err != nil {
			return nil, err
		}
		conds = append(conds, e)
	}
	return andAll(conds), nil
}

// keyRefs are references to the first n columns of p.
func keyRefs(p Plan, n int) []Expr {
	fs := p.Schema().Fields
	out := make([]Expr, n)
	for i := range out {
		out[i] = &ColumnRef{Index: i, Name: fs[i].Name, Typ: fs[i].Type}
	}
	return out
}

// withMarker projects p's columns plus a TRUE column: after a LEFT join,
// the marker is NULL exactly on the rows nothing matched.
func withMarker(p Plan) Plan {
	fs := p.Schema().Fields
	exprs := make([]Expr, 0, len(fs)+1)
	names := make([]string, 0, len(fs)+1)
	for i, f := range fs {
		exprs = append(exprs, &ColumnRef{Index: i, Name: f.Name, Typ: f.Type})
		names = append(names, f.Name)
	}
	exprs = append(exprs, &Literal{Typ: TypeBoolean, Value: true})
	return &Project{Input: p, Exprs: exprs, Names: append(names, "$matched")}
}

// oneColumn checks that a subquery used as a value selects one column.
func (b *binder) oneColumn(p Plan, skip int, what string, off int) error {
	if n := p.Schema().Len() - skip; n != 1 {
		text, at := b.subqueryText(off)
		return b.errAt(at, "%s %s selects %d columns, it must select one", what, text, n)
	}
	return nil
}

// existsSubquery binds [NOT] EXISTS (q).
func (b *binder) existsSubquery(q ast.ResultSetNode, not bool, ctx exprCtx, off int) (Expr, error) {
	corr, err := b.correlate(q, ctx, off)
	if err != nil {
		return nil, err
	}
	if corr == nil {
		p, _, err := b.bindQuery(q)
		if err != nil {
			return nil, err
		}
		// One row: how many rows the subquery has, up to one.
		agg := &Aggregate{Input: &Limit{Input: p, Limit: 1}, Aggs: []AggCall{{Func: "count_star", Typ: TypeBigInt}}, KeyNames: []string{}}
		base := b.attach(ctx, off, agg, nil)
		f := "gt"
		if not {
			f = "eq"
		}
		return &Call{Func: f, Typ: TypeBoolean, Args: []Expr{b.col(ctx, base), &Literal{Typ: TypeBigInt, Value: int64(0)}}}, nil
	}
	if hasAggregateAST(corr.sel.Fields) {
		return nil, b.errAt(off, "EXISTS over a correlated aggregating subquery is not supported (it always has one row)")
	}
	s := corr.withFields(nil)
	s.Distinct = true
	p, _, err := b.bindQuery(s)
	if err != nil {
		return nil, err
	}
	right := withMarker(p)
	var cerr error
	base := b.attach(ctx, off, right, func(base int) Expr {
		c, err := b.keyCond(ctx, corr, base, off)
		cerr = err
		return c
	})
	if cerr != nil {
		return nil, cerr
	}
	f := "is_not_null"
	if not {
		f = "is_null"
	}
	return &Call{Func: f, Typ: TypeBoolean, Args: []Expr{b.col(ctx, base+len(corr.keys))}}, nil
}

// inSubquery binds x [NOT] IN (q) with SQL's NULLs: TRUE on a match;
// else FALSE when q is empty; else NULL when x is NULL or q has a NULL;
// else FALSE.
func (b *binder) inSubquery(xn ast.ExprNode, q ast.ResultSetNode, not bool, ctx exprCtx, off int) (Expr, error) {
	truth := ctx.truth && !not
	ctx.truth = false
	x, err := b.bindExpr(xn, ctx, off)
	if err != nil {
		return nil, err
	}
	corr, err := b.correlate(q, ctx, off)
	if err != nil {
		return nil, err
	}
	var p Plan
	nk := 0
	if corr == nil {
		if p, _, err = b.bindQuery(q); err != nil {
			return nil, err
		}
	} else {
		nk = len(corr.keys)
		if p, _, err = b.bindQuery(corr.withFields(corr.sel.Fields.Fields)); err != nil {
			return nil, err
		}
	}
	if err := b.oneColumn(p, nk, "IN subquery", off); err != nil {
		return nil, err
	}
	yf := p.Schema().Fields[nk]
	yt := yf.Type
	var cerr error
	m := b.attach(ctx, off, withMarker(&Distinct{Input: p}), func(base int) Expr {
		c, err := b.keyCond(ctx, corr, base, off)
		if err != nil {
			cerr = err
			return nil
		}
		eq, err := b.compare("eq", x, b.col(ctx, base+nk), off)
		if err != nil {
			cerr = err
			return nil
		}
		return andAll(append(conjuncts(c), eq))
	}) + nk + 1
	if cerr != nil {
		return nil, cerr
	}
	matched := &Call{Func: "is_not_null", Typ: TypeBoolean, Args: []Expr{b.col(ctx, m)}}
	if truth {
		// In a WHERE conjunct NULL and FALSE both drop the row.
		return matched, nil
	}
	var y Expr = &ColumnRef{Index: nk, Name: yf.Name, Typ: yt}
	if isNull(yt) {
		// An untyped NULL column has no validity bitmap, so COUNT would
		// count its rows as values: 1 NOT IN (SELECT NULL) is NULL.
		y = castTo(y, TypeBigInt)
	}
	stats := &Aggregate{Input: p, Keys: keyRefs(p, nk), KeyNames: make([]string, nk), Aggs: []AggCall{
		{Func: "count_star", Typ: TypeBigInt},
		{Func: "count", Arg: y, Typ: TypeBigInt},
	}}
	for i := range stats.KeyNames {
		stats.KeyNames[i] = fmt.Sprintf("$key%d", i)
	}
	s := b.attach(ctx, off, stats, func(base int) Expr {
		c, err := b.keyCond(ctx, corr, base, off)
		if err != nil {
			cerr = err
		}
		return c
	}) + nk
	if cerr != nil {
		return nil, cerr
	}
	zero := &Literal{Typ: TypeBigInt, Value: int64(0)}
	rows, nonNull := b.col(ctx, s), b.col(ctx, s+1)
	empty := &Call{Func: "eq", Typ: TypeBoolean, Args: []Expr{&Call{Func: "coalesce", Typ: TypeBigInt, Args: []Expr{rows, zero}}, zero}}
	unknown := &Call{Func: "or", Typ: TypeBoolean, Args: []Expr{
		&Call{Func: "is_null", Typ: TypeBoolean, Args: []Expr{x}},
		&Call{Func: "lt", Typ: TypeBoolean, Args: []Expr{nonNull, rows}},
	}}
	t, f := &Literal{Typ: TypeBoolean, Value: true}, &Literal{Typ: TypeBoolean, Value: false}
	var e Expr = &Call{Func: "case", Typ: TypeBoolean, Args: []Expr{matched, t, empty, f, unknown, &Literal{Typ: TypeBoolean}, f}}
	if not {
		e = &Call{Func: "not", Typ: TypeBoolean, Args: []Expr{e}}
	}
	return e, nil
}

// scalarSubquery binds (q) used as a value: NULL when q has no row, an
// error naming q when it has more than one (per outer row).
func (b *binder) scalarSubquery(q ast.ResultSetNode, ctx exprCtx, off int) (Expr, error) {
	corr, err := b.correlate(q, ctx, off)
	if err != nil {
		return nil, err
	}
	text, at := b.subqueryText(off)
	nk := 0
	var p Plan
	aggregating := false
	if corr == nil {
		if p, _, err = b.bindQuery(q); err != nil {
			return nil, err
		}
	} else {
		nk = len(corr.keys)
		s := corr.withFields(corr.sel.Fields.Fields)
		if aggregating = hasAggregateAST(corr.sel.Fields); aggregating {
			s.GroupBy = &ast.GroupByClause{}
			for _, k := range corr.keys {
				s.GroupBy.Items = append(s.GroupBy.Items, &ast.ByItem{Expr: k.Expr})
			}
		}
		if p, _, err = b.bindQuery(s); err != nil {
			return nil, err
		}
	}
	if err := b.oneColumn(p, nk, "scalar subquery", off); err != nil {
		return nil, err
	}
	vf := p.Schema().Fields[nk]
	vt := vf.Type
	right := p
	if !(aggregating && !corr.sel.Distinct) && !singleRow(p) {
		// Count the rows (per key) and keep the value; more than one row
		// fails the query.
		agg := &Aggregate{Input: p, Keys: keyRefs(p, nk), KeyNames: make([]string, nk), Aggs: []AggCall{
			{Func: "count_star", Typ: TypeBigInt},
			{Func: "min", Arg: &ColumnRef{Index: nk, Name: vf.Name, Typ: vt}, Typ: vt},
		}}
		for i := range agg.KeyNames {
			agg.KeyNames[i] = fmt.Sprintf("$key%d", i)
		}
		pos := posOf(b.q, at)
		msg := fmt.Sprintf("line %d:%d: scalar subquery %s returned more than one row", pos.Line, pos.Col, text)
		check := &Call{Func: "at_most_one", Typ: TypeBoolean, Args: []Expr{
			&ColumnRef{Index: nk, Name: "count(*)", Typ: TypeBigInt}, &Literal{Typ: TypeVarchar, Value: msg}}}
		out := append(keyRefs(agg, nk), &ColumnRef{Index: nk + 1, Name: vf.Name, Typ: vt})
		names := append(append([]string(nil), agg.KeyNames...), vf.Name)
		right = &Project{Input: &Filter{Input: agg, Pred: check}, Exprs: out, Names: names}
	}
	var cerr error
	base := b.attach(ctx, off, right, func(base int) Expr {
		c, err := b.keyCond(ctx, corr, base, off)
		cerr = err
		return c
	})
	if cerr != nil {
		return nil, cerr
	}
	v := b.col(ctx, base+nk)
	if !aggregating || nullOverNoRows(corr.sel.Fields) {
		return v, nil
	}
	// An aggregate over no rows still has a value (COUNT is 0): for an
	// outer row no key matched, the subquery's select list over no rows.
	e := *corr.sel
	e.Where = ast.NewValueExpr(int64(0), "", "")
	ep, _, err := b.bindQuery(&e)
	if err != nil {
		return nil, err
	}
	eb := b.attach(ctx, off, ep, nil)
	ev := b.col(ctx, eb)
	args, t, err := b.unify([]Expr{v, ev}, off, "scalar subquery")
	if err != nil {
		return nil, err
	}
	unmatched := &Call{Func: "is_null", Typ: TypeBoolean, Args: []Expr{b.col(ctx, base)}}
	return &Call{Func: "case", Typ: t, Args: []Expr{unmatched, args[1], args[0]}}, nil
}

// singleRow reports whether p has exactly one row whatever its input: an
// aggregate without keys, under row-preserving nodes.
func singleRow(p Plan) bool {
	for {
		switch x := p.(type) {
		case *Aggregate:
			return len(x.Keys) == 0
		case *Project:
			p = x.Input
		case *Sort:
			p = x.Input
		case *Values:
			return len(x.Rows) == 1
		default:
			return false
		}
	}
}

// hasAggregateAST reports whether the select list calls an aggregate
// (outside nested subqueries).
func hasAggregateAST(fl *ast.FieldList) bool {
	v := &aggFinder{}
	for _, f := range fl.Fields {
		if f.Expr != nil {
			f.Expr.Accept(v)
		}
	}
	return v.found
}

type aggFinder struct{ found bool }

func (a *aggFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case *ast.AggregateFuncExpr:
		a.found = true
		return n, true
	}
	return n, false
}

func (a *aggFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// nullOverNoRows reports whether a select list of aggregates is surely
// NULL over no rows: it calls only aggregates that are NULL then (SUM,
// MIN, …, not COUNT), under operators that keep a NULL (no functions,
// CASE or IS tests that could turn it into a value).
func nullOverNoRows(fl *ast.FieldList) bool {
	v := &nullFinder{ok: true}
	for _, f := range fl.Fields {
		if f.Expr != nil {
			f.Expr.Accept(v)
		}
	}
	return v.ok && v.aggs > 0
}

type nullFinder struct {
	ok   bool
	aggs int
}

func (v *nullFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.AggregateFuncExpr:
		switch strings.ToLower(x.F) {
		case "sum", "avg", "min", "max":
			v.aggs++
		default:
			v.ok = false
		}
		return n, true
	case *ast.FuncCallExpr, *ast.CaseExpr, *ast.IsNullExpr, *ast.IsTruthExpr, *ast.SubqueryExpr, *ast.FuncCastExpr:
		v.ok = false
		return n, true
	}
	return n, false
}

func (v *nullFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }
