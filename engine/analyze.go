package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/engine/compile"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// counted is an operator seen by EXPLAIN ANALYZE: it counts the rows and
// batches it returns and the time spent in Next, its children included,
// into the stats of its plan node. A parallel plan builds one operator
// per morsel for the nodes under a Gather, on worker goroutines: they all
// add to the node's one opStats (so their time is summed over workers).
type counted struct {
	exec.Operator
	st *opStats
}

type opStats struct {
	rows, batches, nanos atomic.Int64
}

func (c *counted) Next(ctx context.Context) (arrow.Record, error) {
	start := time.Now()
	rec, err := c.Operator.Next(ctx)
	c.st.nanos.Add(int64(time.Since(start)))
	if rec != nil {
		c.st.rows.Add(rec.NumRows())
		c.st.batches.Add(1)
	}
	return rec, err
}

// analyzeBatch runs a batch query with every operator counted and renders
// the physical plan annotated with what each operator produced.
func (db *Session) analyzeBatch(ctx context.Context, q *sql.Query) (string, error) {
	qp, srcs, err := db.plan(q, "")
	if err != nil {
		return "", err
	}
	if err := db.checkBounded(q, qp); err != nil {
		return "", err
	}
	env := db.env(srcs)
	var mu sync.Mutex
	counts := map[planner.PhysicalPlan]*opStats{}
	env.Wrap = func(p planner.PhysicalPlan, op exec.Operator) exec.Operator {
		mu.Lock()
		defer mu.Unlock()
		st := counts[p]
		if st == nil {
			st = &opStats{}
			counts[p] = st
		}
		return &counted{Operator: op, st: st}
	}
	start := time.Now()
	op, err := compile.Plan(env, qp.Physical)
	if err != nil {
		return "", execError(err)
	}
	defer op.Close()
	if err := op.Open(ctx); err != nil {
		return "", execError(err)
	}
	for {
		rec, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", execError(err)
		}
		rec.Release()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Analyze (elapsed %s):\n", time.Since(start).Round(time.Microsecond))
	var walk func(p planner.PhysicalPlan, depth int)
	walk = func(p planner.PhysicalPlan, depth int) {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", depth+1), p.String())
		if c := counts[p]; c != nil {
			fmt.Fprintf(&b, "  (rows out: %d, batches: %d, time: %s)", c.rows.Load(), c.batches.Load(), time.Duration(c.nanos.Load()).Round(time.Microsecond))
		}
		b.WriteString("\n")
		for _, ch := range p.Children() {
			walk(ch, depth+1)
		}
	}
	walk(qp.Physical, 0)
	return b.String(), nil
}
