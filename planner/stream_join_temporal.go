package planner

import "fmt"

// JoinTemporal joins each stream row with the version of a versioned
// table valid at the row's event time (FOR SYSTEM_TIME AS OF o.ts); it
// emits a row once the table's watermark passes its time; append-only.
const JoinTemporal JoinStrategy = "temporal"

// versionsUnder finds the versioned table of a temporal join under p (the
// join's right input, through filters): the Analytic the binder added
// (see binder.temporalSide), and the filters above it, top-down.
func versionsUnder(p PhysicalPlan) (*PhysAnalytic, []*PhysFilter) {
	var filters []*PhysFilter
	for {
		switch x := p.(type) {
		case *PhysFilter:
			filters = append(filters, x)
			p = x.Input
		case *PhysAnalytic:
			n := x.Out.Len()
			if len(x.Funcs) == 1 && x.Funcs[0].Func == "lead" && x.Out.Fields[n-1].Name == ValidToColumn {
				return x, filters
			}
			return nil, nil
		default:
			return nil, nil
		}
	}
}

// temporal converts a temporal join (x, whose right input holds the
// versions a) into its streaming form. As of PROCTIME() the current
// versions are a lookup join's table, read once; as of the stream's
// event time it is a JoinTemporal.
func (sp *streamPlanner) temporal(x *PhysHashJoin, a *PhysAnalytic, filters []*PhysFilter) (PhysicalPlan, error) {
	nl := x.Left.Schema().Len()
	nr := a.Input.Schema().Len()
	vtCol := nl + nr // the join's ValidToColumn
	var lt = -1
	var rest []Expr
	vf := a.Order[0].Expr.(*ColumnRef).Index
	for _, c := range conjuncts(x.Residual) {
		if call, ok := c.(*Call); ok && call.Func == "le" && len(call.Args) == 2 && lt < 0 {
			a0, ok0 := call.Args[0].(*ColumnRef)
			a1, ok1 := call.Args[1].(*ColumnRef)
			if ok0 && ok1 && a0.Index == nl+vf && a1.Index < nl {
				lt = a1.Index
				continue
			}
		}
		if maxColumn(c) >= vtCol {
			continue
		}
		rest = append(rest, c)
	}
	src := scanUnder(a.Input)
	name := "the versioned table"
	if src != nil {
		name = src.Source
	}
	if lt < 0 {
		return sp.proctime(x, name)
	}
	if x.Type != InnerJoin && x.Type != LeftJoin {
		return nil, sp.fail("a temporal join is an INNER or LEFT join, got %s", x.Type)
	}
	for _, f := range filters {
		// A filter on the versions: part of the condition a version must
		// meet, as in the batch form where it filters the versions after
		// their validity is known.
		rest = append(rest, shiftColumns(f.Pred, nl))
	}
	l, err := sp.node(x.Left)
	if err != nil {
		return nil, err
	}
	r, err := sp.node(a.Input)
	if err != nil {
		return nil, err
	}
	if sp.si.Modes[l].Updating() {
		return nil, sp.fail("a temporal join's stream must be append-only: %s emits updates (join an append-only stream with FOR SYSTEM_TIME AS OF)", sourceName(x.Left))
	}
	// An updating versioned table is a changelog source keyed by its
	// primary key (upsert-json, debezium-json): its +I/+U rows are
	// versions, its -D rows end them (stream.TemporalSpec).
	rkeys, rvf := x.RightKeys, vf
	if sp.si.Modes[r].Updating() {
		rkeys = make([]Expr, len(x.RightKeys))
		for i, k := range x.RightKeys {
			rkeys[i] = sp.over(r, k)
		}
		rvf = vf + 1
	}
	lwm, rwm := sp.watermarkOf(scanUnder(x.Left)), sp.watermarkOf(src)
	ls, rs := l.Schema(), r.Schema()
	// A stream that is a join's output: its watermark is that join's
	// (marks), which only a temporal join's and an interval join's bound
	// its rows by (a temporal join emits in event-time order what the
	// watermarks let out, and judged its stream's rows late itself; an
	// interval join's output watermark is held back by its bounds).
	leftByMarks := false
	if countPhys(x.Left, func(p PhysicalPlan) bool { _, ok := p.(*PhysHashJoin); return ok }) > 0 {
		if lj := streamJoinUnder(l); (lj == nil || lj.Strategy != JoinTemporal) && !intervalOutput(l) {
			return nil, sp.fail("a temporal join's stream is a source's rows or a temporal or inner/left interval join's output in streaming mode yet, not another join's (its rows may lag the join's watermark): join the versioned table first")
		}
		if ls.EventTime != lt {
			return nil, sp.fail("FOR SYSTEM_TIME AS OF %s needs the stream's event time: the time column of the temporal join's stream", ls.Fields[lt].Name)
		}
		leftByMarks, lwm = true, &WatermarkDef{Column: ls.Fields[lt].Name}
	}
	if lwm == nil || ls.EventTime != lt {
		return nil, sp.fail("FOR SYSTEM_TIME AS OF %s needs the stream's watermark column: declare WATERMARK FOR %s on its source", ls.Fields[lt].Name, ls.Fields[lt].Name)
	}
	if rwm == nil || rs.EventTime != rvf {
		return nil, sp.fail("a temporal join needs %s's watermark column %s in its rows", name, a.Input.Schema().Fields[vf].Name)
	}
	if err := sp.oneLateJudge(&PhysStreamJoin{Left: l, Right: r}, "temporal join"); err != nil {
		return nil, err
	}
	// Every primary key column must be a join key: the version is the
	// key's.
	for _, p := range a.Partition {
		pc := p.(*ColumnRef).Index
		found := false
		for _, k := range x.RightKeys {
			if c, ok := k.(*ColumnRef); ok && c.Index == pc {
				found = true
			}
		}
		if !found {
			return nil, sp.fail("a temporal join joins on %s's primary key: add ON … = %s.%s", name, name, a.Input.Schema().Fields[pc].Name)
		}
	}
	fields := append([]Field(nil), x.Out.Fields[:nl+nr]...)
	out := newSchema(fields)
	out.EventTime = ls.EventTime
	j := &PhysStreamJoin{Left: l, Right: r, Type: x.Type, Strategy: JoinTemporal, LeftKeys: x.LeftKeys, RightKeys: rkeys,
		Residual: andAll(rest), LeftTime: lt, RightTime: rvf, LeftByMarks: leftByMarks, LeftEnd: -1, RightEnd: -1, LeftDelay: lwm.Delay, RightDelay: rwm.Delay, Out: out,
		Why: fmt.Sprintf("temporal join: each row of %s joins the version of %s valid at its %s (the greatest %s at or before it), emitted when %s's watermark passes it%s",
			sourceName(x.Left), name, ls.Fields[lt].Name, rs.Fields[rvf].Name, name, changelogWhy(sp.si.Modes[r].Updating())),
		State: StateBound{Bounded: true, Text: fmt.Sprintf("the rows waiting for %s's watermark and per key the versions from the latest before the watermarks", name)}}
	sp.setBound(j, j.State)
	sp.set(j, ChangelogMode{})
	// Back to the batch join's columns: ValidToColumn, which nothing
	// above reads, is NULL.
	exprs := make([]Expr, 0, nl+nr+1)
	for i, f := range fields {
		exprs = append(exprs, &ColumnRef{Index: i, Name: f.Name, Typ: f.Type})
	}
	vt := x.Out.Fields[vtCol]
	exprs = append(exprs, &Literal{Typ: vt.Type})
	proj := &PhysProject{Input: j, Exprs: exprs, Names: x.Out.Names(), Out: x.Out}
	return sp.set(proj, ChangelogMode{}), nil
}

