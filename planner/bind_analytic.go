package planner

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Window function calls (`f(…) OVER (PARTITION BY … ORDER BY … frame)`)
// bind in two steps, like aggregates: bindWindowFunc turns a call into a
// placeholder Call named "#w<i>" whose Args are the call's arguments, then
// its PARTITION BY and ORDER BY expressions (so the aggregation rewrite
// maps them onto the aggregate's output like any expression), with the
// rest of the call in binder.winCalls[i]; lowerWindows then stacks one
// Analytic node per distinct PARTITION BY/ORDER BY over the (aggregated)
// input and replaces each placeholder by a reference to its column.
const winPrefix = "#w"

// winCall is what a window placeholder does not carry in its Args.
type winCall struct {
	fn    WindowFunc // Func, N, Frame, Typ; Args come from the placeholder
	nargs int
	npart int
	order []SortKey // directions; expressions come from the placeholder
}

// winScope allows window functions in an expression: the select list
// and ORDER BY. named are the query's WINDOW w AS (…) definitions.
type winScope struct {
	named []*ast.WindowSpec
}

func isWinPlaceholder(e Expr) bool {
	c, ok := e.(*Call)
	return ok && strings.HasPrefix(c.Func, winPrefix)
}

func hasWin(e Expr) bool {
	found := false
	walkExpr(e, func(x Expr) { found = found || isWinPlaceholder(x) })
	return found
}

// rankFuncs are the window functions without arguments and their types.
var rankFuncs = map[string]arrow.DataType{
	"row_number": TypeBigInt, "rank": TypeBigInt, "dense_rank": TypeBigInt,
	"percent_rank": TypeDouble, "cume_dist": TypeDouble,
}

