package planner

import "github.com/apache/arrow/go/v17/arrow"

// A lookup join's output carries no one source's rows: its stream rows
// arrive at the join above after the lookup, cut and merged by the
// lookup's instances, so a join over it could not judge them late
// against their source's watermark, and one over it with time bounds ran
// as a regular join keeping every row. When the join above bounds only
// the stream's columns, the lookup commutes with it: (S ⋈ T) ⋈ P equals
// (S ⋈ P) ⋈ T, so the interval join reads both sources directly and the
// lookup enriches its output.

// colOrigin is where a column of the rewritten join comes from: input
// side 's' (the lookup's stream), 't' (its table) or 'p' (the other
// input of the join above), column idx of that input.
type colOrigin struct {
	side byte
	idx  int
}

// lookupBelowInterval rewrites x = (S ⋈L T) ⋈J P, where L is a lookup
// of table T by stream S and J bounds the event times of S and P (both
// sources with a watermark), into (S ⋈J P) ⋈L T under a projection that
// restores x's columns, or returns nil when x has not that shape. The
// rewrite keeps the result: J reads no column of T, L preserves no row
// of T, and J preserves no row of P (an unmatched P row would lose the
// S row L drops).
func (sp *streamPlanner) lookupBelowInterval(x *PhysHashJoin) PhysicalPlan {
	if len(x.LeftKeys) == 0 {
		return nil
	}
	for s := range 2 { // s: the lookup join's side in x
		l, ok := []PhysicalPlan{x.Left, x.Right}[s].(*PhysHashJoin)
		if !ok || len(l.LeftKeys) == 0 || !preservesOnly(x.Type, s) {
			continue
		}
		p := []PhysicalPlan{x.Left, x.Right}[1-s]
		if !sp.watermarkedStream(p) {
			continue
		}
		for a := range 2 { // a: the stream's side in l
			st, tb := []PhysicalPlan{l.Left, l.Right}[a], []PhysicalPlan{l.Left, l.Right}[1-a]
			if !preservesOnly(l.Type, a) || !sp.watermarkedStream(st) || !allBounded(tb) || countPhys(tb, sp.watermarkedScan) > 0 {
				continue
			}
			if out := reorderLookup(x, l, s, a); out != nil {
				return out
			}
		}
	}
	return nil
}

// preservesOnly reports whether a join of type t preserves no row of
// input 1-side (inner, or outer on side only).
func preservesOnly(t JoinType, side int) bool {
	return t == InnerJoin || (t == LeftJoin && side == 0) || (t == RightJoin && side == 1)
}

// watermarkedStream reports whether p is, through filters and
// projections, a scan of an append-only source with a watermark whose
// column p keeps.
func (sp *streamPlanner) watermarkedStream(p PhysicalPlan) bool {
	if p.Schema().EventTime < 0 {
		return false
	}
	s, ok := belowRowOps(p).(*PhysScan)
	return ok && sp.watermarkedScan(s)
}

// watermarkedScan reports whether p is a scan of an append-only source
// with a watermark.
func (sp *streamPlanner) watermarkedScan(p PhysicalPlan) bool {
	sc, ok := p.(*PhysScan)
	return ok && !sc.Changelog && sp.watermarkOf(sc) != nil
}

