// Package compile turns a planner physical plan into a tree of exec
// operators. The planner has bound every name and type; compilation is a
// one-to-one walk with no decisions left in it, so the plan EXPLAIN shows is
// the plan that runs.
package compile

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/planner"
)

// Env is what compilation needs from the running session.
type Env struct {
	Mem memory.Allocator
	// Source returns the runtime source registered under name.
	Source func(name string) (exec.Source, error)
	// BatchSize is the target rows per record.
	BatchSize int
	// Parallelism is the number of workers a PhysGather runs (at least 1).
	Parallelism int
	// MorselBytes is the target size of byte-range morsels (see
	// exec.ScanSpec.MorselBytes); 0 is the default.
	MorselBytes int64
	// Scan, when set, replaces the plain scan operator (streaming drivers
	// use it to feed batches through the same plan); nil builds exec.Scan.
	Scan func(p *planner.PhysScan, src exec.Source, spec exec.ScanSpec) (exec.Operator, error)
	// Union, when set, replaces the UNION ALL operator (the streaming
	// driver reads a union's inputs itself and feeds what is above it).
	Union func(p *planner.PhysUnionAll) (exec.Operator, error)
	// Wrap, when set, sees every operator as it is built, with the plan
	// node it implements (EXPLAIN ANALYZE counts rows through it).
	Wrap func(p planner.PhysicalPlan, op exec.Operator) exec.Operator
	// Budget caps the memory of stateful operators (group tables); each
	// gets an account named by its plan line. nil: unlimited.
	Budget *exec.Budget
	// Progress receives the batch scans' progress (exec.ScanSpec.Progress);
	// nil reports none.
	Progress *exec.ScanProgress

	// builds is set while a gathered pipeline is compiled (once per
	// morsel): the build sides of its joins, compiled once.
	builds *sharedBuilds
	// topn is set while the input of a top-N that prunes its scan is
	// compiled (PhysTopN.Bound): the cut-off its TopNs share with it.
	topn *exec.TopNBound
}

// sharedBuilds are the build sides of the joins of one gathered pipeline,
// each compiled once (with the environment outside the pipeline, whose
// sources are the real ones, not the morsel) and probed by every
// instance; the Gather closes them.
type sharedBuilds struct {
	outer Env
	by    map[*planner.PhysHashJoin]*exec.SharedBuild
}

// get returns the shared build side of n, compiling it the first time.
func (s *sharedBuilds) get(n *planner.PhysHashJoin) (*exec.SharedBuild, error) {
	if b, ok := s.by[n]; ok {
		return b, nil
	}
	right, err := Plan(s.outer, n.Right)
	if err != nil {
		return nil, err
	}
	b := exec.NewSharedBuild(s.outer.Mem, right)
	b.SetBudget(s.outer.Budget.Account(n.String()))
	s.by[n] = b
	return b, nil
}

