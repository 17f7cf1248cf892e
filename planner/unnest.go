package planner

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Unnest repeats each input row once per element of its lists and adds
// one column per list holding the element, after the input's columns:
// DuckDB's UNNEST, in the select list (SELECT UNNEST(l)) and in FROM
// (FROM t, UNNEST(t.l) AS u(x); FROM UNNEST([1, 2])). Several lists are
// zipped: as many rows as the longest, the shorter padded with NULL; a
// row whose lists are all NULL or empty gives no row.
type Unnest struct {
	Input Plan
	// Lists are list-typed expressions over Input's columns; Names name
	// their element columns.
	Lists []Expr
	Names []string
	// Outer keeps a row whose lists are all NULL or empty, once, with
	// NULL elements: LEFT JOIN UNNEST(…) ON TRUE.
	Outer bool
}

// Schema implements Plan: the input's columns (their marks kept), then
// one nullable element column per list.
func (u *Unnest) Schema() *Schema { return unnestSchema(u.Input.Schema(), u.Lists, u.Names) }

// unnestSchema is the output of unnesting lists over in.
func unnestSchema(in *Schema, lists []Expr, names []string) *Schema {
	fs := append([]Field(nil), in.Fields...)
	for i, l := range lists {
		fs = append(fs, Field{Name: names[i], Type: l.Type().(*arrow.ListType).Elem(), Nullable: true})
	}
	out := newSchema(fs)
	in.remapMeta(out, func(i int) int { return i })
	return out
}

// Children implements Plan.
func (u *Unnest) Children() []Plan { return []Plan{u.Input} }

// WithChildren implements Plan.
func (u *Unnest) WithChildren(ch ...Plan) (Plan, error) {
	if err := wantChildren(u, 1, ch); err != nil {
		return nil, err
	}
	return &Unnest{Input: ch[0], Lists: u.Lists, Names: u.Names, Outer: u.Outer}, nil
}

// String implements Plan.
func (u *Unnest) String() string { return unnestString(u.Lists, u.Names, u.Outer) }

func unnestString(lists []Expr, names []string, outer bool) string {
	parts := make([]string, len(lists))
	for i, l := range lists {
		parts[i] = l.String() + " AS " + names[i]
	}
	s := "Unnest: " + strings.Join(parts, ", ")
	if outer {
		s += " (left: empty and NULL lists kept)"
	}
	return s
}

// PhysUnnest is Unnest's operator, stateless. In a streaming plan over a
// changelog its input and output carry the op column first, each change
// unnests to changes, and updates come out as -D/+I (a retract stream:
// the rows of one list have no key).
type PhysUnnest struct {
	Input PhysicalPlan
	Lists []Expr
	Names []string
	Outer bool
	Out   *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysUnnest) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysUnnest) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysUnnest) String() string { return unnestString(p.Lists, p.Names, p.Outer) }

// unnest converts an Unnest: stateless, over an append-only input (which
// it keeps append-only, with its watermark) or a changelog (whose output
// is then a retract stream).
func (sp *streamPlanner) unnest(x *PhysUnnest) (PhysicalPlan, error) {
	in, err := sp.node(x.Input)
	if err != nil {
		return nil, err
	}
	m := sp.si.Modes[in]
	lists := make([]Expr, len(x.Lists))
	for i, l := range x.Lists {
		lists[i] = sp.over(in, l)
	}
	if m.Updating() {
		m = ChangelogMode{Kind: Retract}
	}
	return sp.set(&PhysUnnest{Input: in, Lists: lists, Names: x.Names, Outer: x.Outer, Out: outSchema(x.Out, m)}, m), nil
}

