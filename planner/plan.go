package planner

import (
	"errors"
	"fmt"

	"github.com/sluicesql/sluice/sql"
)

// QueryPlan is everything the engine needs to run a query.
type QueryPlan struct {
	// Logical is the optimised logical plan.
	Logical Plan
	// Physical is the executable plan (its output columns are Output's).
	Physical PhysicalPlan
	// Output names the result columns for the user.
	Output *Schema
	// Emit is the query's EMIT clause (nil: batch).
	Emit *sql.Emit
	// Stream says how the query runs as a stream; nil for a batch query
	// (set whenever Emit is).
	Stream *StreamInfo
}

// PlanQuery binds, optimises and lowers a query (named so because Plan is
// the logical node interface). Errors about the user's SQL are
// *sql.Error (BindError or PlanError) with positions where known.
func PlanQuery(q *sql.Query, cat Catalog) (*QueryPlan, error) {
	logical, err := Bind(q, cat)
	if err != nil {
		return nil, err
	}
	qp, err := lower(q, logical)
	if err != nil {
		return nil, err
	}
	if qp.Stream, err = Streaming(qp, cat); err != nil {
		return nil, err
	}
	return qp, nil
}

// Bind resolves names and types of q against cat and returns the
// unoptimised logical plan.
func Bind(q *sql.Query, cat Catalog) (Plan, error) {
	return bindWith(q, cat, nil)
}

// bindWith is Bind; insertDefault, when set, gives the value of a DEFAULT
// cell in column j of the query's VALUES (an INSERT's).
func bindWith(q *sql.Query, cat Catalog, insertDefault func(j int) (Expr, error)) (Plan, error) {
	if q == nil || q.Select == nil {
		return nil, sql.Errorf(sql.PlanError, sql.Pos{}, "empty query")
	}
	if cat == nil {
		cat = NewCatalog()
	}
	b := &binder{q: q, cat: cat, pos: map[Expr]int{}, insertDefault: insertDefault}
	p, _, err := b.bindQuery(q.Select)
	if err == nil {
		err = b.checkSubscripts()
	}
	if err == nil {
		err = checkListKeys(p)
	}
	if err != nil {
		return nil, positioned(err, sql.BindError, q)
	}
	return p, nil
}

// positioned makes err a *sql.Error with a position: one that has none
// (a rule or a constant folded after binding, where expressions no longer
// know their text) is placed at the start of q, so every error of
// planning a query tells the user which statement failed.
func positioned(err error, kind sql.ErrorKind, q *sql.Query) error {
	var se *sql.Error
	if !errors.As(err, &se) {
		return &sql.Error{Kind: kind, Pos: q.Position(), Msg: err.Error(), Err: err}
	}
	if se.Pos.Line == 0 {
		return &sql.Error{Kind: se.Kind, Pos: q.Position(), Msg: se.Msg, Err: err}
	}
	return err
}

// maxPasses bounds the optimiser's fixed-point loop; rules that never
// settle are a bug, reported rather than looping forever.
const maxPasses = 50

// DefaultRules are the rewrite rules Optimize runs, in order, to a fixed
// point.
var DefaultRules = []Rule{
	FoldConstants,
	PushDownFilters,
	MergeProjects,
	PruneColumns,
	LimitIntoSort,
}

// Rule rewrites a whole plan; changed reports whether it did anything, so
// the optimiser can stop at a fixed point.
type Rule func(p Plan) (Plan, bool, error)

// Optimize runs DefaultRules until none changes the plan.
func Optimize(p Plan) (Plan, error) {
	return RunRules(p, DefaultRules)
}

// RunRules applies rules in order, repeatedly, until a full pass changes
// nothing.
func RunRules(p Plan, rules []Rule) (Plan, error) {
	for pass := 0; pass < maxPasses; pass++ {
		any := false
		for _, r := range rules {
			np, changed, err := r(p)
			if err != nil {
				return nil, err
			}
			if changed {
				any = true
				p = np
			}
		}
		if !any {
			return p, nil
		}
	}
	return nil, fmt.Errorf("planner: optimiser did not reach a fixed point after %d passes", maxPasses)
}

// transformUp rebuilds p bottom-up, applying f to every node after its
// children.
func transformUp(p Plan, f func(Plan) (Plan, bool, error)) (Plan, bool, error) {
	kids := p.Children()
	changed := false
	if len(kids) > 0 {
		nk := make([]Plan, len(kids))
		for i, k := range kids {
			n, c, err := transformUp(k, f)
			if err != nil {
				return nil, false, err
			}
			nk[i] = n
			changed = changed || c
		}
		if changed {
			np, err := p.WithChildren(nk...)
			if err != nil {
				return nil, false, err
			}
			p = np
		}
	}
	np, c, err := f(p)
	if err != nil {
		return nil, false, err
	}
	return np, changed || c, nil
}

// lower optimises a bound plan and turns it into a physical one; the
// output names are the bound plan's, before rules rewrite it.
func lower(q *sql.Query, logical Plan) (*QueryPlan, error) {
	out := logical.Schema()
	opt, err := Optimize(logical)
	if err != nil {
		return nil, positioned(err, sql.PlanError, q)
	}
	phys, err := ToPhysical(opt)
	if err != nil {
		return nil, positioned(err, sql.PlanError, q)
	}
	if q.Emit == nil {
		if phys, err = NarrowJoins(phys); err != nil {
			return nil, err
		}
		if phys, err = Parallelize(phys); err != nil {
			return nil, err
		}
		if phys, err = BoundTopNs(phys); err != nil {
			return nil, err
		}
	}
	return &QueryPlan{Logical: opt, Physical: phys, Output: out, Emit: q.Emit}, nil
}
