package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/sluicesql/sluice/sql"
)

// nameOff locates a table or column name in the query's text (the TiDB
// AST keeps no positions for table names): its first whole-word use after
// FROM, else the query's start.
func (b *binder) nameOff(name string) int {
	if off := textOffset(b.q, name, "from"); off >= 0 {
		return off
	}
	return 0
}

// tablePos is the position of nameOff(name).
func (b *binder) tablePos(name string) sql.Pos {
	return posOf(b.q, b.nameOff(name))
}

// bindFrom binds a FROM clause element into a plan and its scope.
func (b *binder) bindFrom(n ast.ResultSetNode) (Plan, *scope, error) {
	if err := b.enter(0); err != nil {
		return nil, nil, err
	}
	defer b.leave()
	switch x := n.(type) {
	case *ast.Join:
		if x.Right == nil {
			return b.bindFrom(x.Left)
		}
		return b.bindJoin(x)
	case *ast.TableSource:
		return b.bindTableSource(x)
	case *ast.SelectStmt, *ast.SetOprStmt:
		p, names, err := b.bindQuery(x)
		if err != nil {
			return nil, nil, err
		}
		return p, scopeFor("", p, names), nil
	}
	return nil, nil, b.errAt(b.nameOff("from"), "unsupported FROM item %s", exprText(n))
}

func scopeFor(qual string, p Plan, names []string) *scope {
	sch := p.Schema()
	sc := &scope{}
	for i, f := range sch.Fields {
		name := f.Name
		if names != nil {
			name = names[i]
		}
		sc.cols = append(sc.cols, scopeCol{qual: qual, name: name, typ: f.Type})
	}
	return sc
}

func (b *binder) bindTableSource(ts *ast.TableSource) (Plan, *scope, error) {
	alias := ts.AsName.O
	if st := b.systemTimeOf(ts); st != nil && !b.temporalRight {
		return nil, nil, sql.Errorf(sql.BindError, st.Pos, "FOR SYSTEM_TIME AS OF stands after the right input of a JOIN: FROM orders o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.currency = r.currency")
	}
	b.temporalRight = false
	var p Plan
	var sc *scope
	switch src := ts.Source.(type) {
	case *ast.TableName:
		if w := b.windowFor(src.Name.O); w != nil {
			var err error
			p, sc, err = b.bindWindow(w, alias)
			if err != nil {
				return nil, nil, err
			}
			break
		}
		if src.Schema.O != "" && !strings.EqualFold(src.Schema.O, "public") {
			// public is the one schema of user relations (as a Postgres
			// client names it); other schemas hold the system tables
			// (information_schema.tables, pg_catalog.pg_class).
			def, ok := b.cat.LookupSource(src.Schema.O + "." + src.Name.O)
			if !ok {
				return nil, nil, sql.Errorf(sql.BindError, b.tablePos(src.Schema.O), "unknown source %s.%s: a source is named without a schema, or as public.name", src.Schema.O, src.Name.O)
			}
			if alias == "" {
				alias = src.Name.O
			}
			p = newScan(def)
			sc = scopeFor(alias, p, nil)
			break
		}
		if u := b.q.Unnests[src.Name.O]; u != nil && src.Schema.O == "" {
			var err error
			if p, sc, err = b.bindUnnestItem(u, &Values{Rows: [][]Expr{{}}}, &scope{}); err != nil {
				return nil, nil, err
			}
			break
		}
		if vl, ok := b.q.Values[src.Name.O]; ok {
			var err error
			if p, sc, err = b.bindValuesList(vl, alias); err != nil {
				return nil, nil, err
			}
			break
		}
		if ft, ok := b.q.Files[src.Name.O]; ok {
			var err error
			if p, sc, err = b.bindFileTable(src.Name.O, ft, alias); err != nil {
				return nil, nil, err
			}
			break
		}
		if c := b.lookupCTE(src.Name.O); c != nil {
			if alias == "" {
				alias = src.Name.O
			}
			var err error
			if p, sc, err = b.bindCTE(c, alias); err != nil {
				return nil, nil, err
			}
			break
		}
		if v, ok := b.lookupView(src.Name.O); ok {
			var err error
			if p, sc, err = b.bindView(v, alias); err != nil {
				return nil, nil, err
			}
			break
		}
		def, ok := b.cat.LookupSource(src.Name.O)
		if !ok {
			var names []string
			for _, s := range b.cat.Sources() {
				names = append(names, s.Name)
			}
			return nil, nil, sql.Errorf(sql.BindError, b.tablePos(src.Name.O), "unknown source %q%s", src.Name.O, suggest(src.Name.O, names))
		}
		if alias == "" {
			alias = src.Name.O
		}
		scan := newScan(def)
		p = scan
		sc = scopeFor(alias, p, nil)
	case *ast.SelectStmt, *ast.SetOprStmt:
		q, names, err := b.bindQuery(src)
		if err != nil {
			return nil, nil, err
		}
		p = q
		sc = scopeFor(alias, p, names)
	default:
		return nil, nil, b.errAt(b.nameOff("from"), "unsupported FROM item %s", exprText(ts.Source))
	}
	if len(ts.ColumnNames) > 0 {
		if len(ts.ColumnNames) != len(sc.cols) {
			return nil, nil, sql.Errorf(sql.BindError, b.tablePos(alias), "%s has %d columns but %d names were given", alias, len(sc.cols), len(ts.ColumnNames))
		}
		for i, c := range ts.ColumnNames {
			sc.cols[i].name = c.O
		}
	}
	return p, sc, nil
}

