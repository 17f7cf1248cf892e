package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// ChangelogMode says what a node of a streaming plan emits: rows that are
// final once emitted (append) or a changelog that may update or retract
// earlier rows (updating). Sinks that cannot take back a row need append.
type ChangelogMode string

// Changelog modes.
const (
	Append   ChangelogMode = "append"
	Updating ChangelogMode = "updating"
)

// Late-data policies, from the source option 'late.policy' (and
// 'late.sink', which routes late rows to a sink instead of dropping them).
const (
	LateDrop  = "drop"
	LateError = "error"
	LateRoute = "route"
)

// Stateful operators the engine picks for the stateful node.
const (
	// OpGroupAggregate is the streaming GROUP BY emitting a changelog
	// (EMIT CHANGES, EMIT EVERY).
	OpGroupAggregate = "GroupAggregate"
	// OpWindowAggregate is the windowed aggregation that frees each
	// window once the watermark passes its end: it emits the window's rows
	// then (EMIT FINAL, and EMIT EVERY into an append-only sink), or a
	// changelog as they change (EMIT CHANGES, EMIT EVERY updating).
	OpWindowAggregate = "WindowAggregate"
)

// StreamInfo describes how a query with an EMIT clause runs as a stream:
// the changelog mode of every physical node, the single stateful node and
// the operator to run it with, whether its state is bounded, and the
// event-time settings of the streamed source. The engine splits the
// physical plan at Stateful: the nodes below it are a stateless append
// prefix (Scan, Filter, Project, Window), the nodes above it a suffix over
// its output.
type StreamInfo struct {
	// Nodes gives the changelog mode of every node of QueryPlan.Physical.
	Nodes map[PhysicalPlan]ChangelogMode
	// Mode is the mode of the query's output (the root node's mode).
	Mode ChangelogMode
	// Scan is the one source the stream reads.
	Scan *PhysScan
	// Stateful is the aggregate (a *PhysHashAggregate) or nil for a
	// stateless query; Operator says how to run it.
	Stateful PhysicalPlan
	// Operator is OpGroupAggregate, OpWindowAggregate or "" (stateless).
	Operator string
	// Window is the window assignment (TUMBLE/HOP/SESSION) in the
	// stateless prefix, or nil; when Windowed it feeds Stateful.
	Window *PhysWindow
	// Windowed: the aggregate groups by window_start or window_end of a
	// TUMBLE/HOP/SESSION over a source with a WATERMARK.
	Windowed bool
	// AppendWindows: EMIT EVERY over a windowed aggregate into an
	// append-only sink; each trigger writes the windows the watermark
	// closed since the last one (Operator is OpWindowAggregate).
	AppendWindows bool
	// StateBounded: the stateful node's state stays bounded (freed by
	// the watermark, a single global group, or a source that ends).
	StateBounded bool
	// State is the EXPLAIN text for the state, e.g. `bounded by
	// watermark on ts` or `unbounded (warning)`; "" when stateless.
	State string
	// Warnings are user-facing notes about the plan, in a fixed order.
	Warnings []string
	// Emit is the trigger as written, normalised: `EVERY 5s FULL`,
	// `EVERY 1m`, `CHANGES` or `FINAL`.
	Emit string
	// Watermark is the streamed source's WATERMARK (nil: none).
	Watermark *WatermarkDef
	// IdleTimeout is 'watermark.idle_timeout' (0: partitions never go
	// idle).
	IdleTimeout time.Duration
	// LatePolicy is LateDrop (default), LateError or LateRoute.
	LatePolicy string
	// LateSink is the sink late rows go to when LatePolicy is LateRoute.
	LateSink string
}

