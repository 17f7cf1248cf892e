package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/sql"
)

// BoundKind is one end of a window frame.
type BoundKind int

// Frame bound kinds, in the order they may appear from start to end.
const (
	UnboundedPreceding BoundKind = iota
	Preceding
	CurrentRow
	Following
	UnboundedFollowing
)

// FrameBound is one end of a frame. For Preceding/Following, Offset is the
// distance: rows for a ROWS frame; for a RANGE frame, in the ORDER BY
// key's units (its integer value, microseconds for TIMESTAMP, days for
// DATE), or FloatOffset for a floating-point key. Text is the offset as
// written, for EXPLAIN.
type FrameBound struct {
	Kind        BoundKind
	Offset      int64
	FloatOffset float64
	Text        string
}

// String renders the bound in SQL.
func (b FrameBound) String() string {
	switch b.Kind {
	case UnboundedPreceding:
		return "UNBOUNDED PRECEDING"
	case Preceding:
		return b.Text + " PRECEDING"
	case CurrentRow:
		return "CURRENT ROW"
	case Following:
		return b.Text + " FOLLOWING"
	}
	return "UNBOUNDED FOLLOWING"
}

// Frame is the rows a window function sees around the current one: ROWS
// counts rows, RANGE compares ORDER BY values (CURRENT ROW then means the
// row and its peers, the rows with equal ORDER BY values).
type Frame struct {
	Rows       bool
	Start, End FrameBound
}

// String renders the frame in SQL.
func (f Frame) String() string {
	unit := "RANGE"
	if f.Rows {
		unit = "ROWS"
	}
	return unit + " BETWEEN " + f.Start.String() + " AND " + f.End.String()
}

// WholePartition is the frame of a window without ORDER BY (and of
// RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING).
var WholePartition = Frame{Start: FrameBound{Kind: UnboundedPreceding}, End: FrameBound{Kind: UnboundedFollowing}}

// RunningFrame is the default frame of a window with ORDER BY: the
// partition's rows up to the current row and its peers.
var RunningFrame = Frame{Start: FrameBound{Kind: UnboundedPreceding}, End: FrameBound{Kind: CurrentRow}}

// WindowFunc is one window function call of an Analytic node.
//
// Func is one of row_number rank dense_rank percent_rank cume_dist ntile
// (N buckets), lag lead (Args: value[, default]; N is the offset),
// first_value last_value nth_value (N is the position), or an aggregate
// count_star count sum avg min max over Args[0]. Ranking functions and
// lag/lead ignore Frame.
type WindowFunc struct {
	Func  string
	Args  []Expr
	N     int64
	Frame Frame
	Typ   arrow.DataType
	// Pos is where the user wrote the call.
	Pos sql.Pos
	// Params are the constant parts of an accumulator-layer aggregate
	// (MEDIAN, STRING_AGG, ARRAY_AGG, …; Func is its capability-table
	// name, "_distinct" appended for DISTINCT).
	Params AggParams
}

// usesFrame reports whether the function reads its frame.
func (f WindowFunc) usesFrame() bool {
	switch f.Func {
	case "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead":
		return false
	}
	return true
}

// String renders the call (without its OVER clause, which the node
// shows once), e.g. `sum(value) ROWS BETWEEN 1 PRECEDING AND CURRENT ROW`.
func (f WindowFunc) String() string {
	s := f.Call()
	if f.usesFrame() {
		s += " " + f.Frame.String()
	}
	return s
}

// Call renders the call alone, e.g. `sum(value)`, as errors name it.
func (f WindowFunc) Call() string {
	args := make([]string, 0, len(f.Args)+1)
	for _, a := range f.Args {
		args = append(args, a.String())
	}
	name := f.Func
	switch f.Func {
	case "count_star":
		name, args = "count", []string{"*"}
	case "ntile":
		args = append(args, fmt.Sprint(f.N))
	case "lag", "lead":
		args = append(args[:1], append([]string{fmt.Sprint(f.N)}, args[1:]...)...)
	case "nth_value":
		args = append(args, fmt.Sprint(f.N))
	}
	return name + "(" + strings.Join(args, ", ") + f.Params.String() + ")"
}