// bindWindowFunc binds `f(args) OVER (…)` into a placeholder.
func (b *binder) bindWindowFunc(x *ast.WindowFuncExpr, ctx exprCtx, off int) (Expr, error) {
	if ctx.win == nil {
		return nil, b.errAt(off, "window functions are allowed only in the select list and ORDER BY")
	}
	name := strings.ToLower(x.Name)
	name = b.sampleSpelling(name, off) // STDDEV OVER …: STDDEV_SAMP, as in GROUP BY
	switch {
	case x.IgnoreNull:
		return nil, b.errAt(off, "IGNORE NULLS is not supported in %s", strings.ToUpper(name))
	case x.FromLast:
		return nil, b.errAt(off, "FROM LAST is not supported in %s", strings.ToUpper(name))
	case x.Distinct && aggAliases[name] == "":
		return nil, b.errAt(off, "DISTINCT is not supported in a window function (%s)", strings.ToUpper(name))
	}
	spec, err := b.resolveWindowSpec(&x.Spec, ctx.win, off)
	if err != nil {
		return nil, err
	}
	// Arguments and the window see the same columns as the call; they may
	// hold aggregates when the query aggregates (SUM(SUM(v)) OVER ()),
	// not other window functions.
	inner := exprCtx{sc: ctx.sc, noAgg: ctx.noAgg}
	wc := &winCall{fn: WindowFunc{Func: name, Pos: posOf(b.q, off)}}
	var args []Expr
	derived, derivedArg := false, Expr(nil)
	nargs := func(lo, hi int) error {
		if len(x.Args) < lo || len(x.Args) > hi {
			want := strconv.Itoa(lo)
			switch {
			case hi > lo+1:
				want = fmt.Sprintf("%d to %d", lo, hi)
			case hi > lo:
				want = fmt.Sprintf("%d or %d", lo, hi)
			}
			return b.errAt(off, "%s takes %s arguments, got %d", strings.ToUpper(name), want, len(x.Args))
		}
		return nil
	}
	bindArg := func(i int) (Expr, error) { return b.bindExpr(x.Args[i], inner, offsetOf(x.Args[i], off)) }
	if t, ok := rankFuncs[name]; ok {
		if err := nargs(0, 0); err != nil {
			return nil, err
		}
		wc.fn.Typ = t
	} else {
		switch name {
		case "ntile":
			if err := nargs(1, 1); err != nil {
				return nil, err
			}
			if wc.fn.N, err = b.constInt(x.Args[0], 1, off, "NTILE's bucket count"); err != nil {
				return nil, err
			}
			wc.fn.Typ = TypeBigInt
		case "lag", "lead":
			if err := nargs(1, 3); err != nil {
				return nil, err
			}
			v, err := bindArg(0)
			if err != nil {
				return nil, err
			}
			wc.fn.N = 1
			if len(x.Args) > 1 {
				if wc.fn.N, err = b.constInt(x.Args[1], 0, off, strings.ToUpper(name)+"'s offset"); err != nil {
					return nil, err
				}
			}
			args = []Expr{v}
			if len(x.Args) > 2 {
				d, err := bindArg(2)
				if err != nil {
					return nil, err
				}
				unified, t, err := b.unify([]Expr{v, d}, off, strings.ToUpper(name))
				if err != nil {
					return nil, err
				}
				args = unified
				wc.fn.Typ = t
			}
			if wc.fn.Typ == nil {
				wc.fn.Typ = v.Type()
			}
		case "first_value", "last_value", "nth_value":
			lo := 1
			if name == "nth_value" {
				lo = 2
			}
			if err := nargs(lo, lo); err != nil {
				return nil, err
			}
			v, err := bindArg(0)
			if err != nil {
				return nil, err
			}
			if name == "nth_value" {
				if wc.fn.N, err = b.constInt(x.Args[1], 1, off, "NTH_VALUE's position"); err != nil {
					return nil, err
				}
			}
			args, wc.fn.Typ = []Expr{v}, v.Type()
		case "sum", "count", "avg", "min", "max":
			if err := nargs(1, 1); err != nil {
				return nil, err
			}
			v, err := bindArg(0)
			if err != nil {
				return nil, err
			}
			v, t, star, err := b.aggType(name, v, false, off)
			if err != nil {
				return nil, err
			}
			wc.fn.Typ = t
			_, filtered := b.q.AggFilters[off]
			if star && !filtered {
				wc.fn.Func = "count_star"
				break
			}
			if star {
				// COUNT(*) FILTER (WHERE c) counts CASE WHEN c THEN 1 END.
				wc.fn.Func = "count"
				v = &Literal{Typ: TypeBigInt, Value: int64(1)}
			}
			// SUM, COUNT, AVG, MIN and MAX skip the NULLs a false FILTER
			// condition leaves, as in GROUP BY.
			if v, err = b.aggFilter(off, v, inner); err != nil {
				return nil, err
			}
			args = []Expr{v}
		default:
			if !derivedAggs[name] {
				if args, err = b.bindLayerWindow(name, x, wc, inner, off); err != nil {
					return nil, err
				}
				break
			}
			// STDDEV, VARIANCE, BOOL_AND, …: the formula GROUP BY
			// uses, over SUM/COUNT/MIN/MAX windows of this call's
			// window (made below, once the window is bound).
			if err := nargs(1, 1); err != nil {
				return nil, err
			}
			v, err := bindArg(0)
			if err != nil {
				return nil, err
			}
			if derivedArg, err = b.aggFilter(off, v, inner); err != nil {
				return nil, err
			}
			derived = true
		}
	}
	if _, ok := b.q.AggFilters[off]; ok && (rankFuncs[name] != nil || name == "ntile" || name == "lag" || name == "lead" || name == "first_value" || name == "last_value" || name == "nth_value") {
		return nil, b.errAt(off, "FILTER is allowed only on aggregate window functions, not on %s", strings.ToUpper(name))
	}
	wc.nargs = len(args)
	all := args
	if spec.PartitionBy != nil {
		for _, it := range spec.PartitionBy.Items {
			e, err := b.bindExpr(it.Expr, inner, offsetOf(it.Expr, off))
			if err != nil {
				return nil, err
			}
			all = append(all, e)
			wc.npart++
		}
	}
	if spec.OrderBy != nil {
		for _, it := range spec.OrderBy.Items {
			if _, ok := it.Expr.(*ast.PositionExpr); ok {
				return nil, b.errAt(offsetOf(it.Expr, off), "a column position is not allowed in a window's ORDER BY")
			}
			e, err := b.bindExpr(it.Expr, inner, offsetOf(it.Expr, off))
			if err != nil {
				return nil, err
			}
			all = append(all, e)
			wc.order = append(wc.order, SortKey{Expr: e, Desc: it.Desc, NullsFirst: !it.Desc})
		}
	}
	if wc.fn.Frame, err = b.bindFrame(spec.Frame, wc.order, off); err != nil {
		return nil, err
	}
	win := func(wc *winCall, all []Expr) Expr {
		b.winCalls = append(b.winCalls, wc)
		e := &Call{Func: winPrefix + strconv.Itoa(len(b.winCalls)-1), Args: all, Typ: wc.fn.Typ}
		b.pos[e] = off
		return e
	}
	if derived {
		return b.bindDerivedAgg(name, derivedArg, x.Distinct, off, func(fn string, a Expr, t arrow.DataType) Expr {
			c := *wc
			c.fn.Func, c.fn.Typ, c.nargs = fn, t, 1
			return win(&c, append([]Expr{a}, all...))
		})
	}
	return win(wc, all), nil
}