// proctime converts a temporal join as of PROCTIME(): the versioned
// table's current versions (its batch form keeps the latest per key) are
// read once as a lookup join's table.
func (sp *streamPlanner) proctime(x *PhysHashJoin, name string) (PhysicalPlan, error) {
	if !allBounded(x.Right) {
		return nil, sp.fail("FOR SYSTEM_TIME AS OF PROCTIME() needs a bounded versioned table in streaming mode yet (it is read once, as a lookup join's table): %s does not end", name)
	}
	if x.Type != InnerJoin && x.Type != LeftJoin {
		return nil, sp.fail("a temporal join is an INNER or LEFT join, got %s", x.Type)
	}
	l, err := sp.node(x.Left)
	if err != nil {
		return nil, err
	}
	j := &PhysStreamJoin{Left: l, Right: x.Right, Type: x.Type, Strategy: JoinLookup, TableSide: 1, Residual: x.Residual,
		LeftKeys: make([]Expr, len(x.LeftKeys)), RightKeys: x.RightKeys, LeftTime: -1, RightTime: -1, LeftEnd: -1, RightEnd: -1,
		Why: fmt.Sprintf("processing-time temporal join: the current versions of %s (the latest per key) are read once and every row of %s joins them", name, sourceName(x.Left))}
	for i, k := range x.LeftKeys {
		j.LeftKeys[i] = sp.over(l, k)
	}
	mode := ChangelogMode{}
	if sp.si.Modes[l].Updating() {
		mode = ChangelogMode{Kind: Retract}
		j.Out = withOp(x.Out)
	} else {
		j.Out = x.Out
	}
	j.State = StateBound{Bounded: true, Text: "the current versions of " + name + ", read once"}
	sp.setBound(j, j.State)
	return sp.set(j, mode), nil
}

// sourceName names the source under p in messages.
func sourceName(p PhysicalPlan) string {
	if s := scanUnder(p); s != nil {
		return s.Source
	}
	return "the stream"
}

// changelogWhy is what EXPLAIN adds for a temporal join whose versioned
// table is a changelog.
func changelogWhy(updating bool) string {
	if !updating {
		return ""
	}
	return "; the table is a changelog: +I/+U rows are versions, a -D ends its key's versions"
}

// streamJoinUnder is the streaming join p reads, through projections
// and filters, or nil.
func streamJoinUnder(p PhysicalPlan) *PhysStreamJoin {
	j, _ := belowRowOps(p).(*PhysStreamJoin)
	return j
}

// belowRowOps is the first node under p's filters and projections: the
// operators that act on each row alone, so what the node below says of
// its rows (append-only, on time, bounded by a watermark) holds for p's.
func belowRowOps(p PhysicalPlan) PhysicalPlan {
	for {
		switch x := p.(type) {
		case *PhysFilter:
			p = x.Input
		case *PhysProject:
			p = x.Input
		default:
			return p
		}
	}
}

// VersionedTable names the source a temporal join's versioned side reads
// (a versioned view's underlying source), for messages; "" when none.
func (p *PhysStreamJoin) VersionedTable() string {
	if sc := scanUnder(p.Right); sc != nil {
		return sc.Source
	}
	return ""
}
