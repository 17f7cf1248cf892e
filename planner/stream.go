package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/sql"
)

// Late-data policies, from the source option 'late.policy' (and
// 'late.sink', which routes late rows to a sink instead of dropping them).
const (
	LateDrop  = "drop"
	LateError = "error"
	LateRoute = "route"
)

// StreamInfo is the streaming plan of a query with an EMIT clause: Plan,
// the physical nodes that run (one operator each), the changelog mode of
// every node, and the event-time settings of the streamed source. Every
// decision about how the query streams is made here, once: the compiler
// builds Plan node for node, and EXPLAIN prints it.
type StreamInfo struct {
	// Plan is the streaming physical plan (see physical_stream.go).
	Plan PhysicalPlan
	// Modes gives the changelog mode of every node of Plan.
	Modes map[PhysicalPlan]ChangelogMode
	// Mode is the mode of the query's output (Plan's mode).
	Mode ChangelogMode
	// Scan is the (first) source the stream reads; Scans are all of them,
	// left to right (a UNION ALL reads several).
	Scan  *PhysScan
	Scans []*PhysScan
	// Windowed: some aggregate groups by the windows of a TUMBLE/HOP/
	// SESSION over a source with a WATERMARK.
	Windowed bool
	// AppendWindows: a windowed aggregate under EMIT EVERY writes into an
	// append-only sink, so it emits each window once, when it closes.
	AppendWindows bool
	// StateBounded: every stateful node's state stays bounded.
	StateBounded bool
	// Warnings are user-facing notes about the plan, in a fixed order.
	Warnings []string
	// Emit is the trigger as written, normalised: `EVERY 5s FULL`,
	// `EVERY 1m`, `CHANGES` or `FINAL`.
	Emit string
	// Watermark is the (first) streamed source's WATERMARK (nil: none);
	// Watermarks has every scanned source's, in Scans order.
	Watermark  *WatermarkDef
	Watermarks []*WatermarkDef
	// IdleTimeout is 'watermark.idle_timeout' (0: partitions never go
	// idle).
	IdleTimeout time.Duration
	// LatePolicy is LateDrop (default), LateError or LateRoute.
	LatePolicy string
	// LateSink is the sink late rows go to when LatePolicy is LateRoute.
	LateSink string

	// bounds is the state bound of every stateful node of Plan.
	bounds map[PhysicalPlan]StateBound
}

// Streaming works out the StreamInfo of a planned query with an EMIT
// clause (nil, nil for a batch query). Queries the streaming engine cannot
// run, and EMIT clauses that do not fit the query, are *sql.Error
// (PlanError) at the EMIT clause; bad source options are named in the
// message.
func Streaming(qp *QueryPlan, cat Catalog) (*StreamInfo, error) {
	return streaming(qp, cat, false)
}

// streaming is Streaming for a query writing into a sink that is
// append-only (appendSink) or not.
func streaming(qp *QueryPlan, cat Catalog, appendSink bool) (*StreamInfo, error) {
	if qp == nil || qp.Emit == nil {
		return nil, nil
	}
	if cat == nil {
		cat = NewCatalog()
	}
	e := qp.Emit
	sp := &streamPlanner{
		si:         &StreamInfo{Modes: map[PhysicalPlan]ChangelogMode{}, Emit: emitText(e), LatePolicy: LateDrop, StateBounded: true},
		emit:       e,
		appendSink: appendSink,
		cat:        cat,
	}
	sp.fail = func(format string, args ...any) error {
		return sql.Errorf(sql.PlanError, e.Pos, format, args...)
	}
	si := sp.si
	if err := sp.findSource(qp.Physical); err != nil {
		return nil, err
	}
	root, err := sp.node(qp.Physical)
	if err != nil {
		return nil, err
	}
	if err := sp.joinExchanges(root); err != nil {
		return nil, err
	}
	if err := sp.chainExchanges(root); err != nil {
		return nil, err
	}
	mode := si.Modes[root]
	switch {
	case e.Kind == sql.EmitFinal && !sp.final:
		return nil, sp.fail("EMIT FINAL needs a windowed aggregate: GROUP BY window_start of TUMBLE/HOP/SESSION, or a window join")
	case e.Kind == sql.EmitFinal && mode.Updating():
		return nil, sp.fail("EMIT FINAL needs an append-only result, but %s above the windowed aggregate updates it", nodeKind(sp.updater))
	case e.Kind == sql.EmitChanges && !mode.Updating() && !appendSink:
		// A stateless query's changelog is all inserts (into an
		// append-only sink: just the rows).
		root = &PhysInsertOps{Input: root, Out: withOp(root.Schema())}
		si.Modes[root] = ChangelogMode{Kind: Retract}
		mode = si.Modes[root]
	}
	si.Plan, si.Mode = root, mode
	if e.Kind == sql.EmitEvery && mode.Updating() {
		deferEmit(si, root)
	}
	if len(si.Scans) == 1 && si.Watermark == nil && sp.src != nil && (sp.src.Options["late.policy"] != "" || sp.src.Options["late.sink"] != "") {
		si.Warnings = append(si.Warnings, fmt.Sprintf("'late.policy' and 'late.sink' have no effect: source %s has no WATERMARK FOR", sp.src.Name))
	}
	return si, nil
}

