package compile

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// overNode builds the graph node of n over input records of schema in:
// one OVER operator, or the session's parallelism of key-partitioned
// instances when the planner partitioned it (n.Partitioned).
func (b *streamBuilder) overNode(n *planner.PhysOverAggregate, in *arrow.Schema) (stream.Node, error) {
	mem, par := b.env.Mem, b.opts.Parallelism
	if !n.Partitioned || par <= 1 {
		if n.Updating {
			o, err := b.overChangelog(n, in)
			if err != nil {
				return nil, err
			}
			return stream.OperatorNode(o), nil
		}
		o, err := b.overAggregate(n, in)
		if err != nil {
			return nil, err
		}
		if b.window == nil {
			b.window = o
		}
		return stream.OperatorNode(o), nil
	}
	// The partition columns index the value columns; a changelog's
	// records have the op column in front of them.
	off := 0
	if n.Updating {
		off = 1
	}
	keys := make([]stream.Expr, len(n.Partition))
	for i, c := range n.Partition {
		f := in.Field(c + off)
		keys[i] = expr.Column(c+off, f.Type, f.Name)
	}
	if n.Updating {
		return stream.NewParallelOverChangelog(mem, keys, par, func(int) (*stream.OverChangelog, error) { return b.overChangelog(n, in) })
	}
	po, err := stream.NewParallelOver(mem, keys, par, func(int) (*stream.OverAggregate, error) { return b.overAggregate(n, in) })
	if err != nil {
		return nil, err
	}
	if b.window == nil {
		b.window = po.EventTimer()
	}
	return po, nil
}

// overKernel is the kernel of n's OVER operator: the batch
// window-function operator, run over each set of ready rows and the rows
// their frames reach (each call builds its own, so instances running
// concurrently share nothing).
func (b *streamBuilder) overKernel(n *planner.PhysOverAggregate) func(ctx context.Context, rec arrow.Record) ([]arrow.Record, error) {
	env := b.env
	return func(ctx context.Context, rec arrow.Record) ([]arrow.Record, error) {
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
}

// overChangelog builds one OverChangelog of n (an OVER aggregate over an
// updating input of schema in).
func (b *streamBuilder) overChangelog(n *planner.PhysOverAggregate, in *arrow.Schema) (*stream.OverChangelog, error) {
	return stream.NewOverChangelog(b.env.Mem, in, n.Partition, b.overKernel(n), n.Analytic.Out.Arrow())
}

// overAggregate builds one OverAggregate of n over an append-only input
// of schema in.
func (b *streamBuilder) overAggregate(n *planner.PhysOverAggregate, in *arrow.Schema) (*stream.OverAggregate, error) {
	wopts := b.opts.Window
	var carry []stream.OverCarry
	for _, c := range n.Carry {
		carry = append(carry, stream.OverCarry{Col: c.Col, Func: c.Func, Arg: c.Arg})
	}
	return stream.NewOverAggregate(b.env.Mem, in, stream.OverSpec{TimeCol: n.TimeCol, Partition: n.Partition, Rows: n.Rows, Range: n.Range,
		Kernel: b.overKernel(n), Out: n.Out.Arrow(), Carry: carry, ByMarks: n.ByMarks, Delay: n.Delay, IdleTimeout: wopts.IdleTimeout, Late: wopts.Late, OnLate: wopts.OnLate, Clock: wopts.Clock})
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