func newScan(def *SourceDef) *Scan {
	cols := make([]int, def.Schema.NumFields())
	for i := range cols {
		cols[i] = i
	}
	et := -1
	if def.Watermark != nil {
		for i, f := range def.Schema.Fields() {
			if strings.EqualFold(f.Name, def.Watermark.Column) {
				et = i
			}
		}
	}
	return &Scan{Source: def.Name, SourceSchema: def.Schema, Columns: cols, EventTime: et, Bounded: def.Bounded, Morsels: def.Morsels, Changelog: def.Changelog, ChangelogKey: def.ChangelogKey}
}

// windowFor finds the window table function a placeholder name stands for.
func (b *binder) windowFor(name string) *sql.WindowTVF {
	if w, ok := b.q.Windows[name]; ok {
		return w
	}
	for k, w := range b.q.Windows {
		if strings.EqualFold(k, name) {
			return w
		}
	}
	return nil
}

// bindWindow binds TUMBLE/HOP/SESSION(source, col, …).
func (b *binder) bindWindow(w *sql.WindowTVF, alias string) (Plan, *scope, error) {
	var in Plan
	var sc *scope
	if c := b.lookupCTE(w.Table); c != nil {
		if alias == "" {
			alias = c.name
		}
		var err error
		if in, sc, err = b.bindCTE(c, alias); err != nil {
			return nil, nil, err
		}
	} else if v, ok := b.lookupView(w.Table); ok {
		var err error
		if in, sc, err = b.bindView(v, alias); err != nil {
			return nil, nil, err
		}
	} else {
		def, ok := b.cat.LookupSource(w.Table)
		if !ok {
			var names []string
			for _, s := range b.cat.Sources() {
				names = append(names, s.Name)
			}
			return nil, nil, sql.Errorf(sql.BindError, w.Pos, "unknown source %q%s", w.Table, suggest(w.Table, names))
		}
		if alias == "" {
			alias = def.Name
		}
		in = newScan(def)
		sc = scopeFor(alias, in, nil)
	}
	tc, err := sc.resolve("", w.TimeColumn, w.Pos)
	if err != nil {
		return nil, nil, err
	}
	if !arrowIsTimestamp(sc.cols[tc].typ) {
		return nil, nil, sql.Errorf(sql.BindError, w.Pos, "window time column %q must be a TIMESTAMP, not %s", w.TimeColumn, TypeName(sc.cols[tc].typ))
	}
	switch w.Kind {
	case sql.Tumble:
		if w.Size <= 0 {
			return nil, nil, sql.Errorf(sql.BindError, w.Pos, "TUMBLE size must be positive")
		}
	case sql.Hop:
		if w.Size <= 0 || w.Slide <= 0 {
			return nil, nil, sql.Errorf(sql.BindError, w.Pos, "HOP slide and size must be positive")
		}
	case sql.Session:
		if w.Gap <= 0 {
			return nil, nil, sql.Errorf(sql.BindError, w.Pos, "SESSION gap must be positive")
		}
		for _, k := range w.PartitionBy {
			if _, err := sc.resolve("", k, w.PartitionPos); err != nil {
				return nil, nil, err
			}
		}
		if w.PartitionBy != nil {
			b.sessionParts = append(b.sessionParts, w)
		}
	default:
		return nil, nil, sql.Errorf(sql.BindError, w.Pos, "unknown window kind %d", w.Kind)
	}
	p := &Window{Input: in, Kind: windowKindOf(w.Kind), TimeCol: tc, Size: w.Size, Slide: w.Slide, Gap: w.Gap}
	sc.cols = append(sc.cols,
		scopeCol{qual: alias, name: "window_start", typ: TypeTimestamp},
		scopeCol{qual: alias, name: "window_end", typ: TypeTimestamp})
	return p, sc, nil
}

