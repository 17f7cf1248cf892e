package stream

import "github.com/sluicesql/sluice/exec"

// winTouch is a (window, key) group the current batch changed, with its
// aggregate values before the batch when it existed already.
type winTouch struct {
	k       winKey
	g       *group
	existed bool
	old     []Value
}

// emitUpdates turns the groups the batch touched into changelog rows (+I
// for a new group, -U/+U for a changed one, nothing for an unchanged one)
// under Updates. A touched window the watermark closed during the batch is
// still reported: its group outlives the window's state.
func (w *WindowAggregate) emitUpdates() {
	if !w.opts.Updates {
		return
	}
	for _, t := range w.touched {
		nv := t.g.results(w.aggs, nil)
		if !t.existed {
			w.pending = append(w.pending, w.updateRow(exec.OpInsert, t, nv))
			continue
		}
		if sameRow(t.old, nv) {
			continue
		}
		w.pending = append(w.pending, w.updateRow(exec.OpUpdateBefore, t, t.old), w.updateRow(exec.OpUpdateAfter, t, nv))
	}
	w.touched = w.touched[:0]
}

// updateRow is one changelog row: op, window_start, window_end, keys, aggs.
func (w *WindowAggregate) updateRow(op exec.Op, t winTouch, aggs []Value) []Value {
	r := make([]Value, 0, 3+len(t.g.key)+len(aggs))
	r = append(r, Int(int64(op)), Int(t.k.start), Int(t.k.end))
	r = append(r, t.g.key...)
	return append(r, aggs...)
}
