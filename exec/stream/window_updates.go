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
	r := w.rows.row(3 + len(t.key) + len(aggs))
	r = append(r, Int(int64(op)), Int(t.k.start), Int(t.k.end))
	r = append(r, t.key...)
	return append(r, aggs...)
}

// valueRows hands out output rows ([]Value of a given length, empty)
// cut from shared chunks: one allocation per few hundred rows instead of
// one per row (a row per touched group and batch was a tenth of q5's
// CPU). A chunk is never reused: its rows live as long as the output
// that holds them.
type valueRows struct {
	chunk []Value
}

// rowChunk is the Values of one chunk.
const rowChunk = 4096

// row is an empty row with room for n Values.
func (v *valueRows) row(n int) []Value {
	if n > rowChunk/4 {
		return make([]Value, 0, n)
	}
	if len(v.chunk)+n > cap(v.chunk) {
		v.chunk = make([]Value, 0, rowChunk)
	}
	k := len(v.chunk)
	v.chunk = v.chunk[:k+n]
	return v.chunk[k : k : k+n]
}