// Analytic computes window functions (ROW_NUMBER() OVER …, SUM(x) OVER
// …) that share one PARTITION BY and ORDER BY. Its output is the input's
// columns followed by one column per function, named Names. Unlike an
// aggregate it keeps every row.
type Analytic struct {
	Input     Plan
	Partition []Expr
	Order     []SortKey
	Funcs     []WindowFunc
	Names     []string
}

// Schema implements Plan.
func (a *Analytic) Schema() *Schema { return analyticSchema(a.Input.Schema(), a.Funcs, a.Names) }

func analyticSchema(in *Schema, funcs []WindowFunc, names []string) *Schema {
	fs := append([]Field(nil), in.Fields...)
	for i, f := range funcs {
		null := true
		switch f.Func {
		case "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "count", "count_star":
			null = false
		}
		fs = append(fs, Field{Name: names[i], Type: f.Typ, Nullable: null})
	}
	out := newSchema(fs)
	out.EventTime, out.WindowStart, out.WindowEnd = in.EventTime, in.WindowStart, in.WindowEnd
	return out
}

// Children implements Plan.
func (a *Analytic) Children() []Plan { return []Plan{a.Input} }

// WithChildren implements Plan.
func (a *Analytic) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(a, 1, ch); err != nil {
		return nil, err
	}
	c := *a
	c.Input = ch[0]
	return &c, nil
}

// String implements Plan.
func (a *Analytic) String() string {
	return "Analytic: " + analyticString(a.Partition, a.Order, a.Funcs, a.Names)
}

func analyticString(part []Expr, order []SortKey, funcs []WindowFunc, names []string) string {
	fs := make([]string, len(funcs))
	for i, f := range funcs {
		fs[i] = f.String() + " AS " + names[i]
	}
	var over []string
	if len(part) > 0 {
		over = append(over, "PARTITION BY "+exprList(part))
	}
	if len(order) > 0 {
		over = append(over, "ORDER BY "+sortKeysString(order))
	}
	return "[" + strings.Join(fs, ", ") + "] over (" + strings.Join(over, " ") + ")"
}

// PhysAnalytic computes window functions over the input sorted by
// Partition then Order (it buffers the whole input, as a sort does); see
// Analytic. Rows come out in that order.
type PhysAnalytic struct {
	Input     PhysicalPlan
	Partition []Expr
	Order     []SortKey
	Funcs     []WindowFunc
	Out       *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysAnalytic) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysAnalytic) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysAnalytic) String() string {
	n := p.Input.Schema().Len()
	names := make([]string, len(p.Funcs))
	for i := range names {
		names[i] = p.Out.Fields[n+i].Name
	}
	return "Analytic: " + analyticString(p.Partition, p.Order, p.Funcs, names)
}

// PhysOverAggregate is the streaming form of window functions ordered by
// event time (`SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2
// PRECEDING AND CURRENT ROW)`, or RANGE BETWEEN INTERVAL … PRECEDING): a
// row is emitted once, with its values, when the watermark passes its
// event time (Flink's semantics); append-only. Analytic is the batch
// node it runs over each set of ready rows and the rows their frames
// reach back to (its Input is the streaming input's schema).
type PhysOverAggregate struct {
	Input    PhysicalPlan
	Analytic *PhysAnalytic
	// TimeCol is the ORDER BY column, the watermark's; Partition the
	// PARTITION BY columns.
	TimeCol   int
	Partition []int
	// Rows and Range are the farthest reach back of the ROWS and RANGE
	// frames (Range in the time column's units).
	Rows, Range int64
	// Carry are the functions whose frame starts UNBOUNDED PRECEDING,
	// run over the rows kept and a running value per key of the rows
	// dropped.
	Carry []OverCarry
	// Updating: the input is a changelog; each change recomputes its
	// partition and the output is the changes (Retract), at once, not
	// waiting for the watermark (TimeCol, Rows, Range unused).
	Updating bool
	// ByMarks: the watermark is the input's marks, not the rows' event
	// times less Delay. Set over another OVER aggregate, which emits its
	// rows only once its watermark passed them, grouped by key and so
	// out of event-time order: judged against a tracker of their own
	// they would be late (and the delay counted twice).
	ByMarks bool
	Delay   time.Duration
	// Partitioned: the window functions have PARTITION BY columns, so
	// the operator runs as the session's parallelism of instances behind
	// a hash exchange on Partition, each with its keys' state and its own
	// checkpoint part, their output merged into one operator's order
	// (stream.ParallelOver, stream.ParallelOverChangelog). Without
	// PARTITION BY every row shares one partition: it runs as one.
	Partitioned bool
	State       StateBound
	Out         *Schema
}

