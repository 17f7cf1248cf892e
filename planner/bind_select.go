package planner

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/sluicesql/sluice/sql"
)

func arrowIsTimestamp(t arrow.DataType) bool { return t.ID() == arrow.TIMESTAMP }

// bindQuery binds a SELECT or a set operation; names are the output column
// names (also in the plan's schema).
func (b *binder) bindQuery(n ast.Node) (Plan, []string, error) {
	if err := b.enter(0); err != nil {
		return nil, nil, err
	}
	defer b.leave()
	switch x := n.(type) {
	case *ast.SelectStmt:
		return b.bindSelect(x)
	case *ast.SetOprStmt:
		restore, err := b.withCTEs(x.With)
		if err != nil {
			return nil, nil, err
		}
		defer restore()
		p, names, err := b.bindSetOprList(x.SelectList)
		if err != nil {
			return nil, nil, err
		}
		return b.orderLimitOutput(p, names, x.OrderBy, x.Limit)
	case *ast.SetOprSelectList:
		p, names, err := b.bindSetOprList(x)
		if err != nil {
			return nil, nil, err
		}
		return b.orderLimitOutput(p, names, x.OrderBy, x.Limit)
	}
	return nil, nil, b.errAt(0, "unsupported query %s", exprText(n))
}

// wordOff locates the first whole-word use of a keyword in the query's
// text, else the query's start: for errors about clauses the TiDB AST
// keeps no position for.
func (b *binder) wordOff(word string) int {
	return max(0, textOffset(b.q, word, ""))
}

// bindSetOprList binds `a UNION [ALL] b …`: INTERSECT [ALL] binds tighter
// than UNION and EXCEPT (SQL, MySQL 8, Postgres, DuckDB; TiDB's parser
// leaves the list flat), which fold left to right: a UNION without ALL
// removes duplicates from everything to its left, as in MySQL.
func (b *binder) bindSetOprList(l *ast.SetOprSelectList) (Plan, []string, error) {
	restore, err := b.withCTEs(l.With)
	if err != nil {
		return nil, nil, err
	}
	defer restore()
	// The operands, each an intersection of selects, and the operator
	// before each (nil for the first).
	type term struct {
		op    *ast.SetOprType
		plan  Plan
		sch   *Schema // plan.Schema(), kept without rescanning every input
		names []string
		pos   []sql.Pos // where each column is written (see fieldPos)
	}
	var terms []term
	for i, s := range l.Selects {
		p, ns, err := b.bindQuery(s)
		if err != nil {
			return nil, nil, err
		}
		var op *ast.SetOprType
		switch x := s.(type) {
		case *ast.SelectStmt:
			op = x.AfterSetOperator
		case *ast.SetOprSelectList:
			op = x.AfterSetOperator
		}
		if i > 0 && op != nil && (*op == ast.Intersect || *op == ast.IntersectAll) {
			t := &terms[len(terms)-1]
			if t.plan, err = b.intersectExcept(t.plan, t.sch, p, t.names, *op, t.pos, b.fieldPos(s)); err != nil {
				return nil, nil, err
			}
			t.sch = t.plan.Schema()
			continue
		}
		if i > 0 && (op == nil || (*op != ast.Union && *op != ast.UnionAll && *op != ast.Except && *op != ast.ExceptAll)) {
			word := "union"
			if op != nil {
				word = strings.Fields(op.String())[0]
			}
			return nil, nil, b.errAt(b.wordOff(word), "%s is not supported (UNION, INTERSECT and EXCEPT, each with or without ALL, are)", strings.ToUpper(op.String()))
		}
		terms = append(terms, term{op: op, plan: p, sch: p.Schema(), names: ns, pos: b.fieldPos(s)})
	}
	acc, accSchema, names, accPos := terms[0].plan, terms[0].sch, terms[0].names, terms[0].pos
	for _, t := range terms[1:] {
		if *t.op == ast.Except || *t.op == ast.ExceptAll {
			if acc, err = b.intersectExcept(acc, accSchema, t.plan, names, *t.op, accPos, t.pos); err != nil {
				return nil, nil, err
			}
			accSchema = acc.Schema()
			continue
		}
		acc, accSchema, err = b.union(acc, accSchema, t.plan, accPos, t.pos)
		if err != nil {
			return nil, nil, err
		}
		if *t.op == ast.Union {
			acc = &Distinct{Input: acc}
			accSchema = acc.Schema()
		}
	}
	return acc, names, nil
}

