package stream

import (
	"slices"

	"github.com/sluicesql/sluice/exec"
)

// winTouch is a (window, key) group the current batch changed: its rows
// before the batch (when it existed already) and after it, and the batch
// row that first touched it (the order changes are emitted in).
type winTouch struct {
	k       winKey
	key     []Value
	first   int32
	existed bool
	old     []Value
	now     []Value
}

// emitUpdates turns the groups the batch touched into changelog rows (+I
// for a new group, -U/+U for a changed one, nothing for an unchanged one)
// under Updates, in the order of the rows that first touched them (a HOP
// row's windows oldest first). A touched window the watermark closed
// during the batch is still reported: its rows were read before it was
// freed.
func (w *WindowAggregate) emitUpdates() {
	if !w.opts.Updates {
		return
	}
	slices.SortStableFunc(w.touched, func(a, b winTouch) int {
		if a.first != b.first {
			return int(a.first - b.first)
		}
		switch {
		case a.k.start < b.k.start:
			return -1
		case a.k.start > b.k.start:
			return 1
		}
		return 0
	})
	for _, t := range w.touched {
		at := winOrder{int64(w.pushedRow(t.first)), t.k.start, 0}
		if !t.existed {
			w.pending = append(w.pending, w.updateRow(exec.OpInsert, t, t.now))
			w.held.order(at)
			continue
		}
		if sameRow(t.old, t.now) {
			continue
		}
		w.pending = append(w.pending, w.updateRow(exec.OpUpdateBefore, t, t.old), w.updateRow(exec.OpUpdateAfter, t, t.now))
		w.held.order(at)
		w.held.order(at)
	}
	w.touched = w.touched[:0]
}

// updateRow is one changelog row: op, window_start, window_end, keys, aggs.
func (w *WindowAggregate) updateRow(op exec.Op, t winTouch, aggs []Value) []Value {
	r := make([]Value, 0, 3+len(t.key)+len(aggs))
	r = append(r, Int(int64(op)), Int(t.k.start), Int(t.k.end))
	r = append(r, t.key...)
	return append(r, aggs...)
}