// bindJoin binds `l JOIN r ON …`, USING, NATURAL, and comma joins.
func (b *binder) bindJoin(j *ast.Join) (Plan, *scope, error) {
	l, lsc, err := b.bindFrom(j.Left)
	if err != nil {
		return nil, nil, err
	}
	if u := b.unnestOf(j.Right); u != nil {
		return b.bindLateralUnnest(j, u, l, lsc)
	}
	b.temporalRight = b.systemTimeOf(j.Right) != nil
	r, rsc, err := b.bindFrom(j.Right)
	b.temporalRight = false
	if err != nil {
		return nil, nil, err
	}
	var temporal Expr
	var versionKeys []int
	if st := b.systemTimeOf(j.Right); st != nil {
		if r, rsc, temporal, versionKeys, err = b.temporalSide(st, r, rsc, lsc); err != nil {
			return nil, nil, err
		}
	}
	typ := InnerJoin
	switch j.Tp {
	case ast.LeftJoin:
		typ = LeftJoin
	case ast.RightJoin:
		typ = RightJoin
	}
	if b.q.FullJoins[j] {
		// The sql package hands FULL joins to TiDB as LEFT joins.
		typ = FullJoin
		if j.On == nil && len(j.Using) == 0 && !j.NaturalJoin {
			return nil, nil, b.errAt(b.nameOff("full"), "FULL JOIN needs an ON or USING condition")
		}
	}
	sc := &scope{cols: append(append([]scopeCol(nil), lsc.cols...), rsc.cols...)}
	nl := len(lsc.cols)
	var conds, merged []Expr
	var mergedNames []string
	using := j.Using
	if j.NaturalJoin {
		for _, lc := range lsc.cols {
			for _, rc := range rsc.cols {
				if !lc.hidden && !rc.hidden && strings.EqualFold(lc.name, rc.name) {
					using = append(using, &ast.ColumnName{Name: ast.NewCIStr(lc.name)})
				}
			}
		}
	}
	for _, u := range using {
		uoff := b.nameOff(u.Name.O)
		pos := posOf(b.q, uoff)
		li, err := lsc.resolve("", u.Name.O, pos)
		if err != nil {
			return nil, nil, err
		}
		ri, err := rsc.resolve("", u.Name.O, pos)
		if err != nil {
			return nil, nil, err
		}
		lref := &ColumnRef{Index: li, Name: lsc.cols[li].name, Typ: lsc.cols[li].typ}
		rref := &ColumnRef{Index: nl + ri, Name: rsc.cols[ri].name, Typ: rsc.cols[ri].typ}
		c, err := b.compare("eq", lref, rref, uoff)
		if err != nil {
			return nil, nil, err
		}
		conds = append(conds, c)
		switch typ {
		case RightJoin:
			sc.cols[li].hidden = true
		case FullJoin:
			// Either side may be NULL: the visible column is
			// COALESCE(left, right), added by a projection below.
			sc.cols[li].hidden, sc.cols[nl+ri].hidden = true, true
			args, t, err := b.unify([]Expr{lref, rref}, uoff, "USING")
			if err != nil {
				return nil, nil, err
			}
			merged = append(merged, &Call{Func: "coalesce", Args: args, Typ: t})
			mergedNames = append(mergedNames, lsc.cols[li].name)
		default:
			sc.cols[nl+ri].hidden = true
		}
	}
	if j.On != nil {
		c, err := b.bindExpr(j.On.Expr, exprCtx{sc: sc, noAgg: "aggregate functions are not allowed in JOIN ON"}, 0)
		if err != nil {
			return nil, nil, err
		}
		c, err = b.boolean(c, offsetOf(j.On.Expr, 0), "JOIN ON")
		if err != nil {
			return nil, nil, err
		}
		conds = append(conds, c)
	}
	if st := b.systemTimeOf(j.Right); st != nil {
		if err := b.checkTemporalJoin(st, typ, conds, nl, rsc, versionKeys); err != nil {
			return nil, nil, err
		}
	}
	if temporal != nil {
		conds = append(conds, temporal)
	}
	var p Plan = &Join{Left: l, Right: r, Type: typ, Cond: andAll(conds)}
	if len(merged) > 0 {
		p, sc = mergeUsing(p, sc, merged, mergedNames)
	}
	return p, sc, nil
}

// mergeUsing puts the merged USING columns of a FULL join first (as
// standard SQL orders them), followed by all the join's columns, which
// stay reachable by qualified name.
func mergeUsing(j Plan, sc *scope, merged []Expr, names []string) (Plan, *scope) {
	exprs := append([]Expr(nil), merged...)
	outNames := append([]string(nil), names...)
	nsc := &scope{}
	for i, e := range merged {
		nsc.cols = append(nsc.cols, scopeCol{name: names[i], typ: e.Type()})
	}
	for i, c := range sc.cols {
		exprs = append(exprs, &ColumnRef{Index: i, Name: c.name, Typ: c.typ})
		outNames = append(outNames, c.name)
		nsc.cols = append(nsc.cols, c)
	}
	return &Project{Input: j, Exprs: exprs, Names: outNames}, nsc
}