// resolveWindowSpec merges `OVER w` / `OVER (w ORDER BY …)` with the
// named window w of the query's WINDOW clause.
func (b *binder) resolveWindowSpec(s *ast.WindowSpec, ws *winScope, off int) (*ast.WindowSpec, error) {
	ref := s.Ref.L
	if s.OnlyAlias {
		ref = s.Name.L
	}
	if ref == "" {
		return s, nil
	}
	for depth := 0; depth <= len(ws.named); depth++ {
		var base *ast.WindowSpec
		for _, n := range ws.named {
			if n.Name.L == ref {
				base = n
				break
			}
		}
		if base == nil {
			return nil, b.errAt(off, "unknown window %q", ref)
		}
		m := *s
		if base.PartitionBy != nil {
			if s.PartitionBy != nil && !s.OnlyAlias {
				return nil, b.errAt(off, "window %q already has a PARTITION BY", ref)
			}
			m.PartitionBy = base.PartitionBy
		}
		if m.OrderBy == nil || s.OnlyAlias {
			m.OrderBy = base.OrderBy
		}
		if m.Frame == nil || s.OnlyAlias {
			m.Frame = base.Frame
		}
		m.Ref, m.OnlyAlias = base.Ref, false
		if ref = base.Ref.L; ref == "" {
			return &m, nil
		}
		s = &m
	}
	return nil, b.errAt(off, "window %q refers to itself", ref)
}

// constInt reads a constant integer ≥ lo (NTILE's buckets, LAG's offset).
func (b *binder) constInt(n ast.ExprNode, lo int64, off int, what string) (int64, error) {
	if v, ok := n.(ast.ValueExpr); ok {
		switch x := v.GetValue().(type) {
		case int64:
			if x >= lo {
				return x, nil
			}
		case uint64:
			if x <= math.MaxInt64 && int64(x) >= lo {
				return int64(x), nil
			}
		}
	}
	return 0, b.errAt(offsetOf(n, off), "%s must be an integer constant ≥ %d", what, lo)
}

// bindFrame checks a ROWS/RANGE frame (nil: the default, which depends
// on whether the window has an ORDER BY) and converts its offsets.
func (b *binder) bindFrame(fc *ast.FrameClause, order []SortKey, off int) (Frame, error) {
	if fc == nil {
		if len(order) == 0 {
			return WholePartition, nil
		}
		return RunningFrame, nil
	}
	var f Frame
	switch fc.Type {
	case ast.Rows:
		f.Rows = true
	case ast.Ranges:
	default:
		return f, b.errAt(off, "GROUPS frames are not supported: use ROWS or RANGE")
	}
	var err error
	if f.Start, err = b.bindBound(&fc.Extent.Start, f.Rows, order, off); err != nil {
		return f, err
	}
	if f.End, err = b.bindBound(&fc.Extent.End, f.Rows, order, off); err != nil {
		return f, err
	}
	switch {
	case f.Start.Kind == UnboundedFollowing:
		return f, b.errAt(off, "a frame cannot start at UNBOUNDED FOLLOWING")
	case f.End.Kind == UnboundedPreceding:
		return f, b.errAt(off, "a frame cannot end at UNBOUNDED PRECEDING")
	case f.Start.Kind > f.End.Kind:
		return f, b.errAt(off, "a frame cannot start at %s and end at %s", f.Start, f.End)
	}
	return f, nil
}

