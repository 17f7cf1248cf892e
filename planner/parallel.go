package planner

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// AggMode is the phase of a PhysHashAggregate: one complete aggregation,
// or the partial (per morsel) and final (merging) halves of a parallel
// one.
type AggMode int8

// Aggregation phases.
const (
	AggComplete AggMode = iota
	AggPartial
	AggFinal
)

// PhysGather runs Input, a pipeline over one scan (the scan, then
// filters, projections, tumbling or hopping window assignment, INNER and
// LEFT hash joins probing with it, and at most a partial aggregate on
// top), once per morsel of the scan — a
// Parquet row group run, a byte range of a text file, a file of a glob —
// on the session's parallelism workers, and returns the results in
// morsel order. So the rows, their order and the first data error are
// those of the serial pipeline, at any parallelism. A join's build side
// (its Right) is not part of the pipeline: it is read and indexed once,
// and every instance probes that one table.
type PhysGather struct {
	Input PhysicalPlan
	Out   *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysGather) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysGather) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysGather) String() string { return "Gather: morsels in order" }

// Scan is the one scan at the leaf of the gathered pipeline.
func (p *PhysGather) Scan() *PhysScan {
	n := p.Input
	for {
		if s, ok := n.(*PhysScan); ok {
			return s
		}
		n = n.Children()[0]
	}
}

// sumType is the type of SUM over t: BIGINT for integers, DECIMAL(38, s)
// for DECIMAL(p, s), DOUBLE for floats. A partial AVG carries it.
func sumType(t arrow.DataType) arrow.DataType {
	switch {
	case isInteger(t):
		return TypeBigInt
	case isDecimal(t):
		_, s := decimalOf(t)
		return makeDecimal(38-s, s)
	case isInterval(t):
		return TypeInterval
	}
	return TypeDouble
}

// Parallelize rewrites a batch physical plan to run on every core: each
// maximal pipeline over a scan becomes a PhysGather, and a GROUP BY over
// one becomes a final aggregate over a gather of partial aggregates, one
// per morsel (merged in morsel order, so groups come out in the serial
// order). Aggregates that are all DISTINCT over one argument, whose state
// is a set, become a per-morsel GROUP BY keys, argument under the DISTINCT
// aggregate (see dedupDistinct); other aggregates with DISTINCT run whole
// above a gathered pipeline. An INNER or LEFT hash join probes inside the
// pipeline of its left input, against one build of its right (a broadcast
// join); RIGHT and FULL joins, sorts, limits and unions run serially over
// gathered inputs, except that a top-N over a pipeline first keeps each
// morsel's best rows on its worker. Streaming plans are not rewritten.
func Parallelize(p PhysicalPlan) (PhysicalPlan, error) {
	if isPipeline(p) {
		in, err := parallelizeBuilds(p)
		if err != nil {
			return nil, err
		}
		return &PhysGather{Input: in, Out: p.Schema()}, nil
	}
	if t, ok := p.(*PhysTopN); ok && isPipeline(t.Input) {
		// Each morsel keeps its own best limit+offset rows; the top-N of
		// their concatenation in morsel order is the serial one, ties
		// included (TopN keeps input order among equal keys).
		in, err := parallelizeBuilds(t.Input)
		if err != nil {
			return nil, err
		}
		partial := &PhysTopN{Input: in, Keys: t.Keys, Limit: t.Limit + t.Offset, Out: t.Out}
		c := *t
		c.Input = &PhysGather{Input: partial, Out: partial.Out}
		return &c, nil
	}
	if a, ok := p.(*PhysHashAggregate); ok && a.Mode == AggComplete && isPipeline(a.Input) && !hasDistinct(a.Aggs) && partialAggs(a.Aggs) {
		in, err := parallelizeBuilds(a.Input)
		if err != nil {
			return nil, err
		}
		partial := &PhysHashAggregate{Input: in, Keys: a.Keys, Aggs: a.Aggs, Mode: AggPartial, Out: partialSchema(a)}
		keys := make([]Expr, len(a.Keys))
		for i := range keys {
			f := a.Out.Fields[i]
			keys[i] = &ColumnRef{Index: i, Name: f.Name, Typ: f.Type}
		}
		return &PhysHashAggregate{Input: &PhysGather{Input: partial, Out: partial.Out}, Keys: keys, Aggs: a.Aggs, Mode: AggFinal, Out: a.Out}, nil
	}
	if a, ok := p.(*PhysHashAggregate); ok && a.Mode == AggComplete && isPipeline(a.Input) {
		if arg := distinctArg(a.Aggs); arg != nil {
			in, err := parallelizeBuilds(a.Input)
			if err != nil {
				return nil, err
			}
			c := *a
			c.Input = in
			return dedupDistinct(&c, arg), nil
		}
	}
	return withPhysicalChildren(p, Parallelize)
}

