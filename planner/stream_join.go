package planner

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/sql"
)

// JoinStrategy is how a streaming join runs; the planner picks it from
// the query (see streamPlanner.join) and EXPLAIN says which and why.
type JoinStrategy string

// Join strategies.
const (
	// JoinRegular keeps both inputs' rows (bounded by the inputs' ends or
	// 'state.ttl') and emits an updating result.
	JoinRegular JoinStrategy = "regular"
	// JoinInterval joins rows whose event times are within bounds of each
	// other; the watermarks free the state; append-only.
	JoinInterval JoinStrategy = "interval"
	// JoinWindow joins the rows of equal TUMBLE/HOP windows, emitting each
	// window when both watermarks pass its end; append-only.
	JoinWindow JoinStrategy = "window"
	// JoinLookup reads a bounded side once, before the stream, and joins
	// every stream row against it; append-only over an append-only stream.
	JoinLookup JoinStrategy = "lookup"
)

// PhysStreamJoin is a streaming join of two inputs. Output: [op,] the
// left input's value columns, then the right's (the batch join's columns).
type PhysStreamJoin struct {
	Left, Right PhysicalPlan
	Type        JoinType
	Strategy    JoinStrategy
	// Why is the reason for the strategy, shown by EXPLAIN.
	Why string
	// LeftKeys[i] = RightKeys[i], each over its input's streaming schema
	// (op column counted when the input is a changelog).
	LeftKeys, RightKeys []Expr
	// Residual is over the left value columns then the right ones (op
	// columns excluded), as in the batch join; nil for none.
	Residual Expr
	// LeftTime and RightTime are each input's watermark column
	// (interval and window joins).
	LeftTime, RightTime int
	// Lower ≤ right.time − left.time ≤ Upper (interval joins); NoBound
	// (-NoBound for Lower) when the conditions bound that side not at all.
	Lower, Upper time.Duration
	// Until[s] (interval joins) is a column of input s that the other
	// input's time may not pass for a row of s to match: a conjunct
	// other.time <= s.col + Off of the residual (which still tests it).
	// The row is freed once the other input's watermark passes it.
	Until [2]*JoinUntil
	// LeftEnd and RightEnd are the window_end columns (window joins).
	LeftEnd, RightEnd int
	// LeftDelay and RightDelay are the inputs' watermark delays.
	LeftDelay, RightDelay time.Duration
	// LeftByMarks and RightByMarks: the input's watermark is the
	// operator's below, not tracked from its rows: a windowed
	// aggregate's or a window join's closed windows (window joins), an
	// interval join's output (interval joins), another temporal join's
	// output (temporal joins).
	LeftByMarks, RightByMarks bool
	// TableSide is the bounded side of a lookup join (0 left, 1 right).
	TableSide int
	// TTL is 'state.ttl' (regular joins; 0: none).
	TTL   time.Duration
	State StateBound
	Out   *Schema
}

// NoBound is an interval join's missing time bound (Lower = -NoBound,
// Upper = NoBound).
const NoBound = time.Duration(math.MaxInt64)

// JoinUntil is a column (and offset) of one join input bounding the other
// input's time (PhysStreamJoin.Until).
type JoinUntil struct {
	Col int
	Off time.Duration
}

// Schema implements PhysicalPlan.
func (p *PhysStreamJoin) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysStreamJoin) Children() []PhysicalPlan { return []PhysicalPlan{p.Left, p.Right} }

// String implements PhysicalPlan.
func (p *PhysStreamJoin) String() string {
	name := map[JoinStrategy]string{JoinRegular: "RegularJoin", JoinInterval: "IntervalJoin", JoinWindow: "WindowJoin", JoinLookup: "LookupJoin", JoinTemporal: "TemporalJoin"}[p.Strategy]
	s := fmt.Sprintf("%s: %s keys=[%s] = [%s]", name, p.Type, exprList(p.LeftKeys), exprList(p.RightKeys))
	if p.Residual != nil {
		s += " residual=" + p.Residual.String()
	}
	if p.TTL > 0 {
		s += " ttl=" + formatDuration(p.TTL)
	}
	if p.Partitioned() {
		s += " partitioned by keys"
	}
	return s + " (" + p.Why + ")"
}

// Partitioned reports whether the join runs as the session's parallelism
// of instances behind a hash exchange on its keys (both inputs cut by
// the key, a lookup join's table too), each with its own state and
// checkpoint part; a checkpoint restores only at the same parallelism.
// Every streaming join with an equality key is.
func (p *PhysStreamJoin) Partitioned() bool { return len(p.LeftKeys) > 0 }

