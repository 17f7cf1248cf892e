package stream

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// ParallelOver runs a streaming OVER aggregate with PARTITION BY over an
// append-only input as N OverAggregate instances behind a hash exchange
// on the partition columns, each with the history, waiting rows and
// running values of its keys and its own checkpoint part: a Parallel
// whose instances get every batch, as ParallelWindow's do.
//
// Lateness never depends on the partitioning: every instance tracks the
// event time of every row of every batch, row by row, exactly as one
// operator does (OverAggregate.PushRows), and judges and keeps only the
// rows of its keys. So each row is judged against the watermark as of
// the row before it, each instance releases its rows when one operator
// would, and the instances' watermarks, checkpointed trackers included,
// are equal. Processing time (idleness) is read once per call and
// shared by the instances (eventParallel).
//
// The instances hold their output (overHeld) and the ParallelOver merges
// it into the order one operator emits in: by event time, then by
// partition (OverAggregate.outputLess), a partition's rows in the
// kernel's order. Late rows are counted by the instance of their key and
// routed in batch row order; under LateError the first late row in batch
// order fails the query.
type ParallelOver struct {
	*eventParallel
	mem    memory.Allocator
	overs  []*OverAggregate
	onLate func(LateRow) error
}

var (
	_ Node              = (*ParallelOver)(nil)
	_ PartitionAware    = (*ParallelOver)(nil)
	_ PartedSnapshotter = (*ParallelOver)(nil)
	_ RowsPusher        = (*OverAggregate)(nil)
)

// NewParallelOver builds n OVER aggregates with build (each its own:
// they run concurrently) behind a hash exchange on keys, expressions over
// the input equal to the aggregates' partition columns. It takes
// ownership of the instances.
func NewParallelOver(mem memory.Allocator, keys []Expr, n int, build func(i int) (*OverAggregate, error)) (*ParallelOver, error) {
	po := &ParallelOver{mem: mem}
	p, err := NewParallel(mem, keys, n, func(i int) (Node, error) {
		o, err := build(i)
		if err != nil {
			return nil, err
		}
		if len(o.spec.Partition) == 0 {
			o.Close()
			return nil, fmt.Errorf("stream: an OVER aggregate without PARTITION BY runs as one operator, not as parallel instances")
		}
		po.overs = append(po.overs, o)
		return OperatorNode(o), nil
	})
	if err != nil {
		return nil, err
	}
	po.eventParallel = newEventParallel(p, po.overs[0].clock, po.merge, po.drop)
	po.onLate = po.overs[0].spec.OnLate
	for _, o := range po.overs {
		o.clock = po.clock
		o.held = &overHeld{}
	}
	return po, nil
}

// Watermark is the instances' (all equal: each tracks every row).
func (po *ParallelOver) Watermark() Mark { return Mark{Time: po.overs[0].tracker.Watermark()} }

// EventTimer is the instances' watermark and late-row count, for the
// engine's statistics.
func (po *ParallelOver) EventTimer() EventTimer { return parallelTimer[*OverAggregate]{po.overs} }

// drop discards what the instances hold.
func (po *ParallelOver) drop() {
	for _, o := range po.overs {
		clear(o.held.rows)
		o.held.rows, o.held.late = o.held.rows[:0], o.held.late[:0]
	}
}

// merge routes the instances' late rows in batch row order and merges
// their output rows into one record in the order one operator emits
// them; errs are the instances' errors of the call, if any.
func (po *ParallelOver) merge(errs []error) (arrow.Record, error) {
	defer po.drop()
	if err := firstWindowError(errs); err != nil {
		return nil, err
	}
	lates := make([][]LateRow, len(po.overs))
	rows := make([][][]Value, len(po.overs))
	for i, o := range po.overs {
		lates[i], rows[i] = o.held.late, o.held.rows
	}
	if err := routeHeldLate(lates, po.onLate); err != nil {
		return nil, err
	}
	merged, err := mergeHeld(rows, rows, po.overs[0].outputLess)
	if err != nil || len(merged) == 0 {
		return nil, err
	}
	rb := array.NewRecordBuilder(po.mem, po.overs[0].spec.Out)
	defer rb.Release()
	return buildRecord(rb, merged)
}