// windowBelowUnnest reads an UNNEST between a TUMBLE or HOP window and
// the GROUP BY above it (FROM TUMBLE(s, ts, …) t, UNNEST(t.l) AS u(x)
// GROUP BY window_start, …) as windowed, by moving the Unnest below the
// window: both act on each row alone (a TUMBLE or HOP row's windows
// depend on its time only, and unnesting keeps the time), so they
// commute; a Project above the window puts the columns back in the
// Unnest's order, for the projections and the aggregate above; filters
// between the Unnest and the projections move down with it. A SESSION
// window is left alone: its sessions depend on every row, including
// those a NULL or empty list removes (session reports one). The lists
// must not refer to the window's bounds. Nil when agg's input is not of
// that shape.
func windowBelowUnnest(agg *PhysHashAggregate) (lifted *PhysHashAggregate, session bool) {
	above, p := chainOf[*PhysProject](agg.Input)
	filters, p := chainOf[*PhysFilter](p) // on the Unnest's output
	u, ok := p.(*PhysUnnest)
	if !ok {
		return nil, false
	}
	w, ok := u.Input.(*PhysWindow)
	if !ok || w.Kind == WindowSession {
		return nil, ok
	}
	in := w.Input.Schema()
	nin := in.Len()
	for _, l := range u.Lists {
		if maxColumn(l) >= nin {
			return nil, false
		}
	}
	nu := &PhysUnnest{Input: w.Input, Lists: u.Lists, Names: u.Names, Outer: u.Outer, Out: unnestSchema(in, u.Lists, u.Names)}
	// Filters above the Unnest go with it below the window: on its
	// columns less the window's bounds (a filter on a bound stays out).
	nwin := w.Out.Len() - nin
	toNew := make([]int, u.Out.Len())
	for i := range toNew {
		switch {
		case i >= nin+nwin:
			toNew[i] = i - nwin
		case i >= nin:
			toNew[i] = -1
		default:
			toNew[i] = i
		}
	}
	var below PhysicalPlan = nu
	for i := len(filters) - 1; i >= 0; i-- {
		used := map[int]bool{}
		columnsOf(filters[i].Pred, used)
		for c := range used {
			if toNew[c] < 0 {
				return nil, false
			}
		}
		below = &PhysFilter{Input: below, Pred: remapColumns(filters[i].Pred, toNew), Out: nu.Out}
	}
	wfields := append(append([]Field(nil), nu.Out.Fields...), w.Out.Fields[w.Out.WindowStart], w.Out.Fields[w.Out.WindowEnd])
	nw := &PhysWindow{Input: below, Kind: w.Kind, TimeCol: w.TimeCol, Size: w.Size, Slide: w.Slide, Gap: w.Gap, Keys: w.Keys, Out: newSchema(wfields)}
	nw.Out.EventTime, nw.Out.WindowStart, nw.Out.WindowEnd = w.Out.EventTime, len(wfields)-2, len(wfields)-1
	// The Unnest's columns were in, the window's bounds, the elements;
	// the window's output is in, the elements, the bounds.
	nel := len(u.Lists)
	exprs := make([]Expr, u.Out.Len())
	for i := range exprs {
		j := i
		switch {
		case i >= nin+nwin:
			j = i - nwin // an element
		case i >= nin:
			j = i + nel // a window bound
		}
		f := nw.Out.Fields[j]
		exprs[i] = &ColumnRef{Index: j, Name: f.Name, Typ: f.Type}
	}
	var top PhysicalPlan = &PhysProject{Input: nw, Exprs: exprs, Names: u.Out.Names(), Out: u.Out}
	for i := len(above) - 1; i >= 0; i-- {
		pr := *above[i]
		pr.Input = top
		top = &pr
	}
	a := *agg
	a.Input = top
	return &a, false
}

// chainOf is the nodes of type T from p down (top-down) and the first
// node below them of another type.
func chainOf[T PhysicalPlan](p PhysicalPlan) ([]T, PhysicalPlan) {
	var chain []T
	for {
		x, ok := p.(T)
		if !ok {
			return chain, p
		}
		chain = append(chain, x)
		p = x.Children()[0]
	}
}