// join converts a hash join into the streaming join the query asks for:
// time bounds on both inputs' watermark columns make an interval join,
// equal windows on both inputs a window join, a bounded side without a
// watermark beside a stream a lookup join; otherwise a regular join.
func (sp *streamPlanner) join(x *PhysHashJoin) (PhysicalPlan, error) {
	if a, filters := versionsUnder(x.Right); a != nil {
		if len(x.LeftKeys) == 0 {
			return nil, sp.fail("a temporal join needs an equality on the versioned table's primary key (ON o.k = r.k)")
		}
		return sp.temporal(x, a, filters)
	}
	if r := sp.lookupBelowInterval(x); r != nil {
		out, err := sp.node(r)
		if err != nil {
			return nil, err
		}
		if lj := streamJoinUnder(out); lj != nil && lj.Strategy == JoinLookup {
			lj.Why += "; moved above the interval join, which bounds only the stream's columns, so that join reads its sources' rows and watermarks"
		}
		return out, nil
	}
	if t := constantSide(x); t >= 0 {
		return sp.constantJoin(x, t)
	}
	if len(x.LeftKeys) == 0 {
		return nil, sp.fail("a streaming join needs an equality between the inputs (ON l.k = r.k): a join without one (%s) is not supported in streaming mode", x.Type)
	}
	var sides [2]PhysicalPlan
	var srcs [2]*SourceDef
	var wms [2]*WatermarkDef
	var streams [2]bool // the side reads a source with a watermark
	// marks: the side is an interval join's output, whose watermark is
	// that join's (held back by its bounds), not tracked from its rows.
	var marks [2]bool
	// changes: the side is a windowed aggregate's updates (EMIT
	// CHANGES), a changelog whose changes that aggregate's watermark
	// bounds: none comes for a window once it passes the window's end.
	var changes [2]bool
	unionSide := false
	// times are each side's event-time columns an interval join may
	// bound: its watermark column, or a window join output's window_end
	// columns (its watermark, the window join's, is on window_end).
	var times [2][]int
	for s, c := range []PhysicalPlan{x.Left, x.Right} {
		// A side that is itself a join (a JOIN b JOIN c) is a node whose
		// rows carry no one source's watermark: such a side joins as a
		// regular join or as the stream of a lookup join, or, when it is
		// an interval or window join, with that join's output watermark
		// (intervalOutput, sideWindow).
		joined := countPhys(c, func(p PhysicalPlan) bool { _, ok := p.(*PhysHashJoin); return ok }) > 0
		// A side reading a UNION ALL interleaves its inputs' rows as
		// their readers go: no one watermark orders them, so it joins
		// as a regular join or as a lookup join's stream, never with
		// time bounds (which would judge lateness by that interleaving).
		unioned := countPhys(c, func(p PhysicalPlan) bool { _, ok := p.(*PhysUnionAll); return ok }) > 0
		unionSide = unionSide || unioned
		in, err := sp.node(c)
		if err != nil {
			return nil, err
		}
		sides[s] = in
		if et := c.Schema().EventTime; et >= 0 {
			times[s] = []int{et}
		}
		if unioned && !joined {
			streams[s] = countPhys(c, func(p PhysicalPlan) bool {
				sc, ok := p.(*PhysScan)
				return ok && sp.watermarkOf(sc) != nil
			}) > 0
			times[s] = nil
			continue
		}
		if joined {
			marks[s] = intervalOutput(in)
			if windowOutput(in) {
				marks[s], times[s] = true, nil
				for _, w := range windowColumns(c) {
					times[s] = append(times[s], w[1])
				}
			}
			streams[s] = countPhys(c, func(p PhysicalPlan) bool {
				sc, ok := p.(*PhysScan)
				return ok && sp.watermarkOf(sc) != nil
			}) > 0
			continue
		}
		scan := scanUnder(c)
		wms[s] = sp.watermarkOf(scan)
		streams[s] = wms[s] != nil
		if scan != nil {
			srcs[s], _ = sp.cat.LookupSource(scan.Source)
		}
		if windowUpdates(in) {
			// Its watermark is the aggregate's; it bounds the
			// window_end columns (its rows carry no source time).
			changes[s], marks[s], times[s] = true, true, nil
			for _, w := range windowColumns(c) {
				times[s] = append(times[s], w[1])
			}
		}
	}
	l, r := sides[0], sides[1]
	lm, rm := sp.si.Modes[l], sp.si.Modes[r]
	j := &PhysStreamJoin{Left: l, Right: r, Type: x.Type, Residual: x.Residual, LeftTime: -1, RightTime: -1, LeftEnd: -1, RightEnd: -1}
	for i := range x.LeftKeys {
		j.LeftKeys = append(j.LeftKeys, sp.over(l, x.LeftKeys[i]))
		j.RightKeys = append(j.RightKeys, sp.over(r, x.RightKeys[i]))
	}
	appendOnly := !lm.Updating() && !rm.Updating()
	// bounded: every updating input's changes are bounded by its
	// watermark, so an inner interval join may free its rows.
	bounded := (!lm.Updating() || changes[0]) && (!rm.Updating() || changes[1])
	name := func(s int) string {
		if srcs[s] != nil {
			return srcs[s].Name
		}
		return []string{"the left input", "the right input"}[s]
	}
	ttl, err := joinTTL(srcs, sp.fail)
	if err != nil {
		return nil, err
	}
	strategy, why, err := sp.chooseJoin(x, j, wms, marks, changes, streams, times, appendOnly, bounded, name)
	if err != nil {
		return nil, err
	}
	j.Strategy, j.Why = strategy, why
	if strategy == JoinRegular && unionSide {
		j.Why += "; a UNION ALL input has no one watermark ordering its rows, so time bounds do not make it an interval join"
	}
	if wms[0] != nil {
		j.LeftDelay = wms[0].Delay
	}
	if wms[1] != nil {
		j.RightDelay = wms[1].Delay
	}
	mode := ChangelogMode{}
	switch strategy {
	case JoinRegular:
		j.TTL = ttl
		if x.Type != InnerJoin || !appendOnly {
			mode = ChangelogMode{Kind: Retract}
		}
		boundedIn := srcs[0] != nil && srcs[1] != nil && srcs[0].Bounded && srcs[1].Bounded
		switch {
		case ttl > 0:
			j.State = StateBound{Bounded: true, Text: "rows unused for " + formatDuration(ttl) + " are dropped ('state.ttl')"}
		case boundedIn || sp.bounded:
			j.State = StateBound{Bounded: true, Text: "bounded by the input (the sources end)"}
		default:
			j.State = StateBound{Text: "unbounded (warning)"}
			sp.si.Warnings = append(sp.si.Warnings, fmt.Sprintf("state of the join of %s and %s keeps every row of both inputs: bound the event times of one by the other's (an interval join), join equal windows, or set 'state.ttl' on a source", name(0), name(1)))
		}
	case JoinInterval:
		if !appendOnly {
			mode = ChangelogMode{Kind: Retract}
		}
		ls, rs := x.Left.Schema(), x.Right.Schema()
		j.State = StateBound{Bounded: true, Text: "bounded by the watermarks on " + ls.Fields[j.LeftTime].Name + " and " + rs.Fields[j.RightTime].Name}
		// A side no bound frees: its rows are held (a one-sided
		// interval join).
		var held []string
		if j.Upper == NoBound && j.Until[0] == nil {
			held = append(held, name(0))
		}
		if j.Lower == -NoBound && j.Until[1] == nil {
			held = append(held, name(1))
		}
		if len(held) > 0 {
			what := "the rows of " + strings.Join(held, " and ") + " are held: no bound frees them"
			boundedIn := srcs[0] != nil && srcs[1] != nil && srcs[0].Bounded && srcs[1].Bounded
			if boundedIn || sp.bounded {
				j.State = StateBound{Bounded: true, Text: what + "; bounded by the input (the sources end)"}
			} else {
				j.State = StateBound{Text: what + " (warning)"}
				sp.si.Warnings = append(sp.si.Warnings, fmt.Sprintf("state of the join of %s and %s keeps every row of %s: bound the event times both ways (an interval join) or set 'state.ttl' on a source", name(0), name(1), strings.Join(held, " and ")))
			}
		}
	case JoinWindow:
		sp.final = true
		j.State = StateBound{Bounded: true, Text: "bounded by the watermarks: a window's rows are freed when it closes"}
	case JoinLookup:
		if sp.si.Modes[sides[1-j.TableSide]].Updating() {
			mode = ChangelogMode{Kind: Retract}
		}
		j.State = StateBound{Bounded: true, Text: "the rows of " + name(j.TableSide) + ", read once"}
	}
	if strategy == JoinInterval || strategy == JoinWindow {
		if err := sp.oneLateJudge(j, strategy+" join"); err != nil {
			return nil, err
		}
	}
	if mode.Updating() {
		j.Out = withOp(x.Out)
	} else {
		j.Out = x.Out
	}
	sp.setBound(j, j.State)
	return sp.set(j, mode), nil
}

