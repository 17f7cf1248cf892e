package compile

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// Analytic builds the window-function operator of n over in.
func Analytic(env Env, n *planner.PhysAnalytic, in exec.Operator) (exec.Operator, error) {
	return analytic(env, n, in, n.String())
}

// analytic is Analytic with its memory-budget account named operator:
// a streaming OVER aggregate's kernel accounts its input (the rows the
// frames reach, a copy of the stream operator's state) as that
// operator's, the one EXPLAIN shows.
func analytic(env Env, n *planner.PhysAnalytic, in exec.Operator, operator string) (exec.Operator, error) {
	part, err := Exprs(n.Partition)
	if err != nil {
		return nil, err
	}
	order, err := SortKeys(n.Order)
	if err != nil {
		return nil, err
	}
	base := n.Input.Schema().Len()
	funcs := make([]exec.AnalyticFunc, len(n.Funcs))
	for i, f := range n.Funcs {
		args, err := Exprs(f.Args)
		if err != nil {
			return nil, err
		}
		funcs[i] = exec.AnalyticFunc{
			Func: f.Func, Args: args, N: f.N, Type: f.Typ, Name: n.Out.Fields[base+i].Name, Params: aggParams(f.Params),
			SQL: f.Call(), Pos: expr.Pos{Line: f.Pos.Line, Col: f.Pos.Col},
			Frame: exec.Frame{Rows: f.Frame.Rows, Start: frameBound(f.Frame.Start), End: frameBound(f.Frame.End)},
		}
	}
	a, err := exec.NewAnalytic(env.Mem, in, part, order, funcs)
	if err != nil {
		return nil, err
	}
	a.SetBudget(env.Budget.Account(operator))
	a.SetWorkers(env.Parallelism)
	return a, nil
}

// frameBound maps a planner frame bound onto the executor's.
func frameBound(b planner.FrameBound) exec.FrameBound {
	kinds := map[planner.BoundKind]exec.BoundKind{
		planner.UnboundedPreceding: exec.UnboundedPreceding, planner.Preceding: exec.Preceding,
		planner.CurrentRow: exec.CurrentRow, planner.Following: exec.Following,
		planner.UnboundedFollowing: exec.UnboundedFollowing,
	}
	return exec.FrameBound{Kind: kinds[b.Kind], Offset: b.Offset, FloatOffset: b.FloatOffset}
}

// rankTopN builds the streaming per-key top-N of n over input records of
// schema in.
func rankTopN(mem memory.Allocator, n *planner.PhysRankTopN, in *arrow.Schema) (*stream.RankTopN, error) {
	part := make([]int, len(n.Partition))
	for i, e := range n.Partition {
		c, ok := e.(*planner.ColumnRef)
		if !ok {
			return nil, fmt.Errorf("compile: streaming top-N partition %s is not a column", e)
		}
		part[i] = c.Index
	}
	keys := make([]stream.SortKey, len(n.Keys))
	for i, k := range n.Keys {
		c, ok := k.Expr.(*planner.ColumnRef)
		if !ok {
			return nil, fmt.Errorf("compile: streaming top-N key %s is not a column", k.Expr)
		}
		keys[i] = stream.SortKey{Col: c.Index, Desc: k.Desc}
	}
	rank := n.Out.Fields[len(n.Out.Fields)-1].Name
	fn, ok := rankFuncs[n.Func]
	if !ok {
		return nil, fmt.Errorf("compile: no streaming top-N numbered by %s", n.Func)
	}
	var t *stream.RankTopN
	var err error
	if n.PerWindow {
		t, err = stream.NewWindowRankTopN(mem, in, part, keys, int(n.Limit), rank)
	} else {
		t, err = stream.NewRankTopN(mem, in, part, keys, int(n.Limit), rank)
	}
	if err != nil {
		return nil, err
	}
	t.SetRankFunc(fn)
	return t, nil
}

// rankFuncs maps the planner's numbering functions to the top-N's.
var rankFuncs = map[string]stream.RankFunc{
	"": stream.RowNumber, "row_number": stream.RowNumber, "rank": stream.Rank, "dense_rank": stream.DenseRank,
}
