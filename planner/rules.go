package planner

import (
	"math"
	"reflect"

	"github.com/apache/arrow/go/v17/arrow"
)

// PushDownFilters moves filters toward the sources: adjacent filters merge;
// a filter moves below projections, sorts, DISTINCT, UNION inputs, windows
// (unless it reads the window bounds) and aggregates (the conjuncts on
// grouping keys); over a join its conjuncts go to the side they read (the
// preserved side of an outer join) or into an inner join's condition; join
// conditions on one side of an inner join (or the null-supplying side of an
// outer join) become filters on that side. A filter directly over a scan
// also hands the scan its column-vs-constant conjuncts as ScanFilter hints;
// the filter itself stays.
func PushDownFilters(p Plan) (Plan, bool, error) {
	return transformUp(p, pushNode)
}

func pushNode(p Plan) (Plan, bool, error) {
	if j, ok := p.(*Join); ok {
		return pushJoinCond(j)
	}
	f, ok := p.(*Filter)
	if !ok {
		return p, false, nil
	}
	switch in := f.Input.(type) {
	case *Filter:
		return &Filter{Input: in.Input, Pred: andAll([]Expr{in.Pred, f.Pred})}, true, nil
	case *Project:
		return &Project{Input: &Filter{Input: in.Input, Pred: substitute(f.Pred, in.Exprs)}, Exprs: in.Exprs, Names: in.Names}, true, nil
	case *Sort:
		return &Sort{Input: &Filter{Input: in.Input, Pred: f.Pred}, Keys: in.Keys}, true, nil
	case *Distinct:
		return &Distinct{Input: &Filter{Input: in.Input, Pred: f.Pred}}, true, nil
	case *Union:
		ins := make([]Plan, len(in.Inputs))
		for i, c := range in.Inputs {
			ins[i] = &Filter{Input: c, Pred: f.Pred}
		}
		return &Union{Inputs: ins}, true, nil
	case *Window:
		n := in.Input.Schema().Len()
		var below, above []Expr
		for _, c := range conjuncts(f.Pred) {
			if maxColumn(c) < n {
				below = append(below, c)
			} else {
				above = append(above, c)
			}
		}
		if len(below) == 0 {
			return p, false, nil
		}
		w := *in
		w.Input = &Filter{Input: in.Input, Pred: andAll(below)}
		return wrapFilter(&w, above), true, nil
	case *Aggregate:
		var below, above []Expr
		for _, c := range conjuncts(f.Pred) {
			if maxColumn(c) < len(in.Keys) && !hasAgg(c) {
				below = append(below, substitute(c, in.Keys))
			} else {
				above = append(above, c)
			}
		}
		if len(below) == 0 {
			return p, false, nil
		}
		a := *in
		a.Input = &Filter{Input: in.Input, Pred: andAll(below)}
		return wrapFilter(&a, above), true, nil
	case *Join:
		nl := in.Left.Schema().Len()
		var left, right, both, stay []Expr
		for _, c := range conjuncts(f.Pred) {
			lo, hi := minColumn(c), maxColumn(c)
			switch {
			case hi < 0: // constant: leave it where it is
				stay = append(stay, c)
			case hi < nl && (in.Type == InnerJoin || in.Type == LeftJoin):
				left = append(left, c)
			case lo >= nl && (in.Type == InnerJoin || in.Type == RightJoin):
				right = append(right, shiftColumns(c, -nl))
			case in.Type == InnerJoin:
				both = append(both, c)
			default:
				stay = append(stay, c)
			}
		}
		if len(left)+len(right)+len(both) == 0 {
			return p, false, nil
		}
		j := &Join{Left: wrapFilter(in.Left, left), Right: wrapFilter(in.Right, right), Type: in.Type,
			Cond: andAll(append(conjuncts(in.Cond), both...))}
		return wrapFilter(j, stay), true, nil
	case *Scan:
		hints := scanHints(in, f.Pred)
		if reflect.DeepEqual(hints, in.Filters) || (len(hints) == 0 && len(in.Filters) == 0) {
			return p, false, nil
		}
		s := *in
		s.Filters = hints
		return &Filter{Input: &s, Pred: f.Pred}, true, nil
	}
	return p, false, nil
}

// pushJoinCond moves single-side conjuncts of a join condition into
// filters on that side where that keeps the join's meaning.
func pushJoinCond(j *Join) (Plan, bool, error) {
	if j.Cond == nil {
		return j, false, nil
	}
	nl := j.Left.Schema().Len()
	var left, right, keep []Expr
	for _, c := range conjuncts(j.Cond) {
		lo, hi := minColumn(c), maxColumn(c)
		switch {
		case hi >= 0 && hi < nl && (j.Type == InnerJoin || j.Type == RightJoin):
			left = append(left, c)
		case lo >= nl && (j.Type == InnerJoin || j.Type == LeftJoin):
			right = append(right, shiftColumns(c, -nl))
		default:
			keep = append(keep, c)
		}
	}
	if len(left)+len(right) == 0 {
		return j, false, nil
	}
	return &Join{Left: wrapFilter(j.Left, left), Right: wrapFilter(j.Right, right), Type: j.Type, Cond: andAll(keep)}, true, nil
}