// reorderLookup builds (S ⋈x P) ⋈l T for lookupBelowInterval: l is x's
// side s, S is l's side a. It returns nil when x reads a column of T or
// its time bounds are not both on S's and P's event times.
func reorderLookup(x, l *PhysHashJoin, s, a int) PhysicalPlan {
	st, tb := []PhysicalPlan{l.Left, l.Right}[a], []PhysicalPlan{l.Left, l.Right}[1-a]
	p := []PhysicalPlan{x.Left, x.Right}[1-s]
	nS, nT, nP := st.Schema().Len(), tb.Schema().Len(), p.Schema().Len()
	nL0 := l.Left.Schema().Len()
	// lfull is l's column (in l.Left ++ l.Right) by origin.
	lfull := func(f int) colOrigin {
		if (f < nL0) == (a == 0) {
			return colOrigin{'s', f - nL0*a}
		}
		return colOrigin{'t', f - nL0*(1-a)}
	}
	lvis := func(i int) colOrigin {
		if l.Output != nil {
			i = l.Output[i]
		}
		return lfull(i)
	}
	nLvis := l.Schema().Len()
	// xfull is x's column (in x.Left ++ x.Right) by origin.
	xfull := func(j int) colOrigin {
		if s == 0 {
			if j < nLvis {
				return lvis(j)
			}
			return colOrigin{'p', j - nLvis}
		}
		if j < nP {
			return colOrigin{'p', j}
		}
		return lvis(j - nP)
	}
	// The inner join: S and P, S on l's side of x.
	inL, inR := st, p
	if s == 1 {
		inL, inR = p, st
	}
	inPos := func(o colOrigin) int {
		switch {
		case o.side == 's' && s == 0, o.side == 'p' && s == 1:
			return o.idx
		case o.side == 's':
			return nP + o.idx
		case o.side == 'p':
			return nS + o.idx
		}
		return -1 // T: not in the inner join
	}
	nIn := nS + nP
	// outPos is the place of a column in the lookup join over it.
	outPos := func(o colOrigin) int {
		if o.side == 't' {
			if a == 0 {
				return nIn + o.idx
			}
			return o.idx
		}
		if a == 0 {
			return inPos(o)
		}
		return nT + inPos(o)
	}
	// In an inner lookup join, a table key column equals its stream key
	// column (same type) in every row: x may read either.
	sk, tk := l.LeftKeys, l.RightKeys
	if a == 1 {
		sk, tk = l.RightKeys, l.LeftKeys
	}
	alias := map[int]int{}
	for i := range sk {
		sc, ok1 := sk[i].(*ColumnRef)
		tc, ok2 := tk[i].(*ColumnRef)
		if l.Type == InnerJoin && ok1 && ok2 && arrow.TypeEqual(sc.Typ, tc.Typ) {
			alias[tc.Index] = sc.Index
		}
	}
	read := func(o colOrigin) colOrigin {
		if c, ok := alias[o.idx]; ok && o.side == 't' {
			return colOrigin{'s', c}
		}
		return o
	}
	lKeys, pKeys := x.LeftKeys, x.RightKeys
	if s == 1 {
		lKeys, pKeys = x.RightKeys, x.LeftKeys
	}
	// x's keys on l's side, over S's columns.
	sKeys, ok := remapOrigins(lKeys, nLvis, func(i int) colOrigin { return read(lvis(i)) }, func(o colOrigin) int {
		if o.side != 's' {
			return -1
		}
		return o.idx
	})
	if !ok {
		return nil
	}
	in := &PhysHashJoin{Left: inL, Right: inR, Type: x.Type}
	in.LeftKeys, in.RightKeys = sKeys, pKeys
	if s == 1 {
		in.LeftKeys, in.RightKeys = pKeys, sKeys
	}
	if x.Residual != nil {
		m, ok := originMap(x.Left.Schema().Len()+x.Right.Schema().Len(), func(j int) colOrigin { return read(xfull(j)) }, inPos)
		if !ok || !refsWithin(x.Residual, m) {
			return nil
		}
		in.Residual = remapColumns(x.Residual, m)
	}
	in.Out = joinSchema(inL.Schema(), inR.Schema(), x.Type)
	ls, rs := inL.Schema(), inR.Schema()
	lt, rt := ls.EventTime, rs.EventTime
	unit := timeUnit(ls.Fields[lt].Type)
	if u := timeUnit(rs.Fields[rt].Type); u > unit {
		unit = u
	}
	if _, _, haveLo, haveHi, _ := timeBounds(in.Residual, lt, ls.Len()+rt, unit); !haveLo || !haveHi {
		return nil
	}
	// The lookup join over it: the table on its side of l.
	sIdent := make([]int, nS)
	for k := range sIdent {
		sIdent[k] = inPos(colOrigin{'s', k})
	}
	out := &PhysHashJoin{Type: l.Type}
	if a == 0 {
		out.Left, out.Right = in, tb
		out.LeftKeys, out.RightKeys = remapAll(sk, sIdent), tk
	} else {
		out.Left, out.Right = tb, in
		out.LeftKeys, out.RightKeys = tk, remapAll(sk, sIdent)
	}
	if l.Residual != nil {
		m, _ := originMap(nL0+l.Right.Schema().Len(), lfull, outPos)
		out.Residual = remapColumns(l.Residual, m)
	}
	out.Out = joinSchema(out.Left.Schema(), out.Right.Schema(), l.Type)
	// x's columns, in x's order.
	exprs := make([]Expr, x.Out.Len())
	names := make([]string, x.Out.Len())
	for i, f := range x.Out.Fields {
		j := i
		if x.Output != nil {
			j = x.Output[i]
		}
		exprs[i] = &ColumnRef{Index: outPos(xfull(j)), Name: f.Name, Typ: f.Type}
		names[i] = f.Name
	}
	return &PhysProject{Input: out, Exprs: exprs, Names: names, Out: x.Out}
}

// originMap maps the n columns of a join (by origin) to their places
// through pos; ok is false when pos places none of them.
func originMap(n int, origin func(int) colOrigin, pos func(colOrigin) int) ([]int, bool) {
	m := make([]int, n)
	placed := false
	for i := range m {
		m[i] = pos(origin(i))
		placed = placed || m[i] >= 0
	}
	return m, placed
}

// remapOrigins remaps es (over n columns, each of origin origin) through
// pos; ok is false when an expression reads a column pos does not place.
func remapOrigins(es []Expr, n int, origin func(int) colOrigin, pos func(colOrigin) int) ([]Expr, bool) {
	m, _ := originMap(n, origin, pos)
	for _, e := range es {
		if !refsWithin(e, m) {
			return nil, false
		}
	}
	return remapAll(es, m), true
}

// refsWithin reports whether every column e reads has a place in m.
func refsWithin(e Expr, m []int) bool {
	ok := true
	_, _ = mapExpr(e, func(x Expr) (Expr, error) {
		if c, isCol := x.(*ColumnRef); isCol && (c.Index >= len(m) || m[c.Index] < 0) {
			ok = false
		}
		return x, nil
	})
	return ok
}

// remapAll remaps each of es through m.
func remapAll(es []Expr, m []int) []Expr {
	out := make([]Expr, len(es))
	for i, e := range es {
		out[i] = remapColumns(e, m)
	}
	return out
}