// distinctArg returns the argument when every call is DISTINCT over the
// same expression (COUNT(DISTINCT x), SUM(DISTINCT x), …), else nil.
func distinctArg(aggs []AggCall) Expr {
	var arg Expr
	for _, c := range aggs {
		if !c.Distinct || c.Arg == nil || (arg != nil && c.Arg.String() != arg.String()) {
			return nil
		}
		arg = c.Arg
	}
	return arg
}

// dedupDistinct runs aggregates that are all DISTINCT over one argument x
// as a per-morsel GROUP BY keys, x (dropping duplicate values early, on
// every worker) under the original DISTINCT aggregate, which merges the
// per-morsel sets. The merge sees each (keys, x) pair first where the
// serial scan does, so groups, values and even float sums come out as in
// a one-worker run.
func dedupDistinct(a *PhysHashAggregate, arg Expr) PhysicalPlan {
	nk := len(a.Keys)
	keys := append(append([]Expr(nil), a.Keys...), arg)
	fields := append(append([]Field(nil), a.Out.Fields[:nk]...), Field{Name: arg.String(), Type: arg.Type(), Nullable: true})
	dedup := &PhysHashAggregate{Input: a.Input, Keys: keys, Mode: AggComplete, Dedup: true, Out: newSchema(fields)}
	refs := make([]Expr, nk)
	for i := range refs {
		refs[i] = &ColumnRef{Index: i, Name: fields[i].Name, Typ: fields[i].Type}
	}
	x := &ColumnRef{Index: nk, Name: arg.String(), Typ: arg.Type()}
	aggs := make([]AggCall, len(a.Aggs))
	for i, c := range a.Aggs {
		c.Arg = x
		aggs[i] = c
	}
	return &PhysHashAggregate{Input: &PhysGather{Input: dedup, Out: dedup.Out}, Keys: refs, Aggs: aggs, Mode: AggComplete, Out: a.Out}
}

// parallelizeBuilds parallelizes the build sides of the joins in a
// pipeline (each is a plan of its own, read once).
func parallelizeBuilds(p PhysicalPlan) (PhysicalPlan, error) {
	if j, ok := p.(*PhysHashJoin); ok {
		l, err := parallelizeBuilds(j.Left)
		if err != nil {
			return nil, err
		}
		r, err := Parallelize(j.Right)
		if err != nil {
			return nil, err
		}
		if l == j.Left && r == j.Right {
			return p, nil
		}
		c := *j
		c.Left, c.Right = l, r
		return &c, nil
	}
	return withPhysicalChildren(p, parallelizeBuilds)
}

// isPipeline reports a scan under only stateless, row-by-row nodes, and
// INNER or LEFT hash joins probing with such a pipeline: a probe row's
// output depends on that row and the build side alone. (The unmatched
// build rows of a RIGHT or FULL join are known only after the whole
// probe side.)
func isPipeline(p PhysicalPlan) bool {
	switch n := p.(type) {
	case *PhysHashJoin:
		return (n.Type == InnerJoin || n.Type == LeftJoin) && isPipeline(n.Left)
	case *PhysScan:
		// A changelog scan folds its whole input at once (a delete may
		// be in another morsel than its insert): it runs serially.
		return !n.Changelog
	case *PhysFilter:
		return isPipeline(n.Input)
	case *PhysProject:
		return isPipeline(n.Input)
	case *PhysWindow:
		return n.Kind != WindowSession && isPipeline(n.Input)
	}
	return false
}

// partialAggs reports whether every call has a partial state: the core
// functions (exec.AggPartial) and those that are their own merge
// (AggPartialSelf). The others (percentiles, STRING_AGG, ARG_MIN, …) run
// whole above a gathered pipeline, which keeps the serial row order.
func partialAggs(aggs []AggCall) bool {
	for _, a := range aggs {
		switch a.Func {
		case "count", "count_star", "sum", "avg", "min", "max", "approx_count_distinct":
		default:
			if !AggPartialSelf(a.Func) || keepsSomeRows(a.Arg) {
				return false
			}
		}
	}
	return true
}

