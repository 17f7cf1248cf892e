package stream

import (
	"container/heap"
	"fmt"
)

var _ DeltaSnapshotter = (*WindowAggregate)(nil)

// windowAggDelta is a WindowAggregate's incremental checkpoint: the
// windows opened since the last snapshot, whole; of the others, the
// groups a batch folded rows into since; the windows the last snapshot
// held that closed since; and the watermark, counts and sessions, whole.
type windowAggDelta struct {
	Aggs     int
	Windows  []windowSnap
	Gone     [][2]int64 // start, end
	Sessions []windowSnap
	WM       watermarkState
	PartRows map[int32]int64
	Late     int64
}

// SnapshotDelta encodes what changed since the last Snapshot,
// SnapshotDelta, Restore or RestoreDelta. A group is changed when a batch
// folded a row into it (foldWindow marks it); the scan reads one flag a
// group. Sessions are written whole.
func (w *WindowAggregate) SnapshotDelta() ([]byte, error) {
	d := windowAggDelta{Aggs: len(w.core.calls), WM: w.tracker.snapshot(), PartRows: w.partRows, Late: w.late}
	for _, k := range w.goneWins {
		d.Gone = append(d.Gone, [2]int64{k.start, k.end})
	}
	w.goneWins = nil
	for _, k := range w.heap {
		ws := w.windows[k]
		fresh := !ws.snapped
		snap, err := w.snapWindow(ws, true)
		if err != nil {
			return nil, err
		}
		if fresh || len(snap.Groups) > 0 {
			d.Windows = append(d.Windows, snap)
		}
	}
	var err error
	if d.Sessions, err = w.snapSessions(); err != nil {
		return nil, err
	}
	return encode(d)
}

// RestoreDelta applies a SnapshotDelta over the state restored so far:
// closed windows are dropped, changed groups replace theirs (or join
// their window, or open it), sessions and the watermark are replaced.
func (w *WindowAggregate) RestoreDelta(data []byte) error {
	var d windowAggDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	if d.Aggs != len(w.core.calls) {
		return fmt.Errorf("stream: restoring windows of %d aggregates, want %d", d.Aggs, len(w.core.calls))
	}
	if err := w.checkSnap(d.Windows, d.Sessions); err != nil {
		return err
	}
	if len(d.Gone) > 0 {
		for _, g := range d.Gone {
			delete(w.windows, winKey{g[0], g[1]})
		}
		kept := w.heap[:0]
		for _, k := range w.heap {
			if _, ok := w.windows[k]; ok {
				kept = append(kept, k)
			}
		}
		w.heap = kept
		heap.Init(&w.heap)
		w.forgetRecent()
	}
	for _, snap := range d.Windows {
		k := winKey{snap.Start, snap.End}
		ws, ok := w.windows[k]
		if !ok {
			ws = w.newWindow(k)
		}
		if err := w.mergeGroups(ws, snap.Groups); err != nil {
			return err
		}
		ws.snapped = true
		clear(ws.dirty)
	}
	w.tracker.restore(d.WM, w.clock.Now())
	w.partRows, w.late = d.PartRows, d.Late
	if w.partRows == nil {
		w.partRows = map[int32]int64{}
	}
	w.sessions, w.sheap, w.nsess, w.sessBytes = map[string][]*session{}, nil, 0, 0
	w.sess = sessSlots{accs: w.core.accumulators()}
	return w.restoreSessions(d.Sessions)
}

// mergeGroups sets ws's groups to the saved ones: an existing group is
// reset and loaded, a new one added after the others.
func (w *WindowAggregate) mergeGroups(ws *winState, groups []slotSnap) error {
	if len(groups) == 0 {
		return nil
	}
	var ids []uint32
	if ws.table == nil {
		if len(groups) != 1 {
			return fmt.Errorf("stream: restoring %d groups of a window without keys", len(groups))
		}
		ids = []uint32{0}
	} else {
		var err error
		if ids, err = w.assignGroups(ws, groups); err != nil {
			return err
		}
	}
	for i, id := range ids {
		switch {
		case int(id) < ws.n:
			for _, a := range ws.accs {
				a.Reset(id)
			}
		case int(id) == ws.n:
			ws.keys = append(ws.keys, groups[i].Key...)
			ws.n++
			for _, a := range ws.accs {
				a.Grow(ws.n)
			}
		default:
			return fmt.Errorf("stream: restoring window [%d, %d): group %d of %d", ws.k.start, ws.k.end, id, ws.n)
		}
		if err := loadGroup(ws.accs, id, groups[i].State); err != nil {
			return err
		}
	}
	return nil
}