// bindBound converts one frame bound. A RANGE offset needs exactly one
// ORDER BY key of a number or time type; for TIMESTAMP and DATE keys it is
// an INTERVAL (without months, which have no fixed length).
func (b *binder) bindBound(fb *ast.FrameBound, rows bool, order []SortKey, off int) (FrameBound, error) {
	var out FrameBound
	switch {
	case fb.Type == ast.CurrentRow:
		out.Kind = CurrentRow
		return out, nil
	case fb.UnBounded && fb.Type == ast.Preceding:
		out.Kind = UnboundedPreceding
		return out, nil
	case fb.UnBounded:
		out.Kind = UnboundedFollowing
		return out, nil
	case fb.Type == ast.Preceding:
		out.Kind = Preceding
	default:
		out.Kind = Following
	}
	eoff := off
	if fb.Expr != nil {
		eoff = offsetOf(fb.Expr, off)
	}
	val, ok := fb.Expr.(ast.ValueExpr)
	if !ok {
		return out, b.errAt(eoff, "a frame offset must be a constant")
	}
	text := fmt.Sprint(val.GetValue())
	if s, ok := val.GetValue().(interface{ String() string }); ok {
		text = s.String()
	}
	if rows {
		if fb.Unit != ast.TimeUnitInvalid {
			return out, b.errAt(eoff, "a ROWS frame offset counts rows: use an integer, not an INTERVAL")
		}
		n, err := b.constInt(fb.Expr, 0, off, "a ROWS frame offset")
		if err != nil {
			return out, err
		}
		out.Offset, out.Text = n, strconv.FormatInt(n, 10)
		return out, nil
	}
	if len(order) != 1 {
		return out, b.errAt(eoff, "a RANGE frame with an offset needs exactly one ORDER BY key, got %d", len(order))
	}
	kt := order[0].Expr.Type()
	if fb.Unit != ast.TimeUnitInvalid {
		iv, err := intervalValue(text, fb.Unit.String())
		if err != nil {
			return out, b.errAt(eoff, "%v", err)
		}
		out.Text = formatInterval(iv)
		nanos := int64(iv.Days)*86_400_000_000_000 + iv.Nanoseconds
		switch {
		case iv.Months != 0:
			return out, b.errAt(eoff, "a RANGE frame offset cannot be in months or years (they have no fixed length): use days")
		case nanos < 0:
			return out, b.errAt(eoff, "a frame offset cannot be negative")
		case kt.ID() == arrow.TIMESTAMP:
			out.Offset = nanos / 1000
		case kt.ID() == arrow.DATE32 && nanos%86_400_000_000_000 == 0:
			out.Offset = nanos / 86_400_000_000_000
		case kt.ID() == arrow.DATE32:
			return out, b.errAt(eoff, "a RANGE frame over a DATE moves in whole days")
		default:
			return out, b.errAt(eoff, "a RANGE frame offset is an INTERVAL only when ORDER BY is a TIMESTAMP or DATE, not %s", TypeName(kt))
		}
		return out, nil
	}
	out.Text = text
	switch {
	case isInteger(kt):
		n, err := b.constInt(fb.Expr, 0, off, "a RANGE frame offset")
		if err != nil {
			return out, err
		}
		out.Offset = n
	case kt.ID() == arrow.FLOAT32 || kt.ID() == arrow.FLOAT64:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) {
			return out, b.errAt(eoff, "a RANGE frame offset must be a non-negative number")
		}
		out.FloatOffset = f
	case kt.ID() == arrow.TIMESTAMP || kt.ID() == arrow.DATE32:
		return out, b.errAt(eoff, "a RANGE frame over %s needs an INTERVAL offset, e.g. INTERVAL '1' MINUTE PRECEDING", TypeName(kt))
	default:
		return out, b.errAt(eoff, "a RANGE frame offset needs an integer, floating-point, TIMESTAMP or DATE ORDER BY key, not %s", TypeName(kt))
	}
	return out, nil
}

