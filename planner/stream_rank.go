package planner

import "fmt"

// PhysRankTopN is the streaming per-key top-N: `ROW_NUMBER() OVER
// (PARTITION BY Partition ORDER BY Keys) AS rn … WHERE rn <= Limit`
// (deduplication when Limit is 1). It keeps each key's rows like a
// top-N (the first Limit rows of an append-only input, every live row of
// a changelog) and emits a changelog of (input columns, rn): a row whose
// number changes is retracted and re-inserted with the new one.
type PhysRankTopN struct {
	Input PhysicalPlan
	// Partition and Keys are columns of Input (op included when it is a
	// changelog).
	Partition []Expr
	Keys      []SortKey
	Limit     int64
	// Func numbers the rows: row_number, rank or dense_rank (rank and
	// dense_rank keep every row numbered at most Limit, peers included).
	Func string
	// PerWindow: the input is a windowed aggregate emitting each window
	// once when it closes (EMIT FINAL) and Partition holds its window
	// bound, so every key's rows arrive together: the node emits each
	// key's top rows once (append-only, no op column) and keeps no state.
	PerWindow bool
	// Partitioned: the top-N has partition columns and keeps state, so
	// it runs as the session's parallelism of instances behind a hash
	// exchange on Partition, each numbering the rows of its keys with its
	// own checkpoint part; their changes are merged into one operator's
	// order (stream.ParallelRankTopN). Without PARTITION BY it runs as
	// one.
	Partitioned bool
	State       StateBound
	Out         *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysRankTopN) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysRankTopN) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysRankTopN) String() string {
	what := fmt.Sprintf("top %d", p.Limit)
	if p.Limit == 1 {
		what = "deduplicate, keep 1"
	}
	kind := "RankTopN"
	if p.PerWindow {
		kind += " (each window once)"
	}
	fn := p.Func
	if fn == "" {
		fn = "row_number"
	}
	if fn != "row_number" {
		what = fmt.Sprintf("%s <= %d", fn, p.Limit)
	}
	s := fmt.Sprintf("%s: %s per [%s] by %s, %s AS %s", kind, what, exprList(p.Partition), sortKeysString(p.Keys), fn, p.Out.Fields[len(p.Out.Fields)-1].Name)
	if p.Partitioned {
		s += " partitioned by keys"
	}
	return s
}

// rankLimit reads a conjunct `rn <= N`, `rn < N`, `rn = 1` (or mirrored)
// on column rn, returning the largest row number kept.
func rankLimit(c Expr, rn int) (int64, bool) {
	call, ok := c.(*Call)
	if !ok || len(call.Args) != 2 {
		return 0, false
	}
	f, a, b := call.Func, call.Args[0], call.Args[1]
	if _, ok := b.(*ColumnRef); ok {
		a, b = b, a
		f = map[string]string{"le": "ge", "lt": "gt", "ge": "le", "gt": "lt", "eq": "eq"}[f]
	}
	col, ok := a.(*ColumnRef)
	lit, ok2 := b.(*Literal)
	if !ok || !ok2 || col.Index != rn {
		return 0, false
	}
	v, ok := lit.Value.(int64)
	if !ok {
		return 0, false
	}
	switch f {
	case "le":
		return v, v >= 1
	case "lt":
		return v - 1, v > 1
	case "eq":
		return 1, v == 1
	}
	return 0, false
}

// ranksRows reports whether a computes a row number or rank, which a
// filter over it can make a per-key top-N (or is refused naming that
// form); a filter over other window functions (OVER aggregates) is a
// filter over their output.
func ranksRows(a *PhysAnalytic) bool {
	for _, f := range a.Funcs {
		switch f.Func {
		case "row_number", "rank", "dense_rank", "ntile", "percent_rank", "cume_dist":
			return true
		}
	}
	return false
}

