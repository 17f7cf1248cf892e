package stream

import (
	"container/heap"
	"fmt"
	"sort"
)

// temporalDelta is a TemporalJoin's incremental checkpoint: the versions
// of the keys that changed since the last snapshot (a version added or
// replaced, older ones freed), whole, in Snap.Versions; Gone, the keys
// left without versions; and the rest of Snap whole — the waiting left
// rows, which the right watermark bounds, the watermarks and counts.
type temporalDelta struct {
	Snap temporalSnap
	Gone []string
}

var _ DeltaSnapshotter = (*TemporalJoin)(nil)

// SnapshotDelta encodes what changed since the last Snapshot,
// SnapshotDelta, Restore or RestoreDelta: the versioned table only for
// the keys a row changed, so a large table costs what changed.
func (t *TemporalJoin) SnapshotDelta() ([]byte, error) {
	d := temporalDelta{Snap: temporalSnap{Versions: map[string][]temporalVersion{}, Waiting: t.waiting, Seq: t.seq}}
	for i, sd := range t.sides {
		d.Snap.WM[i], d.Snap.Late[i], d.Snap.Part[i] = sd.tracker.snapshot(), sd.late, sd.partRows
	}
	for k := range t.dirty {
		if vs := t.versions[k]; len(vs) > 0 {
			d.Snap.Versions[k] = vs
		} else {
			d.Gone = append(d.Gone, k)
		}
	}
	sort.Strings(d.Gone)
	clear(t.dirty)
	return encode(d)
}

// RestoreDelta applies a SnapshotDelta over the state restored so far:
// the changed keys' versions replace theirs, gone keys are dropped, the
// waiting rows, watermarks and counts are replaced.
func (t *TemporalJoin) RestoreDelta(data []byte) error {
	var d temporalDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	if err := t.checkSnap(d.Snap); err != nil {
		return err
	}
	for _, k := range d.Gone {
		t.setVersions(k, nil)
	}
	t.restoreSnap(d.Snap)
	return nil
}

// checkSnap refuses versions or rows of another query's shape.
func (t *TemporalJoin) checkSnap(s temporalSnap) error {
	for _, vs := range s.Versions {
		for _, v := range vs {
			if v.Vals != nil && len(v.Vals) != t.nvals[1] {
				return fmt.Errorf("stream: restoring a temporal join: a version with %d columns, want %d (was the query changed?)", len(v.Vals), t.nvals[1])
			}
		}
	}
	for _, r := range s.Waiting {
		if len(r.Vals) != t.nvals[0] {
			return fmt.Errorf("stream: restoring a temporal join: a row with %d columns, want %d (was the query changed?)", len(r.Vals), t.nvals[0])
		}
	}
	return nil
}

// restoreSnap puts s's versions (over the keys held) and its waiting
// rows, watermarks and counts in place; the result is the baseline of
// the next delta.
func (t *TemporalJoin) restoreSnap(s temporalSnap) {
	for k, vs := range s.Versions {
		t.setVersions(k, vs)
	}
	t.waiting = s.Waiting
	heap.Init(&t.waiting)
	t.waitB = 0
	for _, r := range t.waiting {
		t.waitB += waitingBytes(r)
	}
	t.seq = s.Seq
	now := t.clock.Now()
	for i, sd := range t.sides {
		sd.tracker.restore(s.WM[i], now)
		sd.late, sd.partRows = s.Late[i], s.Part[i]
		if sd.partRows == nil {
			sd.partRows = map[int32]int64{}
		}
	}
	clear(t.dirty)
}

// setVersions replaces key's versions (none: the key is dropped),
// keeping the counts.
func (t *TemporalJoin) setVersions(key string, vs []temporalVersion) {
	for _, v := range t.versions[key] {
		t.bytes -= versionBytes(v)
	}
	t.nver -= len(t.versions[key])
	if len(vs) == 0 {
		delete(t.versions, key)
		return
	}
	t.versions[key] = vs
	t.nver += len(vs)
	for _, v := range vs {
		t.bytes += versionBytes(v)
	}
}
