package compile

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// Analytic builds the window-function operator of n over in.
func Analytic(env Env, n *planner.PhysAnalytic, in exec.Operator) (exec.Operator, error) {
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
			Func: f.Func, Args: args, N: f.N, Type: f.Typ, Name: n.Out.Fields[base+i].Name,
			Frame: exec.Frame{Rows: f.Frame.Rows, Start: frameBound(f.Frame.Start), End: frameBound(f.Frame.End)},
		}
	}
	a, err := exec.NewAnalytic(env.Mem, in, part, order, funcs)
	if err != nil {
		return nil, err
	}
	a.SetBudget(env.Budget.Account(n.String()))
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