// fieldPos is where each select item of s is written, or nil when s is
// not a SELECT of its own items (a *, VALUES): the casts a set operation
// adds to a side name the column there when a value does not convert.
func (b *binder) fieldPos(s ast.Node) []sql.Pos {
	switch x := s.(type) {
	case *ast.SetOprSelectList:
		if len(x.Selects) > 0 {
			return b.fieldPos(x.Selects[0])
		}
	case *ast.SelectStmt:
		if x.Fields == nil {
			return nil
		}
		pos := make([]sql.Pos, len(x.Fields.Fields))
		for i, f := range x.Fields.Fields {
			if f.WildCard != nil || f.Expr == nil {
				return nil
			}
			pos[i] = posOf(b.q, offsetOf(f.Expr, f.Offset))
		}
		return pos
	}
	return nil
}

// union makes both sides' column types equal, casting where needed; ls
// is l's schema and the result's schema is returned with it: computing a
// union's schema visits every input, which made binding a chain of
// 5,000 UNIONs quadratic. lpos and rpos place the sides' columns
// (fieldPos), for the casts' runtime errors.
func (b *binder) union(l Plan, ls *Schema, r Plan, lpos, rpos []sql.Pos) (Plan, *Schema, error) {
	rs := r.Schema()
	if ls.Len() != rs.Len() {
		return nil, nil, b.errAt(b.wordOff("union"), "UNION sides have %d and %d columns", ls.Len(), rs.Len())
	}
	types := make([]arrow.DataType, ls.Len())
	for i := range types {
		t, ok := setOpCommon(ls.Fields[i].Type, rs.Fields[i].Type)
		if !ok {
			return nil, nil, b.errAt(b.wordOff("union"), "UNION column %d mixes %s and %s", i+1, TypeName(ls.Fields[i].Type), TypeName(rs.Fields[i].Type))
		}
		types[i] = t
	}
	cast := func(p Plan, s *Schema, pos []sql.Pos) Plan {
		need := false
		exprs := make([]Expr, s.Len())
		for i, f := range s.Fields {
			exprs[i] = castTo(&ColumnRef{Index: i, Name: f.Name, Typ: f.Type}, types[i])
			if c, ok := exprs[i].(*Call); ok && i < len(pos) {
				c.Pos = pos[i]
			}
			need = need || !arrow.TypeEqual(f.Type, types[i])
		}
		if !need {
			return p
		}
		return &Project{Input: p, Exprs: exprs, Names: s.Names()}
	}
	inputs := []Plan{cast(l, ls, lpos), cast(r, rs, rpos)}
	first := ls
	if inputs[0] != l {
		first = inputs[0].Schema()
	}
	if u, ok := inputs[0].(*Union); ok {
		inputs = append(append([]Plan(nil), u.Inputs...), inputs[1])
	}
	// As Union.Schema: the first input's fields, nullable where any is.
	fs := append([]Field(nil), first.Fields...)
	for i, f := range inputs[len(inputs)-1].Schema().Fields {
		fs[i].Nullable = fs[i].Nullable || f.Nullable
	}
	return &Union{Inputs: inputs}, newSchema(fs), nil
}

// orderLimitOutput applies a set operation's ORDER BY (output names,
// ordinals or expressions over the output) and LIMIT.
func (b *binder) orderLimitOutput(p Plan, names []string, ob *ast.OrderByClause, lim *ast.Limit) (Plan, []string, error) {
	if ob != nil {
		sc := scopeFor("", p, names)
		var keys []SortKey
		for _, it := range ob.Items {
			var e Expr
			if pe, ok := it.Expr.(*ast.PositionExpr); ok {
				if pe.N < 1 || pe.N > len(names) {
					return nil, nil, b.errAt(b.ordinalOff(pe.N, "order"), "ORDER BY position %d is not in the select list", pe.N)
				}
				f := p.Schema().Fields[pe.N-1]
				e = &ColumnRef{Index: pe.N - 1, Name: f.Name, Typ: f.Type}
			} else {
				var err error
				e, err = b.bindExpr(it.Expr, exprCtx{sc: sc, noAgg: "aggregate functions are not allowed in ORDER BY of a UNION"}, 0)
				if err != nil {
					return nil, nil, err
				}
			}
			keys = append(keys, SortKey{Expr: e, Desc: it.Desc, NullsFirst: !it.Desc})
		}
		p = &Sort{Input: p, Keys: keys}
	}
	p, err := b.limit(p, lim)
	return p, names, err
}

