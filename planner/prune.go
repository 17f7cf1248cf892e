package planner

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// PruneColumns narrows every Scan to the source columns the query reads
// and drops projection outputs nobody uses, renumbering column references
// above them. The root keeps all its columns.
func PruneColumns(p Plan) (Plan, bool, error) {
	need := make([]bool, p.Schema().Len())
	for i := range need {
		need[i] = true
	}
	np, _, changed, err := prune(p, need)
	if err != nil {
		return nil, false, err
	}
	return np, changed, nil
}

func allNeeded(n int) []bool {
	need := make([]bool, n)
	for i := range need {
		need[i] = true
	}
	return need
}

func identityMap(n int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = i
	}
	return m
}

func markColumns(need []bool, es ...Expr) {
	for _, e := range es {
		walkExpr(e, func(x Expr) {
			if c, ok := x.(*ColumnRef); ok && c.Index < len(need) {
				need[c.Index] = true
			}
		})
	}
}

// prune rebuilds p producing at least the needed columns; mapping[i] is
// the new index of old output column i (-1 if dropped).
func prune(p Plan, need []bool) (Plan, []int, bool, error) {
	switch x := p.(type) {
	case *Scan:
		var cols []int
		m := make([]int, len(x.Columns))
		for i, c := range x.Columns {
			m[i] = -1
			// A column with a declared rule is read even when unused, so
			// a row that breaks it fails (or is skipped) whatever the
			// query reads: COUNT(*) counts the same rows as SELECT *.
			if need[i] || declaredRule(x.SourceSchema.Field(c)) {
				m[i] = len(cols)
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 && len(x.Columns) > 0 {
			// Nothing read (COUNT(*)): keep one column so batches carry
			// their row counts.
			cols = []int{x.Columns[0]}
			m[0] = 0
		}
		if len(cols) == len(x.Columns) {
			return x, identityMap(len(cols)), false, nil
		}
		s := *x
		s.Columns = cols
		return &s, m, true, nil
	case *Filter:
		n := append([]bool(nil), need...)
		markColumns(n, x.Pred)
		in, m, c, err := prune(x.Input, n)
		if err != nil {
			return nil, nil, false, err
		}
		if !c {
			return x, m, false, nil
		}
		return &Filter{Input: in, Pred: remapColumns(x.Pred, m)}, m, true, nil
	case *Project:
		var keep []int
		for i := range x.Exprs {
			if need[i] {
				keep = append(keep, i)
			}
		}
		if len(keep) == 0 && len(x.Exprs) > 0 {
			keep = []int{0}
		}
		n := make([]bool, x.Input.Schema().Len())
		for _, i := range keep {
			markColumns(n, x.Exprs[i])
		}
		in, m, c, err := prune(x.Input, n)
		if err != nil {
			return nil, nil, false, err
		}
		out := make([]int, len(x.Exprs))
		for i := range out {
			out[i] = -1
		}
		exprs := make([]Expr, len(keep))
		names := make([]string, len(keep))
		for j, i := range keep {
			out[i] = j
			exprs[j] = remapColumns(x.Exprs[i], m)
			names[j] = x.Names[i]
		}
		if !c && len(keep) == len(x.Exprs) {
			return x, out, false, nil
		}
		return &Project{Input: in, Exprs: exprs, Names: names}, out, true, nil
	case *Aggregate:
		n := make([]bool, x.Input.Schema().Len())
		markColumns(n, x.Keys...)
		for _, a := range x.Aggs {
			markColumns(n, a.Arg)
		}
		in, m, c, err := prune(x.Input, n)
		if err != nil {
			return nil, nil, false, err
		}
		id := identityMap(len(x.Keys) + len(x.Aggs))
		if !c {
			return x, id, false, nil
		}
		keys := make([]Expr, len(x.Keys))
		for i, k := range x.Keys {
			keys[i] = remapColumns(k, m)
		}
		aggs := append([]AggCall(nil), x.Aggs...)
		for i := range aggs {
			if aggs[i].Arg != nil {
				aggs[i].Arg = remapColumns(aggs[i].Arg, m)
			}
		}
		return &Aggregate{Input: in, Keys: keys, KeyNames: x.KeyNames, Aggs: aggs}, id, true, nil
	case *Join:
		nl := x.Left.Schema().Len()
		all := append([]bool(nil), need...)
		markColumns(all, x.Cond)
		l, lm, lc, err := prune(x.Left, all[:nl])
		if err != nil {
			return nil, nil, false, err
		}
		r, rm, rc, err := prune(x.Right, all[nl:])
		if err != nil {
			return nil, nil, false, err
		}
		newL := l.Schema().Len()
		m := append([]int(nil), lm...)
		for _, v := range rm {
			if v >= 0 {
				v += newL
			}
			m = append(m, v)
		}
		if !lc && !rc {
			return x, m, false, nil
		}
		var cond Expr
		if x.Cond != nil {
			cond = remapColumns(x.Cond, m)
		}
		return &Join{Left: l, Right: r, Type: x.Type, Cond: cond}, m, true, nil
	case *Sort:
		n := append([]bool(nil), need...)
		for _, k := range x.Keys {
			markColumns(n, k.Expr)
		}
		in, m, c, err := prune(x.Input, n)
		if err != nil || !c {
			return x, m, false, err
		}
		return &Sort{Input: in, Keys: remapKeys(x.Keys, m)}, m, true, nil
	case *TopN:
		n := append([]bool(nil), need...)
		for _, k := range x.Keys {
			markColumns(n, k.Expr)
		}
		in, m, c, err := prune(x.Input, n)
		if err != nil || !c {
			return x, m, false, err
		}
		return &TopN{Input: in, Keys: remapKeys(x.Keys, m), Limit: x.Limit, Offset: x.Offset}, m, true, nil
	case *Limit:
		in, m, c, err := prune(x.Input, need)
		if err != nil || !c {
			return x, m, false, err
		}
		return &Limit{Input: in, Limit: x.Limit, Offset: x.Offset}, m, true, nil
	case *Distinct:
		in, m, c, err := prune(x.Input, allNeeded(len(need)))
		if err != nil || !c {
			return x, m, false, err
		}
		return &Distinct{Input: in}, m, true, nil
	case *Unnest:
		// The element columns stay (a row per element counts even when
		// unread); the input's are pruned to those needed and the lists'.
		nIn := x.Input.Schema().Len()
		n := append([]bool(nil), need[:nIn]...)
		for _, l := range x.Lists {
			markColumns(n, l)
		}
		in, m, c, err := prune(x.Input, n)
		if err != nil || !c {
			return x, identityMap(len(need)), false, err
		}
		lists := make([]Expr, len(x.Lists))
		for i, l := range x.Lists {
			lists[i] = remapColumns(l, m)
		}
		out := append([]int(nil), m...)
		width := in.Schema().Len()
		for i := range x.Lists {
			out = append(out, width+i)
		}
		return &Unnest{Input: in, Lists: lists, Names: x.Names, Outer: x.Outer}, out, true, nil
	case *Replicate:
		// The counts and the rows they count are all needed.
		in, _, c, err := prune(x.Input, allNeeded(x.Input.Schema().Len()))
		if err != nil || !c {
			return x, identityMap(len(need)), false, err
		}
		return &Replicate{Input: in}, identityMap(len(need)), true, nil
	case *Union:
		ins := make([]Plan, len(x.Inputs))
		changed := false
		for i, in := range x.Inputs {
			np, _, c, err := prune(in, allNeeded(len(need)))
			if err != nil {
				return nil, nil, false, err
			}
			ins[i], changed = np, changed || c
		}
		if !changed {
			return x, identityMap(len(need)), false, nil
		}
		return &Union{Inputs: ins}, identityMap(len(need)), true, nil
	case *Window:
		inLen := x.Input.Schema().Len()
		n := append([]bool(nil), need[:inLen]...)
		n[x.TimeCol] = true
		in, m, c, err := prune(x.Input, n)
		if err != nil {
			return nil, nil, false, err
		}
		newLen := in.Schema().Len()
		out := append(append([]int(nil), m...), newLen, newLen+1)
		if !c {
			return x, out, false, nil
		}
		w := *x
		w.Input, w.TimeCol = in, m[x.TimeCol]
		return &w, out, true, nil
	case *Analytic:
		return pruneAnalytic(x, need)
	case *Values:
		return x, identityMap(len(need)), false, nil
	}
	return nil, nil, false, fmt.Errorf("planner: prune: unexpected node %T", p)
}

func remapKeys(ks []SortKey, m []int) []SortKey {
	out := make([]SortKey, len(ks))
	for i, k := range ks {
		out[i] = SortKey{Expr: remapColumns(k.Expr, m), Desc: k.Desc, NullsFirst: k.NullsFirst}
	}
	return out
}

// pruneAnalytic drops window functions nobody reads and narrows the input
// to the columns the rest read (and the partitioning and ordering).
func pruneAnalytic(x *Analytic, need []bool) (Plan, []int, bool, error) {
	inLen := x.Input.Schema().Len()
	n := append([]bool(nil), need[:inLen]...)
	markColumns(n, x.Partition...)
	for _, k := range x.Order {
		markColumns(n, k.Expr)
	}
	var keep []int
	for i, f := range x.Funcs {
		if need[inLen+i] {
			keep = append(keep, i)
			markColumns(n, f.Args...)
		}
	}
	if len(keep) == 0 {
		// Nothing reads a window function: keep the first, so the node
		// (which also sorts its rows) stays; a rare query shape.
		keep = []int{0}
		markColumns(n, x.Funcs[0].Args...)
	}
	in, m, c, err := prune(x.Input, n)
	if err != nil {
		return nil, nil, false, err
	}
	newLen := in.Schema().Len()
	out := append([]int(nil), m...)
	for range x.Funcs {
		out = append(out, -1)
	}
	for j, i := range keep {
		out[inLen+i] = newLen + j
	}
	if !c && len(keep) == len(x.Funcs) {
		return x, out, false, nil
	}
	a := &Analytic{Input: in, Partition: make([]Expr, len(x.Partition)), Order: remapKeys(x.Order, m)}
	for i, e := range x.Partition {
		a.Partition[i] = remapColumns(e, m)
	}
	for _, i := range keep {
		f := x.Funcs[i]
		args := make([]Expr, len(f.Args))
		for j, e := range f.Args {
			args[j] = remapColumns(e, m)
		}
		f.Args = args
		a.Funcs = append(a.Funcs, f)
		a.Names = append(a.Names, x.Names[i])
	}
	return a, out, true, nil
}

// RuleKeys are the field metadata keys by which a source's schema marks
// columns declared NOT NULL or UNSIGNED (exec.NotNullKey, exec.UnsignedKey:
// the planner does not import exec, and the engine's tests keep the two
// lists equal).
var RuleKeys = []string{"sluice.not_null", "sluice.unsigned"}

// declaredRule reports whether f carries a rule its reader checks.
func declaredRule(f arrow.Field) bool {
	for _, k := range RuleKeys {
		if v, ok := f.Metadata.GetValue(k); ok && v == "true" {
			return true
		}
	}
	return false
}
