package planner

// NarrowJoins fuses into a batch hash join the column selection of the
// aggregate or projection above it, directly or through filters: the
// join's Output lists the columns of left ++ right that the operator
// above and the filters between read, so the join
// gathers only those per matched pair (late materialisation: the join
// keys and every other column nobody reads are never copied), and the
// operator above reads the narrowed row. Streaming plans keep whole rows
// (the streaming join keeps its own state layout).
func NarrowJoins(p PhysicalPlan) (PhysicalPlan, error) {
	p, err := withPhysicalChildren(p, NarrowJoins)
	if err != nil {
		return nil, err
	}
	switch x := p.(type) {
	case *PhysHashAggregate:
		if x.Mode != AggComplete {
			return p, nil
		}
		in, m := narrowBelow(x.Input, func(need []bool) {
			markColumns(need, x.Keys...)
			for _, a := range x.Aggs {
				if a.Arg != nil {
					markColumns(need, a.Arg)
				}
			}
		})
		if in == nil {
			return p, nil
		}
		c := *x
		c.Input = in
		c.Keys = make([]Expr, len(x.Keys))
		for i, k := range x.Keys {
			c.Keys[i] = remapColumns(k, m)
		}
		c.Aggs = append([]AggCall(nil), x.Aggs...)
		for i := range c.Aggs {
			if c.Aggs[i].Arg != nil {
				c.Aggs[i].Arg = remapColumns(c.Aggs[i].Arg, m)
			}
		}
		return &c, nil
	case *PhysProject:
		in, m := narrowBelow(x.Input, func(need []bool) { markColumns(need, x.Exprs...) })
		if in == nil {
			return p, nil
		}
		c := *x
		c.Input = in
		c.Exprs = make([]Expr, len(x.Exprs))
		for i, e := range x.Exprs {
			c.Exprs[i] = remapColumns(e, m)
		}
		return &c, nil
	}
	return p, nil
}

// narrowBelow narrows the hash join at input, or under a chain of filters
// at input, to the columns mark sets plus those the filters read, and
// returns the new input (the filters rewritten over the narrowed join)
// and the map from the join's columns to the new ones; nil when there is
// no such join or nothing to narrow.
func narrowBelow(input PhysicalPlan, mark func(need []bool)) (PhysicalPlan, []int) {
	var filters []*PhysFilter
	n := input
	for {
		f, ok := n.(*PhysFilter)
		if !ok {
			break
		}
		filters = append(filters, f)
		n = f.Input
	}
	j, ok := n.(*PhysHashJoin)
	if !ok {
		return nil, nil
	}
	need := make([]bool, j.Out.Len())
	mark(need)
	for _, f := range filters {
		markColumns(need, f.Pred)
	}
	nj, m := narrowJoin(j, need)
	if nj == nil {
		return nil, nil
	}
	var in PhysicalPlan = nj
	for i := len(filters) - 1; i >= 0; i-- {
		c := *filters[i]
		c.Input, c.Pred, c.Out = in, remapColumns(filters[i].Pred, m), nj.Out
		in = &c
	}
	return in, m
}

// narrowJoin returns j outputting only the needed columns (at least one,
// so rows keep their count) and the map from j's columns to the new
// ones (-1: dropped); nil when every column is needed or j is narrowed
// already.
func narrowJoin(j *PhysHashJoin, need []bool) (*PhysHashJoin, []int) {
	if j.Output != nil {
		return nil, nil
	}
	var out []int
	m := make([]int, len(need))
	for i, n := range need {
		m[i] = -1
		if n {
			m[i] = len(out)
			out = append(out, i)
		}
	}
	if len(out) == len(need) {
		return nil, nil
	}
	if len(out) == 0 {
		out, m[0] = []int{0}, 0
	}
	fields := make([]Field, len(out))
	for i, c := range out {
		fields[i] = j.Out.Fields[c]
	}
	c := *j
	c.Output = out
	c.Out = newSchema(fields)
	return &c, m
}