func wrapFilter(p Plan, preds []Expr) Plan {
	if len(preds) == 0 {
		return p
	}
	return &Filter{Input: p, Pred: andAll(preds)}
}

func maxColumn(e Expr) int {
	m := -1
	walkExpr(e, func(x Expr) {
		if c, ok := x.(*ColumnRef); ok && c.Index > m {
			m = c.Index
		}
	})
	return m
}

func minColumn(e Expr) int {
	m := -1
	walkExpr(e, func(x Expr) {
		if c, ok := x.(*ColumnRef); ok && (m < 0 || c.Index < m) {
			m = c.Index
		}
	})
	return m
}

var flipOp = map[string]string{"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

// scanHints extracts `column op constant` conjuncts as source hints.
func scanHints(s *Scan, pred Expr) []ScanFilter {
	var out []ScanFilter
	for _, c := range conjuncts(pred) {
		call, ok := c.(*Call)
		if !ok {
			continue
		}
		switch call.Func {
		case "is_null", "is_not_null":
			if ref, ok := call.Args[0].(*ColumnRef); ok {
				out = append(out, ScanFilter{Column: s.Columns[ref.Index], Op: call.Func})
			}
		case "eq", "ne", "lt", "le", "gt", "ge":
			op := call.Func
			ref, ok1 := call.Args[0].(*ColumnRef)
			lit, ok2 := call.Args[1].(*Literal)
			if !ok1 || !ok2 {
				ref, ok1 = call.Args[1].(*ColumnRef)
				lit, ok2 = call.Args[0].(*Literal)
				op = flipOp[op]
			}
			if !ok1 || !ok2 || lit.Value == nil {
				continue
			}
			v := lit.Value
			switch x := v.(type) {
			case int32:
				v = int64(x)
			case float64:
				// NaN orders as no number does (a row group's min/max
				// cannot rule it in or out) and is unequal to itself under
				// reflect.DeepEqual, so the rule would never settle.
				if math.IsNaN(x) {
					continue
				}
			case int64, string, bool, arrow.Timestamp, arrow.Date32:
			default:
				continue
			}
			out = append(out, ScanFilter{Column: s.Columns[ref.Index], Op: op, Value: v})
		}
	}
	return out
}

// MergeProjects fuses a projection into the projection below it when that
// computes nothing twice, and removes projections that pass their input
// through unchanged.
func MergeProjects(p Plan) (Plan, bool, error) {
	return transformUp(p, func(p Plan) (Plan, bool, error) {
		pr, ok := p.(*Project)
		if !ok {
			return p, false, nil
		}
		in := pr.Input.Schema()
		if len(pr.Exprs) == in.Len() {
			identity := true
			for i, e := range pr.Exprs {
				c, ok := e.(*ColumnRef)
				identity = identity && ok && c.Index == i && pr.Names[i] == in.Fields[i].Name
			}
			if identity {
				return pr.Input, true, nil
			}
		}
		inner, ok := pr.Input.(*Project)
		if !ok {
			return p, false, nil
		}
		uses := map[int]int{}
		for _, e := range pr.Exprs {
			walkExpr(e, func(x Expr) {
				if c, ok := x.(*ColumnRef); ok {
					uses[c.Index]++
				}
			})
		}
		for i, e := range inner.Exprs {
			if _, isCall := e.(*Call); isCall && uses[i] > 1 {
				return p, false, nil
			}
		}
		exprs := make([]Expr, len(pr.Exprs))
		for i, e := range pr.Exprs {
			exprs[i] = substitute(e, inner.Exprs)
		}
		return &Project{Input: inner.Input, Exprs: exprs, Names: pr.Names}, true, nil
	})
}

// LimitIntoSort fuses LIMIT over ORDER BY into a TopN.
func LimitIntoSort(p Plan) (Plan, bool, error) {
	return transformUp(p, func(p Plan) (Plan, bool, error) {
		l, ok := p.(*Limit)
		if !ok || l.Limit < 0 {
			return p, false, nil
		}
		s, ok := l.Input.(*Sort)
		if !ok {
			return p, false, nil
		}
		return &TopN{Input: s.Input, Keys: s.Keys, Limit: l.Limit, Offset: l.Offset}, true, nil
	})
}