// constantSide is the side of x that reads no source (a VALUES list, a
// SELECT without FROM, or a query over those: what a constant subquery
// such as IN (SELECT 1 UNION ALL SELECT 2) or > (SELECT 5) decorrelates
// into) when the other side reads one; -1 otherwise.
func constantSide(x *PhysHashJoin) int {
	isScan := func(p PhysicalPlan) bool { _, ok := p.(*PhysScan); return ok }
	l, r := countPhys(x.Left, isScan), countPhys(x.Right, isScan)
	switch {
	case l == 0 && r > 0:
		return 0
	case r == 0 && l > 0:
		return 1
	}
	return -1
}

// constantJoin streams x, whose side t is constant, as a lookup join:
// that side is computed once, as a batch plan, before the stream starts
// (it is the same at every moment), and every row of the other side
// joins it, with or without an equality (a scalar subquery's single row
// joins every row). Its state is the constant rows. A side whose
// unmatched rows the join keeps would need the whole stream first: that
// is refused.
func (sp *streamPlanner) constantJoin(x *PhysHashJoin, t int) (PhysicalPlan, error) {
	if x.Type == FullJoin || (x.Type == LeftJoin && t == 0) || (x.Type == RightJoin && t == 1) {
		return nil, sp.fail("a %s JOIN that keeps the unmatched rows of a constant relation (a VALUES list or a SELECT without FROM) is not supported in streaming mode yet: put the stream on the preserved side", strings.ToUpper(string(x.Type)))
	}
	table := []PhysicalPlan{x.Left, x.Right}[t]
	var mark func(p PhysicalPlan)
	mark = func(p PhysicalPlan) { // the table's nodes run in batch: append-only
		sp.si.Modes[p] = ChangelogMode{}
		for _, c := range p.Children() {
			mark(c)
		}
	}
	mark(table)
	in, err := sp.node([]PhysicalPlan{x.Left, x.Right}[1-t])
	if err != nil {
		return nil, err
	}
	sides := [2]PhysicalPlan{}
	sides[t], sides[1-t] = table, in
	j := &PhysStreamJoin{Left: sides[0], Right: sides[1], Type: x.Type, Residual: x.Residual, Strategy: JoinLookup, TableSide: t,
		LeftTime: -1, RightTime: -1, LeftEnd: -1, RightEnd: -1}
	for i := range x.LeftKeys {
		j.LeftKeys = append(j.LeftKeys, sp.over(j.Left, x.LeftKeys[i]))
		j.RightKeys = append(j.RightKeys, sp.over(j.Right, x.RightKeys[i]))
	}
	stream := "the stream"
	if s := scanUnder([]PhysicalPlan{x.Left, x.Right}[1-t]); s != nil {
		stream = s.Source
	}
	j.Why = "lookup join: the constant relation is computed once, before the stream, and every row of " + stream + " joins it"
	j.State = StateBound{Bounded: true, Text: "the constant relation's rows, read once"}
	mode := ChangelogMode{}
	if sp.si.Modes[in].Updating() {
		mode = ChangelogMode{Kind: Retract}
		j.Out = withOp(x.Out)
	} else {
		j.Out = x.Out
	}
	sp.setBound(j, j.State)
	return sp.set(j, mode), nil
}

