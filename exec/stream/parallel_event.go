package stream

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// eventParallel is a Parallel whose instances each track the event time
// of every row (every instance gets every batch, RowsPusher folding only
// its keys' rows) and hold their output, which merge puts into the order
// one operator emits in: ParallelWindow and ParallelOver. Processing time
// (idleness) is read once per call (clock) and is the same for every
// instance, so their watermarks never diverge.
type eventParallel struct {
	*Parallel
	clock *heldClock
	// merge builds a call's output from what the instances hold (errs
	// their errors of the call, if any) and discards it; drop discards
	// it when the call failed before.
	merge func(errs []error) (arrow.Record, error)
	drop  func()
	// before, when set, runs on the caller's goroutine before a batch
	// with rows reaches the instances (ParallelWindow computes each
	// row's watermark there, once for all of them); drop follows it
	// whatever happens next.
	before func(b exec.Batch) error
}

// newEventParallel makes p's instances get every batch and read the
// processing time of clock once per call; they must use the returned
// node's clock.
func newEventParallel(p *Parallel, clock Clock, merge func([]error) (arrow.Record, error), drop func()) *eventParallel {
	p.all = true
	e := &eventParallel{Parallel: p, clock: &heldClock{Clock: clock}, merge: merge, drop: drop}
	e.clock.hold()
	return e
}

// Push gives the batch to every instance, each folding the rows of its
// keys, and returns their merged output.
func (e *eventParallel) Push(ctx context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	e.clock.hold()
	if b.Record.NumRows() == 0 {
		// No rows, but the partition arrived (idleness).
		clear(e.errs)
		for i, rp := range e.pushers {
			if _, e.errs[i] = rp.PushRows(ctx, b.Record, b.Partition, nil); e.errs[i] != nil {
				break
			}
		}
		return e.merge(e.errs)
	}
	if e.before != nil {
		if err := e.before(b); err != nil {
			e.drop()
			return nil, err
		}
	}
	if _, err := e.foldBatch(ctx, b); err != nil {
		e.drop()
		return nil, err
	}
	return e.merge(e.errs)
}

// Advance gives every instance the input's mark.
func (e *eventParallel) Advance(ctx context.Context, input int, m Mark) (arrow.Record, error) {
	e.clock.hold()
	return e.then(e.Parallel.Advance(ctx, input, m))
}

// Tick lets processing time act on every instance.
func (e *eventParallel) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	return e.then(e.Parallel.Tick(ctx, now))
}

// Finish ends the input of every instance.
func (e *eventParallel) Finish(ctx context.Context, input int) (arrow.Record, error) {
	return e.then(e.Parallel.Finish(ctx, input))
}

// then is the merged output of a message every instance got (their own
// outputs are held, so rec is nil).
func (e *eventParallel) then(rec arrow.Record, err error) (arrow.Record, error) {
	if rec != nil {
		rec.Release()
	}
	if err != nil {
		e.drop()
		return nil, err
	}
	return e.merge(nil)
}

// SetPartitions registers the source's partitions with every instance.
func (e *eventParallel) SetPartitions(parts []int32) {
	e.clock.hold()
	for _, inst := range e.insts {
		if pa, ok := inst.(PartitionAware); ok {
			pa.SetPartitions(parts)
		}
	}
}

// RestoreParts gives each instance its own part.
func (e *eventParallel) RestoreParts(parts []OperatorState) error {
	e.clock.hold()
	return e.Parallel.RestoreParts(parts)
}
