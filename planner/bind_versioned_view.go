package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/sql"
)

// versionedForm is a versioned view's history, the table a temporal join
// reads (as Flink defines a versioned view): the rows of a deduplication
// that keeps the latest row per key by event time, each in the view's
// columns. Every row was, from its time on, its key's row of the view
// until the key's next row, so each is a version.
type versionedForm struct {
	// versions is the deduplication's input projected to the view's
	// columns (its row number is the constant 1, as each version had it
	// while it was the latest).
	versions Plan
	// keys are the columns of versions that are the deduplication's
	// PARTITION BY; validFrom is its ORDER BY … DESC column, the input's
	// event time.
	keys      []int
	validFrom int
}

// versionedView reads r, the table of a FOR SYSTEM_TIME AS OF that is no
// source (a view, a CTE), as a versioned view: projections and the
// filter `rn = 1` over ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts
// DESC) AS rn, ts being its input's event time. Anything else is refused
// with the forms that do work: an aggregate's output has no event time to
// order its versions by (Flink refuses it too).
func versionedView(st *sql.SystemTime, r Plan) (*versionedForm, error) {
	sch := r.Schema()
	out := make([]Expr, sch.Len()) // r's columns over p's output
	for i, f := range sch.Fields {
		out[i] = &ColumnRef{Index: i, Name: f.Name, Typ: f.Type}
	}
	var preds []Expr // the filters between r and p, over p's output
	p := r
	for {
		switch x := p.(type) {
		case *Project:
			for i := range out {
				out[i] = substitute(out[i], x.Exprs)
			}
			for i := range preds {
				preds[i] = substitute(preds[i], x.Exprs)
			}
			p = x.Input
			continue
		case *Filter:
			preds = append(preds, conjuncts(x.Pred)...)
			p = x.Input
			continue
		case *Analytic:
			return dedupVersions(st, x, out, preds, sch)
		}
		return nil, sql.Errorf(sql.BindError, st.Pos, "%s", notVersioned(st.Table, refusedAs(r)))
	}
}

// dedupVersions checks that a (under the view's columns out and filters
// preds) is a deduplication keeping the latest row per key by event time
// and returns its versions.
func dedupVersions(st *sql.SystemTime, a *Analytic, out, preds []Expr, sch *Schema) (*versionedForm, error) {
	fail := func(format string, args ...any) error {
		return sql.Errorf(sql.BindError, st.Pos, "%s", notVersioned(st.Table, fmt.Sprintf(format, args...)))
	}
	in := a.Input.Schema()
	rn := in.Len()
	if len(a.Funcs) != 1 || a.Funcs[0].Func != "row_number" {
		return nil, fail("computes %s", a.Funcs[0].Call())
	}
	dedup := false
	for _, c := range preds {
		n, ok := rankLimit(c, rn)
		if !ok || n != 1 {
			return nil, fail("filters by %s", c)
		}
		dedup = true
	}
	if !dedup {
		return nil, fail("keeps every row, not rn = 1")
	}
	if len(a.Order) != 1 {
		return nil, fail("orders by %d columns", len(a.Order))
	}
	o, ok := a.Order[0].Expr.(*ColumnRef)
	if !ok || o.Index != in.EventTime {
		return nil, fail("orders by %s, not its input's event time (the WATERMARK FOR column)", a.Order[0].Expr)
	}
	if !a.Order[0].Desc {
		return nil, fail("keeps each key's first row (ORDER BY %s ASC), not its latest (ORDER BY %s DESC)", o.Name, o.Name)
	}
	if scanUnderPlan(a.Input, func(s *Scan) bool { return s.Changelog }) {
		return nil, fail("deduplicates a changelog (declare the changelog source with PRIMARY KEY and join it directly: its changes are the versions)")
	}
	exprs := make([]Expr, len(out))
	for i, e := range out {
		exprs[i], _ = mapExpr(e, func(x Expr) (Expr, error) {
			if c, ok := x.(*ColumnRef); ok && c.Index == rn {
				return &Literal{Typ: a.Funcs[0].Typ, Value: int64(1)}, nil
			}
			return x, nil
		})
	}
	outCol := func(i int) int {
		for j, e := range exprs {
			if c, ok := e.(*ColumnRef); ok && c.Index == i {
				return j
			}
		}
		return -1
	}
	vf := &versionedForm{validFrom: outCol(o.Index)}
	if vf.validFrom < 0 {
		return nil, fail("does not output its time column %s", o.Name)
	}
	for _, k := range a.Partition {
		c, ok := k.(*ColumnRef)
		j := -1
		if ok {
			j = outCol(c.Index)
		}
		if j < 0 {
			return nil, fail("does not output its PARTITION BY column %s", k)
		}
		vf.keys = append(vf.keys, j)
	}
	if len(vf.keys) == 0 {
		return nil, fail("has no PARTITION BY: a version is a key's")
	}
	vf.versions = &Project{Input: a.Input, Exprs: exprs, Names: sch.Names()}
	return vf, nil
}

// refusedAs says what r, a FOR SYSTEM_TIME AS OF table that is no
// deduplication, is instead, for notVersioned.
func refusedAs(r Plan) string {
	agg, windowed := false, false
	visitPlan(r, func(p Plan) {
		if a, ok := p.(*Aggregate); ok {
			agg = true
			visitPlan(a.Input, func(q Plan) {
				if _, ok := q.(*Window); ok {
					windowed = true
				}
			})
		}
	})
	switch {
	case windowed:
		return "is a windowed aggregate's output, which is no versioned table yet (its window_end is not an event time a temporal join waits on): join the windows with a window join of both inputs' windows, or version the aggregate's input"
	case agg:
		return "is an aggregate's output, which has no event time to order its versions by (Flink refuses it too): version the aggregate's input instead, or join the aggregate without FOR SYSTEM_TIME AS OF (a regular join, updated as the aggregate changes; a lookup join when it is bounded)"
	}
	return "is no deduplication"
}

// notVersioned is the message for a FOR SYSTEM_TIME AS OF table that
// cannot be versioned: what the versioned forms are and why name is none.
func notVersioned(name, why string) string {
	return fmt.Sprintf("FOR SYSTEM_TIME AS OF reads a versioned table: a source with PRIMARY KEY (…) NOT ENFORCED and a WATERMARK FOR its valid-from column, or a versioned view keeping the latest row per key by event time (SELECT … FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM s) WHERE rn = 1); %s %s", name, why)
}

// visitPlan calls f on p and every plan below it, pre-order.
func visitPlan(p Plan, f func(Plan)) {
	f(p)
	for _, c := range p.Children() {
		visitPlan(c, f)
	}
}

// scanUnderPlan reports whether a scan under p satisfies match.
func scanUnderPlan(p Plan, match func(*Scan) bool) bool {
	found := false
	visitPlan(p, func(q Plan) {
		if s, ok := q.(*Scan); ok && match(s) {
			found = true
		}
	})
	return found
}