// chooseJoin picks the strategy of j (filling in its time columns, bounds
// or table side) and says why.
//
// An inner interval join may read windowed aggregates' updates (changes:
// bounded holds when every updating input is one): such an input's rows
// are freed once both the other input's watermark passes their bound and
// their own aggregate's passes their window_end (no retraction of them can
// come then), and the join emits a changelog.
func (sp *streamPlanner) chooseJoin(x *PhysHashJoin, j *PhysStreamJoin, wms [2]*WatermarkDef, marks, changes, streams [2]bool, tcols [2][]int, appendOnly, bounded bool, name func(int) string) (JoinStrategy, string, error) {
	ls, rs := x.Left.Schema(), x.Right.Schema()
	nl := ls.Len()
	// Window join: equal windows on both inputs, joined on both bounds.
	// A side is a window table function's rows (its watermark tracked
	// from them) or a windowed aggregate's closed windows (its watermark
	// the aggregate's).
	lw, rw := sideWindow(x.Left, j.Left), sideWindow(x.Right, j.Right)
	lwc, rwc, onBoth, onOne := joinedWindows(x)
	if lw != nil && rw != nil && onBoth {
		if lw.kind != rw.kind || lw.size != rw.size || lw.slide != rw.slide || lw.kind == WindowSession {
			return "", "", sp.fail("a window join needs the same TUMBLE or HOP window on both inputs, got %s and %s", lw.text, rw.text)
		}
		if !appendOnly {
			return "", "", sp.fail("a window join needs append-only inputs: over windowed aggregates, use EMIT FINAL")
		}
		times := [2]int{ls.EventTime, rs.EventTime}
		for s, w := range wms {
			sw := []*joinWindow{lw, rw}[s]
			if sw.agg {
				// The window's end is the time the aggregate's
				// watermark closes it at.
				times[s] = [2][2]int{lwc, rwc}[s][1]
				continue
			}
			sch := []*Schema{ls, rs}[s]
			if w == nil {
				return "", "", sp.fail("a window join needs a WATERMARK FOR on %s: without one its windows never close", name(s))
			}
			if sch.EventTime < 0 {
				return "", "", sp.fail("a window join needs %s's watermark column %s in its rows: select it in the join input", name(s), w.Column)
			}
			if !strings.EqualFold(sw.column, w.Column) {
				return "", "", sp.fail("a window join needs windows on the watermark column %s of %s", w.Column, name(s))
			}
		}
		j.LeftTime, j.RightTime = times[0], times[1]
		j.LeftEnd, j.RightEnd = lwc[1], rwc[1]
		j.LeftByMarks, j.RightByMarks = lw.agg, rw.agg
		what := "both inputs " + lw.text
		switch {
		case lw.joined || rw.joined:
			what = "both inputs " + lw.text + ", one or both another window join's output (its closed windows)"
		case lw.agg && rw.agg:
			what = "both inputs aggregates of " + lw.text + " emitting closed windows"
		case lw.agg || rw.agg:
			what = "both inputs " + lw.text + ", one aggregated (its closed windows)"
		}
		return JoinWindow, fmt.Sprintf("window join: %s, joined on window_start and window_end; emits each window when both watermarks pass its end", what), nil
	}
	if lw != nil && rw != nil && !lw.agg && !rw.agg && onOne {
		return "", "", sp.fail("a window join joins on both window_start and window_end: add l.window_start = r.window_start AND l.window_end = r.window_end")
	}
	// Interval join: both bounds of right.ts − left.ts on the watermark
	// columns (a window join output's window_end).
	interval := func(lt, rt int, lo, hi time.Duration, haveLo, haveHi bool, until [2]*JoinUntil, rest Expr) (JoinStrategy, string, error) {
		if !haveLo {
			lo = -NoBound
		}
		if !haveHi {
			hi = NoBound
		}
		for s := range until {
			if changes[s] {
				// A changelog row waits for its own watermark
				// anyway; the residual still tests the bound.
				until[s] = nil
			}
		}
		j.LeftTime, j.RightTime, j.Lower, j.Upper, j.Until = lt, rt, lo, hi, until
		j.LeftByMarks, j.RightByMarks = marks[0], marks[1]
		// The join tests the bounds itself: the residual keeps only
		// what they do not say exactly.
		j.Residual = rest
		bounds := fmt.Sprintf("within [%s, %s]", formatSigned(lo), formatSigned(hi))
		switch {
		case !haveLo && !haveHi:
			bounds = "unbounded"
		case !haveHi:
			bounds = "at least " + formatSigned(lo)
		case !haveLo:
			bounds = "at most " + formatSigned(hi)
		}
		why := fmt.Sprintf("interval join: %s.%s - %s.%s %s on the watermark columns; a row is late against its own input's watermark",
			name(1), rs.Fields[rt].Name, name(0), ls.Fields[lt].Name, bounds)
		for s, u := range until {
			if u != nil {
				col := []*Schema{ls, rs}[s].Fields[u.Col].Name
				if u.Off != 0 {
					col += " " + formatSigned(u.Off)
				}
				why += fmt.Sprintf("; a row of %s is freed once %s's watermark passes its %s", name(s), name(1-s), col)
			}
		}
		for s, m := range marks {
			switch {
			case changes[s]:
				why += fmt.Sprintf("; %s is a windowed aggregate's updates, whose watermark is that aggregate's: a window changes no more once it passes the window's end, and a row of it is freed once both watermarks allow", name(s))
			case m && []int{lt, rt}[s] != []*Schema{ls, rs}[s].EventTime:
				why += fmt.Sprintf("; %s is a window join's output, whose watermark on window_end is that join's", name(s))
			case m:
				why += fmt.Sprintf("; %s is an interval join's output, whose watermark is that join's held back by its bounds", name(s))
			}
		}
		return JoinInterval, why, nil
	}
	// oneSided is the first pair of watermark columns whose conditions
	// bound the time of only one input's partners (one bound between
	// them, or the other input's time below a column of this one): an
	// inner join over append-only inputs still frees the rows so bounded
	// (the rows emitted are a regular join's, rows on time), where outer
	// joins stay regular joins, whose unmatched rows are emitted at once.
	// A pair bounded both ways is preferred.
	var oneSided func() (JoinStrategy, string, error)
	for _, lt := range tcols[0] {
		for _, rt := range tcols[1] {
			if (wms[0] == nil && !marks[0]) || (wms[1] == nil && !marks[1]) {
				continue
			}
			unit := timeUnit(ls.Fields[lt].Type)
			if u := timeUnit(rs.Fields[rt].Type); u > unit {
				unit = u
			}
			lo, hi, haveLo, haveHi, rest := timeBounds(x.Residual, lt, nl+rt, unit)
			until := untilBounds(x.Residual, lt, rt, ls, rs)
			switch {
			case haveLo && haveHi && lo > hi:
				return "", "", sp.fail("the join's time bounds are empty: %s - %s must be at least %s and at most %s", rs.Fields[rt].Name, ls.Fields[lt].Name, formatSigned(lo), formatSigned(hi))
			case haveLo && haveHi:
				if !appendOnly && !(bounded && x.Type == InnerJoin) {
					return "", "", sp.fail("an interval join needs append-only inputs (or, for an inner join, windowed aggregates' updates joined on window_end): drop the time bounds for a regular join over an updating input")
				}
				return interval(lt, rt, lo, hi, true, true, until, rest)
			case (haveLo || haveHi || until[0] != nil || until[1] != nil) && x.Type == InnerJoin && bounded && sp.si.LatePolicy != LateRoute:
				if oneSided == nil {
					lt, rt := lt, rt
					oneSided = func() (JoinStrategy, string, error) {
						return interval(lt, rt, lo, hi, haveLo, haveHi, until, rest)
					}
				}
			case haveLo || haveHi:
				sp.si.Warnings = append(sp.si.Warnings, "the join bounds the event times on one side only, so it runs as a regular join: for an interval join bound both, e.g. r.ts BETWEEN l.ts - INTERVAL '1' MINUTE AND l.ts + INTERVAL '1' MINUTE")
			}
		}
	}
	if oneSided != nil {
		return oneSided()
	}
	// Lookup join: a bounded side without a watermark beside a stream.
	for t := 1; t >= 0; t-- {
		table, stream := []PhysicalPlan{x.Left, x.Right}[t], 1-t
		if !allBounded(table) || streams[t] || statefulBelow(sp.si, []PhysicalPlan{j.Left, j.Right}[t]) || sp.si.Modes[[]PhysicalPlan{j.Left, j.Right}[t]].Updating() {
			continue
		}
		if allBounded([]PhysicalPlan{x.Left, x.Right}[stream]) && !streams[stream] {
			continue // two tables: a regular join
		}
		preserved := x.Type == FullJoin || (x.Type == LeftJoin && t == 0) || (x.Type == RightJoin && t == 1)
		if preserved {
			continue // its unmatched rows need the whole stream: a regular join
		}
		j.TableSide = t
		return JoinLookup, fmt.Sprintf("lookup join: %s is bounded and has no watermark, so it is read once and every row of %s joins it", name(t), name(stream)), nil
	}
	return JoinRegular, "regular join: no time bounds on both watermark columns, no common window and no bounded side to look up", nil
}