// streamPlanner turns a batch physical plan into its streaming form.
type streamPlanner struct {
	si         *StreamInfo
	emit       *sql.Emit
	appendSink bool
	cat        Catalog
	fail       func(format string, args ...any) error
	src        *SourceDef // the (first) streamed source's definition
	bounded    bool       // every scanned source ends by itself
	// final: a windowed aggregate emits on close (EMIT FINAL).
	final bool
	// updater is the lowest node that made the output updating.
	updater PhysicalPlan
}

// findSource finds the scans the stream reads and their sources'
// settings, which must agree. Plans that read none are refused here.
func (sp *streamPlanner) findSource(root PhysicalPlan) error {
	si := sp.si
	var walk func(p PhysicalPlan) error
	walk = func(p PhysicalPlan) error {
		switch x := p.(type) {
		case *PhysScan:
			si.Scans = append(si.Scans, x)
		}
		for _, c := range p.Children() {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return err
	}
	if len(si.Scans) == 0 {
		return sp.fail("EMIT needs a source to stream from (FROM)")
	}
	si.Scan = si.Scans[0]
	sp.bounded = true
	var first *StreamInfo
	for _, scan := range si.Scans {
		sp.bounded = sp.bounded && scan.Bounded
		src, ok := sp.cat.LookupSource(scan.Source)
		if !ok {
			si.Watermarks = append(si.Watermarks, nil)
			continue
		}
		si.Watermarks = append(si.Watermarks, src.Watermark)
		opts := &StreamInfo{LatePolicy: LateDrop}
		if err := opts.sourceOptions(src, sp.cat, sp.fail); err != nil {
			return err
		}
		if first == nil {
			first, sp.src = opts, src
			continue
		}
		if opts.LatePolicy != first.LatePolicy || opts.LateSink != first.LateSink || opts.IdleTimeout != first.IdleTimeout {
			return sp.fail("sources %s and %s of one streaming query set 'late.policy', 'late.sink' or 'watermark.idle_timeout' differently: the query has one late-data policy", sp.src.Name, src.Name)
		}
	}
	si.Watermark = si.Watermarks[0]
	if first != nil {
		si.LatePolicy, si.LateSink, si.IdleTimeout = first.LatePolicy, first.LateSink, first.IdleTimeout
	}
	return nil
}

// set records n's mode and returns n.
func (sp *streamPlanner) set(n PhysicalPlan, m ChangelogMode) PhysicalPlan {
	sp.si.Modes[n] = m
	if m.Updating() && sp.updater == nil {
		sp.updater = n
	}
	return n
}

// over rebinds e, bound to a batch node's input, to the streaming input
// in: past the op column when in is a changelog.
func (sp *streamPlanner) over(in PhysicalPlan, e Expr) Expr {
	if e == nil || !sp.si.Modes[in].Updating() {
		return e
	}
	return shiftColumns(e, 1)
}

// outSchema is a batch node's output schema in streaming form: with the op
// column when the node emits a changelog.
func outSchema(s *Schema, m ChangelogMode) *Schema {
	if m.Updating() {
		return withOp(s)
	}
	return s
}

// node converts one batch physical node (and its inputs) to streaming.
func (sp *streamPlanner) node(p PhysicalPlan) (PhysicalPlan, error) {
	switch x := p.(type) {
	case *PhysScan:
		if x.Changelog {
			// Streamed as the changes they are: op is in Out, and
			// nothing folds them (Changelog is the batch fold).
			s := *x
			s.Out, s.Changelog = withOp(x.Out), false
			if src, ok := sp.cat.LookupSource(x.Source); ok && len(x.ChangelogKey) > 0 {
				// The reader keeps each key's live row: 'state.ttl'
				// bounds it as it bounds a join's rows.
				ttl, err := joinTTL([2]*SourceDef{src, nil}, sp.fail)
				if err != nil {
					return nil, err
				}
				s.StateTTL = ttl
			}
			return sp.set(&s, scanMode(s.Out, x.ChangelogKey)), nil
		}
		return sp.set(x, ChangelogMode{}), nil
	case *PhysAnalytic:
		return sp.overAggregate(x)
	case *PhysFilter:
		if a, ok := x.Input.(*PhysAnalytic); ok && ranksRows(a) {
			return sp.rankTopN(x, a)
		}
		in, err := sp.node(x.Input)
		if err != nil {
			return nil, err
		}
		m := sp.si.Modes[in]
		return sp.set(&PhysFilter{Input: in, Pred: sp.over(in, x.Pred), Out: outSchema(x.Out, m)}, m), nil
	case *PhysProject:
		in, err := sp.node(x.Input)
		if err != nil {
			return nil, err
		}
		m := sp.si.Modes[in]
		if !m.Updating() {
			return sp.set(&PhysProject{Input: in, Exprs: x.Exprs, Names: x.Names, Out: x.Out}, m), nil
		}
		exprs := []Expr{opRef()}
		for _, e := range x.Exprs {
			exprs = append(exprs, sp.over(in, e))
		}
		out := &PhysProject{Input: in, Exprs: exprs, Names: append([]string{OpColumn}, x.Names...), Out: withOp(x.Out)}
		return sp.set(out, projectMode(m, exprs)), nil
	case *PhysWindow:
		if x.Kind == WindowSession {
			// Sessions merge as rows arrive, so assigning them is not a
			// stateless step; only the window operator tracks them.
			return nil, sp.fail("SESSION windows need EMIT FINAL (a GROUP BY window_start over a source with a WATERMARK) in streaming mode yet")
		}
		in, err := sp.node(x.Input)
		if err != nil {
			return nil, err
		}
		if sp.si.Modes[in].Updating() {
			return nil, sp.fail("a window over an updating result is not supported in streaming mode yet")
		}
		w := *x
		w.Input = in
		return sp.set(&w, ChangelogMode{}), nil
	case *PhysUnionAll:
		return sp.union(x)
	case *PhysReplicate:
		return sp.replicate(x)
	case *PhysUnnest:
		return sp.unnest(x)
	case *PhysHashJoin:
		return sp.join(x)
	case *PhysHashAggregate:
		return sp.aggregate(x)
	case *PhysTopN:
		return sp.topN(x)
	case *PhysSort:
		in, err := sp.node(x.Input)
		if err != nil {
			return nil, err
		}
		if sp.si.Modes[in].Updating() {
			return nil, sp.fail("ORDER BY without LIMIT on an updating result is not supported in streaming mode yet: add LIMIT, or use EMIT FINAL over a window")
		}
		return nil, sp.fail("ORDER BY without LIMIT is not supported in streaming mode yet: a stream has no end to sort at; add LIMIT (a top-N)")
	case *PhysLimit:
		in, err := sp.node(x.Input)
		if err != nil {
			return nil, err
		}
		if sp.si.Modes[in].Updating() {
			return nil, sp.fail("LIMIT without ORDER BY on an updating result is not supported in streaming mode yet: add ORDER BY")
		}
		return nil, sp.fail("LIMIT without ORDER BY is not supported in streaming mode yet: add ORDER BY (a top-N)")
	}
	return nil, sp.fail("%s is not supported in streaming mode yet", userNodeKind(p))
}

// union converts UNION ALL: each input is a stateless, append-only branch
// over its own source (nested unions are flattened, so every branch is
// one input of one union).
func (sp *streamPlanner) union(x *PhysUnionAll) (PhysicalPlan, error) {
	u := &PhysUnionAll{Out: x.Out}
	for _, c := range x.Inputs {
		in, err := sp.node(c)
		if err != nil {
			return nil, err
		}
		if sp.si.Modes[in].Updating() || statefulBelow(sp.si, in) {
			return nil, sp.fail("UNION ALL of aggregated or top-N results is not supported in streaming mode yet: aggregate over the UNION ALL instead")
		}
		if inner, ok := in.(*PhysUnionAll); ok {
			u.Inputs = append(u.Inputs, inner.Inputs...)
			continue
		}
		u.Inputs = append(u.Inputs, in)
	}
	return sp.set(u, ChangelogMode{}), nil
}

// deferEmit sets DeferEmit on the group aggregate under root when only
// stateless nodes, each over one input, lie between them (see
// PhysGroupAggregate.DeferEmit): root's output is an EMIT EVERY trigger's.
func deferEmit(si *StreamInfo, root PhysicalPlan) {
	for n := root; ; {
		if g, ok := n.(*PhysGroupAggregate); ok {
			if _, ok := g.Input.(*PhysExchange); !ok { // not per repartition partition
				g.DeferEmit = true
			}
			return
		}
		kids := n.Children()
		if _, ok := si.bounds[n]; ok || len(kids) != 1 {
			return
		}
		n = kids[0]
	}
}

// statefulBelow reports whether p or a node under it keeps state.
func statefulBelow(si *StreamInfo, p PhysicalPlan) bool {
	if _, ok := si.bounds[p]; ok {
		return true
	}
	for _, c := range p.Children() {
		if statefulBelow(si, c) {
			return true
		}
	}
	return false
}

// eventTime is the watermark a window table function's rows carry: the
// watermark of the one source under it, or of every input of a UNION ALL
// under it, each with its own delay.
type eventTime struct {
	// column is the watermark column ("" when some source has none).
	column string
	// delay is the single source's delay; delays, each UNION ALL
	// input's (nil without a union).
	delay  time.Duration
	delays []time.Duration
	// onColumn: the window is on the watermark column (of every input).
	onColumn bool
	// source names the source in messages: the one without a WATERMARK
	// when column is "", else the (first) source.
	source string
}

// eventTimeOf works out the watermark under window w.
func (sp *streamPlanner) eventTimeOf(w *PhysWindow) eventTime {
	timeCol := w.Input.Schema().Fields[w.TimeCol].Name
	wmOf := func(p PhysicalPlan) (*WatermarkDef, string) {
		scan := scanUnder(p)
		for i, s := range sp.si.Scans {
			if s == scan {
				return sp.si.Watermarks[i], s.Source
			}
		}
		return nil, ""
	}
	u, col := unionUnder(w.Input, w.TimeCol)
	if u == nil {
		wm, src := wmOf(w.Input)
		if wm == nil {
			return eventTime{source: src}
		}
		return eventTime{column: wm.Column, delay: wm.Delay, onColumn: strings.EqualFold(timeCol, wm.Column), source: src}
	}
	et := eventTime{onColumn: col >= 0}
	for i, in := range u.Inputs {
		wm, src := wmOf(in)
		if wm == nil {
			return eventTime{source: src}
		}
		if i == 0 {
			et.column, et.delay, et.source = wm.Column, wm.Delay, src
		}
		et.delays = append(et.delays, wm.Delay)
		if col < 0 || !strings.EqualFold(in.Schema().Fields[col].Name, wm.Column) {
			et.onColumn = false
		}
	}
	return et
}

// scanUnder is the scan at the bottom of p's first inputs.
func scanUnder(p PhysicalPlan) *PhysScan {
	for p != nil {
		if s, ok := p.(*PhysScan); ok {
			return s
		}
		kids := p.Children()
		if len(kids) == 0 {
			return nil
		}
		p = kids[0]
	}
	return nil
}

// unionUnder finds a UNION ALL below p through filters and projections,
// and the union column that p's column col comes from (-1 when it is
// computed rather than a plain column).
func unionUnder(p PhysicalPlan, col int) (*PhysUnionAll, int) {
	for {
		switch x := p.(type) {
		case *PhysUnionAll:
			return x, col
		case *PhysFilter:
			p = x.Input
		case *PhysProject:
			if col >= 0 {
				if c, ok := x.Exprs[col].(*ColumnRef); ok {
					col = c.Index
				} else {
					col = -1
				}
			}
			p = x.Input
		default:
			return nil, -1
		}
	}
}

// projectMode carries an upsert key through a projection: the key holds
// while every key column is projected as a plain column; otherwise the
// output is a retract stream.
func projectMode(m ChangelogMode, exprs []Expr) ChangelogMode {
	if m.Kind != Upsert {
		return m
	}
	key := make([]int, 0, len(m.Key))
	for _, k := range m.Key {
		j := projectedAt(exprs, k)
		if j < 0 {
			return ChangelogMode{Kind: Retract}
		}
		key = append(key, j)
	}
	return ChangelogMode{Kind: Upsert, Key: key}
}

// projectedAt is the index of the first of exprs that is column col, or -1.
func projectedAt(exprs []Expr, col int) int {
	for j, e := range exprs {
		if c, ok := e.(*ColumnRef); ok && c.Index == col {
			return j
		}
	}
	return -1
}

// topN converts ORDER BY … LIMIT into the incremental top-N.
func (sp *streamPlanner) topN(x *PhysTopN) (PhysicalPlan, error) {
	in, err := sp.node(x.Input)
	if err != nil {
		return nil, err
	}
	if x.Offset > 0 {
		return nil, sp.fail("OFFSET is not supported in streaming mode yet")
	}
	if x.Limit <= 0 {
		return nil, sp.fail("LIMIT %d in streaming mode: the limit must be positive", x.Limit)
	}
	keys := make([]SortKey, len(x.Keys))
	for i, k := range x.Keys {
		if _, ok := k.Expr.(*ColumnRef); !ok {
			return nil, sp.fail("streaming top-N orders by output columns only, got %s", k.Expr)
		}
		keys[i] = SortKey{Expr: sp.over(in, k.Expr), Desc: k.Desc}
	}
	n := &PhysTopN{Input: in, Keys: keys, Limit: x.Limit, HashBy: rowHashColumns(in.Schema(), sp.si.Modes[in].Updating()), Out: withOp(x.Out)}
	sp.setBound(n, sp.topNBound(in, x.Limit))
	return sp.set(n, ChangelogMode{Kind: Retract}), nil
}

// rowHashColumns are the value columns of s (past the op column of a
// changelog) that a hash exchange can hash: every one but lists, structs
// and maps. Equal rows agree on them.
func rowHashColumns(s *Schema, changelog bool) []Expr {
	var cols []Expr
	for i, f := range s.Fields {
		if changelog && i == 0 {
			continue
		}
		switch f.Type.ID() {
		case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.STRUCT, arrow.MAP:
			continue
		}
		cols = append(cols, &ColumnRef{Index: i, Name: f.Name, Typ: f.Type})
	}
	return cols
}

// topNBound is the state bound of a top-N over in.
func (sp *streamPlanner) topNBound(in PhysicalPlan, limit int64) StateBound {
	if !sp.si.Modes[in].Updating() {
		return StateBound{Bounded: true, Text: fmt.Sprintf("%d rows", limit)}
	}
	// A retraction from the top can bring back any row below it, so a
	// top-N over a changelog keeps every live input row.
	return StateBound{Bounded: sp.si.StateBounded, Text: "every live input row"}
}

// setBound records the state bound of a stateful node.
func (sp *streamPlanner) setBound(n PhysicalPlan, b StateBound) {
	if sp.si.bounds == nil {
		sp.si.bounds = map[PhysicalPlan]StateBound{}
	}
	sp.si.bounds[n] = b
	if !b.Bounded {
		sp.si.StateBounded = false
	}
}

// UnboundedNode is the lowest stateful node of Plan whose state the
// planner could not bound, or nil.
func (si *StreamInfo) UnboundedNode() PhysicalPlan {
	var found PhysicalPlan
	var walk func(p PhysicalPlan)
	walk = func(p PhysicalPlan) {
		for _, c := range p.Children() {
			walk(c)
		}
		if b, ok := si.bounds[p]; ok && !b.Bounded && found == nil {
			found = p
		}
	}
	if si.Plan != nil {
		walk(si.Plan)
	}
	return found
}

// Bound is the state bound of a stateful node of Plan (ok false for a
// stateless node).
func (si *StreamInfo) Bound(n PhysicalPlan) (StateBound, bool) {
	b, ok := si.bounds[n]
	return b, ok
}

// aggregate converts a GROUP BY into an updating GroupAggregate or a
// WindowAggregate, the one choice of streaming operator.
func (sp *streamPlanner) aggregate(agg *PhysHashAggregate) (PhysicalPlan, error) {
	si, e := sp.si, sp.emit
	win, between := findWindow(agg.Input)
	if win == nil {
		if lifted, ok := liftWindow(agg); ok {
			agg = lifted
			win, between = findWindow(agg.Input)
		} else if lifted, session := windowBelowUnnest(agg); lifted != nil {
			agg = lifted
			win, between = findWindow(agg.Input)
		} else if session && groupsByWindow(agg) {
			return nil, sp.fail("an UNNEST between a SESSION window and its GROUP BY is not supported in streaming mode: the sessions depend on every row, also those an empty list removes (TUMBLE and HOP windows take it)")
		}
	}
	windowed := win != nil && groupsByWindow(agg)
	var et eventTime
	if windowed {
		et = sp.eventTimeOf(win)
	}
	if windowed && et.column == "" {
		if e.Kind == sql.EmitFinal {
			return nil, sp.fail("EMIT FINAL needs a WATERMARK FOR on source %s: without one its windows never close", et.source)
		}
		si.Warnings = append(si.Warnings, fmt.Sprintf("windows of %s never close: source %s has no WATERMARK FOR, so every window stays in state", et.source, et.source))
		windowed = false
	}
	var timeCol string
	if windowed {
		si.Windowed = true
		timeCol = win.Input.Schema().Fields[win.TimeCol].Name
		if !et.onColumn {
			si.Warnings = append(si.Warnings, fmt.Sprintf("windows are on %s but the watermark tracks %s: lateness and window closing follow %s", timeCol, et.column, et.column))
		}
	}
	// The window operator tracks the watermark on the window's own column.
	onWatermark := windowed && et.onColumn
	closing := e.Kind == sql.EmitFinal || (e.Kind == sql.EmitEvery && sp.appendSink && !e.Full)
	switch {
	case windowed && closing && !onWatermark:
		return nil, sp.fail("EMIT %s of windows on %s needs them on the watermark column %s of source %s: the window operator closes windows by the watermark", si.Emit, timeCol, et.column, et.source)
	case windowed && closing:
		sp.final = e.Kind == sql.EmitFinal
		return sp.windowAggregate(agg, win, between, EmitOnClose, et)
	case e.Kind == sql.EmitFinal:
		return nil, sp.fail("EMIT FINAL needs a windowed aggregate: GROUP BY window_start of TUMBLE/HOP/SESSION")
	case onWatermark && win.Kind != WindowSession:
		return sp.windowAggregate(agg, win, between, EmitUpdates, et)
	}
	in, err := sp.node(agg.Input)
	if err != nil {
		return nil, err
	}
	retract := si.Modes[in].Updating()
	g := &PhysGroupAggregate{Input: in, Retracting: retract, Out: withOp(agg.Out)}
	for _, k := range agg.Keys {
		g.Keys = append(g.Keys, sp.over(in, k))
	}
	g.Input, g.Keys = sp.kafkaExchange(in, g.Keys, "GroupAggregate")
	g.Partitioned = len(g.Keys) > 0
	for _, a := range agg.Aggs {
		a.Arg = sp.over(in, a.Arg)
		g.Aggs = append(g.Aggs, a)
	}
	if err := sp.checkAggs(AggGroup, g.Aggs, retract); err != nil {
		return nil, err
	}
	g.PreAggregate = preAggregable(g)
	switch {
	case windowed && !sp.bounded:
		// Windows on another column than the watermark's run as a
		// plain GROUP BY that no watermark frees: say so rather than
		// promise a bound the runtime does not keep.
		g.State = StateBound{Text: "unbounded (warning)"}
		si.Warnings = append(si.Warnings, fmt.Sprintf("state of GROUP BY %s keeps every window under EMIT %s: the windows are not on the watermark column %s, so none is freed", exprList(agg.Keys), si.Emit, et.column))
	case windowed:
		g.State = StateBound{Bounded: true, Text: "bounded by the input (the source ends)"}
	case len(agg.Keys) == 0:
		g.State = StateBound{Bounded: true, Text: "one group"}
	case sp.bounded:
		g.State = StateBound{Bounded: true, Text: "bounded by the input (the source ends)"}
	default:
		g.State = StateBound{Text: "unbounded (warning)"}
		si.Warnings = append(si.Warnings, fmt.Sprintf("state of GROUP BY %s grows without bound on an unbounded source: add a window or a watermark", exprList(agg.Keys)))
	}
	sp.setBound(g, g.State)
	key := make([]int, len(agg.Keys))
	for i := range key {
		key[i] = i + 1
	}
	return sp.set(g, ChangelogMode{Kind: Upsert, Key: key}), nil
}

// checkAggs refuses aggregates the operator cannot compute, with the
// capability table's message.
func (sp *streamPlanner) checkAggs(op AggOperator, aggs []AggCall, retract bool) error {
	for _, a := range aggs {
		var t arrow.DataType
		if a.Arg != nil {
			t = a.Arg.Type()
		}
		if err := CheckAgg(op, a.Func, a.Distinct, t, retract); err != nil {
			msg := err.Error()
			if fn, _, ok := strings.Cut(a.SQL, "("); ok && !strings.EqualFold(strings.TrimSpace(fn), a.Func) {
				// ANY_VALUE binds as FIRST: the message names what was written.
				msg = strings.Replace(msg, strings.ToUpper(a.Func), strings.ToUpper(strings.TrimSpace(fn)), 1)
			}
			if a.Pos.Line > 0 { // at the call the user wrote, rather than at EMIT
				return sql.Errorf(sql.PlanError, a.Pos, "%s in streaming mode: %s", a.userName(), msg)
			}
			return sp.fail("%s in streaming mode: %s", a.userName(), msg)
		}
	}
	return nil
}

// windowAggregate converts GROUP BY window_start, … over a window table
// function (through the projections between them) into a
// PhysWindowAggregate over the window's input, and a projection back to
// the aggregate's column order.
func (sp *streamPlanner) windowAggregate(agg *PhysHashAggregate, win *PhysWindow, between []*PhysProject, emit WindowEmit, et eventTime) (PhysicalPlan, error) {
	si := sp.si
	in, err := sp.node(win.Input)
	if err != nil {
		return nil, err
	}
	if si.Modes[in].Updating() {
		return nil, sp.fail("a windowed aggregate over an updating result is not supported in streaming mode yet")
	}
	nin := win.Input.Schema().Len()
	// Resolve the aggregate's expressions through the projections between
	// it and the window down to the window's output columns.
	resolve := func(e Expr) Expr {
		for _, p := range between {
			e = substitute(e, p.Exprs)
		}
		return e
	}
	wa := &PhysWindowAggregate{Input: in, Kind: win.Kind, TimeCol: win.TimeCol, Size: win.Size, Slide: win.Slide, Gap: win.Gap,
		Emit: emit, Delay: et.delay, InputDelays: et.delays, AppendWindows: emit == EmitOnClose && sp.emit.Kind == sql.EmitEvery,
		State: StateBound{Bounded: true, Text: "bounded by watermark on " + et.column}}
	si.AppendWindows = si.AppendWindows || wa.AppendWindows
	var keyFields []Field
	layout := make([]int, len(agg.Keys)) // per aggregate key: 0 window_start, 1 window_end, 2+i key i
	for i, k := range agg.Keys {
		r := resolve(k)
		if c, ok := r.(*ColumnRef); ok && c.Index >= nin {
			layout[i] = c.Index - nin
			continue
		}
		if maxColumn(r) >= nin {
			return nil, sp.fail("GROUP BY %s over window bounds is not supported in streaming mode yet", k)
		}
		layout[i] = 2 + len(wa.Keys)
		wa.Keys = append(wa.Keys, r)
		keyFields = append(keyFields, agg.Out.Fields[i])
	}
	for _, a := range agg.Aggs {
		if a.Arg != nil {
			a.Arg = resolve(a.Arg)
			if maxColumn(a.Arg) >= nin {
				const msg = "aggregate %s over window bounds is not supported in streaming mode yet"
				if a.Pos.Line > 0 { // at the call, as checkAggs does
					return nil, sql.Errorf(sql.PlanError, a.Pos, msg, a.userName())
				}
				return nil, sp.fail(msg, a.userName())
			}
		}
		wa.Aggs = append(wa.Aggs, a)
	}
	// Scaled out: the rows go through a repartition topic by the keys,
	// the watermark beside them (the window closes by it downstream).
	if x, keys := sp.kafkaExchange(in, wa.Keys, "WindowAggregate"); x != in {
		ex := x.(*PhysExchange)
		ex.EventTime, ex.TimeCol, ex.Delay = true, wa.TimeCol, wa.Delay
		wa.Input, wa.Keys = ex, keys
	}
	wa.Partitioned = len(wa.Keys) > 0
	if err := sp.checkAggs(AggWindow, wa.Aggs, false); err != nil {
		return nil, err
	}
	ws, we := win.Out.Fields[win.Out.WindowStart], win.Out.Fields[win.Out.WindowEnd]
	fields := append([]Field{ws, we}, keyFields...)
	fields = append(fields, agg.Out.Fields[len(agg.Keys):]...)
	wa.Out = newSchema(fields)
	wa.Out.WindowStart, wa.Out.WindowEnd = 0, 1
	mode := ChangelogMode{}
	if emit == EmitUpdates {
		wa.Out = withOp(wa.Out)
		// Keyed by the window and the keys.
		mode = ChangelogMode{Kind: Upsert}
		for c := 1; c < 3+len(wa.Keys); c++ {
			mode.Key = append(mode.Key, c)
		}
	}
	sp.setBound(wa, wa.State)
	sp.set(wa, mode)

	// Back to the aggregate's layout: keys in GROUP BY order, aggregates.
	shift := 0
	var exprs []Expr
	names := agg.Out.Names()
	out := agg.Out
	if mode.Updating() {
		shift = 1
		exprs = append(exprs, opRef())
		names = append([]string{OpColumn}, names...)
		out = withOp(agg.Out)
	}
	col := func(i int) Expr {
		f := wa.Out.Fields[i]
		return &ColumnRef{Index: i, Name: f.Name, Typ: f.Type}
	}
	for _, l := range layout {
		exprs = append(exprs, col(shift+l))
	}
	for j := range agg.Aggs {
		exprs = append(exprs, col(shift+2+len(wa.Keys)+j))
	}
	proj := &PhysProject{Input: wa, Exprs: exprs, Names: names, Out: out}
	pm := mode
	if mode.Kind == Upsert {
		// A window is known by either bound (TUMBLE and HOP windows have a
		// fixed size), so the key holds while one bound and every other
		// key survive.
		pm = ChangelogMode{Kind: Upsert}
		bound := -1
		for _, b := range []int{1, 2} {
			if j := projectedAt(exprs, b); j >= 0 && bound < 0 {
				bound = j
			}
		}
		pm.Key = append(pm.Key, bound)
		for c := 3; c < 3+len(wa.Keys); c++ {
			pm.Key = append(pm.Key, projectedAt(exprs, c))
		}
	}
	return sp.set(proj, pm), nil
}

// findWindow finds a window table function under an aggregate, through
// projections only (which it returns, top-down).
func findWindow(p PhysicalPlan) (*PhysWindow, []*PhysProject) {
	var between []*PhysProject
	for {
		switch x := p.(type) {
		case *PhysWindow:
			return x, between
		case *PhysProject:
			between = append(between, x)
			p = x.Input
		default:
			return nil, nil
		}
	}
}

// sourceOptions reads the late-data and watermark options of src.
func (si *StreamInfo) sourceOptions(src *SourceDef, cat Catalog, fail func(string, ...any) error) error {
	opt := func(k string) string {
		for key, v := range src.Options {
			if strings.EqualFold(key, k) {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	switch p := strings.ToLower(opt("late.policy")); p {
	case "", LateDrop:
	case LateError:
		si.LatePolicy = LateError
	default:
		return fail("source %s: invalid 'late.policy' = %q: want 'drop' or 'error'", src.Name, opt("late.policy"))
	}
	if s := opt("late.sink"); s != "" {
		if si.LatePolicy == LateError {
			return fail("source %s: 'late.sink' routes late rows to a sink, so 'late.policy' cannot be 'error'", src.Name)
		}
		def, ok := cat.LookupSink(s)
		if !ok {
			var names []string
			for _, k := range cat.Sinks() {
				names = append(names, k.Name)
			}
			return fail("source %s: 'late.sink' names unknown sink %q%s", src.Name, s, suggest(s, names))
		}
		si.LatePolicy, si.LateSink = LateRoute, def.Name
	}
	if v := opt("watermark.idle_timeout"); v != "" {
		d, err := sql.ParseInterval(v)
		if err != nil {
			return fail("source %s: invalid 'watermark.idle_timeout' = %q: %s", src.Name, v, errMsg(err))
		}
		if d < 0 {
			return fail("source %s: 'watermark.idle_timeout' must not be negative, got %q", src.Name, v)
		}
		si.IdleTimeout = d
	}
	return nil
}

// errMsg is an error's message without a position prefix.
func errMsg(err error) string {
	if se, ok := err.(*sql.Error); ok {
		return se.Msg
	}
	return err.Error()
}

// groupsByWindow reports whether agg groups by window_start or window_end
// of its input.
func groupsByWindow(agg *PhysHashAggregate) bool {
	in := agg.Input.Schema()
	for _, k := range agg.Keys {
		if c, ok := k.(*ColumnRef); ok && c.Index >= 0 && (c.Index == in.WindowStart || c.Index == in.WindowEnd) {
			return true
		}
	}
	return false
}

// nodeKind names a physical node in messages: the part of its EXPLAIN
// line before the colon.
// userNodeKind names the plan node p for a user message: what they
// wrote, not the operator's name.
func userNodeKind(p PhysicalPlan) string {
	switch k := nodeKind(p); k {
	case "Values":
		return "a VALUES list or a SELECT without FROM inside a streaming query"
	default:
		return k
	}
}

func nodeKind(p PhysicalPlan) string {
	s := p.String()
	if i := strings.IndexByte(s, ':'); i > 0 {
		return s[:i]
	}
	return s
}

// emitText renders an EMIT clause without the EMIT keyword.
func emitText(e *sql.Emit) string {
	switch e.Kind {
	case sql.EmitEvery:
		s := "EVERY " + formatDuration(e.Interval)
		if e.Full {
			s += " FULL"
		}
		return s
	case sql.EmitChanges:
		return "CHANGES"
	case sql.EmitFinal:
		return "FINAL"
	}
	return fmt.Sprintf("EMIT(%d)", e.Kind)
}

// formatDuration writes d in the largest unit that divides it (5s, 2m,
// 1h, 1d, 250ms), the shorthand the dialect reads back.
func formatDuration(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}}
	if d == 0 {
		return "0s"
	}
	for _, u := range units {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return d.String()
}

// scanMode is the mode of a changelog scan with output out (op first):
// upsert by key when the source has one and the scan keeps all of its
// columns, else retract.
func scanMode(out *Schema, key []string) ChangelogMode {
	if len(key) == 0 {
		return ChangelogMode{Kind: Retract}
	}
	idx := make([]int, 0, len(key))
	for _, k := range key {
		found := -1
		for i, f := range out.Fields {
			if i > 0 && strings.EqualFold(f.Name, k) {
				found = i
			}
		}
		if found < 0 {
			return ChangelogMode{Kind: Retract}
		}
		idx = append(idx, found)
	}
	return ChangelogMode{Kind: Upsert, Key: idx}
}
