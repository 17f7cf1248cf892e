package stream

import (
	"fmt"
	"sort"
)

// overDelta is an OverAggregate's incremental checkpoint: the history of
// the partition keys that changed since the last snapshot, whole, in
// Snap.History; Gone, the keys whose history was freed; and the rest of
// Snap whole — the rows waiting for the watermark (which it bounds), the
// watermark and counts.
type overDelta struct {
	Snap overSnap
	Gone []string
}

var _ DeltaSnapshotter = (*OverAggregate)(nil)

// SnapshotDelta encodes what changed since the last Snapshot,
// SnapshotDelta, Restore or RestoreDelta: the history only of the keys
// rows arrived for or that the watermark trimmed.
func (o *OverAggregate) SnapshotDelta() ([]byte, error) {
	d := overDelta{Snap: overSnap{Pending: o.pending, History: map[string][][]Value{}, Carry: map[string][]carryVal{}, Emitted: o.emitted, Late: o.late,
		WM: o.tracker.snapshot(), PartRows: o.partRows}}
	for k := range o.dirty {
		// A key's running values change only as its history does.
		if c, ok := o.carry[k]; ok {
			d.Snap.Carry[k] = c
		}
		if h, ok := o.history[k]; ok {
			d.Snap.History[k] = h
		} else {
			d.Gone = append(d.Gone, k)
		}
	}
	sort.Strings(d.Gone)
	clear(o.dirty)
	return encode(d)
}

// RestoreDelta applies a SnapshotDelta over the state restored so far:
// the changed keys' history replaces theirs, gone keys are dropped, the
// waiting rows, watermark and counts are replaced.
func (o *OverAggregate) RestoreDelta(data []byte) error {
	var d overDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	if err := o.checkSnap(d.Snap); err != nil {
		return err
	}
	for _, k := range d.Gone {
		o.nhist -= len(o.history[k])
		delete(o.history, k)
	}
	o.restoreSnap(d.Snap)
	return nil
}

// checkSnap refuses rows of another query's shape.
func (o *OverAggregate) checkSnap(s overSnap) error {
	n := o.in.NumFields()
	check := func(rows [][]Value) error {
		for _, r := range rows {
			if len(r) != n {
				return fmt.Errorf("stream: restoring an OVER aggregate: a row with %d columns, want %d (was the query changed?)", len(r), n)
			}
		}
		return nil
	}
	if err := check(s.Pending); err != nil {
		return err
	}
	for _, c := range s.Carry {
		if len(c) != len(o.spec.Carry) {
			return fmt.Errorf("stream: restoring an OVER aggregate: %d running values, want %d (was the query changed?)", len(c), len(o.spec.Carry))
		}
	}
	for _, h := range s.History {
		if err := check(h); err != nil {
			return err
		}
	}
	return nil
}

// restoreSnap puts s's history (over the keys held), waiting rows,
// watermark and counts in place; the result is the baseline of the next
// delta.
func (o *OverAggregate) restoreSnap(s overSnap) {
	for k, h := range s.History {
		o.nhist += len(h) - len(o.history[k])
		o.history[k] = h
		o.watch(k, s.Emitted)
	}
	for k, c := range s.Carry {
		o.carry[k] = c
	}
	o.pending, o.emitted, o.late = s.Pending, s.Emitted, s.Late
	o.partRows = s.PartRows
	if o.partRows == nil {
		o.partRows = map[int32]int64{}
	}
	o.tracker.restore(s.WM, o.clock.Now())
	clear(o.dirty)
	o.recount()
}

// recount measures the running state sizes (StateBytes) anew from the
// state restored.
func (o *OverAggregate) recount() {
	o.pendBytes, o.histBytes, o.partBytes = 0, 0, map[string]int64{}
	for _, r := range o.pending {
		o.pendBytes += heldRowBytes(r)
	}
	for k := range o.carry {
		o.countPart(k, o.history[k])
	}
	for k, h := range o.history {
		if _, ok := o.carry[k]; !ok {
			o.countPart(k, h)
		}
	}
}