func (b *binder) limit(p Plan, lim *ast.Limit) (Plan, error) {
	if lim == nil {
		return p, nil
	}
	num := func(e ast.ExprNode) (int64, error) {
		if e == nil {
			return 0, nil
		}
		v, ok := e.(ast.ValueExpr)
		if ok {
			switch x := v.GetValue().(type) {
			case uint64:
				return int64(x), nil
			case int64:
				if x >= 0 {
					return x, nil
				}
			}
		}
		return 0, b.errAt(offsetOf(e, 0), "LIMIT and OFFSET need non-negative integer constants")
	}
	n, err := num(lim.Count)
	if err != nil {
		return nil, err
	}
	if lim.Count == nil {
		n = -1
	}
	off, err := num(lim.Offset)
	if err != nil {
		return nil, err
	}
	return &Limit{Input: p, Limit: n, Offset: off}, nil
}

// selectItem is one output column of a SELECT being bound.
type selectItem struct {
	expr Expr // bound over the FROM scope (aggregates as placeholders)
	name string
	off  int
}

// bindSelect binds one SELECT block: FROM → WHERE → GROUP BY/aggregates →
// HAVING → select list (+ hidden ORDER BY columns) → DISTINCT → ORDER BY →
// LIMIT → drop hidden columns.
func (b *binder) bindSelect(s *ast.SelectStmt) (Plan, []string, error) {
	restore, err := b.withCTEs(s.With)
	if err != nil {
		return nil, nil, err
	}
	defer restore()
	if s.Kind != ast.SelectStmtKindSelect {
		return nil, nil, b.errAt(0, "only SELECT queries are supported here")
	}
	ws := &winScope{}
	for i := range s.WindowSpecs {
		ws.named = append(ws.named, &s.WindowSpecs[i])
	}
	outerParts := b.sessionParts
	b.sessionParts = nil
	defer func() { b.sessionParts = outerParts }()
	var p Plan
	sc := &scope{}
	if s.From == nil {
		p = &Values{Rows: [][]Expr{{}}}
	} else {
		var err error
		if p, sc, err = b.bindFrom(s.From.TableRefs); err != nil {
			return nil, nil, err
		}
	}
	sq := &subqueries{}
	if s.Where != nil {
		w, err := b.bindExpr(s.Where, exprCtx{sc: sc, noAgg: "aggregate functions are not allowed in WHERE", sq: sq, truth: true}, 0)
		if err != nil {
			return nil, nil, err
		}
		if w, err = b.boolean(w, offsetOf(s.Where, 0), "WHERE"); err != nil {
			return nil, nil, err
		}
		p = &Filter{Input: sq.apply(p), Pred: w}
	}
	whereCols := len(sc.cols)

	// Select list.
	ctx := exprCtx{sc: sc, sq: sq, win: ws, unnest: true}
	aliasCtx := exprCtx{sc: sc, aliases: map[string]Expr{}, sq: sq, win: ws}
	var items []selectItem
	for _, f := range s.Fields.Fields {
		if f.WildCard != nil {
			qual := f.WildCard.Table.O
			n := 0
			for i, c := range sc.cols {
				if c.hidden || (qual != "" && !strings.EqualFold(c.qual, qual)) {
					continue
				}
				ref := &ColumnRef{Index: i, Name: c.name, Typ: c.typ}
				b.pos[ref] = f.Offset
				items = append(items, selectItem{expr: ref, name: c.name, off: f.Offset})
				n++
			}
			if n == 0 {
				if qual != "" {
					return nil, nil, b.errAt(f.Offset, "unknown table %q in %s.*", qual, qual)
				}
				return nil, nil, b.errAt(f.Offset, "SELECT * needs a FROM clause")
			}
			continue
		}
		e, err := b.bindExpr(f.Expr, ctx, f.Offset)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, selectItem{expr: e, name: b.fieldName(f), off: f.Offset})
		if _, dup := aliasCtx.aliases[f.AsName.L]; f.AsName.L != "" && !dup {
			aliasCtx.aliases[f.AsName.L] = e
		}
	}

	// GROUP BY keys, bound over the FROM scope.
	var keys []Expr
	if s.GroupBy != nil {
		if s.GroupBy.Rollup {
			return nil, nil, b.errAt(b.wordOff("rollup"), "WITH ROLLUP is not supported")
		}
		if b.isByAll(s.GroupBy.Items) {
			keys = groupByAll(items)
		}
		for _, it := range s.GroupBy.Items {
			if b.isByAll(s.GroupBy.Items) {
				break
			}
			k, err := b.groupKey(it.Expr, items, sc)
			if err != nil {
				return nil, nil, err
			}
			dup := false
			for _, o := range keys {
				dup = dup || exprKey(o) == exprKey(k)
			}
			if !dup {
				keys = append(keys, k)
			}
		}
	}
	if err := b.checkSessionParts(keys, s.GroupBy != nil); err != nil {
		return nil, nil, err
	}
	var having Expr
	if s.Having != nil {
		hctx := aliasCtx
		hctx.win = nil
		h, err := b.bindExpr(s.Having.Expr, hctx, 0)
		if err != nil {
			return nil, nil, err
		}
		if hasWin(h) {
			return nil, nil, b.errAt(offsetOf(s.Having.Expr, 0), "window functions are not allowed in HAVING")
		}
		if having, err = b.boolean(h, offsetOf(s.Having.Expr, 0), "HAVING"); err != nil {
			return nil, nil, err
		}
	}

	// ORDER BY items: an output column, or an expression bound over FROM.
	type orderItem struct {
		out  int // index into items, or -1
		expr Expr
		desc bool
		off  int
	}
	var orders []orderItem
	if s.OrderBy != nil && b.isByAll(s.OrderBy.Items) {
		for i := range items {
			orders = append(orders, orderItem{out: i, desc: s.OrderBy.Items[0].Desc, off: items[i].off})
		}
	} else if s.OrderBy != nil {
		for _, it := range s.OrderBy.Items {
			off := offsetOf(it.Expr, 0)
			o := orderItem{out: -1, desc: it.Desc, off: off}
			switch x := it.Expr.(type) {
			case *ast.PositionExpr:
				if x.N < 1 || x.N > len(items) {
					off = b.ordinalOff(x.N, "order")
					return nil, nil, b.errAt(off, "ORDER BY position %d is not in the select list", x.N)
				}
				o.out = x.N - 1
			case *ast.ColumnNameExpr:
				if x.Name.Table.O == "" {
					o.out = findOutput(items, x.Name.Name.O)
				}
			}
			if o.out < 0 {
				e, err := b.bindExpr(it.Expr, aliasCtx, off)
				if err != nil {
					return nil, nil, err
				}
				for i, item := range items {
					if exprKey(item.expr) == exprKey(e) {
						o.out = i
						break
					}
				}
				o.expr = e
			}
			orders = append(orders, o)
		}
	}

	aggregating := s.GroupBy != nil || having != nil && hasAgg(having)
	for _, it := range items {
		aggregating = aggregating || hasAgg(it.expr)
	}
	for _, o := range orders {
		aggregating = aggregating || (o.expr != nil && o.out < 0 && hasAgg(o.expr))
	}
	if having != nil && !aggregating {
		aggregating = true // HAVING without GROUP BY: one group
	}

	if aggregating && len(sc.cols) > whereCols {
		return nil, nil, b.errAt(sq.first, "a subquery in the select list, HAVING or ORDER BY of an aggregating query is not supported (use it in WHERE, or aggregate in a subquery in FROM)")
	}
	p = sq.apply(p)
	if aggregating {
		ag := &aggRewriter{b: b, keys: keys}
		for i := range items {
			e, err := ag.rewrite(items[i].expr)
			if err != nil {
				return nil, nil, err
			}
			items[i].expr = e
		}
		if having != nil {
			h, err := ag.rewrite(having)
			if err != nil {
				return nil, nil, err
			}
			having = h
		}
		for i := range orders {
			if orders[i].out < 0 {
				e, err := ag.rewrite(orders[i].expr)
				if err != nil {
					return nil, nil, err
				}
				orders[i].expr = e
			}
		}
		keyNames := make([]string, len(keys))
		for i, k := range keys {
			keyNames[i] = k.String()
		}
		p = &Aggregate{Input: p, Keys: keys, KeyNames: keyNames, Aggs: ag.aggs}
		if having != nil {
			p = &Filter{Input: p, Pred: having}
		}
	}

	// Window functions run over the grouped rows, before DISTINCT, ORDER
	// BY and LIMIT.
	var targets []*Expr
	winNames := map[string]string{}
	for i := range items {
		targets = append(targets, &items[i].expr)
		if c, ok := items[i].expr.(*Call); ok && isWinPlaceholder(c) {
			winNames[c.Func] = items[i].name
		}
	}
	for i := range orders {
		if orders[i].out < 0 {
			targets = append(targets, &orders[i].expr)
		}
	}
	if p, err = b.lowerWindows(p, targets, winNames); err != nil {
		return nil, nil, err
	}
	if p, err = lowerUnnests(p, targets); err != nil {
		return nil, nil, err
	}

	// Project the select list plus hidden ORDER BY columns.
	exprs := make([]Expr, len(items))
	names := make([]string, len(items))
	for i, it := range items {
		exprs[i], names[i] = it.expr, it.name
	}
	var sortKeys []SortKey
	hidden := 0
	for _, o := range orders {
		idx := o.out
		if idx < 0 {
			if s.Distinct {
				return nil, nil, b.errAt(o.off, "ORDER BY expression %s must appear in the select list when DISTINCT is used", o.expr)
			}
			idx = len(exprs)
			exprs = append(exprs, o.expr)
			names = append(names, fmt.Sprintf("__order%d", hidden))
			hidden++
		}
		sortKeys = append(sortKeys, SortKey{
			Expr: &ColumnRef{Index: idx, Name: names[idx], Typ: exprs[idx].Type()},
			Desc: o.desc, NullsFirst: !o.desc,
		})
	}
	p = &Project{Input: p, Exprs: exprs, Names: names}
	if s.Distinct {
		p = &Distinct{Input: p}
	}
	if len(sortKeys) > 0 {
		p = &Sort{Input: p, Keys: sortKeys}
	}
	p, err = b.limit(p, s.Limit)
	if err != nil {
		return nil, nil, err
	}
	if hidden > 0 {
		out := make([]Expr, len(items))
		for i := range items {
			out[i] = &ColumnRef{Index: i, Name: names[i], Typ: exprs[i].Type()}
		}
		p = &Project{Input: p, Exprs: out, Names: names[:len(items)]}
	}
	return p, names[:len(items)], nil
}