// rankTopN converts a filter on the row number over an Analytic into the
// per-key top-N; other conjuncts stay as a filter above it.
func (sp *streamPlanner) rankTopN(f *PhysFilter, a *PhysAnalytic) (PhysicalPlan, error) {
	base := a.Input.Schema().Len()
	shape := "streaming window functions run as a per-key top-N only: SELECT … FROM (SELECT …, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn FROM s) WHERE rn <= N (or RANK(), DENSE_RANK())"
	if len(a.Funcs) != 1 || (a.Funcs[0].Func != "row_number" && a.Funcs[0].Func != "rank" && a.Funcs[0].Func != "dense_rank") {
		return nil, sp.fail("%s", shape)
	}
	limit, rest := int64(0), []Expr(nil)
	for _, c := range conjuncts(f.Pred) {
		if n, ok := rankLimit(c, base); ok && (limit == 0 || n < limit) {
			limit = n
			continue
		}
		rest = append(rest, c)
	}
	if limit == 0 || len(a.Order) == 0 {
		return nil, sp.fail("%s", shape)
	}
	in, err := sp.node(a.Input)
	if err != nil {
		return nil, err
	}
	n := &PhysRankTopN{Input: in, Limit: limit, Func: a.Funcs[0].Func, Out: withOp(a.Out)}
	for _, e := range a.Partition {
		if _, ok := e.(*ColumnRef); !ok {
			return nil, sp.fail("a streaming top-N partitions by columns only, got %s: compute it in a subquery", e)
		}
		n.Partition = append(n.Partition, sp.over(in, e))
	}
	for _, k := range a.Order {
		if _, ok := k.Expr.(*ColumnRef); !ok {
			return nil, sp.fail("a streaming top-N orders by columns only, got %s: compute it in a subquery", k.Expr)
		}
		n.Keys = append(n.Keys, SortKey{Expr: sp.over(in, k.Expr), Desc: k.Desc, NullsFirst: k.NullsFirst})
	}
	if closedWindows(in, n.Partition) {
		n.PerWindow, n.Out = true, a.Out
		n.State = StateBound{Bounded: true, Text: "none: each window's rows arrive together when it closes"}
		sp.setBound(n, n.State)
		sp.set(n, ChangelogMode{})
		if len(rest) == 0 {
			return n, nil
		}
		return sp.set(&PhysFilter{Input: n, Pred: andAll(rest), Out: n.Out}, ChangelogMode{}), nil
	}
	// Scaled out: the rows go through a repartition topic by the
	// partition columns, so each process numbers whole keys.
	n.Input, n.Partition = sp.kafkaExchange(in, n.Partition, "RankTopN")
	n.Partitioned = len(n.Partition) > 0
	held := fmt.Sprintf("top %d rows", limit)
	if n.Func != "row_number" {
		held = fmt.Sprintf("rows numbered at most %d (peers included)", limit)
	}
	switch {
	case sp.si.Modes[in].Updating():
		n.State = StateBound{Bounded: sp.bounded, Text: "every live input row"}
	case len(n.Partition) == 0 && n.Func == "row_number":
		n.State = StateBound{Bounded: true, Text: fmt.Sprintf("%d rows", limit)}
	case len(n.Partition) == 0:
		n.State = StateBound{Bounded: true, Text: held}
	case sp.bounded:
		n.State = StateBound{Bounded: true, Text: held + " per key"}
	default:
		n.State = StateBound{Text: held + " per key, keys unbounded (warning)"}
		sp.si.Warnings = append(sp.si.Warnings, fmt.Sprintf("state of the top-N per [%s] grows with the number of keys on an unbounded source", exprList(a.Partition)))
	}
	sp.setBound(n, n.State)
	sp.set(n, ChangelogMode{Kind: Retract})
	if len(rest) == 0 {
		return n, nil
	}
	pred := shiftColumns(andAll(rest), 1)
	return sp.set(&PhysFilter{Input: n, Pred: pred, Out: n.Out}, ChangelogMode{Kind: Retract}), nil
}

// closedWindows reports whether in emits each window's rows once, all in
// one batch, when the watermark closes it (a windowed aggregate under
// EMIT FINAL, through stateless nodes), and part holds that window's
// start or end column.
func closedWindows(in PhysicalPlan, part []Expr) bool {
	sch := in.Schema()
	found := false
	for _, e := range part {
		if c, ok := e.(*ColumnRef); ok && c.Index >= 0 && (c.Index == sch.WindowStart || c.Index == sch.WindowEnd) {
			found = true
		}
	}
	for found {
		switch x := in.(type) {
		case *PhysProject:
			in = x.Input
		case *PhysFilter:
			in = x.Input
		case *PhysWindowAggregate:
			return x.Emit == EmitOnClose
		default:
			return false
		}
	}
	return false
}