// OverCarry is a function of a streaming OVER aggregate whose frame
// starts UNBOUNDED PRECEDING: Col is its output column, Arg the input
// column it reads (-1 for COUNT(*)).
type OverCarry struct {
	Col  int
	Func string
	Arg  int
}

// Schema implements PhysicalPlan.
func (p *PhysOverAggregate) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysOverAggregate) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysOverAggregate) String() string {
	s := "OverAggregate" + strings.TrimPrefix(p.Analytic.String(), "Analytic")
	if p.Updating {
		s += " (over an updating input: a change recomputes its partition, emitting the rows that changed)"
	} else {
		wm := ""
		if p.ByMarks {
			wm = ", the input OVER aggregate's watermark"
		}
		s += " (each row once, when the watermark passes its " + p.Input.Schema().Fields[p.TimeCol].Name + wm + ")"
	}
	if p.Partitioned {
		return s + " partitioned by keys"
	}
	return s + " one instance: no PARTITION BY"
}

// overAggregate converts window functions over a stream: only aggregates
// (and FIRST_VALUE/LAST_VALUE) whose frames end at the current row and
// reach back a bounded distance, ordered by the source's watermark
// column; anything else is refused naming that form.
func (sp *streamPlanner) overAggregate(a *PhysAnalytic) (PhysicalPlan, error) {
	shape := "a streaming OVER aggregate orders by the watermark column over a frame ending at the current row: SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN n PRECEDING AND CURRENT ROW), RANGE BETWEEN INTERVAL … PRECEDING AND CURRENT ROW or UNBOUNDED PRECEDING; ROW_NUMBER()/RANK() run as a per-key top-N under WHERE rn <= N"
	in, err := sp.node(a.Input)
	if err != nil {
		return nil, err
	}
	if sp.si.Modes[in].Updating() {
		return sp.overChangelog(a, in)
	}
	wm := sp.watermarkOf(scanUnder(a.Input))
	sch := in.Schema()
	if len(a.Order) != 1 || a.Order[0].Desc {
		return nil, sp.fail("%s", shape)
	}
	oc, ok := a.Order[0].Expr.(*ColumnRef)
	if !ok || wm == nil || oc.Index != sch.EventTime || countPhys(a.Input, func(p PhysicalPlan) bool { _, ok := p.(*PhysHashJoin); return ok }) > 0 {
		return nil, sp.fail("%s (ORDER BY the WATERMARK FOR column of the source it reads)", shape)
	}
	ka, avgs := avgAsSumCount(a)
	in, ka, nextra := sp.carryArgColumns(in, ka)
	n := &PhysOverAggregate{Input: in, Analytic: ka, TimeCol: oc.Index, Delay: wm.Delay, Out: ka.Out}
	n.ByMarks = countPhys(in, func(p PhysicalPlan) bool { o, ok := p.(*PhysOverAggregate); return ok && !o.Updating }) > 0
	for _, e := range a.Partition {
		c, ok := e.(*ColumnRef)
		if !ok {
			return nil, sp.fail("a streaming OVER aggregate partitions by columns only, got %s: compute it in a subquery", e)
		}
		n.Partition = append(n.Partition, c.Index)
	}
	n.Partitioned = len(n.Partition) > 0
	unit := timeUnit(sch.Fields[oc.Index].Type)
	for i, f := range ka.Funcs {
		switch f.Func {
		case "sum", "count", "count_star", "avg", "min", "max", "first_value", "last_value":
		case "lag":
			// LAG(v, n) reads the row n before: the last n rows of
			// the key are all a later row can reach.
			n.Rows = max(n.Rows, f.N)
			continue
		case "lead", "ntile":
			return nil, sp.fail("%s OVER (…) needs rows after the current one (or the whole partition), which a stream never has: %s; LAG reads earlier rows", strings.ToUpper(f.Func), shape)
		default:
			if !isAggFunc(f.Func) {
				return nil, sp.fail("%s OVER (…) is not supported in streaming mode yet: %s", strings.ToUpper(f.Func), shape)
			}
			// An aggregate of the accumulator layer (MEDIAN,
			// STRING_AGG, …): the batch kernel computes it over the
			// rows kept, as it does SUM.
		}
		if f.Frame.End.Kind != CurrentRow || f.Frame.Start.Kind != Preceding && f.Frame.Start.Kind != CurrentRow && f.Frame.Start.Kind != UnboundedPreceding {
			return nil, sp.fail("%s %s in streaming mode: %s", strings.ToUpper(f.Func), f.Frame, shape)
		}
		if f.Frame.Start.Kind == UnboundedPreceding {
			c, err := sp.overCarry(f, in.Schema().Len()+i)
			if err != nil {
				return nil, err
			}
			if c != nil {
				n.Carry = append(n.Carry, *c)
			}
			continue
		}
		if f.Frame.Start.Kind != Preceding {
			continue
		}
		if f.Frame.Rows {
			n.Rows = max(n.Rows, f.Frame.Start.Offset)
			continue
		}
		// RANGE offsets on a TIMESTAMP are microseconds.
		n.Range = max(n.Range, f.Frame.Start.Offset*int64(time.Microsecond)/int64(unit))
	}
	n.State = StateBound{Bounded: true, Text: fmt.Sprintf("the rows waiting for the watermark, and per key those a later frame reaches (%s)", frameReach(n.Rows, n.Range, unit))}
	if len(n.Carry) > 0 {
		n.State.Text += fmt.Sprintf(" and %d running value(s) of the UNBOUNDED PRECEDING frames", len(n.Carry))
		if !sp.bounded && len(n.Partition) > 0 {
			n.State = StateBound{Text: n.State.Text + " per key, keys unbounded (warning)"}
			sp.si.Warnings = append(sp.si.Warnings, fmt.Sprintf("state of the OVER aggregate's UNBOUNDED PRECEDING frames per [%s] grows with the number of keys on an unbounded source", exprList(a.Partition)))
		}
	}
	sp.setBound(n, n.State)
	sp.set(n, ChangelogMode{})
	if len(avgs) == 0 && nextra == 0 {
		return n, nil
	}
	// The columns of a.Out, past the argument columns computed below
	// the operator; each AVG from its running SUM and COUNT, as the
	// batch kernel divides them (a DECIMAL sum converted at its scale).
	at := func(i int) int {
		if i < sch.Len() {
			return i
		}
		return i + nextra
	}
	exprs := make([]Expr, a.Out.Len())
	for i, f := range a.Out.Fields {
		exprs[i] = &ColumnRef{Index: at(i), Name: f.Name, Typ: f.Type}
	}
	for _, g := range avgs {
		sum, cnt := ka.Out.Fields[at(g.sum)], ka.Out.Fields[at(g.count)]
		exprs[g.sum] = &Call{Func: "div", Typ: TypeDouble, Args: []Expr{
			castTo(&ColumnRef{Index: at(g.sum), Name: sum.Name, Typ: sum.Type}, TypeDouble),
			castTo(&ColumnRef{Index: at(g.count), Name: cnt.Name, Typ: cnt.Type}, TypeDouble)}}
	}
	proj := &PhysProject{Input: n, Exprs: exprs, Names: a.Out.Names(), Out: a.Out}
	return sp.set(proj, ChangelogMode{}), nil
}

