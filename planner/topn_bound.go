package planner

// ScanBound marks a scan that reads the first sort key of a top-N above
// it: the top-N publishes its running cut-off on that key, and the scan
// may drop rows which sort strictly after it (exec.TopNBound).
type ScanBound struct {
	Column           int // in the scan's SourceSchema
	Desc, NullsFirst bool
}

// BoundTopNs links each top-N whose first sort key is a column read
// straight from a scan — through filters, projections that pass the
// column on, a Gather and the per-morsel top-N under it — to that scan
// (PhysTopN.Bound, PhysScan.Bound), so that rows which can no longer
// enter are dropped at the scan, before the other columns are decoded.
// Other plans are returned unchanged.
func BoundTopNs(p PhysicalPlan) (PhysicalPlan, error) {
	if t, ok := p.(*PhysTopN); ok && len(t.Keys) > 0 {
		if ref, ok := t.Keys[0].Expr.(*ColumnRef); ok {
			k := t.Keys[0]
			if in, ok := boundScan(t.Input, ref.Index, k); ok {
				c := *t
				c.Input, c.Bound = in, true
				return &c, nil
			}
		}
	}
	return withPhysicalChildren(p, BoundTopNs)
}

// boundScan rewrites the chain under a top-N down to the scan producing
// output column col, marking the scan and any per-morsel top-N on the
// same key; false when the column does not come straight from a scan.
func boundScan(p PhysicalPlan, col int, k SortKey) (PhysicalPlan, bool) {
	var in PhysicalPlan
	var ok bool
	switch n := p.(type) {
	case *PhysScan:
		if n.Changelog || col < 0 || col >= len(n.Columns) {
			return nil, false
		}
		c := *n
		c.Bound = &ScanBound{Column: n.Columns[col], Desc: k.Desc, NullsFirst: k.NullsFirst}
		return &c, true
	case *PhysFilter:
		if in, ok = boundScan(n.Input, col, k); ok {
			c := *n
			c.Input = in
			return &c, true
		}
	case *PhysProject:
		if col < 0 || col >= len(n.Exprs) {
			return nil, false
		}
		ref, isRef := n.Exprs[col].(*ColumnRef)
		if isRef {
			if in, ok = boundScan(n.Input, ref.Index, k); ok {
				c := *n
				c.Input = in
				return &c, true
			}
		}
	case *PhysGather:
		if in, ok = boundScan(n.Input, col, k); ok {
			c := *n
			c.Input = in
			return &c, true
		}
	case *PhysTopN:
		first, isRef := n.Keys[0].Expr.(*ColumnRef)
		if isRef && first.Index == col && n.Keys[0].Desc == k.Desc && n.Keys[0].NullsFirst == k.NullsFirst {
			if in, ok = boundScan(n.Input, col, k); ok {
				c := *n
				c.Input, c.Bound = in, true
				return &c, true
			}
		}
	}
	return nil, false
}
