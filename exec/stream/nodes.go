package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// opNode runs a one-input Operator (GroupAggregate, WindowAggregate, TopN)
// as a graph Node. Its watermark is the operator's own tracker's when it
// keeps one (a window aggregate fed by a source tracks event time row by
// row, so lateness never depends on batch boundaries), else its input's.
type opNode struct {
	op Operator
	in *InputMarks
}

var (
	_ Node           = (*opNode)(nil)
	_ PartitionAware = (*opNode)(nil)
)

// OperatorNode adapts a one-input Operator to a Node; the node owns op.
func OperatorNode(op Operator) Node { return &opNode{op: op, in: NewInputMarks(1)} }

// Operator is the adapted operator (for statistics such as late rows).
func (n *opNode) Operator() Operator { return n.op }

func (n *opNode) Schema() *arrow.Schema   { return n.op.Schema() }
func (n *opNode) SinkMode() exec.SinkMode { return n.op.SinkMode() }

func (n *opNode) Push(ctx context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	return n.op.Push(ctx, b.Record, b.Partition)
}

func (n *opNode) Advance(ctx context.Context, input int, m Mark) (arrow.Record, error) {
	n.in.Set(input, m)
	if mf, ok := n.op.(MarkFollower); ok {
		return mf.FollowMark(ctx, m.Time)
	}
	return nil, nil
}

func (n *opNode) Watermark() Mark {
	if t := n.tracker(); t != nil {
		return Mark{Time: t.Watermark()}
	}
	return n.in.Mark()
}

// tracker is the operator's own watermark tracker, nil if it keeps none.
func (n *opNode) tracker() *WatermarkTracker {
	if w, ok := n.op.(WatermarkReporter); ok {
		return w.Watermark()
	}
	return nil
}

func (n *opNode) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	return n.op.Tick(ctx, now)
}

func (n *opNode) Finish(ctx context.Context, input int) (arrow.Record, error) {
	n.in.Finish(input)
	return n.op.Finish(ctx)
}

func (n *opNode) Snapshot() ([]byte, error) {
	if s, ok := n.op.(Snapshotter); ok {
		return s.Snapshot()
	}
	return nil, nil
}

func (n *opNode) Restore(state []byte) error {
	if s, ok := n.op.(Snapshotter); ok {
		return s.Restore(state)
	}
	return fmt.Errorf("stream: checkpoint holds state for an operator that keeps none: was the query changed?")
}

func (n *opNode) Stats() StateStats { return n.op.Stats() }
func (n *opNode) Close() error      { return n.op.Close() }

// SetPartitions forwards the source's partitions to a PartitionAware
// operator.
func (n *opNode) SetPartitions(parts []int32) {
	if pa, ok := n.op.(PartitionAware); ok {
		pa.SetPartitions(parts)
	}
}

// transformNode is a stateless one-input Node: a Transform applied to each
// batch (a projection or filter over a changelog keeps the op column).
type transformNode struct {
	tr     Transform
	schema *arrow.Schema
	mode   exec.SinkMode
	in     *InputMarks
}

var _ Node = (*transformNode)(nil)

// TransformNode is a stateless Node applying tr to every batch; its output
// has schema and changelog mode mode.
func TransformNode(tr Transform, schema *arrow.Schema, mode exec.SinkMode) Node {
	return &transformNode{tr: tr, schema: schema, mode: mode, in: NewInputMarks(1)}
}

func (t *transformNode) Schema() *arrow.Schema   { return t.schema }
func (t *transformNode) SinkMode() exec.SinkMode { return t.mode }
func (t *transformNode) Push(ctx context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	return t.tr(ctx, b.Record)
}
func (t *transformNode) Advance(_ context.Context, input int, m Mark) (arrow.Record, error) {
	t.in.Set(input, m)
	return nil, nil
}
func (t *transformNode) Watermark() Mark                                       { return t.in.Mark() }
func (t *transformNode) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }
func (t *transformNode) Finish(_ context.Context, input int) (arrow.Record, error) {
	t.in.Finish(input)
	return nil, nil
}
func (t *transformNode) Snapshot() ([]byte, error) { return nil, nil }
func (t *transformNode) Restore([]byte) error {
	return fmt.Errorf("stream: checkpoint holds state for a stateless operator: was the query changed?")
}
func (t *transformNode) Stats() StateStats { return StateStats{} }
func (t *transformNode) Close() error      { return nil }

// unionNode is UNION ALL inside a graph: n inputs of one schema, every
// batch passed on as it comes, the watermark the minimum over the inputs.
type unionNode struct {
	schema *arrow.Schema
	mode   exec.SinkMode
	in     *InputMarks
}

var _ Node = (*unionNode)(nil)

// UnionNode is an n-input UNION ALL of inputs of schema (changelog mode
// mode) inside a graph.
func UnionNode(schema *arrow.Schema, mode exec.SinkMode, n int) Node {
	return &unionNode{schema: schema, mode: mode, in: NewInputMarks(n)}
}

func (u *unionNode) Schema() *arrow.Schema   { return u.schema }
func (u *unionNode) SinkMode() exec.SinkMode { return u.mode }
func (u *unionNode) Push(_ context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	b.Record.Retain()
	return b.Record, nil
}
func (u *unionNode) Advance(_ context.Context, input int, m Mark) (arrow.Record, error) {
	u.in.Set(input, m)
	return nil, nil
}
func (u *unionNode) Watermark() Mark                                       { return u.in.Mark() }
func (u *unionNode) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }
func (u *unionNode) Finish(_ context.Context, input int) (arrow.Record, error) {
	u.in.Finish(input)
	return nil, nil
}
func (u *unionNode) Snapshot() ([]byte, error) { return nil, nil }
func (u *unionNode) Restore([]byte) error {
	return fmt.Errorf("stream: checkpoint holds state for a UNION ALL: was the query changed?")
}
func (u *unionNode) Stats() StateStats { return StateStats{} }
func (u *unionNode) Close() error      { return nil }