// avgColumns are where an AVG OVER (… UNBOUNDED PRECEDING …) of a
// streaming OVER aggregate is computed from: its own column holds its
// SUM, the column count (appended) its COUNT.
type avgColumns struct{ sum, count int }

// avgAsSumCount is a with each AVG whose frame starts UNBOUNDED PRECEDING
// replaced by SUM and COUNT over the same frame, both of which carry a
// running value per key (an average does not combine from its parts; a
// sum and a count do): the SUM in the AVG's column, the COUNTs appended.
// a itself when it has none.
func avgAsSumCount(a *PhysAnalytic) (*PhysAnalytic, []avgColumns) {
	in := a.Input.Schema()
	funcs := append([]WindowFunc(nil), a.Funcs...)
	names := make([]string, len(a.Funcs))
	for i := range names {
		names[i] = a.Out.Fields[in.Len()+i].Name
	}
	var avgs []avgColumns
	for i, f := range a.Funcs {
		if f.Func != "avg" || f.Frame.Start.Kind != UnboundedPreceding || len(f.Args) != 1 {
			continue
		}
		sum, cnt := f, f
		sum.Func, sum.Typ = "sum", sumType(f.Args[0].Type())
		cnt.Func, cnt.Typ = "count", TypeBigInt
		funcs[i] = sum
		funcs = append(funcs, cnt)
		names = append(names, fmt.Sprintf("$count_%d", i))
		avgs = append(avgs, avgColumns{sum: in.Len() + i, count: in.Len() + len(funcs) - 1})
	}
	if len(avgs) == 0 {
		return a, nil
	}
	return &PhysAnalytic{Input: a.Input, Partition: a.Partition, Order: a.Order, Funcs: funcs, Out: analyticSchema(in, funcs, names)}, avgs
}

