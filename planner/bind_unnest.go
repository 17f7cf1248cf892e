package planner

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/sluicesql/sluice/sql"
)

// unnestCall names the placeholder of UNNEST(l) in a select list: a call
// whose one argument is the list, replaced by a column of an Unnest node
// under the select list's projection (lowerUnnests).
const unnestCall = "@unnest"

// bindUnnestCall binds UNNEST(l) in a select list (ctx.unnest) into its
// placeholder.
func (b *binder) bindUnnestCall(args []Expr, ctx exprCtx, off int) (Expr, error) {
	if !ctx.unnest {
		return nil, b.errAt(off, "UNNEST is allowed only in the select list and in FROM")
	}
	if len(args) != 1 {
		return nil, b.errAt(off, "UNNEST takes 1 argument(s), got %d", len(args))
	}
	if !isList(args[0].Type()) {
		return nil, b.errAt(off, "UNNEST needs a list, got %s", TypeName(args[0].Type()))
	}
	return &Call{Func: unnestCall, Args: args, Typ: args[0].Type().(*arrow.ListType).Elem()}, nil
}

// lowerUnnests puts the UNNEST calls of targets (select-list and ORDER BY
// expressions over p) into one Unnest node over p, which zips them as
// DuckDB zips several UNNESTs of one select list, and replaces each call
// by a reference to its element column.
func lowerUnnests(p Plan, targets []*Expr) (Plan, error) {
	width := p.Schema().Len()
	var lists []Expr
	var names []string
	for _, t := range targets {
		e, err := mapExpr(*t, func(x Expr) (Expr, error) {
			c, ok := x.(*Call)
			if !ok || c.Func != unnestCall {
				return x, nil
			}
			lists = append(lists, c.Args[0])
			names = append(names, "unnest"+itoa(len(lists)))
			return &ColumnRef{Index: width + len(lists) - 1, Name: names[len(names)-1], Typ: c.Typ}, nil
		})
		if err != nil {
			return nil, err
		}
		*t = e
	}
	if len(lists) == 0 {
		return p, nil
	}
	return &Unnest{Input: p, Lists: lists, Names: names}, nil
}

// unnestOf is the UNNEST item n stands for in FROM, or nil.
func (b *binder) unnestOf(n ast.ResultSetNode) *sql.UnnestItem {
	ts, ok := n.(*ast.TableSource)
	if !ok {
		return nil
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok || tn.Schema.O != "" {
		return nil
	}
	return b.q.Unnests[tn.Name.O]
}

// bindUnnestItem binds `UNNEST(expr) AS alias(column)` in FROM over in
// (the FROM items before it, whose columns expr may name: a lateral
// reference, as in FROM t, UNNEST(t.l); a one-row relation when it
// stands alone) into an Unnest node and its scope.
func (b *binder) bindUnnestItem(u *sql.UnnestItem, in Plan, insc *scope) (Plan, *scope, error) {
	e, err := b.bindExpr(u.Expr, exprCtx{sc: insc, noAgg: "aggregate functions are not allowed in FROM"}, offsetOf(u.Expr, 0))
	if err != nil {
		return nil, nil, err
	}
	if !isList(e.Type()) {
		return nil, nil, sql.Errorf(sql.BindError, u.Pos, "UNNEST needs a list, got %s", TypeName(e.Type()))
	}
	alias, col := u.Alias, u.Column
	if alias == "" {
		alias = "unnest"
	}
	if col == "" {
		col = "unnest"
	}
	p := &Unnest{Input: in, Lists: []Expr{e}, Names: []string{col}}
	sc := &scope{cols: append(append([]scopeCol(nil), insc.cols...), scopeCol{qual: alias, name: col, typ: e.Type().(*arrow.ListType).Elem()})}
	return p, sc, nil
}

// bindLateralUnnest binds the join `l, UNNEST(…)` / `l CROSS JOIN
// UNNEST(…)` / `l JOIN UNNEST(…) ON cond`: an Unnest over l (filtered by
// cond), the unnested rows being l's rows that many times; and `l LEFT
// JOIN UNNEST(…) ON TRUE`, an outer Unnest that keeps l's rows whose list
// is NULL or empty once, the element NULL (as DuckDB and PostgreSQL's
// LEFT JOIN LATERAL).
func (b *binder) bindLateralUnnest(j *ast.Join, u *sql.UnnestItem, l Plan, lsc *scope) (Plan, *scope, error) {
	if j.Tp == ast.RightJoin || b.q.FullJoins[j] || len(j.Using) > 0 || j.NaturalJoin {
		return nil, nil, sql.Errorf(sql.BindError, u.Pos, "UNNEST joins as CROSS JOIN UNNEST(…), , UNNEST(…) or LEFT JOIN UNNEST(…) ON TRUE (a right or full join, USING or NATURAL is not supported)")
	}
	left := j.Tp == ast.LeftJoin
	p, sc, err := b.bindUnnestItem(u, l, lsc)
	if err != nil {
		return nil, nil, err
	}
	if j.On == nil {
		if left {
			return nil, nil, sql.Errorf(sql.BindError, u.Pos, "LEFT JOIN UNNEST(…) needs ON TRUE")
		}
		return p, sc, nil
	}
	c, err := b.bindExpr(j.On.Expr, exprCtx{sc: sc, noAgg: "aggregate functions are not allowed in JOIN ON"}, 0)
	if err != nil {
		return nil, nil, err
	}
	if c, err = b.boolean(c, offsetOf(j.On.Expr, 0), "JOIN ON"); err != nil {
		return nil, nil, err
	}
	if left {
		if f, _, err := foldExpr(c); err == nil {
			c = f // ON 1 = 1
		}
		if lit, ok := c.(*Literal); !ok || lit.Value != true {
			return nil, nil, b.errAt(offsetOf(j.On.Expr, 0), "LEFT JOIN UNNEST(…) takes ON TRUE only, not ON %s (a condition on the elements would keep a row whose elements all fail it: filter the list instead)", c)
		}
		p.(*Unnest).Outer = true
		return p, sc, nil
	}
	return &Filter{Input: p, Pred: c}, sc, nil
}