// joinTTL is the smallest 'state.ttl' of the join's sources (0: none).
func joinTTL(srcs [2]*SourceDef, fail func(string, ...any) error) (time.Duration, error) {
	var ttl time.Duration
	for _, src := range srcs {
		if src == nil {
			continue
		}
		for k, v := range src.Options {
			if !strings.EqualFold(k, "state.ttl") {
				continue
			}
			d, err := sql.ParseInterval(strings.TrimSpace(v))
			if err != nil {
				return 0, fail("source %s: invalid 'state.ttl' = %q: %s", src.Name, v, errMsg(err))
			}
			if d <= 0 {
				return 0, fail("source %s: 'state.ttl' must be positive, got %q", src.Name, v)
			}
			if ttl == 0 || d < ttl {
				ttl = d
			}
		}
	}
	return ttl, nil
}

// watermarkOf is the WATERMARK of the source scan reads (nil: none, or
// scan is nil).
func (sp *streamPlanner) watermarkOf(scan *PhysScan) *WatermarkDef {
	for i, sc := range sp.si.Scans {
		if sc == scan && scan != nil {
			return sp.si.Watermarks[i]
		}
	}
	return nil
}

// countPhys counts the nodes of p (p included) that match.
func countPhys(p PhysicalPlan, match func(PhysicalPlan) bool) int {
	n := 0
	if match(p) {
		n++
	}
	for _, c := range p.Children() {
		n += countPhys(c, match)
	}
	return n
}