// isAggFunc reports whether window function fn is an aggregate of the
// capability table (with "_distinct" for DISTINCT), which the batch
// kernel computes over any frame.
func isAggFunc(fn string) bool {
	return aggTableHas(fn) || aggTableHas(strings.TrimSuffix(fn, "_distinct"))
}

func aggTableHas(fn string) bool {
	_, ok := aggTable[fn]
	return ok
}

// carryArgColumns computes below a streaming OVER aggregate the
// arguments that are not columns of the functions whose frame starts
// UNBOUNDED PRECEDING (STDDEV's SUM(x * x), SUM(v + 1)): such a function
// carries a running value of its argument per key, read from a column
// of the rows dropped. It returns the input (in, or a projection of its
// columns and those arguments), the analytic over it (its arguments
// reading those columns) and the number of columns added, which the
// caller drops above.
func (sp *streamPlanner) carryArgColumns(in PhysicalPlan, a *PhysAnalytic) (PhysicalPlan, *PhysAnalytic, int) {
	sch := in.Schema()
	funcs := append([]WindowFunc(nil), a.Funcs...)
	var extra []Expr
	for i, f := range funcs {
		if f.Frame.Start.Kind != UnboundedPreceding || len(f.Args) != 1 || f.Func == "last_value" {
			continue
		}
		if _, ok := f.Args[0].(*ColumnRef); ok {
			continue
		}
		extra = append(extra, f.Args[0])
		funcs[i].Args = []Expr{&ColumnRef{Index: sch.Len() + len(extra) - 1, Name: fmt.Sprintf("$arg_%d", len(extra)-1), Typ: f.Args[0].Type()}}
	}
	if len(extra) == 0 {
		return in, a, 0
	}
	exprs := make([]Expr, 0, sch.Len()+len(extra))
	fields := append([]Field(nil), sch.Fields...)
	for i, f := range sch.Fields {
		exprs = append(exprs, &ColumnRef{Index: i, Name: f.Name, Typ: f.Type})
	}
	for k, e := range extra {
		exprs = append(exprs, e)
		fields = append(fields, Field{Name: fmt.Sprintf("$arg_%d", k), Type: e.Type(), Nullable: true})
	}
	out := newSchema(fields)
	out.EventTime, out.WindowStart, out.WindowEnd = sch.EventTime, sch.WindowStart, sch.WindowEnd
	proj := sp.set(&PhysProject{Input: in, Exprs: exprs, Names: out.Names(), Out: out}, sp.si.Modes[in])
	names := make([]string, len(a.Funcs))
	for i := range names {
		names[i] = a.Out.Fields[sch.Len()+i].Name
	}
	return proj, &PhysAnalytic{Input: proj, Partition: a.Partition, Order: a.Order, Funcs: funcs, Out: analyticSchema(out, funcs, names)}, len(extra)
}