// lowerWindows stacks one Analytic node per distinct window (PARTITION BY
// and ORDER BY) over p for the window placeholders in *targets, and
// rewrites those expressions to read the nodes' columns. names suggests
// a column name for a placeholder that is a whole select item.
func (b *binder) lowerWindows(p Plan, targets []*Expr, names map[string]string) (Plan, error) {
	seen := map[string]bool{}
	var calls []*Call
	for _, t := range targets {
		walkExpr(*t, func(e Expr) {
			if c, ok := e.(*Call); ok && isWinPlaceholder(c) && !seen[c.Func] {
				seen[c.Func] = true
				calls = append(calls, c)
			}
		})
	}
	if len(calls) == 0 {
		return p, nil
	}
	type group struct {
		part  []Expr
		order []SortKey
		calls []*Call
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, c := range calls {
		wc := b.winCalls[b.winIndex(c)]
		part := c.Args[wc.nargs : wc.nargs+wc.npart]
		order := make([]SortKey, len(wc.order))
		key := ""
		for _, e := range part {
			key += exprKey(e) + ","
		}
		key += "|"
		for i, o := range wc.order {
			order[i] = SortKey{Expr: c.Args[wc.nargs+wc.npart+i], Desc: o.Desc, NullsFirst: o.NullsFirst}
			key += exprKey(order[i].Expr) + fmt.Sprint(o.Desc, o.NullsFirst) + ","
		}
		g := byKey[key]
		if g == nil {
			g = &group{part: part, order: order}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.calls = append(g.calls, c)
	}
	repl := map[string]Expr{}
	for _, g := range groups {
		a := &Analytic{Input: p, Partition: g.part, Order: g.order}
		base := p.Schema().Len()
		for _, c := range g.calls {
			wc := b.winCalls[b.winIndex(c)]
			f := wc.fn
			f.Args = c.Args[:wc.nargs]
			name := names[c.Func]
			if name == "" {
				name = "w" + strings.TrimPrefix(c.Func, winPrefix)
			}
			repl[c.Func] = &ColumnRef{Index: base + len(a.Funcs), Name: name, Typ: f.Typ}
			a.Funcs = append(a.Funcs, f)
			a.Names = append(a.Names, name)
		}
		p = a
	}
	for _, t := range targets {
		e, err := mapExpr(*t, func(e Expr) (Expr, error) {
			if c, ok := e.(*Call); ok && isWinPlaceholder(c) {
				return repl[c.Func], nil
			}
			return e, nil
		})
		if err != nil {
			return nil, err
		}
		*t = e
	}
	return p, nil
}

// winIndex is the winCalls index a placeholder names.
func (b *binder) winIndex(c *Call) int {
	i, _ := strconv.Atoi(strings.TrimPrefix(c.Func, winPrefix))
	return i
}

// bindLayerWindow binds an aggregate of the accumulator layer (MEDIAN,
// STRING_AGG, ARRAY_AGG, BIT_OR, …) inside OVER as GROUP BY binds it,
// its state then run over each row's frame: it fills wc.fn and returns
// the call's arguments.
func (b *binder) bindLayerWindow(name string, x *ast.WindowFuncExpr, wc *winCall, inner exprCtx, off int) ([]Expr, error) {
	if aggAliases[name] == "" {
		return nil, b.errAt(off, "unsupported window function %q", x.Name)
	}
	ph, err := b.bindLayerAgg(name, &ast.AggregateFuncExpr{F: x.Name, Args: x.Args, Distinct: x.Distinct || b.q.AggDistinct[off]}, inner, off)
	if err != nil {
		return nil, err
	}
	c, ok := ph.(*Call)
	if !ok || !strings.HasPrefix(c.Func, aggPrefix) {
		return nil, b.errAt(off, "%s with a NULL separator is not supported in a window", strings.ToUpper(name))
	}
	fn, params := decodeAggParams(strings.TrimPrefix(c.Func, aggPrefix))
	wc.fn.Func, wc.fn.Params, wc.fn.Typ = fn, params, c.Typ
	return c.Args, nil
}