// allBounded reports whether every scan under p ends by itself.
func allBounded(p PhysicalPlan) bool {
	if s, ok := p.(*PhysScan); ok {
		return s.Bounded
	}
	for _, c := range p.Children() {
		if !allBounded(c) {
			return false
		}
	}
	return true
}

// windowBelow is the window table function under p through filters and
// projections, or nil.
func windowBelow(p PhysicalPlan) *PhysWindow {
	for {
		switch x := p.(type) {
		case *PhysWindow:
			return x
		case *PhysFilter:
			p = x.Input
		case *PhysProject:
			p = x.Input
		default:
			return nil
		}
	}
}

// joinWindow is the window of a window join's side.
type joinWindow struct {
	kind        WindowKind
	size, slide time.Duration
	text        string
	// column is the window's time column (a window table function).
	column string
	// agg: the side is a windowed aggregate's or a window join's closed
	// windows, whose watermark is that operator's.
	agg bool
	// joined: the side is a window join's output.
	joined bool
}

// sideWindow is the window of a join side: the window table function
// under batch (through filters and projections), or the windowed
// aggregate under streaming that emits each window once, when it closes
// (EMIT FINAL); nil for neither.
func sideWindow(batch, streaming PhysicalPlan) *joinWindow {
	if w := windowBelow(batch); w != nil {
		return &joinWindow{kind: w.Kind, size: w.Size, slide: w.Slide, text: winText(w), column: w.Input.Schema().Fields[w.TimeCol].Name}
	}
	for {
		switch x := streaming.(type) {
		case *PhysFilter:
			streaming = x.Input
		case *PhysProject:
			streaming = x.Input
		case *PhysWindowAggregate:
			if x.Emit != EmitOnClose || x.AppendWindows {
				return nil
			}
			return &joinWindow{kind: x.Kind, size: x.Size, slide: x.Slide, agg: true,
				text: windowString(x.Kind, x.Input.Schema().Fields[x.TimeCol].Name, x.Size, x.Slide, x.Gap)}
		case *PhysStreamJoin:
			// A window join emits each window's rows once both its
			// watermarks pass the window's end, before it reports them,
			// as a windowed aggregate does. Its window_start and
			// window_end are its left input's: never NULL-padded in an
			// inner or left join.
			if x.Strategy != JoinWindow || (x.Type != InnerJoin && x.Type != LeftJoin) {
				return nil
			}
			w := sideWindow(x.Left, x.Left)
			if w == nil {
				return nil
			}
			w.agg, w.joined = true, true
			return w
		default:
			return nil
		}
	}
}