// keepsSomeRows reports a packed argument whose keep is not always TRUE
// (a FILTER, ANY_VALUE's non-NULL rows): FIRST over per-morsel results
// would read a morsel whose rows all dropped out as a NULL value.
func keepsSomeRows(arg Expr) bool {
	c, ok := arg.(*Call)
	if !ok || c.Func != "agg_args" {
		return false
	}
	l, ok := c.Args[0].(*Literal)
	return !ok || l.Value != true
}

func hasDistinct(aggs []AggCall) bool {
	for _, a := range aggs {
		if a.Distinct {
			return true
		}
	}
	return false
}

// partialSchema is a partial aggregate's output: the keys, then each
// call's state (exec.AggPartial documents the layout): sum, count, min or
// max in one column, AVG as its sum and its count.
func partialSchema(a *PhysHashAggregate) *Schema {
	nk := len(a.Keys)
	fields := append([]Field(nil), a.Out.Fields[:nk]...)
	for _, c := range a.Aggs {
		name := c.String()
		switch c.Func {
		case "avg":
			fields = append(fields,
				Field{Name: name + ".sum", Type: sumType(c.Arg.Type()), Nullable: true},
				Field{Name: name + ".count", Type: TypeBigInt, Nullable: true})
		case "approx_count_distinct":
			fields = append(fields, Field{Name: name, Type: arrow.BinaryTypes.Binary, Nullable: true})
		default:
			fields = append(fields, Field{Name: name, Type: c.Typ, Nullable: true})
		}
	}
	return newSchema(fields)
}

// withPhysicalChildren returns p with each child replaced by f(child),
// as a shallow copy (plans are immutable); p itself when nothing changed.
func withPhysicalChildren(p PhysicalPlan, f func(PhysicalPlan) (PhysicalPlan, error)) (PhysicalPlan, error) {
	kids := p.Children()
	if len(kids) == 0 {
		return p, nil
	}
	nk := make([]PhysicalPlan, len(kids))
	changed := false
	for i, k := range kids {
		c, err := f(k)
		if err != nil {
			return nil, err
		}
		nk[i] = c
		changed = changed || nk[i] != k
	}
	if !changed {
		return p, nil
	}
	switch n := p.(type) {
	case *PhysFilter:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysProject:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysHashAggregate:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysHashJoin:
		c := *n
		c.Left, c.Right = nk[0], nk[1]
		return &c, nil
	case *PhysSort:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysTopN:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysLimit:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysUnionAll:
		c := *n
		c.Inputs = nk
		return &c, nil
	case *PhysWindow:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysGather:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysReplicate:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysUnnest:
		c := *n
		c.Input = nk[0]
		return &c, nil
	case *PhysAnalytic:
		c := *n
		c.Input = nk[0]
		return &c, nil
	}
	return nil, fmt.Errorf("planner: cannot parallelize a plan holding %T", p)
}

// preAggregable reports whether the streaming GROUP BY g may fold each
// batch into partial rows before its instances merge them
// (PhysGroupAggregate.PreAggregate): partitioned, over an append-only
// filter/projection of one bounded scan that carries no event
// time (nothing downstream needs its rows' times), with aggregates whose
// merged value is exactly the one-phase value — so the changelog is the
// same at every parallelism. Float sums (SUM, AVG of floats) would add in
// another order, DISTINCT and packed arguments (FILTER, ORDER BY) have no
// partial state here: those run one phase.
func preAggregable(g *PhysGroupAggregate) bool {
	if !g.Partitioned || g.Retracting || g.Input.Schema().EventTime >= 0 || !scanPipeline(g.Input) {
		return false
	}
	for _, a := range g.Aggs {
		if a.Distinct {
			return false
		}
		if c, ok := a.Arg.(*Call); ok && c.Func == "agg_args" {
			return false
		}
		switch a.Func {
		case "count_star", "count", "min", "max", "bit_and", "bit_or", "bit_xor":
		case "sum", "avg":
			if t := a.Arg.Type(); !isInteger(t) && !isDecimal(t) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// scanPipeline reports filters and projections over one bounded,
// append-only scan.
func scanPipeline(p PhysicalPlan) bool {
	switch n := p.(type) {
	case *PhysScan:
		return n.Bounded && !n.Changelog
	case *PhysFilter:
		return scanPipeline(n.Input)
	case *PhysProject:
		return scanPipeline(n.Input)
	}
	return false
}
