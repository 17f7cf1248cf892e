package planner

// NarrowJoins fuses into a batch hash join the column selection of the
// aggregate or projection right above it: the join's Output lists the
// columns of left ++ right that the operator above reads, so the join
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
		j, ok := x.Input.(*PhysHashJoin)
		if !ok || x.Mode != AggComplete {
			return p, nil
		}
		need := make([]bool, j.Out.Len())
		markColumns(need, x.Keys...)
		for _, a := range x.Aggs {
			if a.Arg != nil {
				markColumns(need, a.Arg)
			}
		}
		nj, m := narrowJoin(j, need)
		if nj == nil {
			return p, nil
		}
		c := *x
		c.Input = nj
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
		j, ok := x.Input.(*PhysHashJoin)
		if !ok {
			return p, nil
		}
		need := make([]bool, j.Out.Len())
		markColumns(need, x.Exprs...)
		nj, m := narrowJoin(j, need)
		if nj == nil {
			return p, nil
		}
		c := *x
		c.Input = nj
		c.Exprs = make([]Expr, len(x.Exprs))
		for i, e := range x.Exprs {
			c.Exprs[i] = remapColumns(e, m)
		}
		return &c, nil
	}
	return p, nil
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