// fieldName is the output name of a select field: its alias, the column
// name, or the expression text as written (MySQL's rule).
func (b *binder) fieldName(f *ast.SelectField) string {
	if f.AsName.O != "" {
		return f.AsName.O
	}
	if c, ok := f.Expr.(*ast.ColumnNameExpr); ok && b.q.Subscripts[offsetOf(c, -1)] == nil {
		return c.Name.Name.O
	}
	if t := strings.TrimSpace(f.Text()); t != "" {
		return b.asWritten(f.Offset, t)
	}
	return fmt.Sprintf("col%d", f.Offset)
}

// findOutput finds a select item by output name (an alias or a bare
// column), -1 if none or ambiguous.
func findOutput(items []selectItem, name string) int {
	found := -1
	for i, it := range items {
		if strings.EqualFold(it.name, name) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// groupKey binds a GROUP BY item: an ordinal, an input column, a select
// alias, or an expression over the input.
func (b *binder) groupKey(n ast.ExprNode, items []selectItem, sc *scope) (Expr, error) {
	off := offsetOf(n, 0)
	var k Expr
	switch x := n.(type) {
	case *ast.PositionExpr:
		if x.N < 1 || x.N > len(items) {
			off = b.ordinalOff(x.N, "group")
			return nil, b.errAt(off, "GROUP BY position %d is not in the select list", x.N)
		}
		k = items[x.N-1].expr
	case *ast.ColumnNameExpr:
		if _, err := sc.resolve(x.Name.Table.O, x.Name.Name.O, sql.Pos{}); err != nil && x.Name.Table.O == "" {
			if i := findOutput(items, x.Name.Name.O); i >= 0 {
				k = items[i].expr
			}
		}
	}
	if k == nil {
		var err error
		k, err = b.bindExpr(n, exprCtx{sc: sc, noAgg: "aggregate functions are not allowed in GROUP BY"}, off)
		if err != nil {
			return nil, err
		}
	}
	if hasAgg(k) {
		return nil, b.errAt(off, "aggregate functions are not allowed in GROUP BY")
	}
	if hasWin(k) {
		return nil, b.errAt(off, "window functions are not allowed in GROUP BY")
	}
	return k, nil
}

// aggRewriter rewrites expressions bound over the aggregate's input into
// expressions over its output (keys then aggregates).
type aggRewriter struct {
	b    *binder
	keys []Expr
	aggs []AggCall
}

func (a *aggRewriter) rewrite(e Expr) (Expr, error) {
	s := exprKey(e)
	for i, k := range a.keys {
		if exprKey(k) == s {
			return &ColumnRef{Index: i, Name: k.String(), Typ: k.Type()}, nil
		}
	}
	switch x := e.(type) {
	case *Literal:
		return x, nil
	case *ColumnRef:
		return nil, a.b.errAt(a.b.pos[x], "column %q must appear in the GROUP BY clause or be used in an aggregate function", x.Name)
	case *Call:
		if isAggPlaceholder(x) {
			ac := aggFromPlaceholder(x)
			ac.SQL = callText(a.b.q.SQL(), x.Pos.Offset-a.b.q.Position().Offset)
			for i, o := range a.aggs {
				if o.Func == ac.Func && o.Distinct == ac.Distinct && o.Params.String() == ac.Params.String() && (o.Arg == nil) == (ac.Arg == nil) && (o.Arg == nil || exprKey(o.Arg) == exprKey(ac.Arg)) {
					return &ColumnRef{Index: len(a.keys) + i, Name: o.String(), Typ: o.Typ}, nil
				}
			}
			a.aggs = append(a.aggs, ac)
			return &ColumnRef{Index: len(a.keys) + len(a.aggs) - 1, Name: ac.String(), Typ: ac.Typ}, nil
		}
		args := make([]Expr, len(x.Args))
		for i, arg := range x.Args {
			r, err := a.rewrite(arg)
			if err != nil {
				return nil, err
			}
			args[i] = r
		}
		return &Call{Func: x.Func, Args: args, Typ: x.Typ, Pos: x.Pos}, nil
	}
	return nil, fmt.Errorf("planner: unexpected bound expression %s", e)
}

// ordinalOff locates `ORDER BY 3` / `GROUP BY 3` in the text (TiDB keeps
// no position for ordinals).
func (b *binder) ordinalOff(n int, clause string) int {
	if off := textOffset(b.q, itoa(n), clause); off >= 0 {
		return off
	}
	return 0 // the query's start
}

// asWritten is the user's text for text, the TiDB parser's view of the
// query at off: the same but for the placeholders of CAST types and
// EXTRACT units and the blanked FILTER clauses (see sql.Query), which are
// put back.
func (b *binder) asWritten(off int, text string) string {
	src := b.q.SQL()
	if off < 0 || off+len(text) > len(src) {
		return text
	}
	within := func(k int) bool { return k >= off && k < off+len(text) }
	for k := range b.q.CastTypes {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	for k := range b.q.ExtractUnits {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	for k := range b.q.ListLits { // [a, b] reached TiDB as (a, b)
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	// INTERVAL '90' MINUTE reached TiDB as (0) padded with blanks, which
	// the field's text may have cut off at its end.
	end := off + len(text)
	for k, lit := range b.q.Intervals {
		if within(k) {
			end = max(end, k+lit.Len)
		}
	}
	if end > off+len(text) && end <= len(src) {
		return src[off:end]
	}
	for k := range b.q.Intervals {
		if within(k) {
			return src[off : off+len(text)]
		}
	}
	for k := range b.q.AggNames {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	for k := range b.q.AggDistinct {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	for k := range b.q.AggOrders {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	for k := range b.q.AggFilters {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	for k := range b.q.Subscripts {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	for k := range b.q.AggOvers {
		if within(k) {
			return src[off:trailingClauses(src, off+len(text))]
		}
	}
	return text
}

// isWordByte reports whether c can be part of an unquoted identifier.
func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// trailingClauses extends a field ending at end over the FILTER (…),
// WITHIN GROUP (…), subscript […] and OVER (…) / OVER w clauses after it, which are blank in the TiDB parser's
// text (and cut off when they end the field).
func trailingClauses(src string, end int) int {
	for {
		rest := src[end:]
		t := strings.TrimLeft(rest, " \t\r\n")
		var kw int
		switch {
		case strings.HasPrefix(t, "["): // a subscript l[i], blank in its text
			depth, i := 0, end+len(rest)-len(t)
			for ; i < len(src); i++ {
				if src[i] == '[' {
					depth++
				} else if src[i] == ']' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if i == len(src) {
				return end
			}
			end = i + 1
			continue
		case len(t) >= 6 && strings.EqualFold(t[:6], "FILTER"):
			kw = 6
		case len(t) >= 6 && strings.EqualFold(t[:6], "WITHIN"):
			kw = 6
		case len(t) > 4 && strings.EqualFold(t[:4], "OVER") && !isWordByte(t[4]):
			// OVER (…) or OVER w after an aggregate the TiDB parser
			// reads as a plain call: blank in its text.
			kw = 4
			if w := strings.TrimLeft(t[4:], " \t\r\n"); w != "" && w[0] != '(' {
				n := 0
				for n < len(w) && isWordByte(w[n]) {
					n++
				}
				return end + len(rest) - len(w) + n
			}
		default:
			return end
		}
		depth, i, closed := 0, end+len(rest)-len(t)+kw, false
		for ; i < len(src); i++ {
			if src[i] == '(' {
				depth++
			} else if src[i] == ')' {
				if depth--; depth == 0 {
					end, closed = i+1, true
					break
				}
			}
		}
		if !closed {
			return end
		}
	}
}

// callText is the call written at offset off of src, from its name to
// its closing parenthesis (`ANY_VALUE(s)`), or "" when off does not
// start one.
func callText(src string, off int) string {
	if off < 0 || off >= len(src) {
		return ""
	}
	open := strings.IndexByte(src[off:], '(')
	if open < 0 || strings.TrimSpace(src[off:off+open]) == "" || strings.ContainsAny(src[off:off+open], ",;)") {
		return ""
	}
	depth := 0
	for i := off + open; i < len(src); i++ {
		switch c := src[i]; c {
		case '\'', '"', '`':
			j := strings.IndexByte(src[i+1:], c)
			if j < 0 {
				return ""
			}
			i += j + 1
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return src[off : i+1]
			}
		}
	}
	return ""
}

// checkSessionParts holds Flink's `SESSION(TABLE t PARTITION BY k, …)`
// to what sluice computes: sessions kept apart by the GROUP BY keys other
// than window_start and window_end (keySessions). So those keys must be
// the PARTITION BY columns, no more and no fewer; a query that groups
// otherwise would get other sessions than in Flink and is refused.
func (b *binder) checkSessionParts(keys []Expr, grouped bool) error {
	for _, w := range b.sessionParts {
		if !grouped {
			return sql.Errorf(sql.BindError, w.PartitionPos, "SESSION with PARTITION BY needs a GROUP BY of its partition columns, window_start and window_end")
		}
		want := map[string]bool{}
		for _, k := range w.PartitionBy {
			want[strings.ToLower(k)] = true
		}
		got := map[string]bool{}
		for _, k := range keys {
			c, ok := k.(*ColumnRef)
			name := ""
			if ok {
				name = strings.ToLower(c.Name)
			}
			if name == "window_start" || name == "window_end" {
				continue
			}
			if !want[name] {
				return sql.Errorf(sql.BindError, w.PartitionPos, "SESSION's PARTITION BY (%s) must be the GROUP BY keys besides window_start and window_end, but the GROUP BY also has %s: sessions are kept apart by those keys", strings.Join(w.PartitionBy, ", "), k.String())
			}
			got[name] = true
		}
		for _, k := range w.PartitionBy {
			if !got[strings.ToLower(k)] {
				return sql.Errorf(sql.BindError, w.PartitionPos, "SESSION's PARTITION BY column %q must be a GROUP BY key: sessions are kept apart by the GROUP BY keys", k)
			}
		}
	}
	return nil
}