// Close closes every build side.
func (s *sharedBuilds) Close() error {
	var first error
	for _, b := range s.by {
		if err := b.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Plan compiles p into an operator tree, not yet opened: the caller opens
// the root (which opens its children) and closes it.
func Plan(env Env, p planner.PhysicalPlan) (exec.Operator, error) {
	op, err := build(env, p)
	if err != nil || env.Wrap == nil {
		return op, err
	}
	return env.Wrap(p, op), nil
}

func build(env Env, p planner.PhysicalPlan) (exec.Operator, error) {
	// Compile single-input nodes' input first: every case below but the
	// leaves, joins and unions reads it as in.
	var in exec.Operator
	if t, ok := p.(*planner.PhysTopN); ok && t.Bound && env.topn == nil {
		env.topn = topNBound(t)
	}
	switch p.(type) {
	case *planner.PhysScan, *planner.PhysValues, *planner.PhysHashJoin, *planner.PhysUnionAll, *planner.PhysGather:
	default:
		if ch := p.Children(); len(ch) == 1 {
			var err error
			if in, err = Plan(env, ch[0]); err != nil {
				return nil, err
			}
		}
	}
	switch n := p.(type) {
	case *planner.PhysScan:
		src, err := env.Source(n.Source)
		if err != nil {
			return nil, err
		}
		spec := scanSpec(env, n)
		var scan exec.Operator
		var err2 error
		if env.Scan != nil {
			scan, err2 = env.Scan(n, src, spec)
		} else {
			scan, err2 = exec.NewScan(env.Mem, src, spec)
		}
		if err2 != nil || !n.Changelog {
			return scan, err2
		}
		// A batch read of a changelog source is the table it leaves.
		return exec.NewFoldChangelog(env.Mem, scan, scan.Schema()), nil
	case *planner.PhysExchange:
		return exchange(n, in)
	case *planner.PhysFilter:
		pred, err := Expr(n.Pred)
		if err != nil {
			return nil, err
		}
		return exec.NewFilter(env.Mem, in, pred), nil
	case *planner.PhysProject:
		exprs, err := Exprs(n.Exprs)
		if err != nil {
			return nil, err
		}
		return exec.NewProject(env.Mem, in, exprs, n.Names)
	case *planner.PhysHashAggregate:
		keys, err := Exprs(n.Keys)
		if err != nil {
			return nil, err
		}
		aggs, err := AggCalls(n.Aggs, n.Out, len(n.Keys))
		if err != nil {
			return nil, err
		}
		names := make([]string, len(keys))
		for i := range names {
			names[i] = n.Out.Fields[i].Name
		}
		if n.Mode == planner.AggPartial {
			for i, a := range n.Aggs {
				aggs[i].Name, aggs[i].Type = a.String(), nil
			}
		}
		h, err := exec.NewHashAggregateMode(env.Mem, in, aggMode(n.Mode), keys, names, aggs)
		if err != nil {
			return nil, err
		}
		h.SetBudget(env.Budget.Account(n.String()))
		h.SetWorkers(env.Parallelism)
		if n.Dedup {
			h.SetDedup()
		}
		return h, nil
	case *planner.PhysGather:
		return gather(env, n)
	case *planner.PhysHashJoin:
		left, err := Plan(env, n.Left)
		if err != nil {
			return nil, err
		}
		var right exec.Operator
		var shared *exec.SharedBuild
		if env.builds != nil {
			// A join inside a gathered pipeline probes per morsel.
			if shared, err = env.builds.get(n); err != nil {
				left.Close()
				return nil, err
			}
			right = shared.Operator()
		} else if right, err = Plan(env, n.Right); err != nil {
			left.Close()
			return nil, err
		}
		lk, err := Exprs(n.LeftKeys)
		if err != nil {
			return nil, err
		}
		rk, err := Exprs(n.RightKeys)
		if err != nil {
			return nil, err
		}
		var residual expr.Expr
		if n.Residual != nil {
			if residual, err = Expr(n.Residual); err != nil {
				return nil, err
			}
		}
		j, err := exec.NewHashJoin(env.Mem, left, right, joinType(n.Type), lk, rk, residual)
		if err != nil {
			return nil, err
		}
		if shared != nil {
			if err := j.ShareBuild(shared); err != nil {
				return nil, err
			}
		}
		if n.Output != nil {
			if err := j.SetOutput(n.Output); err != nil {
				return nil, err
			}
		}
		j.SetBudget(env.Budget.Account(n.String()))
		return j, nil
	case *planner.PhysSort:
		keys, err := SortKeys(n.Keys)
		if err != nil {
			return nil, err
		}
		srt := exec.NewSort(env.Mem, in, keys)
		srt.SetBudget(env.Budget.Account(n.String()))
		srt.SetWorkers(env.Parallelism)
		return srt, nil
	case *planner.PhysTopN:
		keys, err := SortKeys(n.Keys)
		if err != nil {
			return nil, err
		}
		t, err := exec.NewTopN(env.Mem, in, keys, n.Limit, n.Offset)
		if err == nil && n.Bound {
			t.SetBound(env.topn)
		}
		return t, err
	case *planner.PhysLimit:
		return exec.NewLimit(env.Mem, in, n.Limit, n.Offset), nil
	case *planner.PhysReplicate:
		return exec.NewReplicate(env.Mem, in, -1)
	case *planner.PhysUnnest:
		lists, err := Exprs(n.Lists)
		if err != nil {
			return nil, err
		}
		return exec.NewUnnest(env.Mem, in, lists, n.Names, -1, n.Outer)
	case *planner.PhysUnionAll:
		if env.Union != nil {
			return env.Union(n)
		}
		ins := make([]exec.Operator, len(n.Inputs))
		for i, c := range n.Inputs {
			op, err := Plan(env, c)
			if err != nil {
				return nil, err
			}
			ins[i] = op
		}
		return exec.NewUnionAll(env.Mem, ins...)
	case *planner.PhysValues:
		rows := make([][]expr.Expr, len(n.Rows))
		for i, r := range n.Rows {
			es, err := Exprs(r)
			if err != nil {
				return nil, err
			}
			rows[i] = es
		}
		return exec.NewValues(env.Mem, n.Out.Arrow(), rows)
	case *planner.PhysWindow:
		return Window(env, n, in)
	case *planner.PhysAnalytic:
		return Analytic(env, n, in)
	}
	return nil, fmt.Errorf("compile: unsupported plan node %T", p)
}

// Expr compiles a bound planner expression into a vectorized one.
func Expr(e planner.Expr) (expr.Expr, error) {
	switch x := e.(type) {
	case *planner.ColumnRef:
		return expr.Column(x.Index, x.Typ, x.Name), nil
	case *planner.Literal:
		return expr.Literal(x.Typ, x.Value), nil
	case *planner.Call:
		args, err := Exprs(x.Args)
		if err != nil {
			return nil, err
		}
		c, err := expr.Call(x.Func, args, x.Typ)
		if err != nil {
			return nil, err
		}
		return expr.At(c, expr.Pos{Line: x.Pos.Line, Col: x.Pos.Col}), nil
	}
	return nil, fmt.Errorf("compile: unsupported expression %T", e)
}

// Exprs compiles a list of expressions.
func Exprs(es []planner.Expr) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		c, err := Expr(e)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// AggCalls compiles aggregate calls; their output names come from out,
// where they follow nkeys group keys.
func AggCalls(calls []planner.AggCall, out *planner.Schema, nkeys int) ([]exec.AggCall, error) {
	res := make([]exec.AggCall, len(calls))
	for i, a := range calls {
		c := exec.AggCall{Func: a.Func, Distinct: a.Distinct, Type: a.Typ, Name: out.Fields[nkeys+i].Name, Params: aggParams(a.Params),
			SQL: a.String(), Pos: expr.Pos{Line: a.Pos.Line, Col: a.Pos.Col}}
		if a.Arg != nil {
			arg, err := Expr(a.Arg)
			if err != nil {
				return nil, err
			}
			c.Arg = arg
		}
		res[i] = c
	}
	return res, nil
}

// aggParams is the operators' copy of an aggregate call's parameters.
func aggParams(p planner.AggParams) exec.AggParams {
	out := exec.AggParams{Sep: p.Sep, Fraction: p.Fraction}
	for _, o := range p.Order {
		out.Order = append(out.Order, exec.AggOrder{Desc: o.Desc, NullsFirst: o.NullsFirst})
	}
	return out
}

// SortKeys compiles ORDER BY keys.
func SortKeys(keys []planner.SortKey) ([]exec.SortKey, error) {
	out := make([]exec.SortKey, len(keys))
	for i, k := range keys {
		e, err := Expr(k.Expr)
		if err != nil {
			return nil, err
		}
		out[i] = exec.SortKey{Expr: e, Desc: k.Desc, NullsFirst: k.NullsFirst}
	}
	return out, nil
}

// scanSpec is what a scan node asks of its source.
func scanSpec(env Env, n *planner.PhysScan) exec.ScanSpec {
	spec := exec.ScanSpec{Columns: n.Columns, BatchSize: env.BatchSize, Bounded: true, MorselBytes: env.MorselBytes, Progress: env.Progress}
	for _, f := range n.Filters {
		spec.Filters = append(spec.Filters, exec.Predicate{Column: f.Column, Op: f.Op, Value: f.Value})
	}
	if n.Bound != nil {
		spec.Bound = env.topn
	}
	return spec
}

// topNBound is the cut-off a pruning top-N shares with the scan at the
// end of its chain (planner.BoundTopNs); nil when there is none.
func topNBound(t *planner.PhysTopN) *exec.TopNBound {
	for p := t.Input; ; {
		if s, ok := p.(*planner.PhysScan); ok {
			if s.Bound == nil {
				return nil
			}
			return exec.NewTopNBound(s.Bound.Column, s.Bound.Desc, s.Bound.NullsFirst)
		}
		ch := p.Children()
		if len(ch) != 1 {
			return nil
		}
		p = ch[0]
	}
}

// gather compiles a PhysGather: its pipeline is compiled once per morsel,
// with the scan at its leaf reading that morsel.
func gather(env Env, n *planner.PhysGather) (exec.Operator, error) {
	scan := n.Scan()
	src, err := env.Source(scan.Source)
	if err != nil {
		return nil, err
	}
	outer := env
	outer.builds = nil
	builds := &sharedBuilds{outer: outer, by: map[*planner.PhysHashJoin]*exec.SharedBuild{}}
	build := func(m exec.Source) (exec.Operator, error) {
		sub := env
		sub.Source = func(string) (exec.Source, error) { return m, nil }
		sub.builds = builds
		return Plan(sub, n.Input)
	}
	g, err := exec.NewGather(env.Mem, src, scanSpec(env, scan), env.Parallelism, build)
	if err != nil {
		builds.Close()
		return nil, err
	}
	g.CloseWith(builds)
	return g, nil
}

func aggMode(m planner.AggMode) exec.AggMode {
	switch m {
	case planner.AggPartial:
		return exec.AggPartial
	case planner.AggFinal:
		return exec.AggFinal
	}
	return exec.AggComplete
}

func joinType(t planner.JoinType) exec.JoinType {
	switch t {
	case planner.LeftJoin:
		return exec.JoinLeft
	case planner.RightJoin:
		return exec.JoinRight
	case planner.FullJoin:
		return exec.JoinFull
	}
	return exec.JoinInner
}

// Window compiles a window table function over in for batch execution.
func Window(env Env, n *planner.PhysWindow, in exec.Operator) (exec.Operator, error) {
	mem := env.Mem
	switch n.Kind {
	case planner.WindowSession:
		keys, err := Exprs(n.Keys)
		if err != nil {
			return nil, err
		}
		s, err := exec.NewSessionWindow(mem, in, n.TimeCol, n.Gap, keys...)
		if err != nil {
			return nil, err
		}
		s.SetWorkers(env.Parallelism)
		return s, nil
	case planner.WindowHop:
		return exec.NewWindowAssign(mem, in, exec.WindowHop, n.TimeCol, n.Size, n.Slide)
	default:
		return exec.NewWindowAssign(mem, in, exec.WindowTumble, n.TimeCol, n.Size, n.Size)
	}
}

// ArrowSchema is the schema a compiled plan produces.
func ArrowSchema(p planner.PhysicalPlan) *arrow.Schema { return p.Schema().Arrow() }
