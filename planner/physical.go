package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// PhysicalPlan is a node the executor turns into exactly one operator.
// Expressions in a node are bound to the column indices of its input (for
// PhysHashJoin.Residual: left columns then right columns).
type PhysicalPlan interface {
	// Schema is the node's output.
	Schema() *Schema
	// Children are the input nodes, left to right.
	Children() []PhysicalPlan
	// String is one line for EXPLAIN.
	String() string
}

// PhysScan reads Columns (indices into the source schema, in output order)
// of Source, with pushdown hints Filters.
type PhysScan struct {
	Source  string
	Columns []int
	Filters []ScanFilter
	// SourceSchema is the source's full schema (Columns index it).
	SourceSchema *arrow.Schema
	// Bounded is the catalog's flag: the source ends by itself.
	Bounded bool
	// Morsels is SourceDef.Morsels: a streaming scan decodes in parallel.
	Morsels bool
	// Changelog: the source's records carry the op column first
	// (SourceDef.Changelog) and the scan folds them into the table they
	// leave (batch). A streaming plan's scan of such a source has op in
	// Out and Changelog unset: its output is the changes.
	Changelog bool
	// ChangelogKey is SourceDef.ChangelogKey: a streaming scan whose
	// output keeps these columns is an upsert stream by them.
	ChangelogKey []string
	// StateTTL is the source's 'state.ttl' for a streaming scan of a
	// keyed changelog (an upsert topic): its reader forgets a key's live
	// row once the key went unchanged that long (0: kept).
	StateTTL time.Duration
	// Bound, when set, is the column a top-N above prunes by (BoundTopNs).
	Bound *ScanBound
	Out   *Schema
}

// PhysFilter keeps the rows where Pred is true.
type PhysFilter struct {
	Input PhysicalPlan
	Pred  Expr
	Out   *Schema
}

// PhysProject computes Exprs, named Names.
type PhysProject struct {
	Input PhysicalPlan
	Exprs []Expr
	Names []string
	Out   *Schema
}

// PhysHashAggregate groups by Keys (no keys: one global group, which emits
// one row even for empty input) and computes Aggs; output is keys then
// aggregates.
type PhysHashAggregate struct {
	Input PhysicalPlan
	Keys  []Expr
	Aggs  []AggCall
	// Mode is AggComplete but in a parallel plan (see Parallelize):
	// AggPartial outputs keys and per-call states, AggFinal merges them
	// (its Keys read the partial rows; Aggs are the original calls).
	Mode AggMode
	// Dedup marks a keys-only aggregate under a DISTINCT aggregate of the
	// same keys (dedupDistinct): it may emit a key more than once, and
	// stops grouping when the keys barely repeat (exec
	// HashAggregate.SetDedup).
	Dedup bool
	Out   *Schema
}

// PhysHashJoin joins on LeftKeys[i] = RightKeys[i] (same types pairwise)
// and then Residual (over left ++ right columns; nil: none). With no keys
// it is a nested-loop join on Residual (nil Residual: cross join). Output
// is left columns then right columns; unmatched rows of the preserved side
// of an outer join get NULLs for the other side.
type PhysHashJoin struct {
	Left, Right         PhysicalPlan
	Type                JoinType
	LeftKeys, RightKeys []Expr
	Residual            Expr
	// Output, when not nil, lists the columns of left ++ right the join
	// returns, in order (NarrowJoins); Out is then their schema.
	Output []int
	Out    *Schema
}

// PhysSort sorts by Keys.
type PhysSort struct {
	Input PhysicalPlan
	Keys  []SortKey
	Out   *Schema
}

// PhysTopN keeps rows Offset..Offset+Limit of the input sorted by Keys.
type PhysTopN struct {
	Input         PhysicalPlan
	Keys          []SortKey
	Limit, Offset int64
	// Bound: the top-N publishes its cut-off on its first key to the
	// scan under it (BoundTopNs).
	Bound bool
	// HashBy (streaming only): the top-N runs in two phases, as the
	// session's parallelism of local top-Ns behind a hash exchange on
	// these input columns (the value columns that hash: equal rows agree
	// on them, so a row's inserts and retractions meet in one instance),
	// each keeping the top Limit of its rows, and one top-N merging their
	// changes (stream.ParallelTopN): exact under retractions, since the
	// instances' top sets hold the global one. Empty: it runs as one.
	HashBy []Expr
	Out    *Schema
}

// PhysLimit skips Offset rows then passes Limit rows (-1: all).
type PhysLimit struct {
	Input         PhysicalPlan
	Limit, Offset int64
	Out           *Schema
}

// PhysUnionAll concatenates inputs whose column types are identical.
type PhysUnionAll struct {
	Inputs []PhysicalPlan
	Out    *Schema
}

// PhysValues is a constant relation; each row holds constant expressions
// (Literals after folding) of the schema's types. One row with zero
// columns is SELECT without FROM.
type PhysValues struct {
	Rows [][]Expr
	Out  *Schema
}

