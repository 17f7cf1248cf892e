package stream

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// ParallelWindow runs a keyed windowed aggregate (TUMBLE, HOP or SESSION
// with GROUP BY keys besides the window) as N WindowAggregate instances,
// each with the windows of its keys and its own checkpoint part: a
// Parallel whose instances get every batch.
//
// Lateness never depends on the partitioning: before the instances
// start on a batch, the ParallelWindow observes the event time of each
// of its rows in order, as one operator does, on the caller's goroutine
// (once, not once per instance), and hands every instance those
// watermarks (rowMarks); each instance folds only the rows of its keys,
// judging each against the watermark as of the row before it and
// closing its windows where that watermark passed their ends, as one
// operator would (WindowAggregate.PushRows), whatever the parallelism and
// the batch sizes. Each instance's tracker then takes the batch's latest
// event time, so their watermarks, checkpointed trackers included, stay
// equal. Processing time (idleness) is read once per call and shared by
// the instances.
//
// The instances hold their output (heldOutput) and the ParallelWindow
// merges it into the order one operator gives: EMIT FINAL rows by window
// end, window start, then the order the window's groups were made in
// (their stamps); update rows by the batch row that caused them, then
// window start. Late rows are counted by the instance of their key and
// routed (LateRoute) in batch row order; under LateError the first late
// row in batch order fails the query.
type ParallelWindow struct {
	*eventParallel
	mem    memory.Allocator
	wins   []*WindowAggregate
	onLate func(LateRow) error
	// marks are the watermarks of the batch being folded, written by
	// observe before the instances start and read by all of them.
	marks rowMarks
}

var (
	_ Node              = (*ParallelWindow)(nil)
	_ PartitionAware    = (*ParallelWindow)(nil)
	_ PartedSnapshotter = (*ParallelWindow)(nil)
)

// heldOutput is what a ParallelWindow instance holds for the merge: the
// order key of each of its pending output rows and its late rows of the
// batch (to route).
type heldOutput struct {
	ords []winOrder
	late []LateRow
}

// order records the order key of the output row just added to pending;
// a no-op on an operator whose output is not held.
func (h *heldOutput) order(o winOrder) {
	if h != nil {
		h.ords = append(h.ords, o)
	}
}

// winOrder is an output row's place in the order one operator emits in.
type winOrder struct{ a, b, c int64 }

func (o winOrder) less(p winOrder) bool {
	if o.a != p.a {
		return o.a < p.a
	}
	if o.b != p.b {
		return o.b < p.b
	}
	return o.c < p.c
}

// heldClock is processing time read once per call (hold) and then the
// same for every instance, so that their idleness never diverges.
type heldClock struct {
	Clock
	now time.Time
}

func (c *heldClock) Now() time.Time { return c.now }
func (c *heldClock) hold()          { c.now = c.Clock.Now() }

// NewParallelWindow builds n window aggregates with build (each its own:
// they run concurrently) behind a hash exchange on keys, expressions over
// the input equal to the aggregates' group keys. It takes ownership of
// the instances.
func NewParallelWindow(mem memory.Allocator, keys []Expr, n int, build func(i int) (*WindowAggregate, error)) (*ParallelWindow, error) {
	pw := &ParallelWindow{mem: mem}
	p, err := NewParallel(mem, keys, n, func(i int) (Node, error) {
		w, err := build(i)
		if err != nil {
			return nil, err
		}
		if w.opts.ByMarks {
			w.Close()
			return nil, fmt.Errorf("stream: a window aggregate following its input's marks runs per partition, not as parallel instances")
		}
		pw.wins = append(pw.wins, w)
		return OperatorNode(w), nil
	})
	if err != nil {
		return nil, err
	}
	pw.eventParallel = newEventParallel(p, pw.wins[0].clock, pw.merge, pw.drop)
	pw.before = pw.observe
	pw.onLate = pw.wins[0].opts.OnLate
	for _, w := range pw.wins {
		w.clock = pw.clock
		w.held = &heldOutput{}
	}
	return pw, nil
}

// observe computes the watermark before each row of b, and after it,
// with the first instance's tracker (all are equal, and the instances
// are idle now): it hears of the batch, then observes its rows one by
// one. Every instance's tracker then takes the batch's latest event time
// as it folds (a no-op on the first: a tracker keeps maxima), reaching
// the same state.
func (pw *ParallelWindow) observe(b exec.Batch) error {
	w := pw.wins[0]
	w.tracker.Arrive(b.Partition, pw.clock.Now())
	if err := w.tracker.observeRows(b.Partition, b.Record.Column(w.spec.TimeCol), &pw.marks); err != nil {
		return err
	}
	for _, w := range pw.wins {
		w.marks = &pw.marks
	}
	return nil
}

// Watermark is the instances' (all equal: each tracks every row).
func (pw *ParallelWindow) Watermark() Mark { return Mark{Time: pw.wins[0].tracker.Watermark()} }

// EventTimer is the instances' watermark and late-row count, for the
// engine's statistics.
func (pw *ParallelWindow) EventTimer() EventTimer { return parallelTimer[*WindowAggregate]{pw.wins} }

// drop discards what the instances hold.
func (pw *ParallelWindow) drop() {
	for _, w := range pw.wins {
		w.marks = nil
		w.pending = w.pending[:0]
		w.held.ords, w.held.late = w.held.ords[:0], w.held.late[:0]
	}
}

// merge routes the instances' late rows in batch row order and merges
// their output rows into one record in the order one operator emits
// them; errs are the instances' errors of the call, if any.
func (pw *ParallelWindow) merge(errs []error) (arrow.Record, error) {
	defer pw.drop()
	if err := firstWindowError(errs); err != nil {
		return nil, err
	}
	lates := make([][]LateRow, len(pw.wins))
	for i, w := range pw.wins {
		lates[i] = w.held.late
	}
	if err := routeHeldLate(lates, pw.onLate); err != nil {
		return nil, err
	}
	rows := make([][][]Value, len(pw.wins))
	ords := make([][]winOrder, len(pw.wins))
	for i, w := range pw.wins {
		rows[i], ords[i] = w.pending, w.held.ords
	}
	merged, err := mergeHeld(rows, ords, winOrder.less)
	if err != nil || len(merged) == 0 {
		return nil, err
	}
	rb := array.NewRecordBuilder(pw.mem, pw.wins[0].schema)
	defer rb.Release()
	return buildRecord(rb, merged)
}

// firstWindowError is the error one operator would have met first among
// the instances' errs: one that is not a late row (evaluating the batch
// comes before its rows are judged), else the late row earliest in the
// batch.
func firstWindowError(errs []error) error {
	var late *LateRowError
	for _, err := range errs {
		if err == nil {
			continue
		}
		var le *LateRowError
		if !errors.As(err, &le) {
			return err
		}
		if late == nil || le.Row.Index < late.Row.Index {
			late = le
		}
	}
	if late != nil {
		return late
	}
	return nil
}
