package engine

import (
	"fmt"
	"io"

	"github.com/dustin/go-humanize"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// growthReport follows the state of a streaming query whose state the
// planner could not bound (it warned at start): each time the sampled
// state doubles past 1 MiB it writes one line to the log, so an unbounded
// GROUP BY shows its growth long before it reaches the memory limit.
// Bounded queries report nothing.
type growthReport struct {
	op     string // the stateful node's plan line
	budget *exec.Budget
	next   int64 // report when the state reaches this many bytes
}

// firstGrowthReport is the state size of the first line.
const firstGrowthReport = 1 << 20

func newGrowthReport(si *planner.StreamInfo, budget *exec.Budget) *growthReport {
	if si == nil || si.StateBounded {
		return nil
	}
	n := si.UnboundedNode()
	if n == nil {
		return nil
	}
	return &growthReport{op: n.String(), budget: budget, next: firstGrowthReport}
}

// sample is called with each state sample; nil reports nothing.
func (g *growthReport) sample(log io.Writer, st stream.StateStats) {
	if g == nil || st.Bytes < g.next {
		return
	}
	limit := "no memory limit"
	if l := g.budget.Limit(); l > 0 {
		// What the limit is checked against: every query's accounted state.
		limit = fmt.Sprintf("the session's queries hold %s of memory_limit %s", humanize.IBytes(uint64(g.budget.Used())), humanize.IBytes(uint64(l)))
	}
	fmt.Fprintf(log, "sluice: unbounded state of %s: %d groups, %s (%s)\n", g.op, st.Groups, humanize.IBytes(uint64(st.Bytes)), limit)
	for g.next <= st.Bytes {
		g.next *= 2
	}
}