// frameReach renders how far back an OVER aggregate keeps rows.
func frameReach(rows, rng int64, unit time.Duration) string {
	var parts []string
	if rows > 0 {
		parts = append(parts, fmt.Sprintf("the last %d rows", rows))
	}
	if rng > 0 {
		parts = append(parts, formatDuration(time.Duration(rng)*unit)+" before the watermark")
	}
	if len(parts) == 0 {
		return "the current row's peers"
	}
	return strings.Join(parts, " and ")
}

// overCarry is the running form of window function f, whose frame starts
// UNBOUNDED PRECEDING, at output column col: nil when it needs none
// (LAST_VALUE up to the current row reads only the current row's
// peers), an error naming the nearest form when it has none.
func (sp *streamPlanner) overCarry(f WindowFunc, col int) (*OverCarry, error) {
	switch {
	case f.Func == "last_value":
		return nil, nil
	case f.Func == "count_star":
		return &OverCarry{Col: col, Func: f.Func, Arg: -1}, nil
	case f.Func == "first_value", AggRunning(f.Func):
	default:
		name := f.Func
		if !aggTableHas(name) {
			name = strings.TrimSuffix(name, "_distinct")
		}
		return nil, sql.Errorf(sql.PlanError, f.Pos, "%s OVER (… UNBOUNDED PRECEDING …) cannot run in streaming mode: its value over every earlier row of the key does not follow from a running value, and the rows are not kept; give it a bounded frame (ROWS BETWEEN n PRECEDING AND CURRENT ROW, RANGE BETWEEN INTERVAL … PRECEDING AND CURRENT ROW)", strings.ToUpper(name))
	}
	if len(f.Args) != 1 {
		return nil, sp.fail("%s OVER (… UNBOUNDED PRECEDING …) takes one argument in streaming mode", strings.ToUpper(f.Func))
	}
	if isInterval(f.Args[0].Type()) && f.Func != "first_value" && f.Func != "count" {
		// The running value is a streaming Value, which holds an interval
		// as bytes it can only compare for equality.
		return nil, sql.Errorf(sql.PlanError, f.Pos, "%s OVER (… UNBOUNDED PRECEDING …) of an INTERVAL cannot run in streaming mode yet; give it a bounded frame (ROWS BETWEEN n PRECEDING AND CURRENT ROW, RANGE BETWEEN INTERVAL … PRECEDING AND CURRENT ROW)", strings.ToUpper(f.Func))
	}
	c, ok := f.Args[0].(*ColumnRef)
	if !ok {
		return nil, sp.fail("%s(%s) OVER (… UNBOUNDED PRECEDING …) reads a column in streaming mode: compute %s in a subquery", strings.ToUpper(f.Func), f.Args[0], f.Args[0])
	}
	return &OverCarry{Col: col, Func: f.Func, Arg: c.Index}, nil
}

// overChangelog is the OVER aggregate of a over the updating input in:
// every live row is kept per partition, and each change recomputes its
// partition with the batch kernel and emits the rows that changed, so
// any window function and frame runs and the folded output is the batch
// result.
func (sp *streamPlanner) overChangelog(a *PhysAnalytic, in PhysicalPlan) (PhysicalPlan, error) {
	n := &PhysOverAggregate{Input: in, Analytic: a, TimeCol: -1, Updating: true, Out: withOp(a.Out)}
	for _, e := range a.Partition {
		c, ok := e.(*ColumnRef)
		if !ok {
			return nil, sp.fail("a streaming OVER aggregate partitions by columns only, got %s: compute it in a subquery", e)
		}
		n.Partition = append(n.Partition, c.Index)
	}
	n.Partitioned = len(n.Partition) > 0
	n.State = StateBound{Bounded: sp.bounded, Text: "every live input row, per key"}
	if !sp.bounded {
		n.State.Text += " (warning)"
		sp.si.Warnings = append(sp.si.Warnings, "state of the OVER aggregate over an updating result keeps every live row of its input")
	}
	sp.setBound(n, n.State)
	return sp.set(n, ChangelogMode{Kind: Retract}), nil
}