// PhysWindow appends window_start and window_end (TIMESTAMP µs) computed
// from column TimeCol: TUMBLE(Size), HOP(Slide, Size: one output row per
// window a row falls in) or SESSION(Gap).
type PhysWindow struct {
	Input   PhysicalPlan
	Kind    WindowKind
	TimeCol int
	Size    time.Duration
	Slide   time.Duration
	Gap     time.Duration
	// Keys partition SESSION windows (over Input's columns): the GROUP BY
	// keys of the aggregate above that are not window columns, so each
	// key has its own sessions, as in streaming.
	Keys []Expr
	Out  *Schema
}

// Schema implements PhysicalPlan.
func (p *PhysScan) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysFilter) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysProject) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysHashAggregate) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysHashJoin) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysSort) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysTopN) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysLimit) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysUnionAll) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysValues) Schema() *Schema { return p.Out }

// Schema implements PhysicalPlan.
func (p *PhysWindow) Schema() *Schema { return p.Out }

// Children implements PhysicalPlan.
func (p *PhysScan) Children() []PhysicalPlan { return nil }

// Children implements PhysicalPlan.
func (p *PhysFilter) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysProject) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysHashAggregate) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysHashJoin) Children() []PhysicalPlan { return []PhysicalPlan{p.Left, p.Right} }

// Children implements PhysicalPlan.
func (p *PhysSort) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysTopN) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysLimit) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// Children implements PhysicalPlan.
func (p *PhysUnionAll) Children() []PhysicalPlan { return p.Inputs }

// Children implements PhysicalPlan.
func (p *PhysValues) Children() []PhysicalPlan { return nil }

// Children implements PhysicalPlan.
func (p *PhysWindow) Children() []PhysicalPlan { return []PhysicalPlan{p.Input} }

// String implements PhysicalPlan.
func (p *PhysScan) String() string {
	names := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		names[i] = p.SourceSchema.Field(c).Name
	}
	s := fmt.Sprintf("Scan: %s columns=[%s]", p.Source, strings.Join(names, ", "))
	if len(p.Filters) > 0 {
		s += " filters=[" + scanFiltersString(p.SourceSchema, p.Filters) + "]"
	}
	if p.StateTTL > 0 {
		s += " ttl=" + formatDuration(p.StateTTL)
	}
	if p.Bound != nil {
		s += " topn-bound=" + p.SourceSchema.Field(p.Bound.Column).Name
	}
	return s
}

// String implements PhysicalPlan.
func (p *PhysFilter) String() string { return "Filter: " + p.Pred.String() }

// String implements PhysicalPlan.
func (p *PhysProject) String() string {
	return (&Project{Exprs: p.Exprs, Names: p.Names}).String()
}

// String implements PhysicalPlan.
func (p *PhysHashAggregate) String() string {
	aggs := make([]string, len(p.Aggs))
	for i, g := range p.Aggs {
		aggs[i] = g.String()
	}
	mode := ""
	switch p.Mode {
	case AggPartial:
		mode = "(partial)"
	case AggFinal:
		mode = "(final)"
	}
	if p.Dedup {
		mode = "(dedup)"
	}
	return fmt.Sprintf("HashAggregate%s: keys=[%s] aggs=[%s]", mode, exprList(p.Keys), strings.Join(aggs, ", "))
}

// String implements PhysicalPlan.
func (p *PhysHashJoin) String() string {
	kind := "HashJoin"
	if len(p.LeftKeys) == 0 {
		kind = "NestedLoopJoin"
	}
	s := fmt.Sprintf("%s: %s", kind, p.Type)
	if len(p.LeftKeys) > 0 {
		s += fmt.Sprintf(" keys=[%s] = [%s]", exprList(p.LeftKeys), exprList(p.RightKeys))
	}
	if p.Residual != nil {
		s += " residual=" + p.Residual.String()
	}
	if p.Output != nil {
		names := make([]string, len(p.Out.Fields))
		for i, f := range p.Out.Fields {
			names[i] = f.Name
		}
		s += " output=[" + strings.Join(names, ", ") + "]"
	}
	return s
}

// String implements PhysicalPlan.
func (p *PhysSort) String() string { return "Sort: " + sortKeysString(p.Keys) }

// String implements PhysicalPlan.
func (p *PhysTopN) String() string {
	s := (&TopN{Keys: p.Keys, Limit: p.Limit, Offset: p.Offset}).String()
	if len(p.HashBy) > 0 {
		s += " two-phase: a top-N per instance partitioned by rows, merged by one"
	}
	return s
}

// String implements PhysicalPlan.
func (p *PhysLimit) String() string { return (&Limit{Limit: p.Limit, Offset: p.Offset}).String() }

// String implements PhysicalPlan.
func (p *PhysUnionAll) String() string { return "UnionAll" }

// String implements PhysicalPlan.
func (p *PhysValues) String() string {
	return (&Values{Rows: p.Rows}).String()
}

// String implements PhysicalPlan.
func (p *PhysWindow) String() string {
	s := "Window: " + windowString(p.Kind, p.Input.Schema().Fields[p.TimeCol].Name, p.Size, p.Slide, p.Gap)
	if len(p.Keys) > 0 {
		s += " per [" + exprList(p.Keys) + "]"
	}
	return s
}

