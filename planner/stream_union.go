package planner

// liftWindow recognises an aggregate over a UNION ALL whose inputs each
// assign the same windows (equal TUMBLE/HOP/SESSION) on their own time
// column, grouped by the window bounds, and returns the equivalent
// aggregate over one window assignment above a union of the inputs' rows:
//
//	Aggregate(UNION ALL(Window(a), Window(b)))  ⇒  Aggregate(Window(UNION ALL(a', b')))
//
// where each a' projects its input's time column first and the other
// columns the union carries. Assigning windows commutes with UNION ALL
// when the windows are equal, and the window operator then assigns them
// itself and tracks each input's own watermark. Filters in an input move
// below its window when they read no window bound (assignment drops no
// row). ok is false when the plan has another shape; the aggregate then
// runs as a plain GROUP BY.
func liftWindow(agg *PhysHashAggregate) (*PhysHashAggregate, bool) {
	between, p := chainOf[*PhysProject](agg.Input) // top-down
	u, ok := p.(*PhysUnionAll)
	if !ok || len(u.Inputs) < 2 {
		return nil, false
	}
	// Per union column: 0 window_start, 1 window_end, 2 data.
	const start, end, data = 0, 1, 2
	ncol := u.Out.Len()
	kind := make([]int, ncol)
	type branch struct {
		w     *PhysWindow
		exprs []Expr // per union column, over w's output
		preds []Expr // over w's output
	}
	branches := make([]branch, len(u.Inputs))
	for bi, in := range u.Inputs {
		var b branch
		b.exprs = make([]Expr, ncol)
		for j := range b.exprs {
			f := in.Schema().Fields[j]
			b.exprs[j] = &ColumnRef{Index: j, Name: f.Name, Typ: f.Type}
		}
	walk:
		for n := in; ; {
			switch x := n.(type) {
			case *PhysProject:
				for j := range b.exprs {
					b.exprs[j] = substitute(b.exprs[j], x.Exprs)
				}
				for k := range b.preds {
					b.preds[k] = substitute(b.preds[k], x.Exprs)
				}
				n = x.Input
			case *PhysFilter:
				b.preds = append(b.preds, x.Pred)
				n = x.Input
			case *PhysWindow:
				b.w = x
				break walk
			default:
				return nil, false
			}
		}
		w0 := branches[0].w
		if bi > 0 && (b.w.Kind != w0.Kind || b.w.Size != w0.Size || b.w.Slide != w0.Slide || b.w.Gap != w0.Gap) {
			return nil, false
		}
		nin := b.w.Input.Schema().Len()
		for _, pr := range b.preds {
			if maxColumn(pr) >= nin {
				return nil, false
			}
		}
		for j, e := range b.exprs {
			k := data
			if c, ok := e.(*ColumnRef); ok && c.Index >= nin {
				k = c.Index - nin
			} else if maxColumn(e) >= nin {
				return nil, false
			}
			if bi > 0 && k != kind[j] {
				return nil, false
			}
			kind[j] = k
		}
		branches[bi] = b
	}
	// The aggregate must group by a window bound.
	grouped := false
	for _, k := range agg.Keys {
		for _, pr := range between {
			k = substitute(k, pr.Exprs)
		}
		if c, ok := k.(*ColumnRef); ok && kind[c.Index] != data {
			grouped = true
		}
	}
	if !grouped {
		return nil, false
	}

	// The new inputs: time column first, then the data columns.
	var dataCols []int
	for j, k := range kind {
		if k == data {
			dataCols = append(dataCols, j)
		}
	}
	nu := &PhysUnionAll{}
	for bi, b := range branches {
		var in PhysicalPlan = b.w.Input
		if len(b.preds) > 0 {
			in = &PhysFilter{Input: in, Pred: andAll(b.preds), Out: in.Schema()}
		}
		ts := in.Schema().Fields[b.w.TimeCol]
		exprs := []Expr{&ColumnRef{Index: b.w.TimeCol, Name: ts.Name, Typ: ts.Type}}
		names := []string{ts.Name}
		fields := []Field{ts}
		for _, j := range dataCols {
			f := u.Inputs[bi].Schema().Fields[j]
			exprs = append(exprs, b.exprs[j])
			names = append(names, f.Name)
			fields = append(fields, Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable})
		}
		pr := &PhysProject{Input: in, Exprs: exprs, Names: names, Out: newSchema(fields)}
		nu.Inputs = append(nu.Inputs, pr)
		if bi == 0 {
			nu.Out = newSchema(append([]Field(nil), fields...))
			nu.Out.EventTime = 0
		}
	}
	w0 := branches[0].w
	wfields := append(append([]Field(nil), nu.Out.Fields...), w0.Out.Fields[w0.Out.WindowStart], w0.Out.Fields[w0.Out.WindowEnd])
	nw := &PhysWindow{Input: nu, Kind: w0.Kind, TimeCol: 0, Size: w0.Size, Slide: w0.Slide, Gap: w0.Gap, Out: newSchema(wfields)}
	nw.Out.EventTime, nw.Out.WindowStart, nw.Out.WindowEnd = 0, len(wfields)-2, len(wfields)-1

	// Back to the union's columns above the window.
	exprs := make([]Expr, ncol)
	for j, k := range kind {
		f := u.Out.Fields[j]
		switch k {
		case data:
			at := 1
			for _, c := range dataCols {
				if c == j {
					break
				}
				at++
			}
			exprs[j] = &ColumnRef{Index: at, Name: f.Name, Typ: f.Type}
		default:
			exprs[j] = &ColumnRef{Index: nw.Out.WindowStart + k, Name: f.Name, Typ: f.Type}
		}
	}
	top := &PhysProject{Input: nw, Exprs: exprs, Names: u.Out.Names(), Out: newSchema(append([]Field(nil), u.Out.Fields...))}
	metaThroughExprs(nw.Out, top.Out, exprs)
	var cur PhysicalPlan = top
	for i := len(between) - 1; i >= 0; i-- {
		pr := between[i]
		np := &PhysProject{Input: cur, Exprs: pr.Exprs, Names: pr.Names, Out: newSchema(append([]Field(nil), pr.Out.Fields...))}
		metaThroughExprs(cur.Schema(), np.Out, pr.Exprs)
		cur = np
	}
	out := *agg
	out.Input = cur
	return &out, true
}