// Streaming works out the StreamInfo of a planned query with an EMIT
// clause (nil, nil for a batch query). Queries the streaming engine cannot
// run yet, and EMIT clauses that do not fit the query, are *sql.Error
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
	fail := func(format string, args ...any) error {
		return sql.Errorf(sql.PlanError, e.Pos, format, args...)
	}
	si := &StreamInfo{Nodes: map[PhysicalPlan]ChangelogMode{}, Emit: emitText(e), LatePolicy: LateDrop}

	// The spine from the root down to the source: every supported plan is
	// a chain of one-input nodes over one scan.
	var spine []PhysicalPlan // root first
	for p := qp.Physical; p != nil; {
		spine = append(spine, p)
		switch x := p.(type) {
		case *PhysHashJoin:
			return nil, fail("JOIN is not supported in streaming mode yet")
		case *PhysUnionAll:
			return nil, fail("UNION is not supported in streaming mode yet")
		case *PhysValues:
			return nil, fail("EMIT needs a source to stream from (FROM)")
		case *PhysScan:
			si.Scan = x
		}
		kids := p.Children()
		if len(kids) != 1 {
			break
		}
		p = kids[0]
	}
	if si.Scan == nil {
		return nil, fail("EMIT needs a source to stream from (FROM)")
	}
	src, _ := cat.LookupSource(si.Scan.Source)
	if src != nil {
		si.Watermark = src.Watermark
		if err := si.sourceOptions(src, cat, fail); err != nil {
			return nil, err
		}
	}

	// The stateful node: the lowest aggregate; there may be only one.
	stateful := -1
	for i, p := range spine {
		if _, ok := p.(*PhysHashAggregate); ok {
			if stateful >= 0 {
				return nil, fail("more than one aggregation level (GROUP BY or DISTINCT over another) is not supported in streaming mode yet")
			}
			stateful = i
		}
	}
	// Everything below the stateful node (or the whole spine of a
	// stateless query, up to a TopN) must be stateless.
	prefixFrom := len(spine) - 1
	prefixTo := stateful + 1
	if stateful < 0 {
		prefixTo = 0
	}
	for i := prefixFrom; i >= prefixTo; i-- {
		switch x := spine[i].(type) {
		case *PhysScan, *PhysFilter, *PhysProject:
			si.Nodes[x] = Append
		case *PhysWindow:
			si.Nodes[x] = Append
			si.Window = x
		default:
			if stateful >= 0 {
				return nil, fail("%s below the aggregation is not supported in streaming mode yet", nodeKind(x))
			}
			prefixTo = i + 1 // a stateless query's suffix starts here
			i = -1
		}
	}

	mode := Append
	if stateful >= 0 {
		agg := spine[stateful].(*PhysHashAggregate)
		si.Stateful = agg
		windowed := si.Window != nil && groupsByWindow(agg)
		if windowed && si.Watermark == nil {
			if e.Kind == sql.EmitFinal {
				return nil, fail("EMIT FINAL needs a WATERMARK FOR on source %s: without one its windows never close", si.Scan.Source)
			}
			si.Warnings = append(si.Warnings, fmt.Sprintf("windows of %s never close: source %s has no WATERMARK FOR, so every window stays in state", si.Scan.Source, si.Scan.Source))
			windowed = false
		}
		si.Windowed = windowed
		// The watermark frees an updating aggregate's closed windows only
		// when the windows are on its column (and are not sessions).
		onWatermark := windowed && strings.EqualFold(si.Window.Input.Schema().Fields[si.Window.TimeCol].Name, si.Watermark.Column)
		switch {
		case windowed && e.Kind == sql.EmitFinal:
			si.Operator = OpWindowAggregate
		case windowed && e.Kind == sql.EmitEvery && appendSink && !e.Full:
			si.Operator, si.AppendWindows = OpWindowAggregate, true
		case e.Kind == sql.EmitFinal:
			return nil, fail("EMIT FINAL needs a windowed aggregate: GROUP BY window_start of TUMBLE/HOP/SESSION")
		case onWatermark && si.Window.Kind != sql.Session:
			si.Operator, mode = OpWindowAggregate, Updating
		default:
			si.Operator, mode = OpGroupAggregate, Updating
		}
		si.Nodes[agg] = mode
		if windowed {
			if tc := si.Window.Input.Schema().Fields[si.Window.TimeCol].Name; !strings.EqualFold(tc, si.Watermark.Column) {
				si.Warnings = append(si.Warnings, fmt.Sprintf("windows are on %s but the watermark tracks %s: lateness and window closing follow %s", tc, si.Watermark.Column, si.Watermark.Column))
			}
		}
		switch {
		case windowed && si.Operator == OpGroupAggregate && !si.Scan.Bounded:
			// Windows on another column than the watermark's run as a
			// plain GROUP BY that no watermark frees: say so rather than
			// promise a bound the runtime does not keep.
			si.State = "unbounded (warning)"
			si.Warnings = append(si.Warnings, fmt.Sprintf("state of GROUP BY %s keeps every window under EMIT %s: the windows are not on the watermark column %s, so none is freed", exprList(agg.Keys), si.Emit, si.Watermark.Column))
		case windowed:
			si.StateBounded = true
			si.State = "bounded by watermark on " + si.Watermark.Column
		case len(agg.Keys) == 0:
			si.StateBounded, si.State = true, "one group"
		case si.Scan.Bounded:
			si.StateBounded, si.State = true, "bounded by the input (the source ends)"
		default:
			si.State = "unbounded (warning)"
			si.Warnings = append(si.Warnings, fmt.Sprintf("state of GROUP BY %s grows without bound on an unbounded source: add a window or a watermark", exprList(agg.Keys)))
		}
		prefixTo = stateful
	} else if e.Kind == sql.EmitFinal {
		return nil, fail("EMIT FINAL needs a windowed aggregate: GROUP BY window_start of TUMBLE/HOP/SESSION")
	}

	if si.Window != nil && si.Window.Kind == sql.Session && si.Operator != OpWindowAggregate {
		// Sessions merge as rows arrive, so assigning them is not a
		// stateless step; only the window operator tracks them.
		return nil, fail("SESSION windows need EMIT FINAL (a GROUP BY window_start over a source with a WATERMARK) in streaming mode yet")
	}

	// The suffix, bottom-up over the stateful node's (or prefix's) output.
	for i := prefixTo - 1; i >= 0; i-- {
		switch x := spine[i].(type) {
		case *PhysFilter, *PhysProject:
		case *PhysTopN:
			mode = Updating // the top-N set changes as rows arrive
		case *PhysSort:
			if mode == Updating {
				return nil, fail("ORDER BY without LIMIT on an updating result is not supported in streaming mode yet: add LIMIT, or use EMIT FINAL over a window")
			}
			si.Warnings = append(si.Warnings, "ORDER BY without LIMIT sorts each emitted batch, not the whole stream")
		case *PhysLimit:
			if mode == Updating {
				return nil, fail("LIMIT without ORDER BY on an updating result is not supported in streaming mode yet: add ORDER BY")
			}
		default:
			return nil, fail("%s is not supported in streaming mode yet", nodeKind(x))
		}
		si.Nodes[spine[i]] = mode
	}
	si.Mode = mode
	if si.Watermark == nil && src != nil && (src.Options["late.policy"] != "" || src.Options["late.sink"] != "") {
		si.Warnings = append(si.Warnings, fmt.Sprintf("'late.policy' and 'late.sink' have no effect: source %s has no WATERMARK FOR", src.Name))
	}
	return si, nil
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