// ToPhysical lowers an optimised logical plan.
func ToPhysical(p Plan) (PhysicalPlan, error) {
	kids := p.Children()
	ins := make([]PhysicalPlan, len(kids))
	for i, k := range kids {
		pk, err := ToPhysical(k)
		if err != nil {
			return nil, err
		}
		ins[i] = pk
	}
	out := p.Schema()
	switch x := p.(type) {
	case *Scan:
		return &PhysScan{Source: x.Source, Columns: x.Columns, Filters: x.Filters, SourceSchema: x.SourceSchema, Bounded: x.Bounded, Morsels: x.Morsels, Changelog: x.Changelog, ChangelogKey: x.ChangelogKey, Out: out}, nil
	case *Filter:
		return &PhysFilter{Input: ins[0], Pred: x.Pred, Out: out}, nil
	case *Project:
		return &PhysProject{Input: ins[0], Exprs: x.Exprs, Names: x.Names, Out: out}, nil
	case *Aggregate:
		return &PhysHashAggregate{Input: keySessions(ins[0], x.Keys), Keys: x.Keys, Aggs: x.Aggs, Out: out}, nil
	case *Distinct:
		sch := x.Input.Schema()
		keys := make([]Expr, sch.Len())
		for i, f := range sch.Fields {
			keys[i] = &ColumnRef{Index: i, Name: f.Name, Typ: f.Type}
		}
		return &PhysHashAggregate{Input: ins[0], Keys: keys, Out: out}, nil
	case *Join:
		return lowerJoin(x, ins[0], ins[1], out)
	case *Sort:
		return &PhysSort{Input: ins[0], Keys: x.Keys, Out: out}, nil
	case *TopN:
		return &PhysTopN{Input: ins[0], Keys: x.Keys, Limit: x.Limit, Offset: x.Offset, Out: out}, nil
	case *Limit:
		return &PhysLimit{Input: ins[0], Limit: x.Limit, Offset: x.Offset, Out: out}, nil
	case *Union:
		return &PhysUnionAll{Inputs: ins, Out: out}, nil
	case *Replicate:
		return &PhysReplicate{Input: ins[0], Out: out}, nil
	case *Unnest:
		return &PhysUnnest{Input: ins[0], Lists: x.Lists, Names: x.Names, Outer: x.Outer, Out: out}, nil
	case *Values:
		return &PhysValues{Rows: x.Rows, Out: out}, nil
	case *Window:
		return &PhysWindow{Input: ins[0], Kind: x.Kind, TimeCol: x.TimeCol, Size: x.Size, Slide: x.Slide, Gap: x.Gap, Out: out}, nil
	case *Analytic:
		return &PhysAnalytic{Input: ins[0], Partition: x.Partition, Order: x.Order, Funcs: x.Funcs, Out: out}, nil
	}
	return nil, fmt.Errorf("planner: no physical operator for %T", p)
}

// lowerJoin splits the join condition into equi-join keys (left expr =
// right expr) and a residual.
func lowerJoin(j *Join, l, r PhysicalPlan, out *Schema) (PhysicalPlan, error) {
	nl := l.Schema().Len()
	pj := &PhysHashJoin{Left: l, Right: r, Type: j.Type, Out: out}
	var rest []Expr
	for _, c := range conjuncts(j.Cond) {
		call, ok := c.(*Call)
		if ok && call.Func == "eq" {
			a, b := call.Args[0], call.Args[1]
			side := func(e Expr) int { // 0 left, 1 right, -1 neither/both
				lo, hi := minColumn(e), maxColumn(e)
				switch {
				case hi < 0:
					return -1
				case hi < nl:
					return 0
				case lo >= nl:
					return 1
				}
				return -1
			}
			sa, sb := side(a), side(b)
			if sa == 1 && sb == 0 {
				a, b, sa, sb = b, a, sb, sa
			}
			if sa == 0 && sb == 1 {
				pj.LeftKeys = append(pj.LeftKeys, a)
				pj.RightKeys = append(pj.RightKeys, shiftColumns(b, -nl))
				continue
			}
		}
		rest = append(rest, c)
	}
	pj.Residual = andAll(rest)
	return pj, nil
}

// keySessions gives a SESSION window under an aggregate (through filters
// and projections) the aggregate's keys that are not window columns, so
// batch sessions are per key like streaming ones. Other inputs come back
// unchanged.
func keySessions(in PhysicalPlan, keys []Expr) PhysicalPlan {
	switch x := in.(type) {
	case *PhysFilter:
		c := *x
		c.Input = keySessions(x.Input, keys)
		return &c
	case *PhysProject:
		sub := make([]Expr, len(keys))
		for i, k := range keys {
			sub[i] = substitute(k, x.Exprs)
		}
		c := *x
		c.Input = keySessions(x.Input, sub)
		return &c
	case *PhysWindow:
		if x.Kind != WindowSession {
			return in
		}
		n := x.Input.Schema().Len()
		var part []Expr
		for _, k := range keys {
			if maxColumn(k) < n && !hasAgg(k) {
				part = append(part, k)
			}
		}
		c := *x
		c.Keys = part
		return &c
	}
	return in
}
