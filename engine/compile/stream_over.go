package compile

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// overAggregate builds the streaming OVER aggregate of n over input
// records of schema in: its kernel is the batch window-function operator,
// run over each set of ready rows and the rows their frames reach.
func (b *streamBuilder) overAggregate(n *planner.PhysOverAggregate, in *arrow.Schema) (stream.Operator, error) {
	env := b.env
	out := n.Out.Arrow()
	kernel := func(ctx context.Context, rec arrow.Record) ([]arrow.Record, error) {
		op, err := analytic(env, n.Analytic, &recordOp{rec: rec}, n.String())
		if err != nil {
			return nil, err
		}
		recs, err := exec.Collect(ctx, op)
		var mle *exec.MemoryLimitError
		if errors.As(err, &mle) {
			return nil, mle // names this operator and the limit already
		}
		if err != nil {
			return nil, fmt.Errorf("computing %s: %w", n.Analytic, err)
		}
		return recs, nil
	}
	if n.Updating {
		return stream.NewOverChangelog(env.Mem, in, n.Partition, kernel, n.Analytic.Out.Arrow())
	}
	wopts := b.opts.Window
	var carry []stream.OverCarry
	for _, c := range n.Carry {
		carry = append(carry, stream.OverCarry{Col: c.Col, Func: c.Func, Arg: c.Arg})
	}
	o, err := stream.NewOverAggregate(env.Mem, in, stream.OverSpec{TimeCol: n.TimeCol, Partition: n.Partition, Rows: n.Rows, Range: n.Range,
		Kernel: kernel, Out: out, Carry: carry, ByMarks: n.ByMarks, Delay: n.Delay, IdleTimeout: wopts.IdleTimeout, Late: wopts.Late, OnLate: wopts.OnLate, Clock: wopts.Clock})
	if err != nil {
		return nil, err
	}
	if b.window == nil {
		b.window = o
	}
	return o, nil
}

// recordOp yields one record (the caller keeps it), then io.EOF.
type recordOp struct {
	rec  arrow.Record
	done bool
}

func (r *recordOp) Schema() *arrow.Schema      { return r.rec.Schema() }
func (r *recordOp) Open(context.Context) error { return nil }
func (r *recordOp) Close() error               { return nil }
func (r *recordOp) Next(context.Context) (arrow.Record, error) {
	if r.done {
		return nil, io.EOF
	}
	r.done = true
	r.rec.Retain()
	return r.rec, nil
}