// ParallelOverChangelog runs an OVER aggregate with PARTITION BY over an
// updating input as N OverChangelog instances behind a hash exchange on
// the partition columns, each with the live rows of its keys and its own
// checkpoint part. Every change of a key reaches one instance,
// retractions included, and a partition's output depends on its own rows
// only. One operator emits a batch's changes partition by partition, in
// the order the partitions first appear in the batch; each instance
// holds its changes with that batch row (rankHeld) and the merge puts
// them into that order, so the output equals one operator's row for row
// at any N and any batch size.
type ParallelOverChangelog struct {
	*Parallel
	mem   memory.Allocator
	overs []*OverChangelog
}

var (
	_ Node              = (*ParallelOverChangelog)(nil)
	_ PartedSnapshotter = (*ParallelOverChangelog)(nil)
	_ RowsPusher        = (*OverChangelog)(nil)
)

// NewParallelOverChangelog builds n OverChangelogs with build (each its
// own: they run concurrently) behind a hash exchange on keys,
// expressions over the input (op column included) equal to the
// partition columns. It takes ownership of the instances.
func NewParallelOverChangelog(mem memory.Allocator, keys []Expr, n int, build func(i int) (*OverChangelog, error)) (*ParallelOverChangelog, error) {
	pc := &ParallelOverChangelog{mem: mem}
	p, err := NewParallel(mem, keys, n, func(i int) (Node, error) {
		o, err := build(i)
		if err != nil {
			return nil, err
		}
		if len(o.part) == 0 {
			o.Close()
			return nil, fmt.Errorf("stream: an OVER aggregate without PARTITION BY runs as one operator, not as parallel instances")
		}
		o.held = &rankHeld{}
		pc.overs = append(pc.overs, o)
		return OperatorNode(o), nil
	})
	if err != nil {
		return nil, err
	}
	pc.Parallel = p
	return pc, nil
}

// Push cuts the batch by key, applies each part in its instance and
// returns their changes merged into one operator's order.
func (pc *ParallelOverChangelog) Push(ctx context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	helds := make([]*rankHeld, len(pc.overs))
	for i, o := range pc.overs {
		helds[i] = o.held
	}
	return pushHeld(ctx, pc.Parallel, b, helds, pc.overs[0].out)
}

// pushHeld is the Push of a Parallel whose instances hold their changes
// of a batch with the batch row each change's key first appears at
// (helds, one an instance): it folds b and merges the changes into the
// order one operator emits them in, records of schema out.
func pushHeld(ctx context.Context, p *Parallel, b exec.Batch, helds []*rankHeld, out *arrow.Schema) (arrow.Record, error) {
	defer func() {
		for _, h := range helds {
			clear(h.rows)
			h.rows, h.ords = h.rows[:0], h.ords[:0]
		}
	}()
	if b.Record.NumRows() == 0 {
		return nil, nil
	}
	outs, err := p.foldBatch(ctx, b)
	releaseAll(outs) // held instances return none
	if err != nil {
		return nil, err
	}
	for _, e := range p.errs {
		if e != nil {
			return nil, e
		}
	}
	rows := make([][][]Value, len(helds))
	ords := make([][]int32, len(helds))
	for i, h := range helds {
		rows[i], ords[i] = h.rows, h.ords
	}
	merged, err := mergeHeld(rows, ords, func(a, b int32) bool { return a < b })
	if err != nil || len(merged) == 0 {
		return nil, err
	}
	rb := array.NewRecordBuilder(p.mem, out)
	defer rb.Release()
	return buildRecord(rb, merged)
}

// parallelTimer is the EventTimer of N instances that each track every
// row's event time (ParallelWindow, ParallelOver): their watermarks are
// equal, and each counts the late rows of its keys.
type parallelTimer[T EventTimer] struct{ insts []T }

func (t parallelTimer[T]) Late() int64 {
	var n int64
	for _, inst := range t.insts {
		n += inst.Late()
	}
	return n
}

func (t parallelTimer[T]) Watermark() *WatermarkTracker { return t.insts[0].Watermark() }

// routeHeldLate hands the instances' late rows of a batch (lates, one list
// an instance, each in batch row order) to onLate in batch row order.
func routeHeldLate(lates [][]LateRow, onLate func(LateRow) error) error {
	next := make([]int, len(lates))
	for {
		best := -1
		for i, l := range lates {
			if next[i] < len(l) && (best < 0 || l[next[i]].Index < lates[best][next[best]].Index) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		r := lates[best][next[best]]
		next[best]++
		if onLate != nil {
			if err := onLate(r); err != nil {
				return fmt.Errorf("late-row sink: %w", err)
			}
		}
	}
}