// windowColumns are the (window_start, window_end) column pairs of the
// rows of p (a batch plan; window_start -1 when projected away): its
// window's, and for an inner join on both bounds of its inputs' windows
// (a window join) both inputs' pairs, equal in every row it emits.
func windowColumns(p PhysicalPlan) [][2]int {
	switch x := p.(type) {
	case *PhysFilter:
		return windowColumns(x.Input)
	case *PhysProject:
		var out [][2]int
		for _, w := range windowColumns(x.Input) {
			// A pair whose window_start is projected away (-1) still
			// has the window_end an interval join may bound.
			if s, e := projectedColumn(x.Exprs, w[0]), projectedColumn(x.Exprs, w[1]); e >= 0 {
				out = append(out, [2]int{s, e})
			}
		}
		return out
	case *PhysHashJoin:
		out := windowColumns(x.Left)
		if x.Type != InnerJoin {
			return out
		}
		nl := x.Left.Schema().Len()
		for _, r := range windowColumns(x.Right) {
			if r[0] < 0 {
				continue
			}
			for _, l := range out {
				if joinsOn(x, l[0], r[0]) && joinsOn(x, l[1], r[1]) {
					out = append(out, [2]int{nl + r[0], nl + r[1]})
					break
				}
			}
		}
		return out
	}
	if sch := p.Schema(); sch.WindowStart >= 0 && sch.WindowEnd >= 0 {
		return [][2]int{{sch.WindowStart, sch.WindowEnd}}
	}
	return nil
}

// projectedColumn is the output column of exprs that is input column c
// itself, or -1.
func projectedColumn(exprs []Expr, c int) int {
	for i, e := range exprs {
		if r, ok := e.(*ColumnRef); ok && r.Index == c {
			return i
		}
	}
	return -1
}

// joinedWindows finds the window bounds x joins on: a (window_start,
// window_end) pair of each input (see windowColumns) with both equated
// (onBoth), or, when none is, whether one bound of some pair is (onOne).
func joinedWindows(x *PhysHashJoin) (l, r [2]int, onBoth, onOne bool) {
	for _, lc := range windowColumns(x.Left) {
		for _, rc := range windowColumns(x.Right) {
			s, e := joinsOn(x, lc[0], rc[0]), joinsOn(x, lc[1], rc[1])
			if s && e {
				return lc, rc, true, true
			}
			onOne = onOne || s || e
		}
	}
	return l, r, false, onOne
}

// windowOutput reports whether p is, through filters and projections, the
// output of an inner or left window join: its rows' window_end columns
// are on time against that join's output watermark.
func windowOutput(p PhysicalPlan) bool {
	j := streamJoinUnder(p)
	return j != nil && j.Strategy == JoinWindow && (j.Type == InnerJoin || j.Type == LeftJoin)
}

// windowUpdates reports whether streaming node p is, through filters and
// projections, a TUMBLE or HOP aggregate's updates (EMIT CHANGES): a
// changelog none of whose changes is for a window its watermark (the
// node's) has passed the end of, so that watermark bounds the changes on
// window_end.
func windowUpdates(p PhysicalPlan) bool {
	w, ok := belowRowOps(p).(*PhysWindowAggregate)
	return ok && w.Emit == EmitUpdates && (w.Kind == WindowTumble || w.Kind == WindowHop)
}

// winText renders a window table function for messages.
func winText(w *PhysWindow) string {
	return windowString(w.Kind, w.Input.Schema().Fields[w.TimeCol].Name, w.Size, w.Slide, w.Gap)
}

// joinsOn reports whether x has the key pair left column l = right column r.
func joinsOn(x *PhysHashJoin, l, r int) bool {
	if l < 0 || r < 0 {
		return false
	}
	for i := range x.LeftKeys {
		lc, ok1 := x.LeftKeys[i].(*ColumnRef)
		rc, ok2 := x.RightKeys[i].(*ColumnRef)
		if ok1 && ok2 && lc.Index == l && rc.Index == r {
			return true
		}
	}
	return false
}

// timeBounds reads, from the conjuncts of cond (over left then right
// columns), the bounds lo ≤ right.rt − left.lt ≤ hi, where lt and rt are
// column indices of the joined row, and returns cond without the
// conjuncts the bounds say exactly (≥, ≤ or = with an offset that is a
// whole number of the time columns' unit, unit nanoseconds). Strict
// comparisons widen the bounds and stay in rest; conjuncts of other
// shapes are ignored and stay too.
func timeBounds(cond Expr, lt, rt int, unit time.Duration) (lo, hi time.Duration, haveLo, haveHi bool, rest Expr) {
	var kept []Expr
	for _, c := range conjuncts(cond) {
		call, ok := c.(*Call)
		var a, b int
		var aOff, bOff time.Duration
		ok1, ok2 := false, false
		if ok && len(call.Args) == 2 {
			a, aOff, ok1 = timeTerm(call.Args[0])
			b, bOff, ok2 = timeTerm(call.Args[1])
		}
		op := ""
		if ok {
			op = call.Func
		}
		if _, cmp := flipOp[op]; !ok1 || !ok2 || !cmp || op == "ne" {
			kept = append(kept, c)
			continue
		}
		// a + aOff op b + bOff, as right − left op const.
		var k time.Duration
		switch {
		case a == rt && b == lt:
			k = bOff - aOff
		case a == lt && b == rt:
			op, k = flipOp[op], aOff-bOff
		default:
			kept = append(kept, c)
			continue
		}
		if op == "ge" || op == "gt" || op == "eq" {
			if !haveLo || k > lo {
				lo = k
			}
			haveLo = true
		}
		if op == "le" || op == "lt" || op == "eq" {
			if !haveHi || k < hi {
				hi = k
			}
			haveHi = true
		}
		if op == "gt" || op == "lt" || unit <= 0 || k%unit != 0 {
			kept = append(kept, c)
		}
	}
	return lo, hi, haveLo, haveHi, andAll(kept)
}

// untilBounds finds the conjuncts of cond that bound one input's
// watermark column by a column of the other input (other.time + a <=
// col + b, or <, either way round): until[s] is such a column of input s
// (the first one found, its offset b − a). cond is over the left columns
// then the right ones; lt and rt are the watermark columns (each within
// its input). The column must have the time columns' type, so that its
// values compare with the watermark in one unit; a conjunct between the
// two time columns is an interval bound (timeBounds), not one of these.
func untilBounds(cond Expr, lt, rt int, ls, rs *Schema) (until [2]*JoinUntil) {
	nl := ls.Len()
	tt := ls.Fields[lt].Type
	if !arrow.TypeEqual(tt, rs.Fields[rt].Type) {
		return until
	}
	for _, c := range conjuncts(cond) {
		call, ok := c.(*Call)
		if !ok || len(call.Args) != 2 {
			continue
		}
		a, aOff, ok1 := timeTerm(call.Args[0])
		b, bOff, ok2 := timeTerm(call.Args[1])
		op := call.Func
		switch {
		case !ok1 || !ok2:
			continue
		case op == "ge" || op == "gt":
			a, aOff, b, bOff = b, bOff, a, aOff
		case op != "le" && op != "lt":
			continue
		}
		// a + aOff <= b + bOff: the time a bounded by column b.
		var s, col int
		switch {
		case a == nl+rt && b < nl && b != lt:
			s, col = 0, b
		case a == lt && b >= nl && b-nl != rt:
			s, col = 1, b-nl
		default:
			continue
		}
		if until[s] == nil && arrow.TypeEqual([]*Schema{ls, rs}[s].Fields[col].Type, tt) {
			until[s] = &JoinUntil{Col: col, Off: bOff - aOff}
		}
	}
	return until
}

// timeUnit is one unit of an event-time column: a TIMESTAMP's unit, or a
// millisecond for BIGINT epoch milliseconds.
func timeUnit(t arrow.DataType) time.Duration {
	if ts, ok := t.(*arrow.TimestampType); ok {
		return time.Duration(ts.Unit.Multiplier())
	}
	return time.Millisecond
}

// timeTerm reads col, col + INTERVAL and col - INTERVAL (fixed-length
// intervals only) as a column and an offset.
func timeTerm(e Expr) (int, time.Duration, bool) {
	switch x := e.(type) {
	case *ColumnRef:
		return x.Index, 0, true
	case *Call:
		if (x.Func != "add" && x.Func != "sub" && x.Func != "date_add" && x.Func != "date_sub") || len(x.Args) != 2 {
			return 0, 0, false
		}
		c, ok := x.Args[0].(*ColumnRef)
		lit, ok2 := x.Args[1].(*Literal)
		if !ok || !ok2 {
			return 0, 0, false
		}
		iv, ok := lit.Value.(arrow.MonthDayNanoInterval)
		if !ok || iv.Months != 0 {
			return 0, 0, false
		}
		d := time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Nanoseconds)
		if x.Func == "sub" || x.Func == "date_sub" {
			d = -d
		}
		return c.Index, d, true
	}
	return 0, 0, false
}

// formatSigned writes a signed duration in the dialect's shorthand.
func formatSigned(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	return formatDuration(d)
}

// intervalOutput reports whether p is, through filters and projections,
// the output of an interval join whose left event time (the output's
// event-time column) is never NULL-padded (an inner or left join): its
// rows are on time against that join's output watermark (its inputs'
// watermarks held back by its bounds), which a join over it takes as
// the input's marks.
func intervalOutput(p PhysicalPlan) bool {
	j := streamJoinUnder(p)
	return j != nil && j.Strategy == JoinInterval && (j.Type == InnerJoin || j.Type == LeftJoin)
}

// oneLateJudge refuses 'late.sink' for operator n (named what), which
// judges rows late, when an operator below it does too: the late sink
// takes rows of one shape (a join's late rows are its row shape, the
// other input's columns NULL), so it takes one operator's late rows.
func (sp *streamPlanner) oneLateJudge(n PhysicalPlan, what JoinStrategy) error {
	if sp.si.LatePolicy != LateRoute {
		return nil
	}
	below := 0
	for _, c := range n.Children() {
		below += countPhys(c, judgesLate)
	}
	if below > 0 {
		return sp.fail("'late.sink' takes the late rows of one operator, and this query's %s judges rows late above another that does: use 'late.policy' = 'drop' or 'error', or split the query", what)
	}
	return nil
}

// judgesLate reports whether streaming node p judges its input rows late
// against a watermark (and so routes them to a late sink).
func judgesLate(p PhysicalPlan) bool {
	switch x := p.(type) {
	case *PhysWindowAggregate:
		return true
	case *PhysOverAggregate:
		return !x.Updating // over a changelog it waits for no watermark
	case *PhysStreamJoin:
		return x.Strategy == JoinInterval || x.Strategy == JoinWindow || x.Strategy == JoinTemporal
	}
	return false
}
